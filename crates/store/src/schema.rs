//! The index file: opening, pragmas and numbered schema migrations.
//!
//! The schema version is SQLite's `user_version`. Migration `n` (1-based) moves a file from
//! version `n - 1` to `n`. Each runs in one transaction together with the version bump, so a
//! crash leaves the file at one version or the next, never in between.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use crate::error::{Result, StoreError};

/// Name of the index file in the mail root.
pub const INDEX_FILE: &str = ".asimapd.db";

/// How long a writer waits for another process's write transaction before failing.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Bytes of the index file that a read-only connection maps into memory. SEARCH reads the
/// cached header block of every message. Through the map those pages are read without one
/// `pread` call each, and all connections share the mapped pages. Pages still in the WAL
/// file are read with `pread`.
pub(crate) const READER_MMAP_SIZE: i64 = 256 * 1024 * 1024;

/// The migrations, in order. Never edit a released one: add a new step instead.
pub(crate) const MIGRATIONS: &[&str] = &[
    // 1: mailboxes and messages.
    "CREATE TABLE meta (
        key TEXT PRIMARY KEY,
        value INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE mailboxes (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        uid_validity INTEGER NOT NULL,
        uid_next INTEGER NOT NULL,
        highest_modseq INTEGER NOT NULL,
        subscribed INTEGER NOT NULL DEFAULT 0,
        special_use TEXT,
        dir_dev INTEGER,
        dir_ino INTEGER,
        dir_btime_ns INTEGER
    );
    CREATE TABLE messages (
        mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
        uid INTEGER NOT NULL,
        number INTEGER NOT NULL,
        dev INTEGER NOT NULL,
        ino INTEGER NOT NULL,
        size INTEGER NOT NULL,
        mtime_ns INTEGER NOT NULL,
        btime_ns INTEGER,
        internal_date INTEGER NOT NULL,
        rfc822_size INTEGER NOT NULL,
        modseq INTEGER NOT NULL,
        system_flags INTEGER NOT NULL DEFAULT 0,
        keywords TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (mailbox_id, uid)
    ) WITHOUT ROWID;",
    // 2: expunged UIDs, for QRESYNC's VANISHED (RFC 7162 §3.2.10), and the first UID that
    // no session has seen as \Recent yet.
    "CREATE TABLE expunged (
        mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
        uid INTEGER NOT NULL,
        modseq INTEGER NOT NULL,
        PRIMARY KEY (mailbox_id, uid)
    ) WITHOUT ROWID;
    ALTER TABLE mailboxes ADD COLUMN recent_uid INTEGER NOT NULL DEFAULT 1;",
    // 3: cached analysis and the zone of an APPEND date.
    "ALTER TABLE messages ADD COLUMN internal_zone INTEGER;
    ALTER TABLE messages ADD COLUMN envelope BLOB;
    ALTER TABLE messages ADD COLUMN body_structure BLOB;",
    // 4: the raw header block, for SEARCH keys on header fields. NULL in rows indexed
    // before this step until a search fills it from the message file.
    "ALTER TABLE messages ADD COLUMN header BLOB;",
    // 5: messages as a rowid table. The WITHOUT ROWID table of step 1 kept whole rows in
    // its B-tree cells, with the cached ENVELOPE, BODYSTRUCTURE and header. Rows of a few
    // KiB spilled to overflow pages, so each lookup by UID read and compared whole rows. A
    // rowid table keeps the primary key in a separate index of small cells.
    "CREATE TABLE messages_rowid (
        mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
        uid INTEGER NOT NULL,
        number INTEGER NOT NULL,
        dev INTEGER NOT NULL,
        ino INTEGER NOT NULL,
        size INTEGER NOT NULL,
        mtime_ns INTEGER NOT NULL,
        btime_ns INTEGER,
        internal_date INTEGER NOT NULL,
        rfc822_size INTEGER NOT NULL,
        modseq INTEGER NOT NULL,
        system_flags INTEGER NOT NULL DEFAULT 0,
        keywords TEXT NOT NULL DEFAULT '',
        internal_zone INTEGER,
        envelope BLOB,
        body_structure BLOB,
        header BLOB,
        PRIMARY KEY (mailbox_id, uid)
    );
    INSERT INTO messages_rowid (mailbox_id, uid, number, dev, ino, size, mtime_ns, btime_ns,
        internal_date, rfc822_size, modseq, system_flags, keywords, internal_zone, envelope,
        body_structure, header)
    SELECT mailbox_id, uid, number, dev, ino, size, mtime_ns, btime_ns, internal_date,
        rfc822_size, modseq, system_flags, keywords, internal_zone, envelope, body_structure,
        header
    FROM messages ORDER BY mailbox_id, uid;
    DROP TABLE messages;
    ALTER TABLE messages_rowid RENAME TO messages;",
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Opens (creating when missing) the index at `path`, sets WAL mode and migrates it to
/// [`SCHEMA_VERSION`].
pub fn open_index(path: &Path) -> Result<Connection> {
    let sqlite = |source| sqlite_error(path, source);
    let conn = Connection::open(path).map_err(sqlite)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(sqlite)?;
    conn.pragma_update(None, "journal_mode", "WAL")
        .map_err(sqlite)?;
    conn.pragma_update(None, "synchronous", "NORMAL")
        .map_err(sqlite)?;
    conn.pragma_update(None, "foreign_keys", "ON")
        .map_err(sqlite)?;
    migrate(&conn, path, SCHEMA_VERSION)?;
    Ok(conn)
}

/// Opens a read-only connection to the index at `path`. The file must exist: the store
/// opens it with [`open_index`] first, which also sets the WAL mode that this connection
/// relies on to read while another connection writes.
pub(crate) fn open_read_only(path: &Path) -> Result<Connection> {
    let sqlite = |source| sqlite_error(path, source);
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(sqlite)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(sqlite)?;
    conn.pragma_update(None, "mmap_size", READER_MMAP_SIZE)
        .map_err(sqlite)?;
    Ok(conn)
}

/// Applies the migrations after the file's version, up to `target`.
pub(crate) fn migrate(conn: &Connection, path: &Path, target: i64) -> Result<()> {
    let found = schema_version(conn, path)?;
    if found > SCHEMA_VERSION {
        return Err(StoreError::SchemaTooNew {
            path: path.to_owned(),
            found,
            supported: SCHEMA_VERSION,
        });
    }
    for version in found + 1..=target {
        let step = MIGRATIONS[(version - 1) as usize];
        let script = format!("BEGIN IMMEDIATE; {step}; PRAGMA user_version = {version}; COMMIT;");
        if let Err(source) = conn.execute_batch(&script) {
            let _ = conn.execute_batch("ROLLBACK");
            return Err(sqlite_error(path, source));
        }
        tracing::info!(index = %path.display(), version, "migrated index schema");
    }
    Ok(())
}

/// Returns the file's schema version (0 for a new file).
pub fn schema_version(conn: &Connection, path: &Path) -> Result<i64> {
    conn.pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(|source| sqlite_error(path, source))
}

pub(crate) fn sqlite_error(path: &Path, source: rusqlite::Error) -> StoreError {
    StoreError::Sqlite {
        path: PathBuf::from(path),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index_path(dir: &tempfile::TempDir) -> PathBuf {
        dir.path().join(INDEX_FILE)
    }

    fn columns(conn: &Connection, table: &str) -> Vec<String> {
        let mut statement = conn
            .prepare(&format!("SELECT name FROM pragma_table_info('{table}')"))
            .unwrap();
        statement
            .query_map([], |row| row.get(0))
            .unwrap()
            .map(|name| name.unwrap())
            .collect()
    }

    #[test]
    fn empty_file_migrates_to_latest() {
        let dir = tempfile::tempdir().unwrap();
        let conn = open_index(&index_path(&dir)).unwrap();
        assert_eq!(
            schema_version(&conn, &index_path(&dir)).unwrap(),
            SCHEMA_VERSION
        );
        let mode: String = conn
            .pragma_query_value(None, "journal_mode", |row| row.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        assert!(columns(&conn, "messages").contains(&"body_structure".to_owned()));
        assert!(columns(&conn, "mailboxes").contains(&"recent_uid".to_owned()));
        assert!(columns(&conn, "messages").contains(&"header".to_owned()));
    }

    #[test]
    fn every_earlier_version_migrates_keeping_rows() {
        for start in 1..SCHEMA_VERSION {
            let dir = tempfile::tempdir().unwrap();
            let path = index_path(&dir);
            let conn = Connection::open(&path).unwrap();
            migrate(&conn, &path, start).unwrap();
            conn.execute_batch(
                "INSERT INTO meta VALUES ('max_uid_validity', 77);
                 INSERT INTO mailboxes (id, name, uid_validity, uid_next, highest_modseq)
                     VALUES (1, 'inbox', 77, 5, 9);
                 INSERT INTO messages (mailbox_id, uid, number, dev, ino, size, mtime_ns,
                     internal_date, rfc822_size, modseq) VALUES (1, 4, 2, 1, 2, 3, 4, 5, 6, 7);",
            )
            .unwrap();
            drop(conn);

            let conn = open_index(&path).unwrap();
            assert_eq!(
                schema_version(&conn, &path).unwrap(),
                SCHEMA_VERSION,
                "from {start}"
            );
            let (uid, recent): (i64, i64) = conn
                .query_row(
                    "SELECT m.uid, b.recent_uid FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id",
                    [],
                    |row| Ok((row.get(0)?, row.get(1)?)),
                )
                .unwrap();
            assert_eq!(uid, 4, "message row kept from version {start}");
            assert_eq!(recent, 1, "recent_uid defaults from version {start}");
        }
    }

    #[test]
    fn messages_move_to_rowid_table() {
        let dir = tempfile::tempdir().unwrap();
        let path = index_path(&dir);
        let conn = Connection::open(&path).unwrap();
        migrate(&conn, &path, 4).unwrap();
        conn.execute_batch(
            "INSERT INTO mailboxes (id, name, uid_validity, uid_next, highest_modseq)
                 VALUES (1, 'inbox', 77, 9, 9);
             INSERT INTO messages (mailbox_id, uid, number, dev, ino, size, mtime_ns, btime_ns,
                 internal_date, rfc822_size, modseq, system_flags, keywords, internal_zone,
                 envelope, body_structure, header)
                 VALUES (1, 8, 3, 1, 2, 3, 4, 5, 6, 7, 8, 9, 'work', -300, x'01', x'02', x'03');",
        )
        .unwrap();
        drop(conn);

        let conn = open_index(&path).unwrap();
        let sql: String = conn
            .query_row(
                "SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = 'messages'",
                [],
                |row| row.get(0),
            )
            .unwrap();
        assert!(!sql.contains("WITHOUT ROWID"), "{sql}");
        let row: (i64, i64, String, i64, Vec<u8>, Vec<u8>, Vec<u8>) = conn
            .query_row(
                "SELECT uid, system_flags, keywords, internal_zone, envelope, body_structure, \
                 header FROM messages WHERE mailbox_id = 1 AND uid = 8",
                [],
                |row| {
                    Ok((
                        row.get(0)?,
                        row.get(1)?,
                        row.get(2)?,
                        row.get(3)?,
                        row.get(4)?,
                        row.get(5)?,
                        row.get(6)?,
                    ))
                },
            )
            .unwrap();
        assert_eq!(
            row,
            (8, 9, "work".to_owned(), -300, vec![1], vec![2], vec![3])
        );
        let duplicate = conn.execute(
            "INSERT INTO messages (mailbox_id, uid, number, dev, ino, size, mtime_ns, \
             internal_date, rfc822_size, modseq) VALUES (1, 8, 4, 1, 2, 3, 4, 5, 6, 7)",
            [],
        );
        assert!(duplicate.is_err(), "(mailbox_id, uid) stays unique");
        conn.execute("DELETE FROM mailboxes WHERE id = 1", [])
            .unwrap();
        let left: i64 = conn
            .query_row("SELECT count(*) FROM messages", [], |row| row.get(0))
            .unwrap();
        assert_eq!(left, 0, "deleting the mailbox still deletes its messages");
    }

    #[test]
    fn reopening_latest_is_a_no_op() {
        let dir = tempfile::tempdir().unwrap();
        drop(open_index(&index_path(&dir)).unwrap());
        let conn = open_index(&index_path(&dir)).unwrap();
        assert_eq!(
            schema_version(&conn, &index_path(&dir)).unwrap(),
            SCHEMA_VERSION
        );
    }

    #[test]
    fn newer_schema_is_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let path = index_path(&dir);
        let conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
        drop(conn);
        let err = open_index(&path).unwrap_err();
        assert!(
            matches!(err, StoreError::SchemaTooNew { found, .. } if found == SCHEMA_VERSION + 1)
        );
    }
}
