//! Accounts: password file, Django password hashers, login throttling and credential cache.
