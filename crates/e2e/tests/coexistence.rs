//! The real nmh commands race the running server on the same MH folders. Each race is repeated
//! in fresh folders: `inc` against APPEND, `mark` against STORE, `rmm` and `refile` against
//! FETCH, and `folder -pack` and `sortm` against one session that has the folder selected and
//! one that IDLEs.
//!
//! After every race the suite checks that no message was lost or duplicated (through IMAP and
//! through `scan`), that every UID a session saw still names the same Message-ID or was
//! reported expunged to that session, and that every flag change from either side survived.
//! The server runs with `--enable-mh-file-locking`, the setting for folders nmh also uses.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Barrier, Mutex};
use std::time::{Duration, Instant};

use asimapd_e2e::{
    E2eError, ImapClient, LISTING_ITEMS, MailHome, MailboxView, Server, ServerOptions, Status,
    TestMessage, nmh_output, parse_fetch_data,
};
use asimapd_testkit::require_tool;

/// Races per scenario, each in its own folder.
const REPEATS: usize = 10;
/// Time the server gets to reflect what nmh did: its 0.5 s poll, the 1 s a new file must stay
/// unchanged before it is exposed, and margin for a loaded two-core machine.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(20);
/// Pause between two nmh steps of a race.
const NMH_STEP_PAUSE: Duration = Duration::from_millis(10);
/// Pause between two rounds of a session that watches a folder.
const WATCH_PAUSE: Duration = Duration::from_millis(20);
/// Time an IDLE lasts before the watching session ends it and checks its view.
const IDLE_ROUND: Duration = Duration::from_millis(700);
/// Messages each of the two appending sessions sends per race.
const APPENDS_PER_CLIENT: usize = 6;
/// Messages in each folder that `mark`, `rmm`, `refile`, `folder -pack` or `sortm` work on.
const POOL: usize = 40;
/// Rounds of the IMAP side in the races against FETCH, pack and sortm.
const IMAP_ROUNDS: usize = 5;

/// Bytes of the server's output shown when a test fails.
const SERVER_OUTPUT_SHOWN: usize = 20_000;

type Outcome<T> = Result<T, String>;

fn imap_error(context: &str) -> impl Fn(E2eError) -> String + '_ {
    move |error| format!("{context}: {error}")
}

/// A server with file locking on, serving a fresh mail home.
struct Fixture {
    home: MailHome,
    server: Server,
}

impl Fixture {
    fn start() -> Option<Fixture> {
        require_tool("inc", "nmh")?;
        let home = MailHome::create().unwrap();
        let options = ServerOptions {
            mh_file_locking: true,
        };
        let server = Server::start(&home, &options).unwrap();
        Some(Fixture { home, server })
    }

    /// Runs an nmh command as the owner of the tree and fails with its output when it fails.
    fn nmh(&self, program: &str, args: &[&str]) -> Outcome<String> {
        let output = self
            .home
            .nmh(program)
            .args(args)
            .output()
            .map_err(|error| format!("{program}: {error}"))?;
        if !output.status.success() {
            return Err(format!(
                "{program} {}: {}: {}",
                args.join(" "),
                output.status,
                nmh_output(&output)
            ));
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    fn login(&self) -> Outcome<ImapClient> {
        self.server.login().map_err(imap_error("LOGIN"))
    }

    /// Returns message number → Message-ID as `scan` reads the folder.
    fn nmh_messages(&self, folder: &str) -> Outcome<BTreeMap<u32, String>> {
        let plus = format!("+{folder}");
        let output = self
            .home
            .nmh("scan")
            .args([plus.as_str(), "-format", "%(msg) %{message-id}"])
            .output()
            .map_err(|error| format!("scan: {error}"))?;
        let text = nmh_output(&output);
        if !output.status.success() {
            // scan fails on an empty folder; that is an empty listing, not an error.
            if text.contains("no messages in") {
                return Ok(BTreeMap::new());
            }
            return Err(format!("scan {plus}: {text}"));
        }
        let mut messages = BTreeMap::new();
        for line in String::from_utf8_lossy(&output.stdout).lines() {
            let (number, id) = line.trim().split_once(' ').unwrap_or((line.trim(), ""));
            let number = number
                .parse()
                .map_err(|_| format!("scan {plus}: unexpected line {line:?}"))?;
            let id = id.trim().trim_start_matches('<').trim_end_matches('>');
            messages.insert(number, id.to_string());
        }
        Ok(messages)
    }

    /// Returns the Message-IDs of the messages in each public or private sequence, as
    /// `mark -list` reports them.
    fn nmh_sequences(&self, folder: &str) -> Outcome<BTreeMap<String, BTreeSet<String>>> {
        let messages = self.nmh_messages(folder)?;
        let listing = self.nmh("mark", &[&format!("+{folder}"), "-list"])?;
        let mut sequences = BTreeMap::new();
        for line in listing.lines() {
            let Some((name, ranges)) = line.split_once(':') else {
                continue;
            };
            let name = name.trim_end_matches(" (private)").to_string();
            let mut ids = BTreeSet::new();
            for range in ranges.split_whitespace() {
                let (low, high) = range.split_once('-').unwrap_or((range, range));
                let (Ok(low), Ok(high)) = (low.parse::<u32>(), high.parse::<u32>()) else {
                    return Err(format!("mark -list +{folder}: invalid range {range:?}"));
                };
                ids.extend((low..=high).filter_map(|n| messages.get(&n).cloned()));
            }
            sequences.insert(name, ids);
        }
        Ok(sequences)
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let output = self.server.output();
            let start = output.len().saturating_sub(SERVER_OUTPUT_SHOWN);
            let start = (start..output.len())
                .find(|&i| output.is_char_boundary(i))
                .unwrap_or(output.len());
            eprintln!("last server output:\n{}", &output[start..]);
        }
    }
}

/// IMAP's name for MH folder `folder`.
fn mailbox(folder: &str) -> &str {
    if folder == "inbox" { "INBOX" } else { folder }
}

/// One message of a fresh session's listing.
#[derive(Debug, Clone)]
struct Listed {
    uid: u32,
    id: String,
    flags: Vec<String>,
}

impl Listed {
    fn has_flag(&self, flag: &str) -> bool {
        self.flags.iter().any(|f| f.eq_ignore_ascii_case(flag))
    }
}

/// A folder as a fresh session lists it.
#[derive(Debug)]
struct Listing {
    uid_validity: String,
    messages: Vec<Listed>,
}

impl Listing {
    fn ids(&self) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for message in &self.messages {
            *counts.entry(message.id.clone()).or_default() += 1;
        }
        counts
    }

    fn by_id(&self, id: &str) -> Option<&Listed> {
        self.messages.iter().find(|message| message.id == id)
    }

    fn by_uid(&self, uid: u32) -> Option<&Listed> {
        self.messages.iter().find(|message| message.uid == uid)
    }
}

/// Lists `folder` in a new session (EXAMINE, so no flag changes).
fn list_folder(fixture: &Fixture, folder: &str) -> Outcome<Listing> {
    let mut client = fixture.login()?;
    let examined = client
        .ok(&format!("EXAMINE {}", mailbox(folder)))
        .map_err(imap_error("EXAMINE"))?;
    let uid_validity = examined
        .code("UIDVALIDITY")
        .ok_or_else(|| format!("EXAMINE {folder} returned no UIDVALIDITY"))?;
    let mut messages = Vec::new();
    if examined.count("EXISTS").unwrap_or(0) > 0 {
        let response = client
            .ok(&format!("FETCH 1:* {LISTING_ITEMS}"))
            .map_err(imap_error("FETCH"))?;
        for line in response.untagged.iter().filter(|l| l.starts_with(b"* ")) {
            let Ok(data) = parse_fetch_data(line) else {
                continue;
            };
            let uid = data
                .uid
                .ok_or_else(|| format!("{folder}: FETCH without UID"))?;
            messages.push(Listed {
                uid,
                id: data.message_id().unwrap_or_default(),
                flags: data.flags.unwrap_or_default(),
            });
        }
    }
    let _ = client.run("LOGOUT");
    Ok(Listing {
        uid_validity,
        messages,
    })
}

/// Retries `check` until it succeeds or [`SETTLE_TIMEOUT`] passes, and returns its last
/// error then. The server reflects nmh's changes after a poll interval, not at once.
fn eventually<T>(description: &str, mut check: impl FnMut() -> Outcome<T>) -> T {
    let deadline = Instant::now() + SETTLE_TIMEOUT;
    loop {
        match check() {
            Ok(value) => return value,
            Err(error) if Instant::now() >= deadline => {
                panic!("{description}, still after {SETTLE_TIMEOUT:?}: {error}")
            }
            Err(_) => std::thread::sleep(Duration::from_millis(200)),
        }
    }
}

/// Checks that IMAP and nmh both show exactly the messages `expected`, each once.
fn same_messages(fixture: &Fixture, folder: &str, expected: &BTreeSet<String>) -> Outcome<Listing> {
    let listing = list_folder(fixture, folder)?;
    let counts = listing.ids();
    let missing: Vec<_> = expected
        .iter()
        .filter(|id| !counts.contains_key(*id))
        .collect();
    let extra: Vec<_> = counts.keys().filter(|id| !expected.contains(*id)).collect();
    let doubled: Vec<_> = counts.iter().filter(|(_, count)| **count > 1).collect();
    if !missing.is_empty() || !extra.is_empty() || !doubled.is_empty() {
        return Err(format!(
            "IMAP lists {folder} with missing {missing:?}, unexpected {extra:?}, \
             more than once {doubled:?}"
        ));
    }
    let numbered = fixture.nmh_messages(folder)?;
    let mut nmh_counts: BTreeMap<&str, usize> = BTreeMap::new();
    for id in numbered.values() {
        *nmh_counts.entry(id.as_str()).or_default() += 1;
    }
    let nmh_ids: BTreeSet<String> = nmh_counts.keys().map(|id| id.to_string()).collect();
    if nmh_ids != *expected || nmh_counts.values().any(|count| *count > 1) {
        return Err(format!(
            "scan +{folder} lists {numbered:?}, expected each of {expected:?} once"
        ));
    }
    Ok(listing)
}

/// Counts of one race: nmh steps done, and how many ran alongside the IMAP side (finished
/// while it ran, or still running when it ended).
#[derive(Debug, Clone, Copy)]
struct RaceReport {
    steps: usize,
    overlapping: usize,
}

/// Sets the flag when dropped, also while a panic unwinds. A scope waits for its threads
/// before it passes a panic on, so a loop that ran until the flag was set would otherwise
/// turn a failed check into a test that never ends.
struct StopOnDrop<'a>(&'a AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// Runs `nmh_step(k)` for k = 0, 1, … in a thread until `imap_side` returns or the step
/// returns `Ok(false)` (its pool is used up). The IMAP side starts after the first step began.
fn race(
    nmh_step: impl FnMut(usize) -> Outcome<bool> + Send,
    imap_side: impl FnOnce() -> Outcome<()>,
) -> RaceReport {
    let stop = AtomicBool::new(false);
    let started = AtomicUsize::new(0);
    let finished = AtomicUsize::new(0);
    let overlapping = AtomicUsize::new(0);
    let imap_running = AtomicBool::new(false);
    let mut nmh_step = nmh_step;
    let (steps, imap_result) = std::thread::scope(|scope| {
        let nmh = scope.spawn(|| -> Outcome<usize> {
            let mut step = 0;
            while !stop.load(Ordering::SeqCst) {
                started.store(step + 1, Ordering::SeqCst);
                if !nmh_step(step)? {
                    return Ok(step);
                }
                finished.store(step + 1, Ordering::SeqCst);
                if imap_running.load(Ordering::SeqCst) {
                    overlapping.fetch_add(1, Ordering::SeqCst);
                }
                step += 1;
                std::thread::sleep(NMH_STEP_PAUSE);
            }
            Ok(step)
        });
        while started.load(Ordering::SeqCst) == 0 && !nmh.is_finished() {
            std::thread::sleep(Duration::from_millis(1));
        }
        imap_running.store(true, Ordering::SeqCst);
        let stop_nmh = StopOnDrop(&stop);
        let imap_result = imap_side();
        // A step still running now ran alongside the IMAP side: a loaded machine can finish
        // the whole IMAP side within one slow `inc`.
        let spanned = started.load(Ordering::SeqCst) > finished.load(Ordering::SeqCst);
        imap_running.store(false, Ordering::SeqCst);
        drop(stop_nmh);
        let steps = nmh.join().expect("nmh thread panicked");
        if spanned {
            overlapping.fetch_add(1, Ordering::SeqCst);
        }
        (steps, imap_result)
    });
    if let Err(error) = imap_result {
        panic!("IMAP side failed: {error}");
    }
    let steps = steps.unwrap_or_else(|error| panic!("nmh side failed: {error}"));
    let report = RaceReport {
        steps,
        overlapping: overlapping.load(Ordering::SeqCst),
    };
    assert!(
        report.overlapping > 0,
        "no nmh step ran alongside the IMAP side: {report:?}"
    );
    report
}

/// A session with a folder selected that keeps its [`MailboxView`] current.
struct Watcher {
    client: ImapClient,
    view: MailboxView,
    folder: String,
}

impl Watcher {
    fn select(fixture: &Fixture, folder: &str) -> Outcome<Watcher> {
        let mut client = fixture.login()?;
        let selected = client
            .ok(&format!("SELECT {}", mailbox(folder)))
            .map_err(imap_error("SELECT"))?;
        let mut view = MailboxView::from_select(&selected).map_err(imap_error("SELECT"))?;
        view.verify(&mut client)
            .map_err(imap_error(&format!("first listing of {folder}")))?;
        Ok(Watcher {
            client,
            view,
            folder: folder.to_string(),
        })
    }

    fn context(&self, what: &str) -> String {
        format!("{what} in {}", self.folder)
    }

    /// NOOP, then FETCH of every message, checked against the view.
    fn poll(&mut self) -> Outcome<()> {
        let context = self.context("NOOP and FETCH 1:*");
        self.view
            .verify(&mut self.client)
            .map_err(imap_error(&context))
    }

    /// FETCH of every body; each body must be the message its UID named before.
    fn fetch_bodies(&mut self) -> Outcome<()> {
        if self.view.is_empty() {
            return self.poll();
        }
        let context = self.context("FETCH 1:* (UID BODY.PEEK[])");
        let response = self
            .client
            .run("FETCH 1:* (UID BODY.PEEK[])")
            .map_err(imap_error(&context))?;
        if response.status != Status::Ok {
            return Err(format!("{context}: {}", response.text));
        }
        for line in &response.untagged {
            let Ok(data) = parse_fetch_data(line) else {
                continue;
            };
            if data.body.is_some() && data.message_id().is_none() {
                return Err(format!(
                    "{context}: message {} (UID {:?}) has a body without Message-ID",
                    data.sequence, data.uid
                ));
            }
        }
        self.view.apply(&response).map_err(imap_error(&context))
    }

    /// IDLE for [`IDLE_ROUND`], applying what arrives, then DONE and a full check.
    fn idle_round(&mut self) -> Outcome<()> {
        let context = self.context("IDLE");
        let tag = self.client.idle_start().map_err(imap_error(&context))?;
        let end = Instant::now() + IDLE_ROUND;
        while Instant::now() < end {
            let line = self
                .client
                .idle_read(Duration::from_millis(100))
                .map_err(imap_error(&context))?;
            if let Some(line) = line {
                self.view
                    .apply_line(line.as_bytes())
                    .map_err(imap_error(&context))?;
            }
        }
        let done = self.client.idle_done(&tag).map_err(imap_error(&context))?;
        self.view.apply(&done).map_err(imap_error(&context))?;
        self.poll()
    }

    /// Checks the view against a fresh listing, after the server settled: the same UIDs in the
    /// same order, and every UID the session ever saw either still there with its Message-ID
    /// or reported expunged.
    fn check_final(&mut self, listing: &Listing) -> Outcome<()> {
        self.poll()?;
        let listed: Vec<u32> = listing.messages.iter().map(|m| m.uid).collect();
        if self.view.uids() != listed || self.view.len() != listed.len() {
            return Err(format!(
                "{}: the selected session ends with UIDs {:?}, a new session lists {listed:?}",
                self.folder,
                self.view.uids()
            ));
        }
        let unaccounted = self.view.unaccounted();
        if !unaccounted.is_empty() {
            return Err(format!(
                "{}: UIDs {unaccounted:?} vanished without EXPUNGE",
                self.folder
            ));
        }
        for (uid, id) in self.view.message_ids() {
            if let Some(now) = listing.by_uid(*uid)
                && now.id != *id
            {
                return Err(format!(
                    "{}: UID {uid} named <{id}> and now names <{}>",
                    self.folder, now.id
                ));
            }
        }
        Ok(())
    }
}

/// What a watching session does in one round.
#[derive(Debug, Clone, Copy)]
enum Round {
    /// NOOP, then FETCH of every message's UID, flags and Message-ID.
    Poll,
    /// FETCH of every body, then a poll.
    Bodies,
    /// IDLE for [`IDLE_ROUND`], then DONE and a poll.
    Idle,
}

impl Round {
    fn run(self, watcher: &mut Watcher) -> Outcome<()> {
        match self {
            Round::Poll => watcher.poll(),
            Round::Bodies => watcher.fetch_bodies().and_then(|()| watcher.poll()),
            Round::Idle => watcher.idle_round(),
        }
    }
}

/// Runs each watcher's rounds in its own thread while `body` runs, and returns what `body`
/// returned and the watchers for the final checks.
fn with_watchers<T>(
    watchers: Vec<(Watcher, Round)>,
    body: impl FnOnce() -> T,
) -> (T, Vec<Watcher>) {
    let stop = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let stop = &stop;
        let handles: Vec<_> = watchers
            .into_iter()
            .map(|(mut watcher, round)| {
                scope.spawn(move || -> Outcome<Watcher> {
                    while !stop.load(Ordering::SeqCst) {
                        round.run(&mut watcher)?;
                        std::thread::sleep(WATCH_PAUSE);
                    }
                    Ok(watcher)
                })
            })
            .collect();
        let stop_watchers = StopOnDrop(stop);
        let value = body();
        drop(stop_watchers);
        let watchers = handles
            .into_iter()
            .map(|handle| handle.join().expect("watching session panicked"))
            .collect::<Outcome<Vec<Watcher>>>()
            .unwrap_or_else(|error| panic!("watching session failed: {error}"));
        (value, watchers)
    })
}

/// Runs `rounds` rounds of each watcher at once, as the IMAP side of a race.
fn drive(watchers: Vec<(Watcher, Round)>, rounds: usize) -> Outcome<Vec<Watcher>> {
    std::thread::scope(|scope| {
        let handles: Vec<_> = watchers
            .into_iter()
            .map(|(mut watcher, round)| {
                scope.spawn(move || -> Outcome<Watcher> {
                    for _ in 0..rounds {
                        round.run(&mut watcher)?;
                        std::thread::sleep(WATCH_PAUSE);
                    }
                    Ok(watcher)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|handle| handle.join().expect("watching session panicked"))
            .collect()
    })
}

/// Returns the mbox of `count` messages `prefix-1`… for `inc -file`.
fn inc_messages(prefix: &str, count: usize) -> Vec<TestMessage> {
    (1..=count).map(|n| TestMessage::new(prefix, n)).collect()
}

fn ids_of(messages: &[TestMessage]) -> BTreeSet<String> {
    messages.iter().map(|m| m.id.clone()).collect()
}

/// Writes `count` messages `series-1`… as files 1… of a new folder.
fn fill_folder(fixture: &Fixture, folder: &str, series: &str, count: usize) -> Vec<TestMessage> {
    let messages: Vec<TestMessage> = (1..=count).map(|n| TestMessage::new(series, n)).collect();
    fixture.home.write_messages(folder, 1, &messages).unwrap();
    messages
}

#[test]
fn inc_races_append() {
    let Some(fixture) = Fixture::start() else {
        return;
    };
    let mut reassigned = 0;
    for repeat in 0..REPEATS {
        let begun = Instant::now();
        let folder = format!("inc{repeat}");
        fixture.home.create_folder(&folder).unwrap();
        let watcher = Watcher::select(&fixture, &folder).unwrap();
        let incorporated = Mutex::new(Vec::new());
        let appended: Mutex<Vec<(TestMessage, Option<u32>)>> = Mutex::new(Vec::new());

        let (report, watchers) = with_watchers(vec![(watcher, Round::Poll)], || {
            race(
                |step| {
                    let messages = inc_messages(&format!("inc{repeat}-{step}"), 4);
                    let drop = fixture
                        .home
                        .write_mbox(&format!("drop-{repeat}"), &messages)
                        .map_err(|error| error.to_string())?;
                    let drop = drop.to_string_lossy().into_owned();
                    let plus = format!("+{folder}");
                    fixture.nmh("inc", &[&plus, "-file", &drop, "-truncate", "-silent"])?;
                    incorporated.lock().unwrap().extend(messages);
                    Ok(true)
                },
                || append_from_two_sessions(&fixture, &folder, repeat, &appended),
            )
        });

        let incorporated = incorporated.into_inner().unwrap();
        let appended = appended.into_inner().unwrap();
        let mut expected = ids_of(&incorporated);
        expected.extend(appended.iter().map(|(m, _)| m.id.clone()));
        let listing = eventually(&format!("every message of {folder} once"), || {
            same_messages(&fixture, &folder, &expected)
        });

        // inc adds its messages to the unseen sequence; IMAP must show them unseen too.
        let inc_ids = ids_of(&incorporated);
        eventually(&format!("inc'd messages of {folder} unseen"), || {
            let unseen = fixture
                .nmh_sequences(&folder)?
                .remove("unseen")
                .unwrap_or_default();
            let not_unseen: Vec<_> = inc_ids.difference(&unseen).collect();
            let listing = list_folder(&fixture, &folder)?;
            let seen_in_imap: Vec<_> = inc_ids
                .iter()
                .filter(|id| listing.by_id(id).is_some_and(|m| m.has_flag("\\Seen")))
                .collect();
            if not_unseen.is_empty() && seen_in_imap.is_empty() {
                Ok(())
            } else {
                Err(format!(
                    "not in unseen: {not_unseen:?}; \\Seen in IMAP: {seen_in_imap:?}"
                ))
            }
        });

        // An APPENDUID names its message for good, unless the server had to give the message
        // a new UID because inc overwrote its file (then the old UID must be gone).
        for (message, uid) in &appended {
            let Some(uid) = uid else { continue };
            match listing.by_uid(*uid) {
                Some(now) => assert_eq!(
                    now.id, message.id,
                    "{folder}: APPENDUID {uid} named <{}> and now names <{}>",
                    message.id, now.id
                ),
                None => reassigned += 1,
            }
        }
        for mut watcher in watchers {
            watcher.check_final(&listing).unwrap();
        }
        fixture
            .nmh("mark", &[&format!("+{folder}"), "-list"])
            .unwrap();
        eprintln!(
            "{folder}: {} inc runs, {} finished during APPENDs; {} messages; {:?}",
            report.steps,
            report.overlapping,
            expected.len(),
            begun.elapsed()
        );
    }
    eprintln!("APPENDed messages whose UID changed afterwards: {reassigned}");
}

/// APPENDs [`APPENDS_PER_CLIENT`] messages from each of two sessions at once, recording the
/// UID each APPENDUID names.
fn append_from_two_sessions(
    fixture: &Fixture,
    folder: &str,
    repeat: usize,
    appended: &Mutex<Vec<(TestMessage, Option<u32>)>>,
) -> Outcome<()> {
    let start = Barrier::new(2);
    std::thread::scope(|scope| {
        let sessions: Vec<_> = (0..2)
            .map(|session| {
                let start = &start;
                scope.spawn(move || -> Outcome<()> {
                    let mut client = fixture.login()?;
                    start.wait();
                    for n in 1..=APPENDS_PER_CLIENT {
                        let message = TestMessage::new(&format!("app{repeat}-{session}"), n);
                        let response = client
                            .append(mailbox(folder), "", &message.to_imap())
                            .map_err(imap_error("APPEND"))?;
                        let uid = response
                            .code("APPENDUID")
                            .and_then(|code| code.split_whitespace().nth(1)?.parse().ok());
                        appended.lock().unwrap().push((message, uid));
                    }
                    let _ = client.run("LOGOUT");
                    Ok(())
                })
            })
            .collect();
        // Every session is joined before the first error is returned.
        let results: Vec<Outcome<()>> = sessions
            .into_iter()
            .map(|session| session.join().expect("appending session panicked"))
            .collect();
        results.into_iter().collect()
    })
}

/// Writes `messages` into a new folder and waits until the server lists them all.
fn prepare_folder(fixture: &Fixture, folder: &str, count: usize) -> (Vec<TestMessage>, Listing) {
    let messages = fill_folder(fixture, folder, folder, count);
    let listing = eventually(&format!("{folder} listed"), || {
        same_messages(fixture, folder, &ids_of(&messages))
    });
    (messages, listing)
}

/// Stores `flags` on the message `id` of `folder` through a new session.
fn store_flags(fixture: &Fixture, folder: &str, uid: u32, flags: &str) {
    let mut client = fixture.login().unwrap();
    client.ok(&format!("SELECT {}", mailbox(folder))).unwrap();
    client
        .ok(&format!("UID STORE {uid} +FLAGS.SILENT ({flags})"))
        .unwrap();
    let _ = client.run("LOGOUT");
}

/// Checks that every UID of `before` whose message is still listed kept its UID.
fn uids_kept(before: &Listing, after: &Listing) -> Outcome<()> {
    if before.uid_validity != after.uid_validity {
        return Err(format!(
            "UIDVALIDITY changed from {} to {}",
            before.uid_validity, after.uid_validity
        ));
    }
    for message in &before.messages {
        if let Some(now) = after.by_id(&message.id)
            && now.uid != message.uid
        {
            return Err(format!(
                "<{}> had UID {} and now has UID {}",
                message.id, message.uid, now.uid
            ));
        }
    }
    Ok(())
}

/// Checks that every watcher received an EXPUNGE for each message of `removed`.
fn expunges_reported(watchers: &[Watcher], before: &Listing, removed: &BTreeSet<String>) {
    for watcher in watchers {
        for message in before.messages.iter().filter(|m| removed.contains(&m.id)) {
            assert!(
                watcher.view.expunged().contains(&message.uid),
                "{}: UID {} (<{}>) was removed by nmh but never reported expunged",
                watcher.folder,
                message.uid,
                message.id
            );
        }
    }
}

#[test]
fn mark_races_store() {
    let Some(fixture) = Fixture::start() else {
        return;
    };
    for repeat in 0..REPEATS {
        let begun = Instant::now();
        let folder = format!("mark{repeat}");
        let plus = format!("+{folder}");
        let (messages, before) = prepare_folder(&fixture, &folder, POOL);
        fixture
            .nmh("mark", &[&plus, "all", "-sequence", "unseen", "-add"])
            .unwrap();
        let watcher = Watcher::select(&fixture, &folder).unwrap();

        // nmh marks the odd messages read and flagged, IMAP the even ones, one by one.
        let (report, watchers) = with_watchers(vec![(watcher, Round::Poll)], || {
            race(
                |step| {
                    let number = 2 * step + 1;
                    if number > POOL {
                        return Ok(false);
                    }
                    let number = number.to_string();
                    fixture.nmh("mark", &[&plus, &number, "-sequence", "unseen", "-delete"])?;
                    fixture.nmh("mark", &[&plus, &number, "-sequence", "flagged", "-add"])?;
                    Ok(true)
                },
                || store_from_two_sessions(&fixture, &folder, &messages, &before),
            )
        });

        let mut touched: BTreeSet<String> = (0..report.steps)
            .map(|step| messages[2 * step].id.clone())
            .collect();
        touched.extend(messages.iter().skip(1).step_by(2).map(|m| m.id.clone()));
        let untouched: BTreeSet<String> = ids_of(&messages).difference(&touched).cloned().collect();
        let listing = eventually(&format!("flags of {folder} from both sides"), || {
            let listing = same_messages(&fixture, &folder, &ids_of(&messages))?;
            let sequences = fixture.nmh_sequences(&folder)?;
            let unseen = sequences.get("unseen").cloned().unwrap_or_default();
            let flagged = sequences.get("flagged").cloned().unwrap_or_default();
            if unseen != untouched || flagged != touched {
                return Err(format!(
                    "nmh: unseen {unseen:?}, flagged {flagged:?}; expected unseen {untouched:?}"
                ));
            }
            for message in &listing.messages {
                let expected = touched.contains(&message.id);
                if message.has_flag("\\Seen") != expected
                    || message.has_flag("\\Flagged") != expected
                {
                    return Err(format!(
                        "IMAP: <{}> has flags {:?}",
                        message.id, message.flags
                    ));
                }
            }
            Ok(listing)
        });
        uids_kept(&before, &listing).unwrap();
        for mut watcher in watchers {
            watcher.check_final(&listing).unwrap();
        }
        eprintln!(
            "{folder}: {} nmh steps, {} during STOREs; {:?}",
            report.steps,
            report.overlapping,
            begun.elapsed()
        );
    }
}

/// Stores `\Seen \Flagged` on the even messages from two sessions at once.
fn store_from_two_sessions(
    fixture: &Fixture,
    folder: &str,
    messages: &[TestMessage],
    before: &Listing,
) -> Outcome<()> {
    let start = Barrier::new(2);
    std::thread::scope(|scope| {
        let sessions: Vec<_> = (0..2)
            .map(|session| {
                let start = &start;
                scope.spawn(move || -> Outcome<()> {
                    let mut client = fixture.login()?;
                    client
                        .ok(&format!("SELECT {}", mailbox(folder)))
                        .map_err(imap_error("SELECT"))?;
                    start.wait();
                    let evens = messages.iter().skip(1).step_by(2);
                    for message in evens.skip(session).step_by(2) {
                        let uid = before
                            .by_id(&message.id)
                            .ok_or_else(|| format!("<{}> not listed", message.id))?
                            .uid;
                        client
                            .ok(&format!("UID STORE {uid} +FLAGS.SILENT (\\Seen \\Flagged)"))
                            .map_err(imap_error("UID STORE"))?;
                    }
                    let _ = client.run("LOGOUT");
                    Ok(())
                })
            })
            .collect();
        // Every session is joined before the first error is returned.
        let results: Vec<Outcome<()>> = sessions
            .into_iter()
            .map(|session| session.join().expect("storing session panicked"))
            .collect();
        results.into_iter().collect()
    })
}

#[test]
fn rmm_races_fetch() {
    let Some(fixture) = Fixture::start() else {
        return;
    };
    for repeat in 0..REPEATS {
        let begun = Instant::now();
        let folder = format!("rmm{repeat}");
        let plus = format!("+{folder}");
        let (messages, before) = prepare_folder(&fixture, &folder, POOL);
        let watchers = vec![
            (Watcher::select(&fixture, &folder).unwrap(), Round::Bodies),
            (Watcher::select(&fixture, &folder).unwrap(), Round::Bodies),
        ];

        // nmh removes the odd messages one by one, alternately by rename to ,N and unlink.
        let mut driven = None;
        let report = race(
            |step| {
                let number = 2 * step + 1;
                if number > POOL {
                    return Ok(false);
                }
                let number = number.to_string();
                if step % 2 == 0 {
                    fixture.nmh("rmm", &[&plus, &number, "-unlink"])?;
                } else {
                    fixture.nmh("rmm", &[&plus, &number])?;
                }
                Ok(true)
            },
            || {
                driven = Some(drive(watchers, IMAP_ROUNDS)?);
                Ok(())
            },
        );

        let removed: BTreeSet<String> = (0..report.steps)
            .map(|step| messages[2 * step].id.clone())
            .collect();
        let survivors: BTreeSet<String> = ids_of(&messages).difference(&removed).cloned().collect();
        let listing = eventually(&format!("{folder} after rmm"), || {
            same_messages(&fixture, &folder, &survivors)
        });
        uids_kept(&before, &listing).unwrap();
        let mut watchers = driven.expect("IMAP side ran");
        for watcher in &mut watchers {
            watcher.check_final(&listing).unwrap();
        }
        expunges_reported(&watchers, &before, &removed);
        fixture.nmh("mark", &[&plus, "-list"]).unwrap();
        eprintln!(
            "{folder}: {} rmm runs, {} during FETCHes; {:?}",
            report.steps,
            report.overlapping,
            begun.elapsed()
        );
    }
}

#[test]
fn refile_races_fetch() {
    let Some(fixture) = Fixture::start() else {
        return;
    };
    for repeat in 0..REPEATS {
        let begun = Instant::now();
        let source = format!("refile{repeat}");
        let target = format!("refiled{repeat}");
        let (source_plus, target_plus) = (format!("+{source}"), format!("+{target}"));
        fixture.home.create_folder(&target).unwrap();
        let (messages, before) = prepare_folder(&fixture, &source, POOL);
        let watchers = vec![
            (Watcher::select(&fixture, &source).unwrap(), Round::Bodies),
            (Watcher::select(&fixture, &target).unwrap(), Round::Bodies),
        ];

        // nmh refiles the odd messages one by one: link into the target, rename to ,N.
        let mut driven = None;
        let report = race(
            |step| {
                let number = 2 * step + 1;
                if number > POOL {
                    return Ok(false);
                }
                let number = number.to_string();
                fixture.nmh("refile", &["-src", &source_plus, &number, &target_plus])?;
                Ok(true)
            },
            || {
                driven = Some(drive(watchers, IMAP_ROUNDS)?);
                Ok(())
            },
        );

        let moved: BTreeSet<String> = (0..report.steps)
            .map(|step| messages[2 * step].id.clone())
            .collect();
        let staying: BTreeSet<String> = ids_of(&messages).difference(&moved).cloned().collect();
        let source_listing = eventually(&format!("{source} after refile"), || {
            same_messages(&fixture, &source, &staying)
        });
        let target_listing = eventually(&format!("{target} after refile"), || {
            same_messages(&fixture, &target, &moved)
        });
        uids_kept(&before, &source_listing).unwrap();
        let mut watchers = driven.expect("IMAP side ran");
        watchers[0].check_final(&source_listing).unwrap();
        watchers[1].check_final(&target_listing).unwrap();
        expunges_reported(&watchers[..1], &before, &moved);
        eprintln!(
            "{source}: {} refile runs, {} during FETCHes; {:?}",
            report.steps,
            report.overlapping,
            begun.elapsed()
        );
    }
}

/// Messages in each folder that `folder -pack` works on, before a third is removed.
const PACK_MESSAGES: usize = 60;
/// `rmm` + `folder -pack` steps at most per race.
const PACK_STEPS: usize = 20;

#[test]
fn pack_races_selected_and_idle() {
    let Some(fixture) = Fixture::start() else {
        return;
    };
    for repeat in 0..REPEATS {
        let begun = Instant::now();
        let folder = format!("pack{repeat}");
        let plus = format!("+{folder}");
        let messages = fill_folder(&fixture, &folder, &folder, PACK_MESSAGES);

        // Holes: every third message goes first, so the first pack renumbers the rest.
        let holes: Vec<String> = (1..=PACK_MESSAGES)
            .step_by(3)
            .map(|n| n.to_string())
            .collect();
        let mut args = vec![plus.as_str()];
        args.extend(holes.iter().map(String::as_str));
        args.push("-unlink");
        fixture.nmh("rmm", &args).unwrap();
        let survivors: Vec<&TestMessage> = messages
            .iter()
            .enumerate()
            .filter(|(index, _)| index % 3 != 0)
            .map(|(_, message)| message)
            .collect();
        let survivor_ids: BTreeSet<String> = survivors.iter().map(|m| m.id.clone()).collect();
        let before = eventually(&format!("{folder} listed"), || {
            same_messages(&fixture, &folder, &survivor_ids)
        });

        // A flag from each side, on the two lowest survivors.
        let (flagged, unseen) = (survivors[0].id.clone(), survivors[1].id.clone());
        store_flags(
            &fixture,
            &folder,
            before.by_id(&flagged).unwrap().uid,
            "\\Flagged",
        );
        fixture
            .nmh("mark", &[&plus, "3", "-sequence", "unseen", "-add"])
            .unwrap();
        let watchers = vec![
            (Watcher::select(&fixture, &folder).unwrap(), Round::Poll),
            (Watcher::select(&fixture, &folder).unwrap(), Round::Idle),
        ];

        // Step 0 packs; every later step removes message 3 (after the first pack, the third
        // survivor and onwards) and packs again.
        let mut driven = None;
        let report = race(
            |step| {
                if step >= PACK_STEPS {
                    return Ok(false);
                }
                if step > 0 {
                    fixture.nmh("rmm", &[&plus, "3", "-unlink"])?;
                }
                fixture.nmh("folder", &[&plus, "-pack", "-fast"])?;
                Ok(true)
            },
            || {
                driven = Some(drive(watchers, IMAP_ROUNDS)?);
                Ok(())
            },
        );

        let removed: BTreeSet<String> = survivors
            .iter()
            .skip(2)
            .take(report.steps.saturating_sub(1))
            .map(|m| m.id.clone())
            .collect();
        let left: BTreeSet<String> = survivor_ids.difference(&removed).cloned().collect();
        let listing = eventually(&format!("{folder} after pack"), || {
            let listing = same_messages(&fixture, &folder, &left)?;
            check_flags_followed(&fixture, &folder, &listing, &flagged, &unseen)?;
            Ok(listing)
        });
        let numbers: Vec<u32> = fixture.nmh_messages(&folder).unwrap().into_keys().collect();
        let contiguous: Vec<u32> = (1..=numbers.len() as u32).collect();
        assert_eq!(numbers, contiguous, "{folder}: numbering after pack");
        uids_kept(&before, &listing).unwrap();
        let mut watchers = driven.expect("IMAP side ran");
        for watcher in &mut watchers {
            watcher.check_final(&listing).unwrap();
        }
        expunges_reported(&watchers, &before, &removed);
        eprintln!(
            "{folder}: {} pack runs, {} during the sessions; {:?}",
            report.steps,
            report.overlapping,
            begun.elapsed()
        );
    }
}

/// Checks that `flagged` is `\Flagged` and `unseen` is not `\Seen`, through IMAP and in
/// nmh's sequences.
fn check_flags_followed(
    fixture: &Fixture,
    folder: &str,
    listing: &Listing,
    flagged: &str,
    unseen: &str,
) -> Outcome<()> {
    let sequences = fixture.nmh_sequences(folder)?;
    let in_sequence =
        |name: &str, id: &str| sequences.get(name).is_some_and(|ids| ids.contains(id));
    if !in_sequence("flagged", flagged) || !in_sequence("unseen", unseen) {
        return Err(format!("nmh sequences {sequences:?}"));
    }
    let flagged_now = listing
        .by_id(flagged)
        .is_some_and(|m| m.has_flag("\\Flagged"));
    let unseen_now = listing.by_id(unseen).is_some_and(|m| !m.has_flag("\\Seen"));
    if !flagged_now || !unseen_now {
        return Err(format!(
            "IMAP flags: <{flagged}> {:?}, <{unseen}> {:?}",
            listing.by_id(flagged),
            listing.by_id(unseen)
        ));
    }
    Ok(())
}

/// Messages in each folder that `sortm` works on.
const SORT_MESSAGES: usize = 30;

/// Writes [`SORT_MESSAGES`] messages whose date order and subject order differ, so sorting
/// by one and then the other renumbers nearly every message.
fn fill_unsorted(fixture: &Fixture, folder: &str) -> BTreeSet<String> {
    let dir = fixture.home.create_folder(folder).unwrap();
    let an_hour_ago = std::time::SystemTime::now() - Duration::from_secs(3600);
    let mut ids = BTreeSet::new();
    for n in 1..=SORT_MESSAGES {
        let id = format!("{folder}-{n}@e2e.example.org");
        let day = (n * 11) % SORT_MESSAGES + 1;
        let subject = (n * 7) % SORT_MESSAGES;
        let text = format!(
            "From: Sender <sender@example.org>\nTo: alice@example.org\n\
             Subject: sort key {subject:02}\nDate: {day:02} Nov 2026 12:00:00 +0000\n\
             Message-ID: <{id}>\n\nMessage {n} of {folder}.\n"
        );
        let path = dir.join(n.to_string());
        std::fs::write(&path, text).unwrap();
        std::fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(an_hour_ago)
            .unwrap();
        ids.insert(id);
    }
    fixture.home.give_to_owner(&dir).unwrap();
    ids
}

#[test]
fn sortm_races_selected_and_idle() {
    let Some(fixture) = Fixture::start() else {
        return;
    };
    for repeat in 0..REPEATS {
        let begun = Instant::now();
        let folder = format!("sortm{repeat}");
        let plus = format!("+{folder}");
        let ids = fill_unsorted(&fixture, &folder);
        let before = eventually(&format!("{folder} listed"), || {
            same_messages(&fixture, &folder, &ids)
        });
        let flagged = format!("{folder}-1@e2e.example.org");
        let unseen = format!("{folder}-2@e2e.example.org");
        store_flags(
            &fixture,
            &folder,
            before.by_id(&flagged).unwrap().uid,
            "\\Flagged",
        );
        fixture
            .nmh("mark", &[&plus, "2", "-sequence", "unseen", "-add"])
            .unwrap();
        let watchers = vec![
            (Watcher::select(&fixture, &folder).unwrap(), Round::Poll),
            (Watcher::select(&fixture, &folder).unwrap(), Round::Idle),
        ];

        // sortm by date and by subject in turn, so each run moves nearly every message.
        let mut driven = None;
        let report = race(
            |step| {
                if step % 2 == 0 {
                    fixture.nmh("sortm", &[&plus])?;
                } else {
                    fixture.nmh("sortm", &[&plus, "-textfield", "subject"])?;
                }
                Ok(true)
            },
            || {
                driven = Some(drive(watchers, IMAP_ROUNDS)?);
                Ok(())
            },
        );

        let listing = eventually(&format!("{folder} after sortm"), || {
            let listing = same_messages(&fixture, &folder, &ids)?;
            check_flags_followed(&fixture, &folder, &listing, &flagged, &unseen)?;
            Ok(listing)
        });
        assert_eq!(
            before.uid_validity, listing.uid_validity,
            "{folder}: UIDVALIDITY changed"
        );
        // sortm may break UID order; the server then gives moved messages new UIDs, but an
        // old UID never names another message.
        for message in &before.messages {
            if let Some(now) = listing.by_uid(message.uid) {
                assert_eq!(
                    now.id, message.id,
                    "{folder}: UID {} changed message",
                    message.uid
                );
            }
        }
        let mut watchers = driven.expect("IMAP side ran");
        for watcher in &mut watchers {
            watcher.check_final(&listing).unwrap();
        }
        eprintln!(
            "{folder}: {} sortm runs, {} during the sessions; {:?}",
            report.steps,
            report.overlapping,
            begun.elapsed()
        );
    }
}

/// Environment variable naming the nmh scenario script that
/// [`nmh_scenario_script_passes`] runs.
const SCENARIO_SCRIPT_VAR: &str = "NMH_SCENARIOS";

/// Runs an external nmh scenario script against the server: `SCRIPT all`, with `IMAP_HOOK`
/// set to `tests/clients/imap_hook.py` and `NMH_HOME` to the served home, as the tree's owner.
/// The script is not part of this repository, so the test runs only on request:
/// `NMH_SCENARIOS=/path/to/nmh-scenarios.sh cargo test -p asimapd-e2e --test coexistence
/// -- --ignored`. `REPEAT`, `N` and `SETTLE` are passed on to the script, and
/// `NMH_SCENARIO_NAMES` (space-separated) runs only the named scenarios.
#[test]
#[ignore = "needs an external scenario script named by NMH_SCENARIOS"]
fn nmh_scenario_script_passes() {
    use std::os::unix::process::CommandExt;

    let script = std::env::var_os(SCENARIO_SCRIPT_VAR)
        .unwrap_or_else(|| panic!("set {SCENARIO_SCRIPT_VAR} to the scenario script to run"));
    if require_tool("python3", "python3").is_none() {
        return;
    }
    let Some(fixture) = Fixture::start() else {
        return;
    };
    let hook = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/imap_hook.py");
    let scenarios = std::env::var("NMH_SCENARIO_NAMES").unwrap_or_else(|_| "all".into());
    let mut command = std::process::Command::new("bash");
    command
        .arg(&script)
        .args(scenarios.split_whitespace())
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("NMH_HOME", fixture.home.home())
        .env("TMPDIR", fixture.home.dir())
        .env(
            "IMAP_HOOK",
            // The script runs with PATH=/usr/bin:/bin and possibly as another user, so
            // python3 is looked up there, not in the test process's PATH.
            format!("python3 {}", hook.display()),
        )
        .env("IMAP_PORT", fixture.server.address().port().to_string())
        .env("IMAP_CA", &fixture.server.pki().ca_cert)
        .env("IMAP_USER", asimapd_e2e::USER)
        .env("IMAP_PASS", asimapd_e2e::PASSWORD)
        .current_dir(fixture.home.dir());
    for passed_on in ["REPEAT", "N", "SETTLE"] {
        if let Some(value) = std::env::var_os(passed_on) {
            command.env(passed_on, value);
        }
    }
    if let Some((uid, gid)) = fixture.home.owner() {
        command.uid(uid).gid(gid);
    }
    let output = command.output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    eprintln!("{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    let passed = stdout
        .lines()
        .filter(|l| l.trim_start().starts_with("PASS"))
        .count();
    let failed = stdout
        .lines()
        .filter(|l| l.trim_start().starts_with("FAIL"))
        .count();
    eprintln!("scenario checks: {passed} passed, {failed} failed");
    if !output.status.success() {
        show_scenario_folders(&fixture);
    }
    assert!(output.status.success(), "{failed} scenario checks failed");
}

/// Prints the sequences of every folder a scenario script left, with the number and
/// Message-ID of each message, so a failed check can be traced to its messages.
fn show_scenario_folders(fixture: &Fixture) {
    let Ok(entries) = std::fs::read_dir(fixture.home.mail_root()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with("scen-") {
            continue;
        }
        let sequences = fixture.nmh("mark", &[&format!("+{name}"), "-list"]);
        let messages = fixture.nmh_messages(&name);
        let listing = list_folder(fixture, &name).map(|listing| listing.messages);
        eprintln!("{name}:\n  sequences: {sequences:?}\n  scan: {messages:?}\n  IMAP: {listing:?}");
    }
}
