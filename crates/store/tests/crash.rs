//! Crash safety: a child process runs APPEND, STORE, COPY, MOVE and EXPUNGE in a loop and is
//! killed with SIGKILL at random moments. After each kill a fresh store must know every
//! message file exactly once, no UID may have been handed out twice, UIDNEXT may only have
//! grown, and nmh's `mark -list` must read every folder.
//!
//! The child is this test binary itself, started with `--ignored --exact crash_child` and
//! the home directory in [`CHILD_HOME_VAR`].

mod support;

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use asimapd_mh::{FileIdentity, MailRoot, Profile, SETTLE_INTERVAL};
use asimapd_proto::{Flag, Uid};
use asimapd_store::{FlagSet, Index, Store, StoreMode};
use support::*;

/// Environment variable that carries the nmh home to the child.
const CHILD_HOME_VAR: &str = "ASIMAPD_STORE_CRASH_HOME";
/// The line the child prints when its loop of operations starts.
const CHILD_READY: &str = "crash child ready";
/// How long the child may take to open the store and print [`CHILD_READY`].
const CHILD_START_TIMEOUT: Duration = Duration::from_secs(30);
/// File in the home where the child logs every UID that APPEND, COPY or MOVE returned, one
/// `folder uid` line each, opened with `O_APPEND`.
const HANDED_OUT_LOG: &str = "handed-out.log";
/// How many times the child is killed.
const KILLS: usize = 200;
/// The folders the child works on.
const FOLDERS: [&str; 2] = ["inbox", "archive"];
/// The child expunges when a folder contains more messages than this, to keep passes short.
const MAX_FOLDER_SIZE: usize = 40;

/// A small xorshift generator: the test needs varied timing, not statistical quality.
struct Random(u64);

impl Random {
    fn seeded() -> Self {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(1, |since| since.as_nanos() as u64);
        Random(nanos ^ u64::from(std::process::id()) | 1)
    }

    fn below(&mut self, limit: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % limit.max(1)
    }
}

fn open_store_at(home: &Path) -> Store {
    let profile = Profile::load(&home.join(".mh_profile"), home).unwrap();
    let root = MailRoot::open(&home.join("Mail"), Some(&profile), true).unwrap();
    Store::open(root).unwrap()
}

/// Works on the folders as the child process until the parent kills it.
#[test]
#[ignore = "child process of crash_safety_after_sigkill"]
fn crash_child() {
    let home = PathBuf::from(std::env::var_os(CHILD_HOME_VAR).expect("home from the parent"));
    let store = open_store_at(&home);
    let mut log = std::fs::File::options()
        .create(true)
        .append(true)
        .open(home.join(HANDED_OUT_LOG))
        .unwrap();
    let mut random = Random::seeded();
    let mut counter = 0u64;
    println!("{CHILD_READY}");
    std::io::stdout().flush().unwrap();
    loop {
        counter += 1;
        let folder = FOLDERS[random.below(2) as usize];
        let other = FOLDERS.iter().find(|f| **f != folder).unwrap();
        let uids: Vec<Uid> = match store.select(folder) {
            Ok(selected) => selected.messages.iter().map(|m| m.uid).collect(),
            Err(_) => continue,
        };
        let pick =
            |random: &mut Random| uids.get(random.below(uids.len() as u64) as usize).copied();
        let handed_out: Vec<(&str, Uid)> = match random.below(5) {
            0 => append(&store, folder, counter)
                .map(|uid| vec![(folder, uid)])
                .unwrap_or_default(),
            1 => {
                if let Some(uid) = pick(&mut random) {
                    let _ = toggle(&store, folder, uid, &mut random);
                }
                Vec::new()
            }
            2 => pick(&mut random)
                .and_then(|uid| store.copy(folder, other, &[uid]).ok())
                .map(|outcome| outcome.pairs.iter().map(|(_, to)| (*other, *to)).collect())
                .unwrap_or_default(),
            3 => pick(&mut random)
                .and_then(|uid| store.move_messages(folder, other, &[uid]).ok())
                .map(|(outcome, _)| outcome.pairs.iter().map(|(_, to)| (*other, *to)).collect())
                .unwrap_or_default(),
            _ => {
                let _ = trim(&store, folder, &uids);
                Vec::new()
            }
        };
        for (folder, uid) in handed_out {
            log.write_all(format!("{folder} {uid}\n").as_bytes())
                .unwrap();
        }
    }
}

fn append(store: &Store, folder: &str, counter: u64) -> asimapd_store::Result<Uid> {
    let text = format!(
        "From: crash@example.org\nSubject: message {counter}\nMessage-ID: <{counter}.{}@crash>\n\nbody\n",
        std::process::id()
    );
    store
        .append(folder, text.as_bytes(), &FlagSet::new(), None)
        .map(|(_, uid)| uid)
}

fn toggle(store: &Store, folder: &str, uid: Uid, random: &mut Random) -> asimapd_store::Result<()> {
    let flag = match random.below(3) {
        0 => Flag::Seen,
        1 => Flag::Flagged,
        _ => Flag::Keyword("$Crash".into()),
    };
    let mut flags = FlagSet::new();
    flags.insert(&flag);
    let mode = if random.below(2) == 0 {
        StoreMode::Add
    } else {
        StoreMode::Remove
    };
    store
        .store_flags(folder, &[uid], mode, &flags, None)
        .map(drop)
}

fn trim(store: &Store, folder: &str, uids: &[Uid]) -> asimapd_store::Result<()> {
    if uids.len() <= MAX_FOLDER_SIZE / 2 {
        return Ok(());
    }
    let mut deleted = FlagSet::new();
    deleted.insert(&Flag::Deleted);
    let half = &uids[..uids.len() / 2];
    store.store_flags(folder, half, StoreMode::Add, &deleted, None)?;
    store.expunge(folder, None).map(drop)
}

/// What the parent has seen of one mailbox across restarts.
#[derive(Default)]
struct History {
    uid_validity: Option<u32>,
    uid_next: u32,
    identities: HashMap<Uid, FileIdentity>,
    expunged: HashSet<Uid>,
}

/// Checks one folder after a kill; `settled` demands that every file is indexed.
fn check_folder(store: &Store, folder: &str, history: &mut History, settled: bool) {
    store.sync(folder).unwrap();
    let row = store.mailbox_row(folder).unwrap();
    let validity = *history.uid_validity.get_or_insert(row.uid_validity.get());
    assert_eq!(
        row.uid_validity.get(),
        validity,
        "{folder}: UIDVALIDITY changed"
    );
    assert!(
        row.uid_next >= history.uid_next,
        "{folder}: UIDNEXT went down"
    );
    history.uid_next = row.uid_next;

    let rows = store.indexed_messages(folder).unwrap();
    let mut numbers = HashSet::new();
    for message in &rows {
        assert!(
            numbers.insert(message.number),
            "{folder}: number {} indexed twice",
            message.number.get()
        );
        assert!(
            message.uid.get() < row.uid_next,
            "{folder}: UID {} not below UIDNEXT",
            message.uid
        );
        assert!(
            !history.expunged.contains(&message.uid),
            "{folder}: expunged UID {} came back",
            message.uid
        );
        let first = history
            .identities
            .entry(message.uid)
            .or_insert(message.identity);
        assert!(
            first.is_same_file(&message.identity),
            "{folder}: UID {} handed out to two files",
            message.uid
        );
    }
    let present: HashSet<Uid> = rows.iter().map(|m| m.uid).collect();
    for uid in history.identities.keys() {
        if !present.contains(uid) {
            history.expunged.insert(*uid);
        }
    }

    let listing = store.root().folder(folder).unwrap().list().unwrap();
    for message in &listing.messages {
        if numbers.contains(&message.number) {
            continue;
        }
        let identity = store
            .root()
            .folder(folder)
            .unwrap()
            .identity(message.number)
            .unwrap();
        let age = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos() as i128
            - identity.mtime_ns;
        assert!(
            !settled && age < 2 * SETTLE_INTERVAL.as_nanos() as i128,
            "{folder}: message file {} is not indexed",
            message.number.get()
        );
    }
}

/// Checks the UIDs the child logged as handed out: none twice in a folder, and each one
/// either indexed or recorded as expunged.
fn check_handed_out(store: &Store, home: &Path) {
    let text = std::fs::read_to_string(home.join(HANDED_OUT_LOG)).unwrap_or_default();
    let index = Index::open(&store.index_path()).unwrap();
    let mut seen: HashSet<(String, u32)> = HashSet::new();
    // A kill in the middle of `write_all` can leave the last line without its newline, and
    // such a line is skipped.
    for line in text
        .split_inclusive('\n')
        .filter(|line| line.ends_with('\n'))
    {
        let (folder, uid) = line.trim_end().split_once(' ').unwrap();
        let uid: u32 = uid.parse().unwrap();
        assert!(
            seen.insert((folder.to_owned(), uid)),
            "{folder}: UID {uid} was handed out twice"
        );
    }
    for folder in FOLDERS {
        let row = index.mailbox(folder).unwrap().unwrap();
        let indexed: HashSet<u32> = index
            .messages(row.id)
            .unwrap()
            .iter()
            .map(|m| m.uid.get())
            .collect();
        let expunged: HashSet<u32> = index
            .expunged_since(row.id, 0)
            .unwrap()
            .iter()
            .map(|(uid, _)| uid.get())
            .collect();
        for (_, uid) in seen.iter().filter(|(name, _)| name == folder) {
            assert!(
                *uid < row.uid_next,
                "{folder}: handed-out UID {uid} is not below UIDNEXT {}",
                row.uid_next
            );
            assert!(
                indexed.contains(uid) || expunged.contains(uid),
                "{folder}: handed-out UID {uid} is neither indexed nor expunged"
            );
        }
    }
}

/// Runs `mark -list`, which must succeed unless the folder is empty (nmh then reports "no
/// messages" and exits with status 1).
fn check_mark_list(home: &asimapd_testkit::nmh::NmhHome, folder: &str) {
    let output = home.output("mark", &[&format!("+{folder}"), "-list"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() || stderr.contains("no messages in"),
        "mark -list +{folder} failed: {stderr}"
    );
}

#[test]
fn crash_safety_after_sigkill() {
    let Some(home) = support::home() else { return };
    home.create_folder("archive");
    let exe = std::env::current_exe().unwrap();
    let mut random = Random::seeded();
    let mut histories: HashMap<&str, History> = HashMap::new();
    drop(open_store(&home));

    for _ in 0..KILLS {
        let mut child = Command::new(&exe)
            .args([
                "--ignored",
                "--exact",
                "crash_child",
                "--test-threads=1",
                "--nocapture",
            ])
            .env(CHILD_HOME_VAR, home.home())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // The kill lands inside the loop of operations, not while the child starts. libtest
        // prints `test crash_child ... ` before the test's own output, on the same line.
        let stdout = child.stdout.take().unwrap();
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let ready = BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
                .any(|line| line.ends_with(CHILD_READY));
            let _ = sender.send(ready);
        });
        let ready = receiver.recv_timeout(CHILD_START_TIMEOUT);
        if ready != Ok(true) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the child did not start its loop within {CHILD_START_TIMEOUT:?}: {ready:?}");
        }
        std::thread::sleep(Duration::from_millis(random.below(60)));
        child.kill().unwrap();
        child.wait().unwrap();

        let store = open_store(&home);
        for folder in FOLDERS {
            check_folder(&store, folder, histories.entry(folder).or_default(), false);
            check_mark_list(&home, folder);
        }
        check_handed_out(&store, home.home());
    }

    std::thread::sleep(SETTLE_INTERVAL + Duration::from_millis(200));
    let store = open_store(&home);
    for folder in FOLDERS {
        check_folder(&store, folder, histories.entry(folder).or_default(), true);
        check_mark_list(&home, folder);
    }
    check_handed_out(&store, home.home());
    let logged = std::fs::read_to_string(home.home().join(HANDED_OUT_LOG))
        .unwrap_or_default()
        .lines()
        .count();
    eprintln!("UIDs logged by the child as returned to it: {logged}");
    assert!(logged > 0, "the child never logged a returned UID");
    let handed_out: usize = histories.values().map(|h| h.identities.len()).sum();
    let expunged: usize = histories.values().map(|h| h.expunged.len()).sum();
    eprintln!("UIDs handed out: {handed_out}, expunged: {expunged}");
    assert!(
        handed_out >= KILLS / 4,
        "the child did too little work: {handed_out} UIDs"
    );
    assert!(expunged > 0, "the child never expunged or moved a message");
}
