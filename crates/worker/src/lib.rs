//! Per-user worker process: IMAP sessions over the user's mail store.
//!
//! The listener authenticates a client, then hands the plaintext connection to the worker
//! of that user over the control socket of `asimapd_ipc`. [`serve`] accepts those
//! connections and runs one session task per connection, all sharing one
//! [`asimapd_store::Store`]. A session reads commands while earlier ones run (RFC 9051 §5.5
//! pipelining), sends their responses in order, and passes changes made by other sessions and by nmh
//! to its client only where RFC 3501 §7.4.1 allows.

mod capability;
mod commands;
mod error;
mod fetch;
mod input;
mod mailboxes;
mod mapped;
mod noselect;
mod output;
mod search;
mod serve;
mod session;
mod table;
mod trim;
mod unwind;
mod view;

pub use capability::{CAPABILITIES, SERVER_ID};
pub use error::WorkerError;
pub use serve::{
    AUTOLOGOUT_TIMEOUT, DEFAULT_IDLE_KEEPALIVE, DEFAULT_LINGER, IDLE_POLL_INTERVAL,
    SPECIAL_USE_FOLDERS, WorkerConfig, serve,
};
pub use session::MAX_INVALID_COMMANDS_IN_A_ROW;
pub use trim::{MEMORY_TRIM_INTERVAL, release_free_memory};

// A panic in one session is caught so that the other sessions keep running, which needs
// unwinding.
#[cfg(panic = "abort")]
compile_error!("asimapd-worker catches panics per session and needs panic = \"unwind\"");
#[cfg(feature = "test-panic")]
pub use session::TEST_PANIC_TAG;
