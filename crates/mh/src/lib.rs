//! MH folders on disk, safe alongside running nmh commands.
//!
//! This crate is the only code in asimapd that touches folder files. It follows the way nmh
//! 1.8 (Debian package `nmh`) locks and rewrites folders. People can then keep running `inc`,
//! `scan`, `rmm`, `refile`, `folder -pack`, `sortm` and `mark` on the folders while the server
//! works on them, and no mail or flag is lost, duplicated or corrupted.
//!
//! # Layout on disk
//! A folder is a directory under the mail root. Message `N` is the regular file whose name is
//! the canonical decimal `N` ([`MessageNumber`], at most [`MAX_MESSAGE_NUMBER`]); every other
//! name is ignored, sub-directories with valid names ([`FolderName`]) are sub-folders.
//! Sequences live in `.mh_sequences` (public) and in the context file (private, read only).
//! Files this crate creates in a folder start with `.` so that nmh never counts them.
//!
//! # Entry points
//! * [`MailRoot::open`] with an optional [`Profile`] (`Profile::locate` + `Profile::load`)
//!   and the `ENABLE_MH_FILE_LOCKING` switch; [`MailRoot::folder`],
//!   [`MailRoot::list_folders`], [`MailRoot::create_folder`], [`MailRoot::delete_folder`],
//!   [`MailRoot::rename_folder`].
//! * Reading a folder: [`Folder::list`] (one directory pass, no `stat`), [`Folder::probe`]
//!   (two `stat`s: has anything changed?), [`Folder::snapshot`] (listing plus sequences under
//!   the read lock), [`Folder::sequences`], [`Folder::identity`], [`Folder::open_message`].
//! * Flags: [`Folder::update_sequences`] with [`SequenceChange`]s, a locked in-place
//!   read-modify-write that changes only the named sequences ([`SequencesFile`] keeps every
//!   other byte).
//! * New mail: [`Folder::append`], then [`Folder::check_append`] during
//!   [`APPEND_WATCH_PERIOD`], then [`Folder::finish_append`]. Files written by others:
//!   [`SettleWatch`] and [`Folder::is_inc_running`].
//! * Expunge, copy and move: [`Folder::remove`], [`Folder::copy_to`], [`Folder::move_to`].
//! * Errors: [`MhError`], one `#[non_exhaustive]` enum carrying paths, numbers and OS errors.
//!
//! # Locking rules
//! * `.mh_sequences` is locked with an fcntl open-file-description lock, which excludes nmh's
//!   POSIX locks, plus a dot lock or `flock` when the profile's `Datalocking` asks for one.
//!   After locking, the file is checked to be still linked and still named by its path.
//!   Locks are held for milliseconds and never across a wait for a client; no descriptor
//!   stays open between calls.
//! * Updates are written in place (write from offset 0, then truncate). The file is never
//!   replaced by rename and never unlinked, because nmh keeps writing through the descriptor
//!   it locked.
//! * Only one folder's lock is held at a time.
//! * With `ENABLE_MH_FILE_LOCKING` off, an `flock` on `.mh_sequences` still serialises this
//!   crate's own writers, so none of its updates is lost; nmh is then not excluded.
//!
//! # Known limits
//! * A copy made by hard link shares its inode with the source, so `inc` overwriting the
//!   target number would change both; appends are watched for this, copies are not.
//! * An append whose file vanished without trace within the watch period is delivered again,
//!   even if a user removed it with `rmm -unlink`, which leaves no `,N` backup behind.
//! * `folder +F N` in nmh 1.8 reads `.mh_sequences`, releases the lock, and later writes back
//!   what it read. A sequence update that lands in between is overwritten without any sign
//!   under the lock. Updates are idempotent, so a caller re-issues its recent changes after
//!   [`MID_REWRITE_WAIT`] (re-issuing writes nothing when they are still in effect).
//! * Private sequences are matched by the folder's absolute path as this crate builds it
//!   from the mail root. A context written through a different path to the same directory
//!   (a symbolic link) is not matched.

mod append;
mod error;
mod folder;
mod identity;
mod lock;
mod name;
mod number;
mod profile;
mod root;
mod sequences;
mod settle;
mod transfer;

pub use append::{
    APPEND_WATCH_PERIOD, AppendCheck, Appended, COPY_PREFIX, SequencesWrite, TEMP_PREFIX,
};
pub use error::{MhError, Result};
pub use folder::{
    Folder, Listing, MID_REWRITE_WAIT, MID_REWRITE_WINDOW, MessageRef, Probe, Sequences, Snapshot,
};
pub use identity::{FileIdentity, Stamp};
pub use lock::{DEFAULT_LOCK_TIMEOUT, LockPolicy, is_locked_by_other};
pub use name::{FolderName, MAX_FOLDER_COMPONENT_LEN, MAX_FOLDER_NAME_LEN};
pub use number::{MAX_MESSAGE_NUMBER, MessageNumber, NumberSet};
pub use profile::{
    BACKUP_PREFIX, DEFAULT_CONTEXT_FILE, DEFAULT_FOLDER_PROTECT, DEFAULT_MSG_PROTECT,
    DEFAULT_SEQUENCES_FILE, DataLocking, PROFILE_FILE, Profile, RemoveMode,
};
pub use root::MailRoot;
pub use sequences::{
    DEFAULT_UNSEEN_SEQUENCE, MAX_SEQUENCE_NAME_LEN, SequenceChange, SequenceName, SequenceOp,
    SequencesFile,
};
pub use settle::{SETTLE_INTERVAL, SettleWatch};
pub use transfer::{Copied, CopyRequest, KnownMessage, Removed, Transferred};
