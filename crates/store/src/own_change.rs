//! Telling this process's own change of a folder directory from another writer's.
//!
//! Every APPEND changes the folder's directory stamp, and a stamp does not record who changed
//! it. An inotify watch on the directory ([`DirWatch`]) runs from before the check that
//! precedes the append to after it, and [`DirWatch::only_added`] reads its events. When the
//! only message file created, removed or renamed meanwhile is the appended one, no other
//! writer touched the folder's messages, and the store keeps its last pass valid without
//! listing the folder again. The next watch starts before the store records the new stamp
//! and stays with the mailbox until its next append. A change made right after the stamp
//! was taken therefore shows in its events, even when the kernel's coarse clock gave the
//! directory the same stamp.

use std::io::ErrorKind;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use asimapd_mh::{Folder, MessageNumber};
use inotify::{EventMask, Inotify, WatchMask};

/// Size in bytes of the buffer that inotify events are read into.
const EVENT_BUFFER: usize = 4096;

/// Maximum number of directory watches that one store keeps open. Each is an inotify
/// instance, and the kernel allows each user 128 of them by default
/// (`fs.inotify.max_user_instances`), shared with every other program of the user. Beyond
/// the limit, an append leaves the next check a full pass.
pub const MAX_DIR_WATCHES: usize = 16;

/// Counts the directory watches of one store, up to [`MAX_DIR_WATCHES`].
#[derive(Debug, Default)]
pub(crate) struct DirWatchBudget {
    in_use: Arc<AtomicUsize>,
}

impl DirWatchBudget {
    /// Starts recording changes of the entries in `folder`'s directory. Returns `None` when
    /// [`MAX_DIR_WATCHES`] are open, or when inotify is unavailable (no kernel support, or
    /// the per-user limits on instances and watches reached).
    pub(crate) fn start(&self, folder: &Folder) -> Option<DirWatch> {
        let claimed = self
            .in_use
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |count| {
                (count < MAX_DIR_WATCHES).then_some(count + 1)
            })
            .is_ok();
        if !claimed {
            return None;
        }
        let counted = Counted(self.in_use.clone());
        let inotify = start_inotify(folder)?;
        Some(DirWatch {
            inotify,
            _counted: counted,
        })
    }

    /// Returns how many watches are open.
    #[cfg(test)]
    fn in_use(&self) -> usize {
        self.in_use.load(Ordering::Acquire)
    }
}

/// One claimed place in a [`DirWatchBudget`], given back when dropped.
#[derive(Debug)]
struct Counted(Arc<AtomicUsize>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// An inotify watch on one folder directory.
#[derive(Debug)]
pub(crate) struct DirWatch {
    inotify: Inotify,
    _counted: Counted,
}

fn start_inotify(folder: &Folder) -> Option<Inotify> {
    let inotify = Inotify::init().ok()?;
    let mask = WatchMask::CREATE
        | WatchMask::DELETE
        | WatchMask::MOVED_FROM
        | WatchMask::MOVED_TO
        | WatchMask::DELETE_SELF
        | WatchMask::MOVE_SELF;
    inotify.watches().add(folder.path(), mask).ok()?;
    Some(inotify)
}

impl DirWatch {
    /// Returns true when, since [`DirWatchBudget::start`], the only message file created, removed
    /// or renamed in the directory is `own`, created once. Other names (temporary files,
    /// `,N` backups without their number's removal) do not count, because they are not
    /// messages. A lost event, or the directory itself removed or moved, counts as another
    /// writer's change.
    pub(crate) fn only_added(mut self, own: MessageNumber) -> bool {
        let mut buffer = [0u8; EVENT_BUFFER];
        let mut created_own = 0;
        loop {
            let events = match self.inotify.read_events(&mut buffer) {
                Ok(events) => events,
                Err(error) if error.kind() == ErrorKind::WouldBlock => break,
                Err(_) => return false,
            };
            let mut any = false;
            for event in events {
                any = true;
                if event.mask.intersects(
                    EventMask::Q_OVERFLOW | EventMask::DELETE_SELF | EventMask::MOVE_SELF,
                ) {
                    return false;
                }
                let number = event
                    .name
                    .and_then(|name| MessageNumber::parse_file_name(name.as_encoded_bytes()));
                match number {
                    None => {}
                    Some(number) if number == own && event.mask.contains(EventMask::CREATE) => {
                        created_own += 1;
                    }
                    Some(_) => return false,
                }
            }
            if !any {
                break;
            }
        }
        created_own == 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use asimapd_mh::MailRoot;

    fn folder(dir: &tempfile::TempDir) -> Folder {
        std::fs::create_dir_all(dir.path().join("inbox")).unwrap();
        MailRoot::open(dir.path(), None, true)
            .unwrap()
            .folder("inbox")
            .unwrap()
    }

    fn number(value: u32) -> MessageNumber {
        MessageNumber::new(value).unwrap()
    }

    #[test]
    fn own_message_and_temporary_files_pass() {
        let dir = tempfile::tempdir().unwrap();
        let folder = folder(&dir);
        let watch = DirWatchBudget::default().start(&folder).unwrap();
        std::fs::write(folder.path().join(".asimapd-tmp.1"), "x").unwrap();
        std::fs::hard_link(
            folder.path().join(".asimapd-tmp.1"),
            folder.path().join("1"),
        )
        .unwrap();
        std::fs::remove_file(folder.path().join(".asimapd-tmp.1")).unwrap();
        assert!(watch.only_added(number(1)));
    }

    #[test]
    fn another_new_message_fails() {
        let dir = tempfile::tempdir().unwrap();
        let folder = folder(&dir);
        let watch = DirWatchBudget::default().start(&folder).unwrap();
        std::fs::write(folder.path().join("1"), "ours").unwrap();
        std::fs::write(folder.path().join("2"), "inc's").unwrap();
        assert!(!watch.only_added(number(1)));
    }

    #[test]
    fn removal_or_rename_of_a_message_fails() {
        let dir = tempfile::tempdir().unwrap();
        let folder = folder(&dir);
        std::fs::write(folder.path().join("5"), "old").unwrap();
        let watch = DirWatchBudget::default().start(&folder).unwrap();
        std::fs::write(folder.path().join("6"), "ours").unwrap();
        std::fs::rename(folder.path().join("5"), folder.path().join(",5")).unwrap();
        assert!(!watch.only_added(number(6)));
    }

    #[test]
    fn budget_limits_open_watches() {
        let dir = tempfile::tempdir().unwrap();
        let folder = folder(&dir);
        let budget = DirWatchBudget::default();
        let watches: Vec<DirWatch> = (0..MAX_DIR_WATCHES)
            .map(|_| budget.start(&folder).unwrap())
            .collect();
        assert!(budget.start(&folder).is_none(), "one more than the limit");
        drop(watches);
        assert_eq!(budget.in_use(), 0);
        assert!(budget.start(&folder).is_some());
    }

    #[test]
    fn missing_own_message_fails() {
        let dir = tempfile::tempdir().unwrap();
        let folder = folder(&dir);
        let watch = DirWatchBudget::default().start(&folder).unwrap();
        assert!(!watch.only_added(number(1)));
    }
}
