//! Read-only connections to the index, shared by all sessions of a user.
//!
//! In WAL mode a read transaction reads the last commit made before it started and neither
//! waits for nor blocks the one write transaction. The store therefore runs its queries on
//! a small pool of read-only connections and keeps its one writer connection for write
//! transactions, so that sessions no longer queue behind each other's queries.

use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex};

use crate::error::Result;
use crate::index::Index;
use crate::store::lock;

/// The maximum number of read-only connections a store opens. SQLite queries are CPU work,
/// so more connections than cores gain little, and each connection keeps its own page cache
/// (about 2 MiB by default).
pub(crate) const MAX_READERS: usize = 8;

/// A pool of read-only connections to one index file, opened on first use.
#[derive(Debug)]
pub(crate) struct ReadPool {
    path: PathBuf,
    max: usize,
    state: Mutex<PoolState>,
    returned: Condvar,
}

#[derive(Debug, Default)]
struct PoolState {
    idle: Vec<Index>,
    opened: usize,
}

/// A read-only connection taken from the pool, given back when dropped.
#[derive(Debug)]
pub(crate) struct Reader<'a> {
    pool: &'a ReadPool,
    index: Option<Index>,
}

impl ReadPool {
    /// Creates an empty pool for the index at `path`, which must exist and be in WAL mode.
    pub(crate) fn new(path: &Path, max: usize) -> Self {
        ReadPool {
            path: path.to_owned(),
            max: max.max(1),
            state: Mutex::new(PoolState::default()),
            returned: Condvar::new(),
        }
    }

    /// Takes an idle connection, opens a new one while fewer than the maximum are open, or
    /// waits until another thread gives one back.
    pub(crate) fn get(&self) -> Result<Reader<'_>> {
        let mut state = lock(&self.state);
        loop {
            if let Some(index) = state.idle.pop() {
                return Ok(self.reader(index));
            }
            if state.opened < self.max {
                state.opened += 1;
                drop(state);
                return match Index::open_read_only(&self.path) {
                    Ok(index) => Ok(self.reader(index)),
                    Err(error) => {
                        lock(&self.state).opened -= 1;
                        self.returned.notify_one();
                        Err(error)
                    }
                };
            }
            state = self
                .returned
                .wait(state)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
    }

    fn reader(&self, index: Index) -> Reader<'_> {
        Reader {
            pool: self,
            index: Some(index),
        }
    }
}

impl Deref for Reader<'_> {
    type Target = Index;

    fn deref(&self) -> &Index {
        self.index
            .as_ref()
            .expect("a reader holds its index until dropped")
    }
}

impl Drop for Reader<'_> {
    fn drop(&mut self) {
        if let Some(index) = self.index.take() {
            lock(&self.pool.state).idle.push(index);
            self.pool.returned.notify_one();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use asimapd_proto::UidValidity;

    fn open() -> (tempfile::TempDir, Index, ReadPool) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(crate::schema::INDEX_FILE);
        let writer = Index::open(&path).unwrap();
        let pool = ReadPool::new(&path, 2);
        (dir, writer, pool)
    }

    #[test]
    fn reader_sees_committed_write() {
        let (_dir, mut writer, pool) = open();
        let validity = UidValidity::new(7).unwrap();
        assert!(pool.get().unwrap().mailbox("inbox").unwrap().is_none());

        writer
            .write(|w| w.insert_mailbox("inbox", validity, None))
            .unwrap();

        let row = pool.get().unwrap().mailbox("inbox").unwrap();
        assert_eq!(row.map(|row| row.uid_validity), Some(validity));
    }

    #[test]
    fn reader_runs_during_open_write_transaction() {
        let (_dir, mut writer, pool) = open();
        let validity = UidValidity::new(7).unwrap();
        let seen_inside = writer
            .write(|w| {
                w.insert_mailbox("inbox", validity, None)?;
                // Another thread, as another session would: it must neither wait for this
                // transaction nor see its uncommitted row.
                std::thread::scope(|scope| {
                    scope.spawn(|| pool.get()?.mailbox("inbox")).join().unwrap()
                })
            })
            .unwrap();
        assert!(seen_inside.is_none());
        assert!(pool.get().unwrap().mailbox("inbox").unwrap().is_some());
    }

    #[test]
    fn read_only_connection_rejects_writes() {
        let (_dir, _writer, pool) = open();
        let mut index = Index::open_read_only(&pool.path).unwrap();
        let validity = UidValidity::new(7).unwrap();
        let result = index.write(|w| w.insert_mailbox("inbox", validity, None));
        assert!(result.is_err());
        assert!(pool.get().unwrap().mailbox("inbox").unwrap().is_none());
    }

    #[test]
    fn pool_reuses_connections_up_to_max() {
        let (_dir, _writer, pool) = open();
        let first = pool.get().unwrap();
        let second = pool.get().unwrap();
        assert_eq!(lock(&pool.state).opened, 2);

        // A third request waits until a connection comes back.
        std::thread::scope(|scope| {
            let waiting = scope.spawn(|| pool.get().map(|reader| reader.path().to_owned()));
            drop(first);
            let path = waiting.join().unwrap().unwrap();
            assert_eq!(path, pool.path);
        });
        drop(second);

        let state = lock(&pool.state);
        assert_eq!(state.opened, 2);
        assert_eq!(state.idle.len(), 2);
    }
}
