//! WAL checkpoints off the command path.
//!
//! SQLite's automatic checkpoint runs inside the commit that crosses its threshold, so one
//! command that changes many rows (a STORE on 10,000 messages) also pays for copying the WAL
//! back into the index file. The store turns it off on its writer connection and lets a
//! thread with its own connection run a passive checkpoint [`CHECKPOINT_INTERVAL`] after a
//! write instead.

use std::path::Path;
use std::sync::mpsc::{self, Receiver, Sender};
use std::time::Duration;

use rusqlite::Connection;

use crate::schema::BUSY_TIMEOUT;

/// The wait before each checkpoint, so that the writes of a burst share one checkpoint.
pub const CHECKPOINT_INTERVAL: Duration = Duration::from_millis(500);

/// SQLite's default `wal_autocheckpoint`, in pages, restored when the thread is gone.
pub(crate) const DEFAULT_AUTOCHECKPOINT: i64 = 1000;

/// Starts the checkpoint thread for the index at `path` and returns the sender that wakes
/// it after a write. The thread ends when every sender is dropped.
pub(crate) fn spawn(path: &Path) -> Result<Sender<()>, Box<dyn std::error::Error>> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    let (sender, receiver) = mpsc::channel();
    let index = path.display().to_string();
    std::thread::Builder::new()
        .name("asimapd-checkpoint".to_owned())
        .spawn(move || run(&conn, &receiver, &index))?;
    Ok(sender)
}

fn run(conn: &Connection, wakeups: &Receiver<()>, index: &str) {
    while wakeups.recv().is_ok() {
        std::thread::sleep(CHECKPOINT_INTERVAL);
        while wakeups.try_recv().is_ok() {}
        let result = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
            row.get::<_, i64>(0)
        });
        if let Err(error) = result {
            tracing::warn!(index, %error, "WAL checkpoint failed");
        }
    }
}
