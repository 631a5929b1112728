//! SIGKILL of the user's worker at random moments while a client runs APPEND, COPY, MOVE,
//! STORE and EXPUNGE in a loop. After every restart each confirmed message exists exactly
//! once, no UID names two different messages, and nmh still reads every folder.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use asimapd_e2e::{
    E2eError, FetchedMessage, ImapClient, MailHome, Response, Server, ServerOptions, Status,
    TestMessage, parse_fetch, parse_uid_set,
};
use asimapd_testkit::require_tool;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use rand::Rng;

/// Workers killed per run.
const KILLS: usize = 100;
/// Range of the random wait between a worker's start and its SIGKILL, in milliseconds.
const KILL_DELAY_MS: std::ops::Range<u64> = 20..400;
/// Time a run may take before the test fails instead of hanging.
const RUN_TIMEOUT: Duration = Duration::from_secs(300);
/// Time a restarted worker gets to expose files it finds unindexed: the 1 s a new file must
/// stay unchanged, its 0.5 s poll, and margin for a loaded machine.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(5);
/// Time a client may spend reconnecting after a kill.
const RECONNECT_TIMEOUT: Duration = Duration::from_secs(30);

const MOVED: &str = "moved";
const COPIES: &str = "copies";

/// What the client has been told, shared with the checks.
#[derive(Debug, Default)]
struct Ledger {
    /// Message-IDs whose APPEND was answered OK.
    appended: BTreeSet<String>,
    /// Message-IDs whose APPEND was sent but not answered (the worker died).
    uncertain_appends: BTreeSet<String>,
    /// Message-IDs that a COPY to `copies` completed with OK and a COPYUID naming them, and not
    /// expunged since.
    copied: BTreeSet<String>,
    /// Message-IDs in `copies` whose STORE +FLAGS (\Flagged) was answered OK.
    flagged: BTreeSet<String>,
    /// Message-IDs expunged from `copies` with an OK answer.
    expunged_copies: BTreeSet<String>,
    /// Message-IDs in `copies` whose EXPUNGE got no reply (the worker died), so the copy may
    /// be gone.
    uncertain_expunges: BTreeSet<String>,
    /// Message-IDs that a MOVE completed with OK and a COPYUID naming them.
    moved: BTreeSet<String>,
    /// Every (mailbox, UID) ever reported, with the Message-ID it named.
    uids: BTreeMap<(String, u32), String>,
    /// UIDVALIDITY of each mailbox when first selected.
    uid_validity: BTreeMap<String, String>,
    /// Restarts after which the full check ran.
    checked_restarts: usize,
}

impl Ledger {
    /// Records that `uid` in `mailbox` names `id`, failing when it named another message.
    fn record_uid(&mut self, mailbox: &str, uid: u32, id: &str) {
        let key = (mailbox.to_string(), uid);
        match self.uids.get(&key) {
            Some(previous) => assert_eq!(
                previous, id,
                "UID {uid} in {mailbox} was reused: it named {previous} and now {id}"
            ),
            None => {
                self.uids.insert(key, id.to_string());
            }
        }
    }

    fn record_validity(&mut self, mailbox: &str, validity: Option<String>) {
        let Some(validity) = validity else {
            panic!("SELECT {mailbox} returned no UIDVALIDITY");
        };
        let first = self
            .uid_validity
            .entry(mailbox.to_string())
            .or_insert_with(|| validity.clone());
        assert_eq!(*first, validity, "UIDVALIDITY of {mailbox} changed");
    }
}

/// Returns the messages in `mailbox`, recording their UIDs in the ledger.
fn list_mailbox(
    client: &mut ImapClient,
    ledger: &Mutex<Ledger>,
    mailbox: &str,
) -> Result<Vec<FetchedMessage>, E2eError> {
    let selected = client.ok(&format!("EXAMINE {mailbox}"))?;
    let validity = selected.code("UIDVALIDITY");
    let exists = selected.count("EXISTS").unwrap_or(0);
    let mut found = Vec::new();
    if exists > 0 {
        let response = client.ok("FETCH 1:* (UID FLAGS BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")?;
        found = parse_fetch(&response);
    }
    let mut ledger = ledger.lock().unwrap();
    ledger.record_validity(mailbox, validity);
    for message in &found {
        ledger.record_uid(mailbox, message.uid, &message.message_id);
    }
    Ok(found)
}

/// Checks every confirmed message after a restart: each appended message exactly once in
/// INBOX and `moved` together, each confirmed copy exactly once in `copies`, confirmed flags
/// and expunges kept. Returns the problems found, or an empty list.
fn find_problems(client: &mut ImapClient, ledger: &Mutex<Ledger>) -> Result<Vec<String>, E2eError> {
    let inbox = list_mailbox(client, ledger, "INBOX")?;
    let moved = list_mailbox(client, ledger, MOVED)?;
    let copies = list_mailbox(client, ledger, COPIES)?;
    let mut originals: BTreeMap<&str, usize> = BTreeMap::new();
    for message in inbox.iter().chain(moved.iter()) {
        *originals.entry(message.message_id.as_str()).or_default() += 1;
    }
    let mut copy_counts: BTreeMap<&str, usize> = BTreeMap::new();
    for message in &copies {
        *copy_counts.entry(message.message_id.as_str()).or_default() += 1;
    }

    let ledger = ledger.lock().unwrap();
    let places = |id: &str| -> Vec<String> {
        let named = |mailbox: &'static str, messages: &[FetchedMessage]| {
            messages
                .iter()
                .filter(|message| message.message_id == id)
                .map(|message| format!("{mailbox} UID {}", message.uid))
                .collect::<Vec<_>>()
        };
        [named("INBOX", &inbox), named(MOVED, &moved)].concat()
    };
    let mut problems = Vec::new();
    for id in &ledger.appended {
        if originals.get(id.as_str()).copied().unwrap_or(0) != 1 {
            problems.push(format!(
                "appended message {id} must exist exactly once in INBOX and {MOVED}: found \
                 {:?}; MOVE answered OK: {}",
                places(id),
                ledger.moved.contains(id)
            ));
        }
    }
    for (id, count) in &originals {
        if *count != 1 && !ledger.appended.contains(*id) {
            problems.push(format!(
                "{id} exists {count} times in INBOX and {MOVED}: {:?}",
                places(id)
            ));
        }
        if !ledger.appended.contains(*id) && !ledger.uncertain_appends.contains(*id) {
            problems.push(format!("{id} was never appended"));
        }
    }
    for id in &ledger.moved {
        if !moved.iter().any(|message| &message.message_id == id) {
            problems.push(format!("moved message {id} is not in {MOVED}"));
        }
    }
    for id in &ledger.copied {
        if copy_counts.get(id.as_str()).copied().unwrap_or(0) != 1 {
            problems.push(format!(
                "copied message {id} must exist exactly once in {COPIES}"
            ));
        }
    }
    for (id, count) in &copy_counts {
        if *count != 1 {
            problems.push(format!("{id} exists {count} times in {COPIES}"));
        }
    }
    for id in &ledger.expunged_copies {
        if copy_counts.contains_key(id.as_str()) {
            problems.push(format!("expunged copy {id} is back in {COPIES}"));
        }
    }
    for message in &copies {
        if ledger.flagged.contains(&message.message_id)
            && !message.flags.iter().any(|flag| flag == "\\Flagged")
        {
            problems.push(format!(
                "{} in {COPIES} lost its \\Flagged flag: {:?}",
                message.message_id, message.flags
            ));
        }
    }
    Ok(problems)
}

/// Checks that nmh reads every folder: `scan` lists every message file, and `mark -list`
/// parses `.mh_sequences`.
fn check_nmh(home: &MailHome) -> Vec<String> {
    let mut problems = Vec::new();
    for folder in ["inbox", MOVED, COPIES] {
        let plus = format!("+{folder}");
        let files = std::fs::read_dir(home.folder(folder))
            .unwrap()
            .flatten()
            .filter(|entry| {
                entry
                    .file_name()
                    .to_str()
                    .is_some_and(|name| name.bytes().all(|b| b.is_ascii_digit()))
            })
            .count();
        if files > 0 {
            match home.run_nmh("scan", &[plus.as_str()]) {
                Ok(scan) if scan.lines().count() == files => {}
                Ok(scan) => problems.push(format!("scan {plus} lists {files} files as:\n{scan}")),
                Err(error) => problems.push(error.to_string()),
            }
        }
        // mark exits 1 with "no messages in" on an empty folder, which is no damage.
        if let Err(error) = home.run_nmh("mark", &[plus.as_str(), "-list"])
            && (files > 0 || !error.to_string().contains("no messages in"))
        {
            problems.push(error.to_string());
        }
    }
    problems
}

/// Lists each folder's message and backup files with inode and Message-ID, for a failure.
fn describe_folders(home: &MailHome) -> String {
    use std::os::unix::fs::MetadataExt;
    let mut lines = Vec::new();
    for folder in ["inbox", MOVED, COPIES] {
        let Ok(entries) = std::fs::read_dir(home.folder(folder)) else {
            continue;
        };
        let mut files: Vec<(String, u64, String)> = entries
            .flatten()
            .filter_map(|entry| {
                let name = entry.file_name().to_str()?.to_owned();
                let meta = entry.metadata().ok()?;
                let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
                let id = text
                    .lines()
                    .find_map(|line| line.strip_prefix("Message-ID: "))
                    .unwrap_or("-")
                    .to_owned();
                Some((name, meta.ino(), id))
            })
            .collect();
        files.sort();
        for (name, ino, id) in files {
            lines.push(format!("{folder}/{name} ino {ino} {id}"));
        }
    }
    lines.join("\n")
}

/// Runs the checks after a restart until they pass or [`SETTLE_TIMEOUT`] passes: a restarted
/// worker exposes a file it finds unindexed only once the file has stopped changing.
fn check_store(
    client: &mut ImapClient,
    ledger: &Mutex<Ledger>,
    home: &MailHome,
) -> Result<(), E2eError> {
    let deadline = Instant::now() + SETTLE_TIMEOUT;
    loop {
        let mut problems = find_problems(client, ledger)?;
        problems.extend(check_nmh(home));
        if problems.is_empty() {
            ledger.lock().unwrap().checked_restarts += 1;
            return Ok(());
        }
        assert!(
            Instant::now() < deadline,
            "after a restart, still after {SETTLE_TIMEOUT:?}:\n{}\nfiles on disk:\n{}",
            problems.join("\n"),
            describe_folders(home)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// One round of the client loop: APPEND, then COPY, STORE and EXPUNGE in `copies`, then MOVE
/// of every other message. Returns an error when the connection breaks.
fn client_round(
    client: &mut ImapClient,
    ledger: &Mutex<Ledger>,
    number: usize,
) -> Result<(), E2eError> {
    let message = TestMessage::new("crash", number);
    ledger
        .lock()
        .unwrap()
        .uncertain_appends
        .insert(message.id.clone());
    let appended = client.append("INBOX", "", &message.to_imap())?;
    {
        let mut ledger = ledger.lock().unwrap();
        ledger.uncertain_appends.remove(&message.id);
        ledger.appended.insert(message.id.clone());
        if let Some(code) = appended.code("APPENDUID") {
            let uid = code.split_whitespace().nth(1).and_then(|u| u.parse().ok());
            if let Some(uid) = uid {
                ledger.record_uid("INBOX", uid, &message.id);
            }
        }
    }

    client.ok("SELECT INBOX")?;
    let search = client.ok(&format!("UID SEARCH HEADER Message-ID \"{}\"", message.id))?;
    let uids = search.search_numbers();
    assert_eq!(
        uids.len(),
        1,
        "{} found {} times in INBOX",
        message.id,
        uids.len()
    );
    let mut uid = uids[0];

    let copy = client.run(&format!("UID COPY {uid} {COPIES}"))?;
    if copy.status == Status::Ok {
        if transferred(&copy, uid)? {
            ledger.lock().unwrap().copied.insert(message.id.clone());
        } else {
            uid = find_renumbered(client, &message.id, uid, "COPY")?;
        }
    }

    client.ok(&format!("SELECT {COPIES}"))?;
    let flagged = ledger.lock().unwrap().copied.clone();
    client.ok("STORE 1:* +FLAGS.SILENT (\\Flagged)")?;
    ledger.lock().unwrap().flagged.extend(flagged);
    let oldest = client.run("FETCH 1 (UID BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")?;
    let first = parse_fetch(&oldest).into_iter().next();
    if let Some(first) = first.filter(|_| number.is_multiple_of(3)) {
        let deleted = format!("UID STORE {} +FLAGS (\\Deleted)", first.uid);
        let stored = client.ok(&deleted)?;
        // UID STORE ignores a UID that a reconciliation replaced since the FETCH (RFC 3501
        // §6.4.8). The message then stays in `copies` and in the ledger.
        let is_marked = parse_fetch(&stored).iter().any(|message| {
            message.uid == first.uid && message.flags.iter().any(|flag| flag == "\\Deleted")
        });
        if is_marked {
            {
                let mut ledger = ledger.lock().unwrap();
                ledger.copied.remove(&first.message_id);
                ledger.flagged.remove(&first.message_id);
                ledger.uncertain_expunges.insert(first.message_id.clone());
            }
            let expunge = client.run("EXPUNGE")?;
            if expunge.status == Status::Ok {
                let mut ledger = ledger.lock().unwrap();
                ledger.uncertain_expunges.remove(&first.message_id);
                ledger.expunged_copies.insert(first.message_id);
            }
        }
    }

    if number.is_multiple_of(2) {
        client.ok("SELECT INBOX")?;
        let moved = client.run(&format!("UID MOVE {uid} {MOVED}"))?;
        if moved.status == Status::Ok {
            if transferred(&moved, uid)? {
                ledger.lock().unwrap().moved.insert(message.id.clone());
            } else {
                find_renumbered(client, &message.id, uid, "MOVE")?;
            }
        }
    }
    Ok(())
}

/// Returns true when the COPYUID code of a completed COPY or MOVE lists `uid` as a source,
/// that is when the server copied or moved that message.
fn transferred(response: &Response, uid: u32) -> Result<bool, E2eError> {
    let Some(code) = response.code("COPYUID") else {
        return Ok(false);
    };
    let mut fields = code.split_whitespace();
    let source = fields
        .nth(1)
        .ok_or_else(|| E2eError::Protocol(format!("COPYUID without source UIDs: {code}")))?;
    Ok(parse_uid_set(source)?.contains(&uid))
}

/// Checks a COPY or MOVE of `uid` in INBOX that completed with OK but transferred nothing,
/// and returns the message's new UID. A UID command ignores a UID that no longer exists (RFC
/// 3501 §6.4.8), so such an OK means that a reconciliation expunged the message and added it
/// again under a new UID. No mail may be lost, so the message must still be in INBOX exactly
/// once, under another UID.
fn find_renumbered(
    client: &mut ImapClient,
    id: &str,
    uid: u32,
    command: &str,
) -> Result<u32, E2eError> {
    let search = client.ok(&format!("UID SEARCH HEADER Message-ID \"{id}\""))?;
    let uids = search.search_numbers();
    assert_eq!(
        uids.len(),
        1,
        "{command} of UID {uid} ({id}) transferred nothing, and INBOX holds it {} times",
        uids.len()
    );
    assert_ne!(
        uids[0], uid,
        "{command} of UID {uid} ({id}) transferred nothing although the message kept its UID"
    );
    Ok(uids[0])
}

/// Logs in, retrying while the worker restarts.
fn reconnect(server: &Server) -> ImapClient {
    let deadline = Instant::now() + RECONNECT_TIMEOUT;
    loop {
        match server.login() {
            Ok(client) => return client,
            Err(error) if Instant::now() < deadline => {
                eprintln!("reconnecting after: {error}");
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(error) => panic!(
                "no login within {RECONNECT_TIMEOUT:?}: {error}\nserver output:\n{}",
                server.output()
            ),
        }
    }
}

/// Runs the client loop until `stop` is set, checking the store after every reconnect.
fn client_loop(
    server: &Server,
    home: &MailHome,
    ledger: &Mutex<Ledger>,
    stop: &AtomicBool,
    rounds: &AtomicUsize,
) {
    let mut number = 0;
    while !stop.load(Ordering::Relaxed) {
        let mut client = reconnect(server);
        match check_store(&mut client, ledger, home) {
            Ok(()) => {}
            Err(E2eError::Rejected { command, response }) => {
                panic!("{command} rejected after a restart: {response}")
            }
            Err(_) => continue,
        }
        loop {
            if stop.load(Ordering::Relaxed) {
                return;
            }
            number += 1;
            match client_round(&mut client, ledger, number) {
                Ok(()) => {
                    rounds.fetch_add(1, Ordering::Relaxed);
                }
                Err(E2eError::Rejected { command, response }) => {
                    panic!(
                        "{command} rejected: {response}\nserver output:\n{}",
                        server.output()
                    )
                }
                Err(_) => break,
            }
        }
    }
}

/// Waits for a worker of `server` to exist and returns its process id, or `None` when the
/// client loop ended (it failed) and no worker will come.
fn wait_for_worker(
    server: &Server,
    deadline: Instant,
    client_done: impl Fn() -> bool,
) -> Option<u32> {
    loop {
        if let Some(pid) = server.workers().into_iter().next() {
            return Some(pid);
        }
        if client_done() {
            return None;
        }
        assert!(Instant::now() < deadline, "no worker appeared in time");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn worker_sigkill_loses_and_duplicates_nothing() {
    if require_tool("scan", "nmh").is_none() {
        return;
    }
    let home = MailHome::create().unwrap();
    home.create_folder(MOVED).unwrap();
    home.create_folder(COPIES).unwrap();
    let mut server = Server::start(&home, &ServerOptions::default()).unwrap();

    let ledger = Mutex::new(Ledger::default());
    let stop = AtomicBool::new(false);
    let rounds = AtomicUsize::new(0);
    let deadline = Instant::now() + RUN_TIMEOUT;
    let mut rng = rand::rng();
    let mut kills = 0;

    std::thread::scope(|scope| {
        let client = scope.spawn(|| client_loop(&server, &home, &ledger, &stop, &rounds));
        for _ in 0..KILLS {
            let Some(worker) = wait_for_worker(&server, deadline, || client.is_finished()) else {
                break;
            };
            std::thread::sleep(Duration::from_millis(rng.random_range(KILL_DELAY_MS)));
            // The worker may have exited by itself meanwhile; the kill then counts nothing.
            let _ = kill(Pid::from_raw(worker as i32), Signal::SIGKILL);
            kills += 1;
            if client.is_finished() {
                break;
            }
            // Let the next worker start before looking for it.
            while server.workers().contains(&worker) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        stop.store(true, Ordering::Relaxed);
        if let Err(panic) = client.join() {
            std::panic::resume_unwind(panic);
        }
    });
    assert_eq!(kills, KILLS, "the client loop ended early");
    assert!(
        server.is_running(),
        "the server itself survived its workers' deaths"
    );

    // A last check on a fresh worker, which also runs scan and mark -list on every folder.
    let mut client = reconnect(&server);
    check_store(&mut client, &ledger, &home).unwrap();
    client.ok("LOGOUT").unwrap();
    let ledger = ledger.into_inner().unwrap();
    assert!(
        ledger.checked_restarts >= KILLS / 2,
        "only {} restarts were checked",
        ledger.checked_restarts
    );
    assert!(
        rounds.load(Ordering::Relaxed) >= KILLS / 2,
        "only {} client rounds completed",
        rounds.load(Ordering::Relaxed)
    );
    eprintln!(
        "{kills} workers killed, {} restarts checked, {} client rounds, {} messages appended",
        ledger.checked_restarts,
        rounds.load(Ordering::Relaxed),
        ledger.appended.len()
    );
}
