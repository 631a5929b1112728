//! Deciding when a file written by someone else is complete.
//!
//! nmh's `inc` writes each new message under its final number, in 4 KiB pieces, with no lock
//! on the folder, so a new number in a listing may name an empty or cut-short file. A file
//! counts as settled once its identity (inode, size, modification time) has not changed for
//! [`SETTLE_INTERVAL`]: either its modification time is that old already, or two looks at
//! least that far apart saw the same identity. While `inc` holds the maildrop lock, files in
//! the inbox are never settled.
//!
//! A caller that watches the folder with inotify can report that the writer closed a file
//! (`IN_CLOSE_WRITE`) with [`SettleWatch::note_closed`]. A file whose identity is still the
//! one it had at that close is complete and settles at once, even while `inc` runs. `inc`
//! writes each message through one descriptor and closes it when the message is done (nmh
//! 1.8 under strace: `openat(N, O_WRONLY|O_CREAT|O_TRUNC)`, writes, `close`).

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::identity::FileIdentity;
use crate::number::MessageNumber;

/// How long a file must stay unchanged to count as complete.
pub const SETTLE_INTERVAL: Duration = Duration::from_secs(1);

/// Remembers the first look at each unsettled file, and the files reported closed.
#[derive(Debug, Default)]
pub struct SettleWatch {
    first_seen: HashMap<MessageNumber, (FileIdentity, Instant)>,
    /// Files whose writer closed them, with their identity and the time of the report.
    closed: HashMap<MessageNumber, (FileIdentity, Instant)>,
}

impl SettleWatch {
    /// Returns an empty watch.
    pub fn new() -> Self {
        SettleWatch::default()
    }

    /// Records that the writer of message `number` closed it (inotify `IN_CLOSE_WRITE`).
    /// `identity` is the file's identity taken after the close, and `now` the monotonic time.
    /// Reports older than [`SETTLE_INTERVAL`] are dropped, because the timed rule settles
    /// those files by then.
    pub fn note_closed(&mut self, number: MessageNumber, identity: &FileIdentity, now: Instant) {
        self.closed
            .retain(|_, (_, noted)| now.duration_since(*noted) < SETTLE_INTERVAL);
        self.closed.insert(number, (*identity, now));
    }

    /// Records a look at message `number` and returns true when it has settled. `now` is the
    /// monotonic time of the look and `wall` the wall-clock time (compared with the file's
    /// modification time). Pass `writer_active` true while `inc` is known to be delivering
    /// into the folder ([`crate::Folder::is_inc_running`]).
    pub fn observe(
        &mut self,
        number: MessageNumber,
        identity: &FileIdentity,
        now: Instant,
        wall: SystemTime,
        writer_active: bool,
    ) -> bool {
        let first = self.first_seen.entry(number).or_insert((*identity, now));
        if !first.0.is_same_message(identity) {
            *first = (*identity, now);
        }
        let is_closed = self
            .closed
            .get(&number)
            .is_some_and(|(closed, _)| closed.is_same_message(identity));
        if is_closed {
            self.forget(number);
            return true;
        }
        if writer_active {
            return false;
        }
        let unchanged_for = now.duration_since(first.1);
        let settled = unchanged_for >= SETTLE_INTERVAL || modified_before(identity, wall);
        if settled {
            self.first_seen.remove(&number);
        }
        settled
    }

    /// Forgets a message (removed or renumbered).
    pub fn forget(&mut self, number: MessageNumber) {
        self.first_seen.remove(&number);
        self.closed.remove(&number);
    }

    /// Returns how many messages are waiting to settle.
    pub fn pending(&self) -> usize {
        self.first_seen.len()
    }
}

/// True when the file's modification time is at least [`SETTLE_INTERVAL`] before `wall`.
fn modified_before(identity: &FileIdentity, wall: SystemTime) -> bool {
    let Ok(since_epoch) = wall.duration_since(UNIX_EPOCH) else {
        return false;
    };
    let wall_ns = since_epoch.as_nanos() as i128;
    wall_ns - identity.mtime_ns >= SETTLE_INTERVAL.as_nanos() as i128
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity(size: u64, mtime_ns: i128) -> FileIdentity {
        FileIdentity {
            dev: 1,
            ino: 2,
            size,
            mtime_ns,
            btime_ns: None,
        }
    }

    fn at_seconds(seconds: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(seconds)
    }

    const SECOND: i128 = 1_000_000_000;

    #[test]
    fn old_file_settles_at_first_look() {
        let mut watch = SettleWatch::new();
        let number = MessageNumber::new(1).unwrap();
        let file = identity(100, 10 * SECOND);
        assert!(watch.observe(number, &file, Instant::now(), at_seconds(12), false));
        assert_eq!(watch.pending(), 0);
    }

    #[test]
    fn fresh_file_settles_after_interval_unchanged() {
        let mut watch = SettleWatch::new();
        let number = MessageNumber::new(1).unwrap();
        let start = Instant::now();
        let file = identity(100, 10 * SECOND);
        let wall = at_seconds(10);
        assert!(!watch.observe(number, &file, start, wall, false));
        assert!(!watch.observe(
            number,
            &file,
            start + Duration::from_millis(500),
            wall,
            false
        ));
        assert!(watch.observe(number, &file, start + SETTLE_INTERVAL, wall, false));
    }

    #[test]
    fn growing_file_restarts_the_interval() {
        let mut watch = SettleWatch::new();
        let number = MessageNumber::new(1).unwrap();
        let start = Instant::now();
        let wall = at_seconds(10);
        assert!(!watch.observe(number, &identity(4096, 10 * SECOND), start, wall, false));
        let later = start + Duration::from_millis(900);
        assert!(!watch.observe(number, &identity(8192, 10 * SECOND), later, wall, false));
        let after_first_interval = start + Duration::from_millis(1200);
        assert!(!watch.observe(
            number,
            &identity(8192, 10 * SECOND),
            after_first_interval,
            wall,
            false
        ));
        assert!(watch.observe(
            number,
            &identity(8192, 10 * SECOND),
            later + SETTLE_INTERVAL,
            wall,
            false
        ));
    }

    #[test]
    fn closed_file_settles_at_once() {
        let mut watch = SettleWatch::new();
        let number = MessageNumber::new(1).unwrap();
        let start = Instant::now();
        let file = identity(100, 10 * SECOND);
        watch.note_closed(number, &file, start);
        assert!(watch.observe(number, &file, start, at_seconds(10), true));
        assert_eq!(watch.pending(), 0);
    }

    #[test]
    fn file_changed_after_close_waits() {
        let mut watch = SettleWatch::new();
        let number = MessageNumber::new(1).unwrap();
        let start = Instant::now();
        watch.note_closed(number, &identity(100, 10 * SECOND), start);
        let rewritten = identity(4096, 10 * SECOND + 1);
        assert!(!watch.observe(number, &rewritten, start, at_seconds(10), false));
    }

    #[test]
    fn old_close_reports_are_dropped() {
        let mut watch = SettleWatch::new();
        let first = MessageNumber::new(1).unwrap();
        let second = MessageNumber::new(2).unwrap();
        let start = Instant::now();
        let file = identity(100, 10 * SECOND);
        watch.note_closed(first, &file, start);
        watch.note_closed(second, &file, start + SETTLE_INTERVAL);
        assert!(!watch.observe(first, &file, start + SETTLE_INTERVAL, at_seconds(10), true));
    }

    #[test]
    fn running_inc_keeps_files_unsettled() {
        let mut watch = SettleWatch::new();
        let number = MessageNumber::new(1).unwrap();
        let file = identity(100, 0);
        assert!(!watch.observe(number, &file, Instant::now(), at_seconds(100), true));
        watch.forget(number);
        assert_eq!(watch.pending(), 0);
    }
}
