//! Mailbox index over MH folders: stable UIDs, MODSEQ, caches and change events.
//!
//! Each user has one SQLite index, `.asimapd.db` in the mail root, in WAL mode. It keeps per
//! mailbox the UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ, subscription and special-use attribute,
//! and per message the UID, the file's number and identity, INTERNALDATE, RFC822.SIZE,
//! MODSEQ, flags and the cached ENVELOPE and BODYSTRUCTURE. Message files are always written
//! before the index, and the index changes in one transaction per operation.
//!
//! # Entry points
//! * [`Store::open`] on an [`asimapd_mh::MailRoot`]: one store per user, shared by that
//!   user's sessions. It imports the Python asimap's `asimap.db` once.
//! * Mailboxes: [`Store::list_mailboxes`], [`Store::create_mailbox`],
//!   [`Store::delete_mailbox`], [`Store::rename_mailbox`], [`Store::set_subscribed`],
//!   [`Store::status`], [`Store::select`] (a snapshot plus a [`MailboxEvent`] receiver).
//! * Messages: [`Store::append`], [`Store::store_flags`], [`Store::expunge`],
//!   [`Store::copy`], [`Store::move_messages`], [`Store::open_message`],
//!   [`Store::read_messages`] (many messages for FETCH in one index query),
//!   [`Store::search_details`], [`Store::search_entries`] and [`Store::open_entry`]
//!   (cached analysis, header block and message file, for SEARCH).
//! * Changes made by nmh: [`Store::check`] (cheap `stat` probe, before each command),
//!   [`Store::sync`] (full pass), and [`Watcher`] (inotify with a polling fallback, plus a
//!   periodic scan of every mailbox). Both passes first apply again any STORE of the last
//!   [`FLAG_RECHECK_PERIOD`] that a stale `.mh_sequences` rewrite (`folder +F N`) undid.
//! * The pure parts: [`reconcile`] and [`FlagMap`].

mod append_watch;
pub mod checkpoint;
mod error;
mod events;
mod fetch;
mod flag_writes;
mod flags;
mod headers;
mod import;
mod index;
mod ops;
mod own_change;
mod pool;
mod reconcile;
mod schema;
mod store;
mod sync;
mod watch;

pub use append_watch::APPEND_RECHECK;
pub use error::{Result, StoreError};
pub use events::{EVENT_CAPACITY, MailboxEvent, MailboxInfo, MailboxStatus, MessageView};
pub use fetch::FetchedMessage;
pub use flag_writes::FLAG_RECHECK_PERIOD;
pub use flags::{DEFAULT_UNSEEN_SEQUENCE, FlagMap, FlagSet, SystemFlag};
pub use headers::{MAX_CACHED_HEADER, SearchEntry, header_block};
pub use import::{
    ASIMAP_DB_FILE, Imported, ImportedMailbox, MAX_IMPORTED_UIDS, SkippedMailbox, expand_ranges,
    read_asimap_db,
};
pub use index::{
    DirIdentity, Index, InternalDate, MAX_UID, MailboxRow, MailboxUpdate, MessageDetails,
    MessageRow, NewMessage, Totals, Writer,
};
pub use ops::{CopyOutcome, OpenedMessage, StoreMode, StoreOutcome};
pub use own_change::MAX_DIR_WATCHES;
pub use reconcile::{AddedMessage, DiskMessage, Plan, ReconcileError, reconcile};
pub use schema::{BUSY_TIMEOUT, INDEX_FILE, SCHEMA_VERSION, open_index, schema_version};
pub use store::{Selected, Store};
pub use sync::SNAPSHOT_ATTEMPTS;
pub use watch::{
    DEFAULT_MAX_WATCHES, DEFAULT_POLL_INTERVAL, DEFAULT_SCAN_INTERVAL, EVENT_TICK, WatchConfig,
    Watcher,
};
