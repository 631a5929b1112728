//! Shared set-up for the tests that run real nmh commands against folders the crate is
//! working on at the same time.

#![allow(dead_code)]

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use asimapd_mh::{MailRoot, MessageNumber, Profile, SequenceName};
use asimapd_testkit::nmh::{NmhHome, message, require_nmh};

/// How many times each race runs; the races are timing dependent.
pub const REPEATS: usize = 10;

/// A temporary nmh home and the crate's view of its mail root.
pub struct Env {
    pub home: NmhHome,
    pub root: MailRoot,
}

/// Creates a home with `extra_profile` and opens it with nmh-compatible locking; `None` when
/// nmh is missing and the developer asked to skip.
pub fn setup(extra_profile: &str) -> Option<Env> {
    if !require_nmh() {
        return None;
    }
    Env::from_home(NmhHome::new(extra_profile))
}

impl Env {
    /// Opens an existing temporary home with nmh-compatible locking.
    pub fn from_home(home: NmhHome) -> Option<Env> {
        let profile = Profile::load(&home.profile_path(), home.home()).expect("load profile");
        let root = MailRoot::open(&home.mail_root(), Some(&profile), true).expect("open mail root");
        Some(Env { home, root })
    }

    /// Creates folder `name` with nmh and fills it with messages m1..mCOUNT whose dates are
    /// out of order (for `sortm`).
    pub fn folder_with(&self, name: &str, count: usize) {
        self.home.create_folder(name);
        let messages: Vec<Vec<u8>> = (1..=count)
            .map(|i| message(&format!("m{i}"), 28 - (i % 28) as u32, 0))
            .collect();
        self.home.fill(name, &messages);
    }

    /// Returns the Message-IDs that nmh's `scan` lists, sorted.
    pub fn ids(&self, folder: &str, sequence: Option<&str>) -> Vec<String> {
        let mut ids = self.home.message_ids(folder, sequence);
        ids.sort();
        ids
    }

    /// Returns the sequence name `name`.
    pub fn seq(&self, name: &str) -> SequenceName {
        self.root.sequence_name(name).expect("valid sequence name")
    }
}

/// Message-IDs `<PREFIXi@test>` for i in `range`, sorted.
pub fn ids_of(prefix: &str, range: impl IntoIterator<Item = usize>) -> Vec<String> {
    let mut ids: Vec<String> = range
        .into_iter()
        .map(|i| format!("<{prefix}{i}@test>"))
        .collect();
    ids.sort();
    ids
}

/// Returns a message number.
pub fn num(value: u32) -> MessageNumber {
    MessageNumber::new(value).expect("valid message number")
}

/// Reads the Message-ID header of a message.
pub fn message_id(bytes: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(bytes);
    for line in text.lines() {
        if line.is_empty() {
            return None;
        }
        if let Some(value) = line.strip_prefix("Message-ID:") {
            return Some(value.trim().to_owned());
        }
    }
    None
}

/// How much the two sides of a race overlapped.
#[derive(Debug)]
pub struct RaceStats {
    /// nmh steps done in all.
    pub steps: usize,
    /// nmh steps that finished while the crate side was running.
    pub overlapped: usize,
}

/// The nmh side's progress, for a crate side that paces itself on it.
pub struct Progress<'a> {
    steps: &'a AtomicUsize,
    done: &'a AtomicBool,
}

impl Progress<'_> {
    /// Waits until the nmh side has done `count` steps or has stopped.
    pub fn wait_for_steps(&self, count: usize) {
        while self.steps.load(Ordering::SeqCst) < count && !self.done.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

/// When the nmh loop of a race stops.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Until {
    /// As soon as the crate side returns.
    CrateDone,
    /// When the nmh step returns false (its pool is used up).
    PoolDone,
}

/// Runs `nmh_step(k)` for k = 0, 1, ... in a background thread until the `until` condition
/// ends the loop, or the step returns false. The crate side starts once the first nmh step is under way.
pub fn race(
    until: Until,
    nmh_step: impl FnMut(usize) -> bool + Send,
    crate_side: impl FnOnce(&Progress),
) -> RaceStats {
    let stop = AtomicBool::new(false);
    let done = AtomicBool::new(false);
    let steps = AtomicUsize::new(0);
    let started = AtomicBool::new(false);
    let mut nmh_step = nmh_step;
    let (before, after) = std::thread::scope(|scope| {
        let nmh = scope.spawn(|| {
            let mut k = 0;
            while !stop.load(Ordering::SeqCst) {
                started.store(true, Ordering::SeqCst);
                if !nmh_step(k) {
                    break;
                }
                k += 1;
                steps.store(k, Ordering::SeqCst);
            }
            started.store(true, Ordering::SeqCst);
            done.store(true, Ordering::SeqCst);
        });
        while !started.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(1));
        }
        let before = steps.load(Ordering::SeqCst);
        crate_side(&Progress {
            steps: &steps,
            done: &done,
        });
        let after = steps.load(Ordering::SeqCst);
        if until == Until::CrateDone {
            stop.store(true, Ordering::SeqCst);
        }
        nmh.join().expect("nmh side panicked");
        (before, after)
    });
    RaceStats {
        steps: steps.load(Ordering::SeqCst),
        overlapped: after - before,
    }
}

/// Asserts the folder is clean for nmh: only canonical numeric names are message files, no
/// message contains a CR byte, no temporary file of the crate is left, and `.mh_sequences` is
/// readable by `mark -list` with every line in `name: ranges` form.
pub fn assert_layout_clean(env: &Env, folder: &str) {
    let dir = env.home.folder_path(folder);
    for entry in std::fs::read_dir(&dir).expect("read folder") {
        let entry = entry.expect("directory entry");
        let name = entry.file_name().to_string_lossy().into_owned();
        assert!(
            !name.starts_with(".asimapd-tmp."),
            "temporary file left: {name}"
        );
        if name.bytes().all(|b| b.is_ascii_digit()) {
            assert!(!name.starts_with('0'), "leading-zero name {name}");
            assert!(name.len() < 8, "huge message number {name}");
            let path = entry.path();
            assert!(path.is_file(), "numeric name that is not a file: {name}");
            let bytes = std::fs::read(&path).expect("read message");
            assert!(!bytes.contains(&b'\r'), "message {name} holds a CR byte");
        }
    }
    assert_sequences_well_formed(env, folder);
}

/// Asserts nmh can parse `.mh_sequences` and every line is `name: ranges` or a continuation.
pub fn assert_sequences_well_formed(env: &Env, folder: &str) {
    env.home.mark_list(folder);
    let path = env.home.folder_path(folder).join(".mh_sequences");
    let Ok(text) = std::fs::read_to_string(&path) else {
        return;
    };
    for line in text.lines() {
        let continuation = line.starts_with([' ', '\t']);
        let well_formed = match line.split_once(':') {
            Some((name, ranges)) => {
                name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                    && ranges
                        .split_ascii_whitespace()
                        .all(|token| token.split('-').all(|n| n.parse::<u32>().is_ok()))
            }
            None => false,
        };
        assert!(
            continuation || well_formed,
            "malformed line {line:?} in {path:?}"
        );
    }
}

/// Maps each message file's inode to its Message-ID.
pub fn inode_ids(dir: &Path) -> HashMap<u64, String> {
    use std::os::unix::fs::MetadataExt;
    let mut map = HashMap::new();
    for entry in std::fs::read_dir(dir).expect("read folder") {
        let entry = entry.expect("directory entry");
        let name = entry.file_name();
        if MessageNumber::parse_file_name(name.to_string_lossy().as_bytes()).is_none() {
            continue;
        }
        let bytes = std::fs::read(entry.path()).expect("read message");
        let ino = entry.metadata().expect("stat message").ino();
        map.insert(ino, message_id(&bytes).unwrap_or_default());
    }
    map
}
