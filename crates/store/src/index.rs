//! Rows of the index and the statements that read and write them.
//!
//! Every write goes through one transaction per operation ([`Index::write`]), so a crash
//! leaves the index as it was before or after the operation.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use asimapd_mh::{FileIdentity, MessageNumber, NumberSet};
use asimapd_proto::{ModSeq, Uid, UidValidity};
use rusqlite::{Connection, OptionalExtension, Row, Transaction, params};

use crate::error::{Result, StoreError};
use crate::flags::FlagSet;
use crate::schema::{open_index, open_read_only, sqlite_error};

/// The highest UID handed out. One below `u32::MAX`, so that UIDNEXT, which is one above the
/// highest UID, still fits the 32-bit `nz-number` of RFC 9051.
pub const MAX_UID: u32 = u32::MAX - 1;

/// The identity of a folder directory. A folder removed and created again (`rmf`, then
/// `folder -create`) gets a new inode or birth time, and its mailbox a new UIDVALIDITY.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DirIdentity {
    /// Device number.
    pub dev: u64,
    /// Inode number.
    pub ino: u64,
    /// Birth time in nanoseconds since the Unix epoch, when the file system records it.
    pub btime_ns: Option<i64>,
}

impl DirIdentity {
    /// Stats the directory at `path`.
    pub fn of(path: &Path) -> std::io::Result<Self> {
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::metadata(path)?;
        let btime_ns = meta
            .created()
            .ok()
            .and_then(|time| time.duration_since(UNIX_EPOCH).ok())
            .map(|since| since.as_nanos() as i64);
        Ok(DirIdentity {
            dev: meta.dev(),
            ino: meta.ino(),
            btime_ns,
        })
    }
}

/// One mailbox's row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MailboxRow {
    /// Row id.
    pub id: i64,
    /// Mailbox name (the MH folder name).
    pub name: String,
    /// UIDVALIDITY.
    pub uid_validity: UidValidity,
    /// UIDNEXT: one above every UID ever handed out in this UIDVALIDITY.
    pub uid_next: u32,
    /// HIGHESTMODSEQ (RFC 7162); 1 for a mailbox that never changed.
    pub highest_modseq: u64,
    /// True when the user subscribed to the mailbox.
    pub subscribed: bool,
    /// The special-use attribute (RFC 6154), such as `\Sent`.
    pub special_use: Option<String>,
    /// The folder directory's identity when it was last scanned.
    pub dir: Option<DirIdentity>,
    /// The lowest UID that no session has seen as `\Recent` yet.
    pub recent_uid: u32,
}

/// The index's record of a message, as listing and synchronising need it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageRow {
    /// UID.
    pub uid: Uid,
    /// The file's current number.
    pub number: MessageNumber,
    /// The file's identity when it was indexed.
    pub identity: FileIdentity,
    /// MODSEQ of the last change to the message.
    pub modseq: u64,
    /// Flags, keywords kept only in the index included.
    pub flags: FlagSet,
}

/// INTERNALDATE: seconds since the Unix epoch, and the zone offset in minutes that APPEND
/// gave (none for files delivered by others, which are shown in UTC).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InternalDate {
    /// Seconds since the Unix epoch.
    pub timestamp: i64,
    /// Zone offset east of UTC in minutes.
    pub zone_minutes: Option<i32>,
}

/// The cached analysis of a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageDetails {
    /// INTERNALDATE.
    pub internal_date: InternalDate,
    /// RFC822.SIZE: the size of the message as served, with CRLF line ends.
    pub rfc822_size: u64,
    /// The ENVELOPE, encoded as IMAP bytes.
    pub envelope: Option<Vec<u8>>,
    /// The extensible BODYSTRUCTURE, encoded as IMAP bytes.
    pub body_structure: Option<Vec<u8>>,
    /// The raw header block up to and including the blank line that ends it, for SEARCH
    /// keys on header fields. `None` in rows indexed before the index cached it, and for
    /// header blocks over [`crate::MAX_CACHED_HEADER`].
    pub header: Option<Vec<u8>>,
}

/// A message row to insert.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewMessage {
    /// The row.
    pub row: MessageRow,
    /// Its cached analysis.
    pub details: MessageDetails,
}

/// Changes to one mailbox, written in one transaction.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MailboxUpdate {
    /// UIDs removed; they are recorded with `modseq` for VANISHED.
    pub expunged: Vec<Uid>,
    /// Messages whose file got a new number (or identity) but kept their UID.
    pub moved: Vec<(Uid, MessageNumber, FileIdentity)>,
    /// New rows.
    pub inserted: Vec<NewMessage>,
    /// New flags of existing messages.
    pub flags: Vec<(Uid, FlagSet)>,
    /// The new UIDNEXT.
    pub uid_next: u32,
    /// The MODSEQ of every change; becomes HIGHESTMODSEQ. `None` when nothing visible
    /// changed.
    pub modseq: Option<ModSeq>,
}

impl MailboxUpdate {
    /// Returns true when the update changes nothing.
    pub fn is_empty(&self) -> bool {
        self.expunged.is_empty()
            && self.moved.is_empty()
            && self.inserted.is_empty()
            && self.flags.is_empty()
    }
}

/// Message counts of one mailbox.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    /// Number of messages.
    pub messages: u32,
    /// Messages without `\Seen`.
    pub unseen: u32,
    /// Messages not yet seen as `\Recent` by any session.
    pub recent: u32,
    /// Sum of RFC822.SIZE.
    pub size: u64,
}

/// The index file of one user.
#[derive(Debug)]
pub struct Index {
    conn: Connection,
    path: PathBuf,
    /// Wakes the checkpoint thread after a write, when one runs for this connection.
    checkpoints: Option<std::sync::mpsc::Sender<()>>,
}

const MAILBOX_COLUMNS: &str = "id, name, uid_validity, uid_next, highest_modseq, subscribed, \
     special_use, dir_dev, dir_ino, dir_btime_ns, recent_uid";

/// The columns of a message row (as [`message_from_row`] reads them) followed by the cached
/// analysis without the header block (as [`details_from_columns`] reads them from column 10).
const ROW_WITH_DETAILS_COLUMNS: &str = "uid, number, dev, ino, size, mtime_ns, btime_ns, \
     modseq, system_flags, keywords, internal_date, internal_zone, rfc822_size, envelope, \
     body_structure";

const MAX_UID_VALIDITY_KEY: &str = "max_uid_validity";

/// Compiled statements kept per connection. This module caches about 20 statement texts, more
/// than the rusqlite default of 16, and a full cache would compile some of them again.
const STATEMENT_CACHE_CAPACITY: usize = 64;

impl Index {
    /// Opens the index at `path`, creating and migrating it as needed.
    pub fn open(path: &Path) -> Result<Self> {
        let conn = open_index(path)?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE_CAPACITY);
        Ok(Index {
            conn,
            path: path.to_owned(),
            checkpoints: None,
        })
    }

    /// Opens a read-only connection to the index at `path`, which must already exist at
    /// [`crate::SCHEMA_VERSION`] in WAL mode. Its queries do not wait for a write
    /// transaction on another connection, and it cannot write.
    pub fn open_read_only(path: &Path) -> Result<Self> {
        let conn = open_read_only(path)?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE_CAPACITY);
        Ok(Index {
            conn,
            path: path.to_owned(),
            checkpoints: None,
        })
    }

    /// Moves WAL checkpoints of this connection's writes to a thread of their own (see
    /// [`crate::checkpoint`]). When the thread cannot start, SQLite's automatic checkpoint
    /// stays on.
    pub fn checkpoint_in_background(&mut self) {
        match crate::checkpoint::spawn(&self.path) {
            Ok(sender) => {
                if self
                    .conn
                    .pragma_update(None, "wal_autocheckpoint", 0)
                    .is_ok()
                {
                    self.checkpoints = Some(sender);
                }
            }
            Err(error) => {
                let index = self.path.display();
                tracing::warn!(%index, %error, "failed to start the checkpoint thread; checkpoints stay in the writing command");
            }
        }
    }

    /// Returns the index file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `body` in one read transaction, so that its queries see one state of the index
    /// and share one WAL read lock instead of taking one each.
    pub fn read<T>(&self, body: impl FnOnce(&Index) -> Result<T>) -> Result<T> {
        let tx = self
            .conn
            .unchecked_transaction()
            .map_err(|err| self.error(err))?;
        let value = body(self)?;
        tx.commit().map_err(|err| self.error(err))?;
        Ok(value)
    }

    /// Runs `body` in one write transaction (`BEGIN IMMEDIATE`), committing when it returns
    /// `Ok`.
    pub fn write<T>(&mut self, body: impl FnOnce(&Writer<'_>) -> Result<T>) -> Result<T> {
        let path = self.path.clone();
        let value = {
            let tx = self
                .conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(|err| sqlite_error(&path, err))?;
            let writer = Writer { tx, path };
            let value = body(&writer)?;
            writer
                .tx
                .commit()
                .map_err(|err| sqlite_error(&writer.path, err))?;
            value
        };
        self.wake_checkpoints();
        Ok(value)
    }

    /// Returns the mailbox named `name`.
    pub fn mailbox(&self, name: &str) -> Result<Option<MailboxRow>> {
        let sql = format!("SELECT {MAILBOX_COLUMNS} FROM mailboxes WHERE name = ?1");
        self.conn
            .prepare_cached(&sql)
            .map_err(|err| self.error(err))?
            .query_row([name], mailbox_from_row)
            .optional()
            .map_err(|err| self.error(err))?
            .transpose()
            .map_err(|reason| self.corrupt(reason))
    }

    /// Wakes the checkpoint thread. A thread that is gone turns SQLite's automatic
    /// checkpoint back on, so the WAL cannot grow without bound.
    fn wake_checkpoints(&mut self) {
        let Some(sender) = &self.checkpoints else {
            return;
        };
        if sender.send(()).is_err() {
            self.checkpoints = None;
            let _ = self.conn.pragma_update(
                None,
                "wal_autocheckpoint",
                crate::checkpoint::DEFAULT_AUTOCHECKPOINT,
            );
        }
    }

    /// Returns every mailbox, sorted by name.
    pub fn mailboxes(&self) -> Result<Vec<MailboxRow>> {
        let sql = format!("SELECT {MAILBOX_COLUMNS} FROM mailboxes ORDER BY name");
        let mut statement = self
            .conn
            .prepare_cached(&sql)
            .map_err(|err| self.error(err))?;
        let rows = statement
            .query_map([], mailbox_from_row)
            .map_err(|err| self.error(err))?;
        self.collect(rows)
    }

    /// Returns a mailbox's messages in UID order.
    pub fn messages(&self, mailbox_id: i64) -> Result<Vec<MessageRow>> {
        self.messages_in(mailbox_id, 1, u32::MAX)
    }

    /// Returns a mailbox's messages with UIDs from `first` to `last`, in UID order.
    pub fn messages_between(
        &self,
        mailbox_id: i64,
        first: Uid,
        last: Uid,
    ) -> Result<Vec<MessageRow>> {
        self.messages_in(mailbox_id, first.get(), last.get())
    }

    fn messages_in(&self, mailbox_id: i64, first: u32, last: u32) -> Result<Vec<MessageRow>> {
        let mut statement = self
            .conn
            .prepare_cached(
                "SELECT uid, number, dev, ino, size, mtime_ns, btime_ns, modseq, system_flags, \
                 keywords FROM messages WHERE mailbox_id = ?1 AND uid BETWEEN ?2 AND ?3 \
                 ORDER BY uid",
            )
            .map_err(|err| self.error(err))?;
        let rows = statement
            .query_map(params![mailbox_id, first, last], message_from_row)
            .map_err(|err| self.error(err))?;
        self.collect(rows)
    }

    /// Returns the message numbers of a mailbox's messages.
    pub fn numbers(&self, mailbox_id: i64) -> Result<NumberSet> {
        let mut statement = self
            .conn
            .prepare_cached("SELECT number FROM messages WHERE mailbox_id = ?1")
            .map_err(|err| self.error(err))?;
        let rows = statement
            .query_map([mailbox_id], |row| row.get::<_, u32>(0))
            .map_err(|err| self.error(err))?;
        let mut numbers = NumberSet::new();
        for row in rows {
            let value = row.map_err(|err| self.error(err))?;
            let number = MessageNumber::new(value)
                .ok_or_else(|| self.corrupt(format!("message row with number {value}")))?;
            numbers.insert(number);
        }
        Ok(numbers)
    }

    /// Returns one message's row.
    pub fn message(&self, mailbox_id: i64, uid: Uid) -> Result<Option<MessageRow>> {
        let mut statement = self
            .conn
            .prepare_cached(
                "SELECT uid, number, dev, ino, size, mtime_ns, btime_ns, modseq, system_flags, \
                 keywords FROM messages WHERE mailbox_id = ?1 AND uid = ?2",
            )
            .map_err(|err| self.error(err))?;
        statement
            .query_row(params![mailbox_id, uid.get()], message_from_row)
            .optional()
            .map_err(|err| self.error(err))?
            .transpose()
            .map_err(|reason| self.corrupt(reason))
    }

    /// Returns a message's cached analysis.
    pub fn details(&self, mailbox_id: i64, uid: Uid) -> Result<Option<MessageDetails>> {
        self.conn
            .prepare_cached(
                "SELECT internal_date, internal_zone, rfc822_size, envelope, body_structure, \
                 header FROM messages WHERE mailbox_id = ?1 AND uid = ?2",
            )
            .map_err(|err| self.error(err))?
            .query_row(params![mailbox_id, uid.get()], details_from_row)
            .optional()
            .map_err(|err| self.error(err))
    }

    /// Returns the cached analysis, header block included, of a mailbox's messages with UIDs
    /// from `first` to `last`, by UID, in one query.
    pub fn details_between(
        &self,
        mailbox_id: i64,
        first: Uid,
        last: Uid,
    ) -> Result<HashMap<Uid, MessageDetails>> {
        let mut statement = self
            .conn
            .prepare_cached(
                "SELECT internal_date, internal_zone, rfc822_size, envelope, body_structure, \
                 header, uid FROM messages WHERE mailbox_id = ?1 AND uid BETWEEN ?2 AND ?3",
            )
            .map_err(|err| self.error(err))?;
        let rows = statement
            .query_map(params![mailbox_id, first.get(), last.get()], |row| {
                let uid: u32 = row.get(6)?;
                let details = details_from_row(row)?;
                Ok(Uid::new(uid)
                    .map(|uid| (uid, details))
                    .ok_or_else(|| "a message has UID 0".to_owned()))
            })
            .map_err(|err| self.error(err))?;
        Ok(self.collect(rows)?.into_iter().collect())
    }

    /// Returns the rows and cached analysis of a mailbox's messages with UIDs from `first` to
    /// `last`, in UID order, in one query. The header block is left out (`header` is
    /// `None`), because FETCH never reads it.
    pub fn messages_with_details(
        &self,
        mailbox_id: i64,
        first: Uid,
        last: Uid,
    ) -> Result<Vec<(MessageRow, MessageDetails)>> {
        let mut statement = self
            .conn
            .prepare_cached(&format!(
                "SELECT {ROW_WITH_DETAILS_COLUMNS} FROM messages \
                 WHERE mailbox_id = ?1 AND uid BETWEEN ?2 AND ?3 ORDER BY uid"
            ))
            .map_err(|err| self.error(err))?;
        let rows = statement
            .query_map(
                params![mailbox_id, first.get(), last.get()],
                row_with_details_from_row,
            )
            .map_err(|err| self.error(err))?;
        self.collect(rows)
    }

    /// Returns one message's row and cached analysis, without the header block, like
    /// [`Index::messages_with_details`].
    pub fn message_with_details(
        &self,
        mailbox_id: i64,
        uid: Uid,
    ) -> Result<Option<(MessageRow, MessageDetails)>> {
        self.conn
            .prepare_cached(&format!(
                "SELECT {ROW_WITH_DETAILS_COLUMNS} FROM messages \
                 WHERE mailbox_id = ?1 AND uid = ?2"
            ))
            .map_err(|err| self.error(err))?
            .query_row(params![mailbox_id, uid.get()], row_with_details_from_row)
            .optional()
            .map_err(|err| self.error(err))?
            .transpose()
            .map_err(|reason| self.corrupt(reason))
    }

    /// Returns the UID, file number, file identity and cached analysis, header block
    /// included, of every message of a mailbox with a UID from `first` to `last`, in UID
    /// order, in one query.
    pub fn indexed_range(
        &self,
        mailbox_id: i64,
        first: Uid,
        last: Uid,
    ) -> Result<Vec<(Uid, MessageNumber, FileIdentity, MessageDetails)>> {
        let mut statement = self
            .conn
            .prepare_cached(
                "SELECT internal_date, internal_zone, rfc822_size, envelope, body_structure, \
                 header, uid, number, dev, ino, size, mtime_ns, btime_ns FROM messages \
                 WHERE mailbox_id = ?1 AND uid BETWEEN ?2 AND ?3 ORDER BY uid",
            )
            .map_err(|err| self.error(err))?;
        let rows = statement
            .query_map(params![mailbox_id, first.get(), last.get()], |row| {
                let details = details_from_row(row)?;
                let uid: u32 = row.get(6)?;
                let number: u32 = row.get(7)?;
                let identity = identity_from_row(row, 8)?;
                Ok((uid, number, identity, details))
            })
            .map_err(|err| self.error(err))?;
        let mut found = Vec::new();
        for row in rows {
            let (uid, number, identity, details) = row.map_err(|err| self.error(err))?;
            let (Some(uid), Some(number)) = (Uid::new(uid), MessageNumber::new(number)) else {
                return Err(self.corrupt(format!("message row with UID {uid} and number {number}")));
            };
            found.push((uid, number, identity, details));
        }
        Ok(found)
    }

    /// Returns the expunged UIDs of a mailbox with a MODSEQ above `since`, in UID order.
    pub fn expunged_since(&self, mailbox_id: i64, since: u64) -> Result<Vec<(Uid, u64)>> {
        let mut statement = self
            .conn
            .prepare_cached(
                "SELECT uid, modseq FROM expunged WHERE mailbox_id = ?1 AND modseq > ?2 \
                 ORDER BY uid",
            )
            .map_err(|err| self.error(err))?;
        let rows = statement
            .query_map(params![mailbox_id, since as i64], |row| {
                Ok((row.get::<_, u32>(0)?, row.get::<_, i64>(1)?))
            })
            .map_err(|err| self.error(err))?;
        let mut expunged = Vec::new();
        for row in rows {
            let (uid, modseq) = row.map_err(|err| self.error(err))?;
            let uid = Uid::new(uid).ok_or_else(|| self.corrupt("expunged UID 0".into()))?;
            expunged.push((uid, modseq as u64));
        }
        Ok(expunged)
    }

    /// Counts a mailbox's messages: total, without `\Seen`, at or above `recent_uid`, and
    /// the sum of their RFC822.SIZE.
    pub fn totals(&self, mailbox_id: i64, recent_uid: u32) -> Result<Totals> {
        self.conn
            .prepare_cached(
                "SELECT count(*), coalesce(sum(system_flags & 1 = 0), 0), \
                 coalesce(sum(uid >= ?2), 0), coalesce(sum(rfc822_size), 0) \
                 FROM messages WHERE mailbox_id = ?1",
            )
            .map_err(|err| self.error(err))?
            .query_row(params![mailbox_id, recent_uid], |row| {
                Ok(Totals {
                    messages: row.get(0)?,
                    unseen: row.get(1)?,
                    recent: row.get(2)?,
                    size: row.get::<_, i64>(3)? as u64,
                })
            })
            .map_err(|err| self.error(err))
    }

    /// Returns the highest UIDVALIDITY ever issued from this index (0 when none was).
    pub fn max_uid_validity(&self) -> Result<u32> {
        let value: Option<i64> = self
            .conn
            .prepare_cached("SELECT value FROM meta WHERE key = ?1")
            .map_err(|err| self.error(err))?
            .query_row([MAX_UID_VALIDITY_KEY], |row| row.get(0))
            .optional()
            .map_err(|err| self.error(err))?;
        Ok(value.unwrap_or(0) as u32)
    }

    /// Returns the value stored under a `meta` key.
    pub fn meta(&self, key: &str) -> Result<Option<i64>> {
        self.conn
            .prepare_cached("SELECT value FROM meta WHERE key = ?1")
            .map_err(|err| self.error(err))?
            .query_row([key], |row| row.get(0))
            .optional()
            .map_err(|err| self.error(err))
    }

    fn error(&self, source: rusqlite::Error) -> StoreError {
        sqlite_error(&self.path, source)
    }

    /// Collects rows that a row function decoded, turning SQLite errors and corrupt rows
    /// into store errors.
    fn collect<T>(
        &self,
        rows: impl Iterator<Item = rusqlite::Result<std::result::Result<T, String>>>,
    ) -> Result<Vec<T>> {
        rows.map(|row| {
            row.map_err(|err| self.error(err))?
                .map_err(|reason| self.corrupt(reason))
        })
        .collect()
    }

    fn corrupt(&self, reason: String) -> StoreError {
        StoreError::Corrupt {
            path: self.path.clone(),
            reason,
        }
    }
}

/// An open write transaction.
#[derive(Debug)]
pub struct Writer<'a> {
    tx: Transaction<'a>,
    path: PathBuf,
}

impl Writer<'_> {
    /// Issues a UIDVALIDITY larger than any issued before from this index: the current time
    /// in seconds, or one above the highest issued value when the clock is behind it.
    // NOTE: a new index made in the same second as a lost one, or after the clock was set
    // back, can issue a value the lost index had issued, because only the index records it.
    pub fn issue_uid_validity(&self, now: SystemTime) -> Result<UidValidity> {
        let seconds = now
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_secs());
        let highest = self.max_uid_validity()?;
        let value = seconds.max(u64::from(highest) + 1);
        let value = u32::try_from(value)
            .ok()
            .and_then(UidValidity::new)
            .ok_or_else(|| self.corrupt(format!("UIDVALIDITY {value} exceeds 32 bits")))?;
        self.set_meta(MAX_UID_VALIDITY_KEY, i64::from(value.get()))?;
        Ok(value)
    }

    /// Returns the mailbox named `name`, as this transaction sees it.
    pub fn mailbox(&self, name: &str) -> Result<Option<MailboxRow>> {
        let sql = format!("SELECT {MAILBOX_COLUMNS} FROM mailboxes WHERE name = ?1");
        self.tx
            .prepare_cached(&sql)
            .map_err(|err| self.error(err))?
            .query_row([name], mailbox_from_row)
            .optional()
            .map_err(|err| self.error(err))?
            .transpose()
            .map_err(|reason| self.corrupt(reason))
    }

    /// Records that a UIDVALIDITY was used (an imported one), so that later ones are larger.
    pub fn note_uid_validity(&self, value: UidValidity) -> Result<()> {
        if value.get() > self.max_uid_validity()? {
            self.set_meta(MAX_UID_VALIDITY_KEY, i64::from(value.get()))?;
        }
        Ok(())
    }

    /// Stores a value under a `meta` key.
    pub fn set_meta(&self, key: &str, value: i64) -> Result<()> {
        self.tx
            .prepare_cached(
                "INSERT INTO meta (key, value) VALUES (?1, ?2) \
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            )
            .map_err(|err| self.error(err))?
            .execute(params![key, value])
            .map_err(|err| self.error(err))?;
        Ok(())
    }

    /// Inserts a mailbox and returns its row. UIDNEXT and HIGHESTMODSEQ start at 1.
    pub fn insert_mailbox(
        &self,
        name: &str,
        uid_validity: UidValidity,
        dir: Option<DirIdentity>,
    ) -> Result<MailboxRow> {
        self.tx
            .execute(
                "INSERT INTO mailboxes (name, uid_validity, uid_next, highest_modseq, dir_dev, \
                 dir_ino, dir_btime_ns) VALUES (?1, ?2, 1, 1, ?3, ?4, ?5)",
                params![
                    name,
                    uid_validity.get(),
                    dir.map(|d| d.dev as i64),
                    dir.map(|d| d.ino as i64),
                    dir.and_then(|d| d.btime_ns),
                ],
            )
            .map_err(|err| self.error(err))?;
        Ok(MailboxRow {
            id: self.tx.last_insert_rowid(),
            name: name.to_owned(),
            uid_validity,
            uid_next: 1,
            highest_modseq: 1,
            subscribed: false,
            special_use: None,
            dir,
            recent_uid: 1,
        })
    }

    /// Deletes a mailbox with its messages and expunged UIDs.
    pub fn delete_mailbox(&self, id: i64) -> Result<()> {
        self.tx
            .execute("DELETE FROM mailboxes WHERE id = ?1", [id])
            .map_err(|err| self.error(err))?;
        Ok(())
    }

    /// Renames a mailbox, and every mailbox below it (`from/...` becomes `to/...`).
    pub fn rename_mailbox(&self, from: &str, to: &str) -> Result<()> {
        self.tx
            .execute(
                "UPDATE mailboxes SET name = ?2 || substr(name, length(?1) + 1) \
                 WHERE name = ?1 OR substr(name, 1, length(?1) + 1) = ?1 || '/'",
                params![from, to],
            )
            .map_err(|err| self.error(err))?;
        Ok(())
    }

    /// Sets the subscription flag.
    pub fn set_subscribed(&self, id: i64, subscribed: bool) -> Result<()> {
        self.update_mailbox_column(id, "subscribed", &subscribed)
    }

    /// Sets the special-use attribute.
    pub fn set_special_use(&self, id: i64, special_use: Option<&str>) -> Result<()> {
        self.update_mailbox_column(id, "special_use", &special_use)
    }

    /// Sets the lowest UID not yet seen as `\Recent`.
    pub fn set_recent_uid(&self, id: i64, recent_uid: u32) -> Result<()> {
        self.update_mailbox_column(id, "recent_uid", &recent_uid)
    }

    /// Starts a mailbox over under a new UIDVALIDITY: drops its messages and expunged UIDs,
    /// resets UIDNEXT, HIGHESTMODSEQ and `\Recent`, and records the directory's identity.
    pub fn reset_mailbox(
        &self,
        id: i64,
        uid_validity: UidValidity,
        dir: Option<DirIdentity>,
    ) -> Result<()> {
        let statements = [
            "DELETE FROM messages WHERE mailbox_id = ?1",
            "DELETE FROM expunged WHERE mailbox_id = ?1",
        ];
        for sql in statements {
            self.tx.execute(sql, [id]).map_err(|err| self.error(err))?;
        }
        self.tx
            .execute(
                "UPDATE mailboxes SET uid_validity = ?2, uid_next = 1, highest_modseq = 1, \
                 recent_uid = 1, dir_dev = ?3, dir_ino = ?4, dir_btime_ns = ?5 WHERE id = ?1",
                params![
                    id,
                    uid_validity.get(),
                    dir.map(|d| d.dev as i64),
                    dir.map(|d| d.ino as i64),
                    dir.and_then(|d| d.btime_ns),
                ],
            )
            .map_err(|err| self.error(err))?;
        Ok(())
    }

    /// Records the folder directory's identity.
    pub fn set_dir(&self, id: i64, dir: DirIdentity) -> Result<()> {
        self.tx
            .execute(
                "UPDATE mailboxes SET dir_dev = ?2, dir_ino = ?3, dir_btime_ns = ?4 WHERE id = ?1",
                params![id, dir.dev as i64, dir.ino as i64, dir.btime_ns],
            )
            .map_err(|err| self.error(err))?;
        Ok(())
    }

    /// Sets UIDNEXT of an imported mailbox.
    pub fn set_uid_next(&self, id: i64, uid_next: u32) -> Result<()> {
        self.update_mailbox_column(id, "uid_next", &uid_next)
    }

    /// Writes a mailbox update: removes expunged rows and records their UIDs, moves,
    /// inserts, changes flags, and raises UIDNEXT and HIGHESTMODSEQ. UIDNEXT never goes
    /// down, whatever the update says.
    pub fn apply(&self, mailbox_id: i64, update: &MailboxUpdate) -> Result<()> {
        let modseq = update.modseq.map_or(0, ModSeq::get) as i64;
        self.expunge_rows(mailbox_id, &update.expunged, modseq)?;
        self.move_rows(mailbox_id, &update.moved)?;
        for message in &update.inserted {
            self.insert_message(mailbox_id, message)?;
        }
        self.update_flags(mailbox_id, &update.flags, modseq)?;
        self.tx
            .prepare_cached(
                "UPDATE mailboxes SET uid_next = max(uid_next, ?2), \
                 highest_modseq = max(highest_modseq, ?3) WHERE id = ?1",
            )
            .map_err(|err| self.error(err))?
            .execute(params![mailbox_id, update.uid_next, modseq])
            .map_err(|err| self.error(err))?;
        Ok(())
    }

    fn expunge_rows(&self, mailbox_id: i64, uids: &[Uid], modseq: i64) -> Result<()> {
        let mut delete = self
            .tx
            .prepare_cached("DELETE FROM messages WHERE mailbox_id = ?1 AND uid = ?2")
            .map_err(|err| self.error(err))?;
        let mut record = self
            .tx
            .prepare_cached(
                "INSERT OR REPLACE INTO expunged (mailbox_id, uid, modseq) VALUES (?1, ?2, ?3)",
            )
            .map_err(|err| self.error(err))?;
        for uid in uids {
            delete
                .execute(params![mailbox_id, uid.get()])
                .map_err(|err| self.error(err))?;
            record
                .execute(params![mailbox_id, uid.get(), modseq])
                .map_err(|err| self.error(err))?;
        }
        Ok(())
    }

    fn move_rows(
        &self,
        mailbox_id: i64,
        moved: &[(Uid, MessageNumber, FileIdentity)],
    ) -> Result<()> {
        let mut statement = self
            .tx
            .prepare_cached(
                "UPDATE messages SET number = ?3, dev = ?4, ino = ?5, size = ?6, mtime_ns = ?7, \
                 btime_ns = ?8 WHERE mailbox_id = ?1 AND uid = ?2",
            )
            .map_err(|err| self.error(err))?;
        for (uid, number, identity) in moved {
            statement
                .execute(params![
                    mailbox_id,
                    uid.get(),
                    number.get(),
                    identity.dev as i64,
                    identity.ino as i64,
                    identity.size as i64,
                    identity.mtime_ns as i64,
                    identity.btime_ns.map(|ns| ns as i64),
                ])
                .map_err(|err| self.error(err))?;
        }
        Ok(())
    }

    fn insert_message(&self, mailbox_id: i64, message: &NewMessage) -> Result<()> {
        let NewMessage { row, details } = message;
        let mut statement = self
            .tx
            .prepare_cached(
                "INSERT INTO messages (mailbox_id, uid, number, dev, ino, size, mtime_ns, \
                 btime_ns, internal_date, internal_zone, rfc822_size, modseq, system_flags, \
                 keywords, envelope, body_structure, header) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, \
                 ?17)",
            )
            .map_err(|err| self.error(err))?;
        statement
            .execute(params![
                mailbox_id,
                row.uid.get(),
                row.number.get(),
                row.identity.dev as i64,
                row.identity.ino as i64,
                row.identity.size as i64,
                row.identity.mtime_ns as i64,
                row.identity.btime_ns.map(|ns| ns as i64),
                details.internal_date.timestamp,
                details.internal_date.zone_minutes,
                details.rfc822_size as i64,
                row.modseq as i64,
                row.flags.system_bits(),
                row.flags.stored_keywords(),
                details.envelope,
                details.body_structure,
                details.header,
            ])
            .map_err(|err| self.error(err))?;
        Ok(())
    }

    fn update_flags(&self, mailbox_id: i64, flags: &[(Uid, FlagSet)], modseq: i64) -> Result<()> {
        let mut statement = self
            .tx
            .prepare_cached(
                "UPDATE messages SET system_flags = ?3, keywords = ?4, modseq = max(modseq, ?5) \
                 WHERE mailbox_id = ?1 AND uid = ?2",
            )
            .map_err(|err| self.error(err))?;
        for (uid, set) in flags {
            statement
                .execute(params![
                    mailbox_id,
                    uid.get(),
                    set.system_bits(),
                    set.stored_keywords(),
                    modseq
                ])
                .map_err(|err| self.error(err))?;
        }
        Ok(())
    }

    fn max_uid_validity(&self) -> Result<u32> {
        let value: Option<i64> = self
            .tx
            .prepare_cached("SELECT value FROM meta WHERE key = ?1")
            .map_err(|err| self.error(err))?
            .query_row([MAX_UID_VALIDITY_KEY], |row| row.get(0))
            .optional()
            .map_err(|err| self.error(err))?;
        Ok(value.unwrap_or(0) as u32)
    }

    /// Stores the header block of a message indexed before the index cached header blocks.
    /// A message expunged meanwhile has no row, and nothing is written for it.
    pub fn set_header(&self, mailbox_id: i64, uid: Uid, header: &[u8]) -> Result<()> {
        self.tx
            .prepare_cached("UPDATE messages SET header = ?3 WHERE mailbox_id = ?1 AND uid = ?2")
            .map_err(|err| self.error(err))?
            .execute(params![mailbox_id, uid.get(), header])
            .map_err(|err| self.error(err))?;
        Ok(())
    }

    fn update_mailbox_column(
        &self,
        id: i64,
        column: &str,
        value: &dyn rusqlite::ToSql,
    ) -> Result<()> {
        let sql = format!("UPDATE mailboxes SET {column} = ?2 WHERE id = ?1");
        self.tx
            .prepare_cached(&sql)
            .map_err(|err| self.error(err))?
            .execute(params![id, value])
            .map_err(|err| self.error(err))?;
        Ok(())
    }

    fn error(&self, source: rusqlite::Error) -> StoreError {
        sqlite_error(&self.path, source)
    }

    fn corrupt(&self, reason: String) -> StoreError {
        StoreError::Corrupt {
            path: self.path.clone(),
            reason,
        }
    }
}

type Decoded<T> = std::result::Result<T, String>;

fn mailbox_from_row(row: &Row<'_>) -> rusqlite::Result<Decoded<MailboxRow>> {
    let uid_validity: u32 = row.get(2)?;
    let dev: Option<i64> = row.get(7)?;
    let ino: Option<i64> = row.get(8)?;
    let dir = dev.zip(ino).map(|(dev, ino)| DirIdentity {
        dev: dev as u64,
        ino: ino as u64,
        btime_ns: None,
    });
    let btime_ns: Option<i64> = row.get(9)?;
    let name: String = row.get(1)?;
    let Some(uid_validity) = UidValidity::new(uid_validity) else {
        return Ok(Err(format!("mailbox {name} has UIDVALIDITY 0")));
    };
    Ok(Ok(MailboxRow {
        id: row.get(0)?,
        name,
        uid_validity,
        uid_next: row.get(3)?,
        highest_modseq: row.get::<_, i64>(4)? as u64,
        subscribed: row.get(5)?,
        special_use: row.get(6)?,
        dir: dir.map(|dir| DirIdentity { btime_ns, ..dir }),
        recent_uid: row.get(10)?,
    }))
}

fn message_from_row(row: &Row<'_>) -> rusqlite::Result<Decoded<MessageRow>> {
    let uid: u32 = row.get(0)?;
    let number: u32 = row.get(1)?;
    let identity = FileIdentity {
        dev: row.get::<_, i64>(2)? as u64,
        ino: row.get::<_, i64>(3)? as u64,
        size: row.get::<_, i64>(4)? as u64,
        mtime_ns: i128::from(row.get::<_, i64>(5)?),
        btime_ns: row.get::<_, Option<i64>>(6)?.map(i128::from),
    };
    let modseq = row.get::<_, i64>(7)? as u64;
    let flags = FlagSet::from_stored(row.get(8)?, &row.get::<_, String>(9)?);
    let (Some(uid), Some(number)) = (Uid::new(uid), MessageNumber::new(number)) else {
        return Ok(Err(format!(
            "message row with UID {uid} and number {number}"
        )));
    };
    Ok(Ok(MessageRow {
        uid,
        number,
        identity,
        modseq,
        flags,
    }))
}

/// Reads a file identity from the columns dev, ino, size, mtime_ns and btime_ns, starting
/// at column `first`.
fn identity_from_row(row: &Row<'_>, first: usize) -> rusqlite::Result<FileIdentity> {
    Ok(FileIdentity {
        dev: row.get::<_, i64>(first)? as u64,
        ino: row.get::<_, i64>(first + 1)? as u64,
        size: row.get::<_, i64>(first + 2)? as u64,
        mtime_ns: i128::from(row.get::<_, i64>(first + 3)?),
        btime_ns: row.get::<_, Option<i64>>(first + 4)?.map(i128::from),
    })
}

fn details_from_row(row: &Row<'_>) -> rusqlite::Result<MessageDetails> {
    Ok(MessageDetails {
        header: row.get(5)?,
        ..details_from_columns(row, 0)?
    })
}

/// Reads INTERNALDATE, its zone, RFC822.SIZE, ENVELOPE and BODYSTRUCTURE from the columns
/// starting at `first`, and leaves `header` as `None`.
fn details_from_columns(row: &Row<'_>, first: usize) -> rusqlite::Result<MessageDetails> {
    Ok(MessageDetails {
        internal_date: InternalDate {
            timestamp: row.get(first)?,
            zone_minutes: row.get(first + 1)?,
        },
        rfc822_size: row.get::<_, i64>(first + 2)? as u64,
        envelope: row.get(first + 3)?,
        body_structure: row.get(first + 4)?,
        header: None,
    })
}

fn row_with_details_from_row(
    row: &Row<'_>,
) -> rusqlite::Result<Decoded<(MessageRow, MessageDetails)>> {
    let message = message_from_row(row)?;
    let details = details_from_columns(row, 10)?;
    Ok(message.map(|message| (message, details)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn open() -> (tempfile::TempDir, Index) {
        let dir = tempfile::tempdir().unwrap();
        let index = Index::open(&dir.path().join(crate::schema::INDEX_FILE)).unwrap();
        (dir, index)
    }

    fn at(seconds: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(seconds)
    }

    fn uid(value: u32) -> Uid {
        Uid::new(value).unwrap()
    }

    fn sample(uid_value: u32, number: u32) -> NewMessage {
        NewMessage {
            row: MessageRow {
                uid: uid(uid_value),
                number: MessageNumber::new(number).unwrap(),
                identity: FileIdentity {
                    dev: 1,
                    ino: 100 + u64::from(number),
                    size: 10,
                    mtime_ns: 5,
                    btime_ns: Some(4),
                },
                modseq: 2,
                flags: FlagSet::from_stored(1, "work $Junk"),
            },
            details: MessageDetails {
                internal_date: InternalDate {
                    timestamp: 1_700_000_000,
                    zone_minutes: Some(-300),
                },
                rfc822_size: 12,
                envelope: Some(b"(NIL)".to_vec()),
                body_structure: None,
                header: Some(b"Subject: x\n\n".to_vec()),
            },
        }
    }

    #[test]
    fn uid_validity_follows_the_clock() {
        let (_dir, mut index) = open();
        let value = index
            .write(|w| w.issue_uid_validity(at(1_800_000_000)))
            .unwrap();
        assert_eq!(value.get(), 1_800_000_000);
    }

    #[test]
    fn uid_validity_grows_when_clock_goes_back() {
        let (_dir, mut index) = open();
        let first = index
            .write(|w| w.issue_uid_validity(at(1_800_000_000)))
            .unwrap();
        let second = index
            .write(|w| w.issue_uid_validity(at(1_700_000_000)))
            .unwrap();
        let third = index
            .write(|w| w.issue_uid_validity(at(1_800_000_000)))
            .unwrap();
        assert!(second > first);
        assert!(third > second);
        assert_eq!(index.max_uid_validity().unwrap(), third.get());
    }

    #[test]
    fn imported_uid_validity_raises_the_floor() {
        let (_dir, mut index) = open();
        index
            .write(|w| w.note_uid_validity(UidValidity::new(2_000_000_000).unwrap()))
            .unwrap();
        let next = index
            .write(|w| w.issue_uid_validity(at(1_800_000_000)))
            .unwrap();
        assert_eq!(next.get(), 2_000_000_001);
    }

    #[test]
    fn update_round_trips_rows() {
        let (_dir, mut index) = open();
        let validity = UidValidity::new(9).unwrap();
        let mailbox = index
            .write(|w| w.insert_mailbox("inbox", validity, None))
            .unwrap();
        let update = MailboxUpdate {
            inserted: vec![sample(1, 1), sample(2, 2)],
            uid_next: 3,
            modseq: ModSeq::new(2),
            ..MailboxUpdate::default()
        };
        index.write(|w| w.apply(mailbox.id, &update)).unwrap();

        let rows = index.messages(mailbox.id).unwrap();
        assert_eq!(rows, vec![sample(1, 1).row, sample(2, 2).row]);
        let details = index.details(mailbox.id, uid(2)).unwrap().unwrap();
        assert_eq!(details, sample(2, 2).details);
        let stored = index.mailbox("inbox").unwrap().unwrap();
        assert_eq!(stored.uid_next, 3);
        assert_eq!(stored.highest_modseq, 2);
    }

    #[test]
    fn expunge_records_vanished_uids() {
        let (_dir, mut index) = open();
        let validity = UidValidity::new(9).unwrap();
        let mailbox = index
            .write(|w| w.insert_mailbox("inbox", validity, None))
            .unwrap();
        let insert = MailboxUpdate {
            inserted: vec![sample(1, 1), sample(2, 2)],
            uid_next: 3,
            modseq: ModSeq::new(2),
            ..MailboxUpdate::default()
        };
        index.write(|w| w.apply(mailbox.id, &insert)).unwrap();
        let expunge = MailboxUpdate {
            expunged: vec![uid(1)],
            uid_next: 3,
            modseq: ModSeq::new(3),
            ..MailboxUpdate::default()
        };
        index.write(|w| w.apply(mailbox.id, &expunge)).unwrap();

        assert_eq!(index.messages(mailbox.id).unwrap().len(), 1);
        assert_eq!(
            index.expunged_since(mailbox.id, 2).unwrap(),
            vec![(uid(1), 3)]
        );
        assert!(index.expunged_since(mailbox.id, 3).unwrap().is_empty());
    }

    #[test]
    fn uid_next_never_goes_down() {
        let (_dir, mut index) = open();
        let validity = UidValidity::new(9).unwrap();
        let mailbox = index
            .write(|w| w.insert_mailbox("inbox", validity, None))
            .unwrap();
        let raise = MailboxUpdate {
            uid_next: 50,
            ..MailboxUpdate::default()
        };
        index.write(|w| w.apply(mailbox.id, &raise)).unwrap();
        let lower = MailboxUpdate {
            uid_next: 10,
            ..MailboxUpdate::default()
        };
        index.write(|w| w.apply(mailbox.id, &lower)).unwrap();
        assert_eq!(index.mailbox("inbox").unwrap().unwrap().uid_next, 50);
    }

    #[test]
    fn rename_moves_children() {
        let (_dir, mut index) = open();
        let validity = UidValidity::new(9).unwrap();
        index
            .write(|w| {
                w.insert_mailbox("a", validity, None)?;
                w.insert_mailbox("a/b", validity, None)?;
                w.insert_mailbox("ab", validity, None)?;
                w.rename_mailbox("a", "x")
            })
            .unwrap();
        let names: Vec<String> = index
            .mailboxes()
            .unwrap()
            .into_iter()
            .map(|m| m.name)
            .collect();
        assert_eq!(names, vec!["ab", "x", "x/b"]);
    }

    #[test]
    fn failed_transaction_leaves_no_trace() {
        let (_dir, mut index) = open();
        let validity = UidValidity::new(9).unwrap();
        let result: Result<()> = index.write(|w| {
            w.insert_mailbox("inbox", validity, None)?;
            Err(StoreError::MailboxNotFound { name: "x".into() })
        });
        assert!(result.is_err());
        assert!(index.mailbox("inbox").unwrap().is_none());
    }
}
