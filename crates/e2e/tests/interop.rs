//! Real IMAP clients against the `asimapd` binary: Python's imaplib, curl, fetchmail, mutt
//! and mbsync, each over TLS with the server's certificate checked against the test CA.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use asimapd_e2e::{MailHome, PASSWORD, Server, ServerOptions, TestMessage, USER, parse_fetch};
use asimapd_testkit::require_tool;

/// Messages in the store that mbsync synchronizes.
const MBSYNC_MESSAGES: usize = 2000;
/// Time the server needs to notice files nmh changed: its poll interval plus the one second a
/// new file must stay unchanged, with margin.
const SERVER_CATCH_UP: Duration = Duration::from_secs(3);

fn seed_inbox(home: &MailHome, count: usize) -> Vec<TestMessage> {
    let messages: Vec<TestMessage> = (1..=count).map(|n| TestMessage::new("seed", n)).collect();
    home.write_messages("inbox", 1, &messages).unwrap();
    messages
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn describe(output: &Output) -> String {
    format!(
        "{}; stdout: {}; stderr: {}",
        output.status,
        stdout(output),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn imaplib_session_runs_every_command() {
    let Some(python) = require_tool("python3", "python3") else {
        return;
    };
    let home = MailHome::create().unwrap();
    seed_inbox(&home, 3);
    let server = Server::start(&home, &ServerOptions::default()).unwrap();

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/imaplib_session.py");
    let output = Command::new(python)
        .arg(&script)
        .env("IMAP_PORT", server.address().port().to_string())
        .env("IMAP_USER", USER)
        .env("IMAP_PASS", PASSWORD)
        .env("IMAP_CA", &server.pki().ca_cert)
        .output()
        .unwrap();

    assert!(
        output.status.success(),
        "imaplib session failed: {}\nserver output:\n{}",
        describe(&output),
        server.output()
    );
    assert!(
        stdout(&output).contains("checks passed"),
        "{}",
        describe(&output)
    );
}

/// Runs curl against `url` with the test CA, pinning localhost to 127.0.0.1.
fn curl(server: &Server, url: &str, extra: &[&str]) -> Output {
    let curl = require_tool("curl", "curl").expect("curl checked by the caller");
    Command::new(curl)
        .args(["--silent", "--show-error", "--max-time", "60"])
        .arg("--cacert")
        .arg(&server.pki().ca_cert)
        .arg("--resolve")
        .arg(format!("localhost:{}:127.0.0.1", server.address().port()))
        .arg("--user")
        .arg(format!("{USER}:{PASSWORD}"))
        .args(extra)
        .arg(url)
        .output()
        .unwrap()
}

#[test]
fn curl_lists_fetches_and_searches() {
    if require_tool("curl", "curl").is_none() {
        return;
    }
    let home = MailHome::create().unwrap();
    let messages = seed_inbox(&home, 5);
    home.create_folder("archive").unwrap();
    let server = Server::start(&home, &ServerOptions::default()).unwrap();
    let base = server.url();

    let list = curl(&server, &format!("{base}/"), &[]);
    assert!(list.status.success(), "LIST: {}", describe(&list));
    assert!(stdout(&list).contains("INBOX"), "LIST: {}", describe(&list));
    assert!(
        stdout(&list).contains("archive"),
        "LIST: {}",
        describe(&list)
    );

    let mut client = server.login().unwrap();
    client.ok("SELECT INBOX").unwrap();
    let fetched = parse_fetch(
        &client
            .ok("FETCH 1:* (UID BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
            .unwrap(),
    );
    let third = fetched
        .iter()
        .find(|message| message.message_id == messages[2].id)
        .expect("message 3 listed");

    let body = curl(&server, &format!("{base}/INBOX;UID={}", third.uid), &[]);
    assert!(body.status.success(), "UID fetch: {}", describe(&body));
    assert!(
        stdout(&body).contains(&messages[2].subject),
        "UID fetch: {}",
        describe(&body)
    );
    assert!(
        stdout(&body).contains(&messages[2].id),
        "{}",
        describe(&body)
    );

    let search = curl(
        &server,
        &format!("{base}/INBOX"),
        &["--request", "SEARCH SUBJECT \"seed message 4\""],
    );
    assert!(search.status.success(), "SEARCH: {}", describe(&search));
    assert_eq!(
        stdout(&search).trim(),
        "* SEARCH 4",
        "SEARCH: {}",
        describe(&search)
    );
}

#[test]
fn fetchmail_counts_and_reads_inbox() {
    let Some(fetchmail) = require_tool("fetchmail", "fetchmail") else {
        return;
    };
    let home = MailHome::create().unwrap();
    let messages = seed_inbox(&home, 7);
    let server = Server::start(&home, &ServerOptions::default()).unwrap();

    let delivered = home.dir().join("delivered");
    let rcfile = home.dir().join("fetchmailrc");
    std::fs::write(
        &rcfile,
        format!(
            "set no syslog\n\
             poll localhost service {port} protocol IMAP\n  \
             user \"{USER}\" password \"{PASSWORD}\"\n  \
             ssl sslcertck sslcertfile \"{ca}\" sslcommonname localhost\n  \
             folder INBOX keep fetchall\n  \
             mda \"/bin/sh -c 'cat >> {delivered}'\"\n",
            port = server.address().port(),
            ca = server.pki().ca_cert.display(),
            delivered = delivered.display(),
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&rcfile, std::fs::Permissions::from_mode(0o600)).unwrap();

    let run = |extra: &[&str]| {
        Command::new(&fetchmail)
            .env_clear()
            .env("HOME", home.dir())
            .env("PATH", "/usr/bin:/bin")
            .env("FETCHMAILHOME", home.dir())
            .arg("--fetchmailrc")
            .arg(&rcfile)
            .args(["--nodetach", "--timeout", "60"])
            .args(extra)
            .output()
            .unwrap()
    };

    let check = run(&["--check"]);
    let check_text = format!(
        "{}{}",
        stdout(&check),
        String::from_utf8_lossy(&check.stderr)
    );
    assert!(
        check_text.contains("7 messages"),
        "fetchmail --check: {}",
        describe(&check)
    );

    let fetch = run(&[]);
    assert!(fetch.status.success(), "fetchmail: {}", describe(&fetch));
    let text = std::fs::read_to_string(&delivered).unwrap_or_default();
    for message in &messages {
        assert_eq!(
            text.matches(&format!("<{}>", message.id)).count(),
            1,
            "{} delivered once: {}",
            message.id,
            describe(&fetch)
        );
    }
}
/// Messages in the INBOX that mutt reads.
const MUTT_MESSAGES: usize = 9;
/// Time mutt gets to read the INBOX before `timeout` ends it, in seconds.
const MUTT_TIMEOUT_SECONDS: u32 = 120;

#[test]
fn mutt_copies_and_counts_inbox() {
    let Some(mutt) = require_tool("mutt", "mutt") else {
        return;
    };
    // mutt reads mailboxes only in its full-screen mode, so `script` gives it a terminal.
    let Some(script) = require_tool("script", "bsdutils") else {
        return;
    };
    let home = MailHome::create().unwrap();
    let messages = seed_inbox(&home, MUTT_MESSAGES);
    let server = Server::start(&home, &ServerOptions::default()).unwrap();
    let folder = format!("{}/", server.url());

    let copied = home.dir().join("copied.mbox");
    let muttrc = home.dir().join("muttrc");
    std::fs::write(
        &muttrc,
        format!(
            "set ssl_ca_certificates_file=\"{ca}\"\n\
             set imap_user=\"{USER}\"\nset imap_pass=\"{PASSWORD}\"\n\
             set folder=\"{folder}\"\nset spoolfile=+INBOX\nset mbox_type=mbox\n\
             set confirmcreate=no\nset confirmappend=no\nset quit=yes\n\
             set header_cache=\"\"\nset message_cachedir=\"\"\nset mail_check=0\n",
            ca = server.pki().ca_cert.display(),
        ),
    )
    .unwrap();
    // Tag every message, copy the tagged ones to a local mbox, quit.
    let keys = format!(
        "<tag-pattern>~A<enter><tag-prefix><copy-message>{}<enter><quit>",
        copied.display()
    );
    let mutt_command = format!(
        "{mutt} -n -F {muttrc} -f {folder}INBOX -e 'push \"{keys}\"'",
        mutt = mutt.display(),
        muttrc = muttrc.display(),
    );
    // `timeout` runs outside `script`, so mutt owns the terminal and a stuck mutt is ended
    // by the closing terminal.
    let output = Command::new("timeout")
        .env_clear()
        .env("HOME", home.dir())
        .env("PATH", "/usr/bin:/bin")
        .env("TERM", "vt100")
        .args(["--kill-after=10", &MUTT_TIMEOUT_SECONDS.to_string()])
        .arg(script)
        .args(["--quiet", "--return", "--command"])
        .arg(&mutt_command)
        .arg("/dev/null")
        .output()
        .unwrap();
    assert!(output.status.success(), "mutt: {}", describe(&output));

    let screen = stdout(&output);
    assert!(
        screen.contains(&format!("Msgs:{MUTT_MESSAGES} ")),
        "mutt's status line counts {MUTT_MESSAGES} messages: {screen}"
    );
    let mbox = std::fs::read_to_string(&copied).unwrap();
    assert_eq!(
        mbox.lines()
            .filter(|line| line.starts_with("From "))
            .count(),
        MUTT_MESSAGES,
        "messages copied by mutt: {mbox}"
    );
    for message in &messages {
        assert_eq!(
            mbox.matches(&format!("Message-ID: <{}>", message.id))
                .count(),
            1,
            "{} copied once",
            message.id
        );
        assert!(
            mbox.contains(&message.body),
            "{} copied with its body",
            message.id
        );
    }
}

/// A stored message: its file and its flags as sorted Maildir letters (F, R, S, T).
#[derive(Debug)]
struct StoredMessage {
    path: PathBuf,
    flags: String,
}

/// Returns the letters of `letters` that IMAP flags map to (F, R, S, T), sorted.
fn imap_letters(letters: impl IntoIterator<Item = char>) -> String {
    let mut kept: Vec<char> = letters
        .into_iter()
        .filter(|letter| "FRST".contains(*letter))
        .collect();
    kept.sort_unstable();
    kept.dedup();
    kept.into_iter().collect()
}

/// Reads every message of the Maildir folder `dir` (cur and new), keyed by Message-ID.
fn read_maildir(dir: &Path) -> BTreeMap<String, StoredMessage> {
    let mut messages = BTreeMap::new();
    for sub in ["cur", "new"] {
        let Ok(entries) = std::fs::read_dir(dir.join(sub)) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
            let id =
                message_id(&text).unwrap_or_else(|| panic!("{} has no Message-ID", path.display()));
            let name = entry.file_name().to_string_lossy().into_owned();
            let flags = name
                .split_once(":2,")
                .map(|(_, letters)| imap_letters(letters.chars()))
                .unwrap_or_default();
            let previous = messages.insert(id.clone(), StoredMessage { path, flags });
            assert!(previous.is_none(), "{id} is in the Maildir twice");
        }
    }
    messages
}

fn message_id(text: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.eq_ignore_ascii_case("message-id")
            .then(|| value.trim().trim_matches(['<', '>']).to_string())
    })
}

/// Returns the message numbers nmh lists in sequence `sequence` of `+inbox`.
fn sequence_members(home: &MailHome, sequence: &str) -> BTreeSet<u32> {
    let listing = home
        .run_nmh("mark", &["+inbox", "-list", "-sequence", sequence])
        .unwrap();
    let (_, members) = listing
        .trim()
        .split_once(':')
        .unwrap_or_else(|| panic!("mark -list printed {listing:?}"));
    let mut numbers = BTreeSet::new();
    for range in members.split_whitespace() {
        let parse = |number: &str| -> u32 {
            number
                .parse()
                .unwrap_or_else(|_| panic!("mark -list printed {listing:?}"))
        };
        match range.split_once('-') {
            Some((first, last)) => numbers.extend(parse(first)..=parse(last)),
            None => {
                numbers.insert(parse(range));
            }
        }
    }
    numbers
}

/// Reads the MH folder `inbox` as nmh reads it, keyed by Message-ID: S for a message outside
/// the `unseen` sequence, F for one in `flagged`, R for one in `replied`.
fn read_mh(home: &MailHome) -> BTreeMap<String, StoredMessage> {
    let unseen = sequence_members(home, "unseen");
    let flagged = sequence_members(home, "flagged");
    let replied = sequence_members(home, "replied");
    let mut messages = BTreeMap::new();
    for entry in std::fs::read_dir(home.folder("inbox")).unwrap().flatten() {
        // Only names that are numbers are messages; rmm leaves ",N" backups.
        let Some(number) = entry
            .file_name()
            .to_str()
            .and_then(|name| name.parse::<u32>().ok())
        else {
            continue;
        };
        let path = entry.path();
        let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
        let id =
            message_id(&text).unwrap_or_else(|| panic!("{} has no Message-ID", path.display()));
        let mut letters = Vec::new();
        if flagged.contains(&number) {
            letters.push('F');
        }
        if replied.contains(&number) {
            letters.push('R');
        }
        if !unseen.contains(&number) {
            letters.push('S');
        }
        let flags = imap_letters(letters);
        let previous = messages.insert(id.clone(), StoredMessage { path, flags });
        assert!(previous.is_none(), "{id} is in the MH folder twice");
    }
    messages
}

/// Reads the IMAP INBOX as Message-ID → flag letters (F, R, S, T).
fn read_imap(server: &Server) -> BTreeMap<String, String> {
    let mut client = server.login().unwrap();
    client.ok("EXAMINE INBOX").unwrap();
    let response = client
        .ok("FETCH 1:* (UID FLAGS BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
        .unwrap();
    let mut messages = BTreeMap::new();
    for message in parse_fetch(&response) {
        let letters = message.flags.iter().filter_map(|flag| match flag.as_str() {
            "\\Flagged" => Some('F'),
            "\\Seen" => Some('S'),
            "\\Answered" => Some('R'),
            "\\Deleted" => Some('T'),
            _ => None,
        });
        let previous = messages.insert(message.message_id.clone(), imap_letters(letters));
        assert!(
            previous.is_none(),
            "{} is on the server twice",
            message.message_id
        );
    }
    client.ok("LOGOUT").unwrap();
    messages
}

/// Asserts that `side` contains exactly the messages of `expected` with the same flag letters.
fn assert_same_messages(
    side: &str,
    actual: &BTreeMap<String, String>,
    expected: &BTreeMap<String, String>,
) {
    for (id, flags) in expected {
        let actual_flags = actual
            .get(id)
            .unwrap_or_else(|| panic!("{id} is missing from the {side}"));
        assert_eq!(actual_flags, flags, "{id} flags in the {side}");
    }
    let extra: Vec<&String> = actual
        .keys()
        .filter(|id| !expected.contains_key(*id))
        .collect();
    assert!(
        extra.is_empty(),
        "unexpected messages in the {side}: {extra:?}"
    );
}

fn flags_of(messages: &BTreeMap<String, StoredMessage>) -> BTreeMap<String, String> {
    messages
        .iter()
        .map(|(id, message)| (id.clone(), message.flags.clone()))
        .collect()
}

fn mbsync(mbsync: &Path, config: &Path) -> Output {
    Command::new(mbsync)
        .arg("--config")
        .arg(config)
        .arg("--all")
        .output()
        .unwrap()
}

/// Seed messages flagged on the MH side by `mark -add` before the second sync.
const MH_FLAGGED: RangeInclusive<usize> = 1..=10;
/// Seed messages removed on the MH side by `rmm`.
const MH_REMOVED: RangeInclusive<usize> = 11..=20;
/// Seed messages, unseen before, that `mark -delete -sequence unseen` marks seen.
const MH_SEEN: [usize; 3] = [3, 6, 9];
/// Flagged seed messages that `mark -delete -sequence flagged` unflags.
const MH_UNFLAGGED: [usize; 2] = [50, 55];
/// Seed messages flagged and marked seen in the Maildir by renaming their files.
const MAILDIR_FLAGGED_SEEN: RangeInclusive<usize> = 21..=30;
/// Seed messages whose Maildir files are deleted.
const MAILDIR_REMOVED: RangeInclusive<usize> = 31..=40;
/// Seed messages marked unseen in the Maildir.
const MAILDIR_UNSEEN: RangeInclusive<usize> = 41..=45;
/// Flagged seed messages unflagged in the Maildir.
const MAILDIR_UNFLAGGED: [usize; 2] = [60, 65];
/// Messages that `inc` adds on the MH side before the second sync.
const INCOMING_MESSAGES: usize = 25;

/// Returns the flag letters of seed message `n` before any change: every third message is
/// unseen and every fifth is flagged.
fn initial_flags(n: usize) -> String {
    let mut letters = Vec::new();
    if n.is_multiple_of(5) {
        letters.push('F');
    }
    if !n.is_multiple_of(3) {
        letters.push('S');
    }
    imap_letters(letters)
}

/// Writes `.mh_sequences` for seed messages 1..=count with the flags of [`initial_flags`].
fn write_sequences(home: &MailHome, count: usize) {
    let list = |keep: &dyn Fn(usize) -> bool| -> String {
        (1..=count)
            .filter(|n| keep(*n))
            .map(|n| n.to_string())
            .collect::<Vec<_>>()
            .join(" ")
    };
    let text = format!(
        "unseen: {}\nflagged: {}\n",
        list(&|n| !initial_flags(n).contains('S')),
        list(&|n| initial_flags(n).contains('F'))
    );
    home.write_file(&home.folder("inbox").join(".mh_sequences"), text.as_bytes())
        .unwrap();
}

/// Returns every message both sides must hold after the second sync, keyed by Message-ID,
/// with its flag letters.
fn expected_after_changes() -> BTreeMap<String, String> {
    let mut expected = BTreeMap::new();
    for n in 1..=MBSYNC_MESSAGES {
        if MH_REMOVED.contains(&n) || MAILDIR_REMOVED.contains(&n) {
            continue;
        }
        let initial = initial_flags(n);
        let mut flagged = initial.contains('F');
        let mut seen = initial.contains('S');
        if MH_FLAGGED.contains(&n) || MAILDIR_FLAGGED_SEEN.contains(&n) {
            flagged = true;
        }
        if MH_UNFLAGGED.contains(&n) || MAILDIR_UNFLAGGED.contains(&n) {
            flagged = false;
        }
        if MH_SEEN.contains(&n) || MAILDIR_FLAGGED_SEEN.contains(&n) {
            seen = true;
        }
        if MAILDIR_UNSEEN.contains(&n) {
            seen = false;
        }
        let letters = [(flagged, 'F'), (seen, 'S')]
            .into_iter()
            .filter_map(|(set, letter)| set.then_some(letter));
        expected.insert(TestMessage::new("seed", n).id, imap_letters(letters));
    }
    // inc puts new mail in the unseen sequence.
    for n in 1..=INCOMING_MESSAGES {
        expected.insert(TestMessage::new("incoming", n).id, String::new());
    }
    expected
}

/// Renames the Maildir file of `message` so that its flags are `letters`.
fn set_maildir_flags(message: &StoredMessage, letters: &str) {
    let name = message
        .path
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let base = name
        .split_once(":2,")
        .map_or(name.as_str(), |(base, _)| base);
    let renamed = message.path.with_file_name(format!("{base}:2,{letters}"));
    std::fs::rename(&message.path, renamed).unwrap();
}

/// Returns the message text with CRLF line ends turned into LF, to compare MH and Maildir
/// files, which both use LF, whatever the transfer did.
fn normalized_text(path: &Path) -> Vec<u8> {
    let bytes = std::fs::read(path).unwrap();
    let mut text = Vec::with_capacity(bytes.len());
    for (index, byte) in bytes.iter().enumerate() {
        if *byte == b'\r' && bytes.get(index + 1) == Some(&b'\n') {
            continue;
        }
        text.push(*byte);
    }
    text
}

#[test]
fn mbsync_two_way_sync_matches_both_sides() {
    let Some(mbsync_path) = require_tool("mbsync", "isync") else {
        return;
    };
    if require_tool("inc", "nmh").is_none() {
        return;
    }
    let home = MailHome::create().unwrap();
    seed_inbox(&home, MBSYNC_MESSAGES);
    write_sequences(&home, MBSYNC_MESSAGES);
    let server = Server::start(
        &home,
        &ServerOptions {
            mh_file_locking: true,
        },
    )
    .unwrap();

    let maildir = home.dir().join("maildir");
    std::fs::create_dir_all(&maildir).unwrap();
    let config = home.dir().join("mbsyncrc");
    std::fs::write(
        &config,
        format!(
            "IMAPAccount e2e\nHost localhost\nPort {port}\nUser {USER}\nPass \"{PASSWORD}\"\n\
             SSLType IMAPS\nCertificateFile {ca}\n\n\
             IMAPStore remote\nAccount e2e\n\n\
             MaildirStore local\nPath {maildir}/\nInbox {maildir}/INBOX\n\n\
             Channel e2e\nFar :remote:\nNear :local:\nPatterns INBOX\nCreate Both\n\
             Expunge Both\nSync All\nSyncState *\n",
            port = server.address().port(),
            ca = server.pki().ca_cert.display(),
            maildir = maildir.display(),
        ),
    )
    .unwrap();
    let inbox = maildir.join("INBOX");

    // First sync: the whole store arrives with its flags.
    let first = mbsync(&mbsync_path, &config);
    assert!(first.status.success(), "first sync: {}", describe(&first));
    let local = read_maildir(&inbox);
    assert_eq!(
        local.len(),
        MBSYNC_MESSAGES,
        "first sync copied every message"
    );
    for n in 1..=MBSYNC_MESSAGES {
        let id = TestMessage::new("seed", n).id;
        let message = local
            .get(&id)
            .unwrap_or_else(|| panic!("{id} missing from the Maildir after the first sync"));
        assert_eq!(
            message.flags,
            initial_flags(n),
            "{id} flags after the first sync"
        );
    }

    // Changes on the MH side: new mail through inc, flags through mark, deletions by rmm.
    let new_mail: Vec<TestMessage> = (1..=INCOMING_MESSAGES)
        .map(|n| TestMessage::new("incoming", n))
        .collect();
    let mbox = home.write_mbox("incoming.mbox", &new_mail).unwrap();
    home.run_nmh(
        "inc",
        &[
            "+inbox",
            "-silent",
            "-file",
            mbox.to_str().unwrap(),
            "-truncate",
        ],
    )
    .unwrap();
    let numbers = |range: &[usize]| -> Vec<String> { range.iter().map(usize::to_string).collect() };
    let mark = |messages: Vec<String>, sequence: &str, action: &str| {
        let mut args = vec!["+inbox".to_string()];
        args.extend(messages);
        args.extend(["-sequence".into(), sequence.into(), action.into()]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        home.run_nmh("mark", &args).unwrap();
    };
    mark(numbers(&MH_FLAGGED.collect::<Vec<_>>()), "flagged", "-add");
    mark(numbers(&MH_SEEN), "unseen", "-delete");
    mark(numbers(&MH_UNFLAGGED), "flagged", "-delete");
    let removed = format!("{}-{}", MH_REMOVED.start(), MH_REMOVED.end());
    home.run_nmh("rmm", &["+inbox", &removed]).unwrap();

    // Changes on the Maildir side: flags set and cleared by renaming files, and deletions.
    for (n, message) in (1..=MBSYNC_MESSAGES).map(|n| (n, &local[&TestMessage::new("seed", n).id]))
    {
        let flags = &message.flags;
        if MAILDIR_FLAGGED_SEEN.contains(&n) {
            set_maildir_flags(message, &imap_letters(flags.chars().chain(['F', 'S'])));
        } else if MAILDIR_UNSEEN.contains(&n) {
            set_maildir_flags(message, &flags.replace('S', ""));
        } else if MAILDIR_UNFLAGGED.contains(&n) {
            set_maildir_flags(message, &flags.replace('F', ""));
        } else if MAILDIR_REMOVED.contains(&n) {
            std::fs::remove_file(&message.path).unwrap();
        }
    }
    std::thread::sleep(SERVER_CATCH_UP);

    let second = mbsync(&mbsync_path, &config);
    assert!(
        second.status.success(),
        "second sync: {}",
        describe(&second)
    );

    // The Maildir, the server and the MH folder as nmh reads it contain the same messages,
    // with the flags that the changes on both sides give.
    let expected = expected_after_changes();
    let local = read_maildir(&inbox);
    let mh = read_mh(&home);
    assert_same_messages("IMAP INBOX", &read_imap(&server), &expected);
    assert_same_messages("Maildir", &flags_of(&local), &expected);
    assert_same_messages("MH folder", &flags_of(&mh), &expected);
    for (id, message) in &local {
        // mbsync (isync 1.4) adds an X-TUID header to every message it copies, so that it can
        // recognise the copy after an interrupted run.
        let copy = String::from_utf8_lossy(&normalized_text(&message.path))
            .lines()
            .filter(|line| !line.starts_with("X-TUID: "))
            .map(|line| format!("{line}\n"))
            .collect::<String>();
        assert_eq!(
            copy,
            String::from_utf8_lossy(&normalized_text(&mh[id].path)),
            "{id}: the Maildir copy differs from the MH file"
        );
    }
}
