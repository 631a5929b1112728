//! Per-user worker process: IMAP sessions over the user's mail store.
