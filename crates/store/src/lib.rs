//! Mailbox index over MH folders: stable UIDs, MODSEQ, caches and change events.
//!
//! Each user has one SQLite index, `.asimapd.db` in the mail root, in WAL mode. It keeps per
//! mailbox the UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ, subscription and special-use attribute,
//! and per message the UID, the file's number and identity, INTERNALDATE, RFC822.SIZE,
//! MODSEQ, flags and the cached ENVELOPE and BODYSTRUCTURE. Message files are always written
//! before the index, and the index changes in one transaction per operation.

mod error;
mod flags;
mod index;
mod reconcile;
mod schema;

pub use error::{Result, StoreError};
pub use flags::{DEFAULT_UNSEEN_SEQUENCE, FlagMap, FlagSet, SystemFlag};
pub use index::{
    DirIdentity, Index, InternalDate, MAX_UID, MailboxRow, MailboxUpdate, MessageDetails,
    MessageRow, NewMessage, Writer,
};
pub use reconcile::{AddedMessage, DiskMessage, Plan, ReconcileError, reconcile};
pub use schema::{BUSY_TIMEOUT, INDEX_FILE, SCHEMA_VERSION, open_index, schema_version};
