//! Noticing changes that nmh makes while sessions watch a mailbox.
//!
//! A background thread keeps an inotify watch on the folder of every mailbox that a session
//! selected or that had a STORE within [`crate::FLAG_RECHECK_PERIOD`], and brings a mailbox
//! up to date as soon as its folder reports a change. Every
//! [`WatchConfig::poll_interval`] it also runs the cheap [`Store::check`] on each selected
//! mailbox. That pass covers files still settling, appends still watched, and mailboxes
//! without a watch (no inotify, the kernel's `max_user_watches` or
//! [`WatchConfig::max_watches`] reached, logged once per store).
//! A message file that its writer closed (`IN_CLOSE_WRITE`) is reported to the settle watch,
//! so the check right after the event indexes it without waiting for the settle interval.
//! Every [`WatchConfig::scan_interval`] it runs a full [`Store::sync`] of every folder, which
//! also catches messages rewritten in place (`anno`), which change no directory stamp.

use std::collections::{HashMap, HashSet};
use std::ffi::OsString;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use inotify::{Inotify, WatchDescriptor, WatchMask};

use crate::error::StoreError;
use crate::store::Store;

/// How often the thread reads inotify events.
pub const EVENT_TICK: Duration = Duration::from_millis(100);
/// Default interval of the cheap check of every selected mailbox. With the one-second
/// settle time of new files, a change made by nmh reaches sessions within about two seconds
/// even without inotify.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_millis(500);
/// Default interval of the full scan of every folder.
pub const DEFAULT_SCAN_INTERVAL: Duration = Duration::from_secs(300);
/// Default maximum of inotify watches that one watcher adds, one per selected mailbox. The
/// kernel's per-user limit (`fs.inotify.max_user_watches`) is shared by every process of the
/// user and may be reached first. Either way the mailboxes left without a watch are polled.
pub const DEFAULT_MAX_WATCHES: usize = 4096;

/// Intervals of the watcher thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WatchConfig {
    /// Interval of the cheap check of every selected mailbox.
    pub poll_interval: Duration,
    /// Interval of the full scan of every folder.
    pub scan_interval: Duration,
    /// False to skip inotify and poll only.
    pub use_inotify: bool,
    /// Maximum number of inotify watches this watcher adds. Selected mailboxes beyond it
    /// are polled.
    pub max_watches: usize,
}

impl Default for WatchConfig {
    fn default() -> Self {
        WatchConfig {
            poll_interval: DEFAULT_POLL_INTERVAL,
            scan_interval: DEFAULT_SCAN_INTERVAL,
            use_inotify: true,
            max_watches: DEFAULT_MAX_WATCHES,
        }
    }
}

/// The running watcher thread; dropping it stops the thread and waits for it.
#[derive(Debug)]
pub struct Watcher {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Store {
    /// Starts the watcher thread.
    pub fn spawn_watcher(&self, config: WatchConfig) -> std::io::Result<Watcher> {
        let stop = Arc::new(AtomicBool::new(false));
        let state = WatchState::new(self.clone(), config);
        let flag = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("asimapd-store-watch".to_owned())
            .spawn(move || state.run(&flag))?;
        Ok(Watcher {
            stop,
            thread: Some(thread),
        })
    }

    fn log_polling_once(&self, reason: &str, error: &dyn std::fmt::Display) {
        if !self.inner.polling_logged.swap(true, Ordering::Relaxed) {
            tracing::warn!(%error, reason, "inotify unavailable; polling folders instead");
        }
    }
}

struct WatchState {
    store: Store,
    config: WatchConfig,
    inotify: Option<Inotify>,
    watched: HashMap<String, WatchDescriptor>,
    names: HashMap<WatchDescriptor, String>,
}

impl WatchState {
    fn new(store: Store, config: WatchConfig) -> Self {
        let inotify = if config.use_inotify {
            match Inotify::init() {
                Ok(inotify) => Some(inotify),
                Err(error) => {
                    store.log_polling_once("inotify_init1 failed", &error);
                    None
                }
            }
        } else {
            None
        };
        WatchState {
            store,
            config,
            inotify,
            watched: HashMap::new(),
            names: HashMap::new(),
        }
    }

    fn run(mut self, stop: &AtomicBool) {
        let mut last_poll = Instant::now();
        let mut last_scan = Instant::now();
        while !stop.load(Ordering::Relaxed) {
            std::thread::sleep(EVENT_TICK);
            let selected = self.selected_mailboxes();
            self.update_watches(&selected);
            let (changed, closed) = self.changed_mailboxes();
            for (name, file_name) in &closed {
                self.store.note_closed(name, file_name);
            }
            for name in changed {
                self.run_check(&name);
            }
            if last_poll.elapsed() >= self.config.poll_interval {
                last_poll = Instant::now();
                for name in &selected {
                    self.run_check(name);
                }
            }
            if last_scan.elapsed() >= self.config.scan_interval {
                last_scan = Instant::now();
                self.scan_all(stop);
            }
        }
    }

    fn selected_mailboxes(&self) -> HashSet<String> {
        self.store.watched_mailboxes().into_iter().collect()
    }

    fn update_watches(&mut self, selected: &HashSet<String>) {
        let Some(inotify) = self.inotify.as_mut() else {
            return;
        };
        let gone: Vec<String> = self
            .watched
            .keys()
            .filter(|name| !selected.contains(*name))
            .cloned()
            .collect();
        for name in gone {
            if let Some(descriptor) = self.watched.remove(&name) {
                self.names.remove(&descriptor);
                let _ = inotify.watches().remove(descriptor);
            }
        }
        let mask = WatchMask::CREATE
            | WatchMask::DELETE
            | WatchMask::MOVED_FROM
            | WatchMask::MOVED_TO
            | WatchMask::CLOSE_WRITE
            | WatchMask::MODIFY
            | WatchMask::DELETE_SELF
            | WatchMask::MOVE_SELF;
        for name in selected {
            if self.watched.contains_key(name) {
                continue;
            }
            if self.watched.len() >= self.config.max_watches {
                let limit = format!("{} watches in use", self.watched.len());
                self.store
                    .log_polling_once("watch limit of the store watcher reached", &limit);
                continue;
            }
            let Ok(folder) = self.store.root().folder(name) else {
                continue;
            };
            match inotify.watches().add(folder.path(), mask) {
                Ok(descriptor) => {
                    self.names.insert(descriptor.clone(), name.clone());
                    self.watched.insert(name.clone(), descriptor);
                }
                Err(error) if error.raw_os_error() == Some(libc::ENOSPC) => {
                    self.store
                        .log_polling_once("inotify watch limit reached", &error);
                }
                Err(_) => {}
            }
        }
    }

    /// Reads the pending inotify events. Returns the mailboxes whose folder changed, and the
    /// files that a writer closed, by mailbox.
    fn changed_mailboxes(&mut self) -> (HashSet<String>, Vec<(String, OsString)>) {
        let mut changed = HashSet::new();
        let mut closed = Vec::new();
        let Some(inotify) = self.inotify.as_mut() else {
            return (changed, closed);
        };
        let mut buffer = [0u8; 8192];
        let mut removed = Vec::new();
        while let Ok(events) = inotify.read_events(&mut buffer) {
            let mut any = false;
            for event in events {
                any = true;
                if let Some(name) = self.names.get(&event.wd) {
                    changed.insert(name.clone());
                    if event.mask.contains(inotify::EventMask::CLOSE_WRITE)
                        && let Some(file_name) = event.name
                    {
                        closed.push((name.clone(), file_name.to_owned()));
                    }
                }
                if event.mask.contains(inotify::EventMask::Q_OVERFLOW) {
                    changed.extend(self.watched.keys().cloned());
                }
                // The kernel dropped the watch (the folder was deleted, or its file system
                // unmounted), so a folder created again under the name needs a new one.
                if event.mask.contains(inotify::EventMask::IGNORED) {
                    removed.push(event.wd.clone());
                }
            }
            if !any {
                break;
            }
        }
        for descriptor in removed {
            if let Some(name) = self.names.remove(&descriptor) {
                self.watched.remove(&name);
            }
        }
        (changed, closed)
    }

    fn run_check(&self, name: &str) {
        match self.store.check(name) {
            Ok(()) | Err(StoreError::MailboxNotFound { .. }) => {}
            Err(error) => tracing::warn!(mailbox = name, %error, "checking mailbox failed"),
        }
    }

    fn scan_all(&self, stop: &AtomicBool) {
        let folders = match self.store.root().list_folders() {
            Ok(folders) => folders,
            Err(error) => {
                tracing::warn!(%error, "listing folders for the periodic scan failed");
                return;
            }
        };
        for folder in folders {
            if stop.load(Ordering::Relaxed) {
                return;
            }
            match self.store.sync(folder.as_str()) {
                Ok(()) | Err(StoreError::MailboxNotFound { .. }) => {}
                Err(error) => {
                    tracing::warn!(mailbox = folder.as_str(), %error, "scanning mailbox failed");
                }
            }
        }
    }
}
