//! Accounts: password file, Django password hashers, login throttling and credential cache.
//!
//! The listener builds one [`Authenticator`] over a [`PasswordFile`] and calls
//! [`Authenticator::authenticate`] for every LOGIN or AUTHENTICATE attempt.
//! `asimapd_set_password` uses [`make_password`], [`make_unusable_password`] and
//! [`set_account`] to edit the password file.

mod authenticator;
mod cache;
mod error;
mod hashers;
mod password_file;
mod rewrite;
mod secret;
mod throttle;

#[cfg(test)]
mod test_logs;

pub use authenticator::{AuthConfig, AuthOutcome, Authenticator, DEFAULT_CACHE_LIFETIME};
pub use cache::MAX_CACHE_ENTRIES;
pub use error::{AuthError, HashError};
pub use hashers::{
    DEFAULT_PBKDF2_ITERATIONS, MAX_ARGON2_MEMORY_KIB, MAX_ARGON2_PARALLELISM, MAX_ARGON2_TIME_COST,
    MAX_BCRYPT_COST, MAX_HASH_BYTES, MAX_PBKDF2_ITERATIONS, MAX_SCRYPT_MEMORY_BYTES,
    MAX_SCRYPT_PARALLELISM, PasswordHash, SALT_CHARS, make_password, make_password_with_salt,
    make_unusable_password, verify_password,
};
pub use password_file::{Account, MAX_PASSWORD_FILE_BYTES, PasswordFile, Reload};
pub use rewrite::{AccountChange, set_account};
pub use secret::Password;
pub use throttle::{MAX_ADDR_FAILURES, MAX_USER_FAILURES, THROTTLE_WINDOW};
