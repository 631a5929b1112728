//! Real IMAP clients against the `asimapd` binary: Python's imaplib, curl, fetchmail and
//! mbsync, each over TLS with the server's certificate checked against the test CA.

use std::collections::BTreeMap;
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
        stdout(&output).contains("commands checked"),
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

/// A message in the Maildir: its file and the flags in its name.
#[derive(Debug)]
struct MaildirMessage {
    path: PathBuf,
    flags: String,
}

/// Reads every message of the Maildir folder `dir` (cur and new), keyed by Message-ID.
fn read_maildir(dir: &Path) -> BTreeMap<String, MaildirMessage> {
    let mut messages = BTreeMap::new();
    for sub in ["cur", "new"] {
        let Ok(entries) = std::fs::read_dir(dir.join(sub)) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let text = std::fs::read_to_string(&path).unwrap();
            let id =
                message_id(&text).unwrap_or_else(|| panic!("{} has no Message-ID", path.display()));
            let name = entry.file_name().to_string_lossy().into_owned();
            let flags = name
                .split_once(":2,")
                .map(|(_, f)| f.to_string())
                .unwrap_or_default();
            let previous = messages.insert(id.clone(), MaildirMessage { path, flags });
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

/// Reads the IMAP INBOX as Message-ID → Maildir-style flag letters (F, S, R, T).
fn read_imap(server: &Server) -> BTreeMap<String, String> {
    let mut client = server.login().unwrap();
    client.ok("SELECT INBOX").unwrap();
    let response = client
        .ok("FETCH 1:* (UID FLAGS BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
        .unwrap();
    let mut messages = BTreeMap::new();
    for message in parse_fetch(&response) {
        let mut letters: Vec<char> = message
            .flags
            .iter()
            .filter_map(|flag| match flag.as_str() {
                "\\Flagged" => Some('F'),
                "\\Seen" => Some('S'),
                "\\Answered" => Some('R'),
                "\\Deleted" => Some('T'),
                _ => None,
            })
            .collect();
        letters.sort_unstable();
        let previous = messages.insert(message.message_id.clone(), letters.into_iter().collect());
        assert!(
            previous.is_none(),
            "{} is on the server twice",
            message.message_id
        );
    }
    client.ok("LOGOUT").unwrap();
    messages
}

fn mbsync(mbsync: &Path, config: &Path) -> Output {
    Command::new(mbsync)
        .arg("--config")
        .arg(config)
        .arg("--all")
        .output()
        .unwrap()
}

/// Writes `.mh_sequences` for messages 1..=count: every third unseen, every fifth flagged.
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
        list(&|n| n % 3 == 0),
        list(&|n| n % 5 == 0)
    );
    home.write_file(&home.folder("inbox").join(".mh_sequences"), text.as_bytes())
        .unwrap();
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
        let flags = &local
            .get(&id)
            .unwrap_or_else(|| panic!("{id} missing"))
            .flags;
        assert_eq!(
            flags.contains('S'),
            n % 3 != 0,
            "{id} seen state: {flags:?}"
        );
        assert_eq!(
            flags.contains('F'),
            n % 5 == 0,
            "{id} flagged state: {flags:?}"
        );
    }

    // Changes on the MH side: new mail through inc, flags through mark, deletions by rmm.
    let new_mail: Vec<TestMessage> = (1..=25).map(|n| TestMessage::new("incoming", n)).collect();
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
    home.run_nmh("mark", &["+inbox", "1-10", "-sequence", "flagged", "-add"])
        .unwrap();
    home.run_nmh("rmm", &["+inbox", "11-20"]).unwrap();

    // Changes on the Maildir side: flags on 21-30, deletion of 31-40.
    for n in 21..=40 {
        let id = TestMessage::new("seed", n).id;
        let message = &local[&id];
        if n <= 30 {
            let mut letters: Vec<char> = message.flags.chars().chain(['F', 'S']).collect();
            letters.sort_unstable();
            letters.dedup();
            let name = message
                .path
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned();
            let base = name
                .split_once(":2,")
                .map_or(name.as_str(), |(base, _)| base);
            let renamed = message.path.with_file_name(format!(
                "{base}:2,{}",
                letters.into_iter().collect::<String>()
            ));
            std::fs::rename(&message.path, renamed).unwrap();
        } else {
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

    let local = read_maildir(&inbox);
    let remote = read_imap(&server);
    let expected_count = MBSYNC_MESSAGES + new_mail.len() - 10 - 10;
    assert_eq!(remote.len(), expected_count, "server message count");
    assert_eq!(local.len(), expected_count, "Maildir message count");
    for (id, flags) in &remote {
        let local_flags = &local
            .get(id)
            .unwrap_or_else(|| panic!("{id} is on the server but not in the Maildir"))
            .flags;
        let mut local_sorted: Vec<char> = local_flags
            .chars()
            .filter(|c| "FSRT".contains(*c))
            .collect();
        local_sorted.sort_unstable();
        let local_sorted: String = local_sorted.into_iter().collect();
        assert_eq!(&local_sorted, flags, "{id} flags: Maildir vs server");
    }
    for n in 1..=10 {
        let id = TestMessage::new("seed", n).id;
        assert!(remote[&id].contains('F'), "{id} flagged by mark");
    }
    for n in 11..=20 {
        let id = TestMessage::new("seed", n).id;
        assert!(
            !local.contains_key(&id),
            "{id} removed by rmm is gone from the Maildir"
        );
    }
    for n in 21..=30 {
        let id = TestMessage::new("seed", n).id;
        assert!(remote[&id].contains('F'), "{id} flagged in the Maildir");
        assert!(remote[&id].contains('S'), "{id} seen in the Maildir");
    }
    for n in 31..=40 {
        let id = TestMessage::new("seed", n).id;
        assert!(
            !remote.contains_key(&id),
            "{id} deleted in the Maildir is gone from the server"
        );
    }
    for message in &new_mail {
        assert!(
            local.contains_key(&message.id),
            "{} from inc reached the Maildir",
            message.id
        );
    }

    // nmh agrees with the server on the flags it can express.
    let flagged = home
        .run_nmh("mark", &["+inbox", "-list", "-sequence", "flagged"])
        .unwrap();
    assert!(flagged.contains("flagged"), "mark -list: {flagged}");
}
