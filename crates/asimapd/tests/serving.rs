//! The `asimapd` binary serving real clients on 127.0.0.1: Python's imaplib and curl over
//! TLS, workers running as the Unix users that own the maildirs, worker sharing, linger,
//! a killed worker, SIGTERM, SIGHUP and SIGUSR1. These tests create Unix users with
//! `useradd`, so they run as root (as CI does) and remove the users again.

mod support;

use std::path::Path;
use std::process::Command;

use support::{Launch, Site, account_tool, chown_tree, ids_of, require_root};

#[test]
fn python_imaplib_logs_in_and_fetches() {
    if !require_root() {
        return;
    }
    let Some(python) = asimapd_testkit::require_tool("python3", "python3") else {
        return;
    };
    let site = Site::new();
    let alice = site.add_user("imaplib pw", "imaplib subject");
    let server = site.start(&[]);
    let script = r#"
import imaplib, ssl, sys
context = ssl.create_default_context(cafile=sys.argv[2])
client = imaplib.IMAP4_SSL("127.0.0.1", int(sys.argv[1]), ssl_context=context)
client.login(sys.argv[3], sys.argv[4])
client.select("INBOX")
status, data = client.fetch("1", "(RFC822)")
assert status == "OK", status
sys.stdout.write(data[0][1].decode())
client.logout()
"#;

    let output = Command::new(python)
        .args(["-c", script, &server.port.to_string()])
        .arg(&site.pki.ca)
        .args([&alice.name, "imaplib pw"])
        .output()
        .unwrap();

    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("Subject: imaplib subject\r\n"), "{stdout}");
    assert_eq!(server.stop(), Some(0));
}

#[test]
fn curl_imaps_fetches_message() {
    if !require_root() {
        return;
    }
    let Some(curl) = asimapd_testkit::require_tool("curl", "curl") else {
        return;
    };
    let site = Site::new();
    let alice = site.add_user("curl pw", "curl subject");
    let server = site.start(&[]);

    let output = Command::new(curl)
        .args(["--silent", "--show-error", "--max-time", "30", "--cacert"])
        .arg(&site.pki.ca)
        .args(["--user", &format!("{}:curl pw", alice.name)])
        .arg(format!("imaps://127.0.0.1:{}/INBOX;UID=1", server.port))
        .output()
        .unwrap();

    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("Subject: curl subject"), "{stdout}");
    assert_eq!(server.stop(), Some(0));
}

#[test]
fn workers_run_as_maildir_owners_and_stay_apart() {
    if !require_root() {
        return;
    }
    let Some(ss) = asimapd_testkit::require_tool("ss", "iproute2") else {
        return;
    };
    let site = Site::new();
    let alice = site.add_user("alice pw", "for alice only");
    let bob = site.add_user("bob pw", "bob secret subject");
    // Alice owns her maildir, so she can plant links to bob's folder and message in it.
    let bob_inbox = bob.maildir.join("inbox");
    std::os::unix::fs::symlink(&bob_inbox, alice.maildir.join("linked")).unwrap();
    std::os::unix::fs::symlink(bob_inbox.join("1"), alice.maildir.join("inbox/2")).unwrap();
    chown_tree(&alice.maildir, alice.uid, alice.gid);
    let starttls_port = support::free_port();
    let server = site.launch(&Launch {
        args: &[&format!("--starttls-port={starttls_port}")],
        env: &[("ASIMAPD_TEST_MARKER", "listener only")],
        ..Launch::default()
    });
    let mut alice_client = server.connect();
    alice_client.login(&alice.name, "alice pw");
    let mut bob_client = server.connect();
    bob_client.login(&bob.name, "bob pw");

    let pids = server.wait_for_workers(2);
    let mut identities: Vec<(u32, u32)> = pids.iter().map(|pid| ids_of(*pid)).collect();
    identities.sort();
    let mut expected = vec![(alice.uid, alice.gid), (bob.uid, bob.gid)];
    expected.sort();
    assert_eq!(identities, expected);

    // Every name that could lead out of alice's mail root.
    let attempts = [
        "SELECT linked".to_owned(),
        "STATUS linked (MESSAGES)".to_owned(),
        format!("SELECT \"{}\"", bob_inbox.display()),
        format!("SELECT \"../../{}/Mail/inbox\"", bob.name),
        format!("SELECT \"inbox/../../../{}/Mail/inbox\"", bob.name),
        format!("SELECT \"~{}/inbox\"", bob.name),
        format!("SELECT \"/{}/Mail/inbox\"", bob.name),
        format!("STATUS \"{}\" (MESSAGES)", bob_inbox.display()),
        format!("EXAMINE \"../{}\"", bob.name),
    ];
    let mut transcript = Vec::new();
    for (index, attempt) in attempts.iter().enumerate() {
        let tag = format!("x{index}");
        let answer = alice_client.command(&tag, attempt);
        let tagged = answer.last().unwrap();
        assert!(
            tagged.starts_with(&format!("{tag} NO")),
            "{attempt} -> {answer:?}"
        );
        transcript.extend(answer);
    }
    let mut listed = Vec::new();
    for pattern in ["\"\" \"*\"", "\"/\" \"*\"", "\"../\" \"*\"", "\"~\" \"*\""] {
        listed.extend(alice_client.command("l", &format!("LIST {pattern}")));
    }
    let fetched = alice_client.command("f", "SELECT INBOX");
    transcript.extend(alice_client.command("f", "FETCH 1:* BODY.PEEK[]"));
    let transcript = transcript.join("\n");
    assert!(fetched.last().unwrap().starts_with("f OK"), "{fetched:?}");
    assert!(transcript.contains("for alice only"), "{transcript}");
    assert!(!transcript.contains("bob secret subject"), "{transcript}");
    assert!(
        !listed.iter().any(|line| line.contains(&bob.name)),
        "{listed:#?}"
    );

    let listening = Command::new(&ss)
        .args(["-l", "-n", "-p", "-t", "-u", "-x", "-w"])
        .output()
        .unwrap();
    let listening = String::from_utf8_lossy(&listening.stdout);
    let ours: Vec<&str> = listening
        .lines()
        .filter(|line| {
            std::iter::once(server.pid())
                .chain(pids.iter().copied())
                .any(|pid| line.contains(&format!("pid={pid},")))
        })
        .collect();
    assert_eq!(ours.len(), 2, "only the two configured ports: {ours:#?}");
    for port in [server.port, starttls_port] {
        let socket = ours
            .iter()
            .find(|line| line.contains(&format!("127.0.0.1:{port} ")))
            .unwrap_or_else(|| panic!("port {port} is not listening: {ours:#?}"));
        assert!(socket.starts_with("tcp"), "{socket}");
        assert!(
            socket.contains(&format!("pid={},", server.pid())),
            "{socket}"
        );
    }
    // Workers reach the listener only over inherited Unix socket pairs.
    let sockets = Command::new(&ss)
        .args(["-a", "-n", "-p", "-t", "-u", "-w"])
        .output()
        .unwrap();
    let sockets = String::from_utf8_lossy(&sockets.stdout);
    let worker_sockets: Vec<&str> = sockets
        .lines()
        .filter(|line| pids.iter().any(|pid| line.contains(&format!("pid={pid},"))))
        .collect();
    assert!(worker_sockets.is_empty(), "{worker_sockets:#?}");
    for pid in &pids {
        let environment = std::fs::read(format!("/proc/{pid}/environ")).unwrap();
        let environment = String::from_utf8_lossy(&environment);
        assert!(
            !environment.contains("ASIMAPD_TEST_MARKER"),
            "the worker environment is cleared: {environment:?}"
        );
    }

    drop((alice_client, bob_client));
    assert_eq!(server.stop(), Some(0));
}

#[test]
fn mailbox_names_cannot_write_outside_mail_root() {
    if !require_root() {
        return;
    }
    let site = Site::new();
    let alice = site.add_user("write pw", "write subject");
    let home = alice.maildir.parent().unwrap().to_owned();
    // A folder alice may write to, so the server's check of mailbox names is the only barrier.
    let writable = site.dir.path().join(format!("{}-writable", alice.name));
    std::fs::create_dir(&writable).unwrap();
    chown_tree(&writable, alice.uid, alice.gid);
    let outside = writable.join("escaped");
    let server = site.start(&[]);
    let mut client = server.connect();
    client.login(&alice.name, "write pw");
    client.command("s", "SELECT INBOX");

    let attempts = [
        "CREATE \"../escaped\"".to_owned(),
        "CREATE \"inbox/../../escaped\"".to_owned(),
        format!("CREATE \"{}\"", outside.display()),
        "RENAME INBOX \"../escaped\"".to_owned(),
        "COPY 1 \"../escaped\"".to_owned(),
        "MOVE 1 \"../escaped\"".to_owned(),
        format!("COPY 1 \"{}\"", outside.display()),
        "DELETE \"..\"".to_owned(),
        "DELETE \"../Mail\"".to_owned(),
    ];
    for (index, attempt) in attempts.iter().enumerate() {
        let tag = format!("w{index}");
        let answer = client.command(&tag, attempt);
        let tagged = answer.last().unwrap();
        assert!(
            tagged.starts_with(&format!("{tag} NO")) || tagged.starts_with(&format!("{tag} BAD")),
            "{attempt} -> {answer:?}"
        );
    }
    let fetch = client.command("f", "FETCH 1 BODY.PEEK[HEADER.FIELDS (SUBJECT)]");
    drop(client);
    assert_eq!(server.stop(), Some(0));

    assert!(!home.join("escaped").exists(), "a folder beside Mail");
    assert!(!outside.exists(), "a folder at an absolute path");
    assert!(
        alice.maildir.join("inbox/1").exists(),
        "INBOX keeps its message"
    );
    assert!(
        fetch.iter().any(|line| line.contains("write subject")),
        "{fetch:?}"
    );
}

#[test]
fn ordinary_user_listener_runs_workers_as_itself() {
    if !require_root() {
        return;
    }
    let site = Site::new();
    let alice = site.add_user("own pw", "own subject");
    let bob = site.add_user("other pw", "other subject");
    std::fs::create_dir(site.trace_dir()).unwrap();
    chown_tree(&site.trace_dir(), alice.uid, alice.gid);
    let server = site.launch(&Launch {
        identity: Some((alice.uid, alice.gid)),
        ..Launch::default()
    });

    let mut own = server.connect();
    own.login(&alice.name, "own pw");
    let select = own.command("s1", "SELECT INBOX");
    let worker = server.wait_for_workers(1)[0];
    let identity = ids_of(worker);
    let mut other = server.connect();
    let other_login = other.command("b1", &format!("LOGIN {} \"other pw\"", bob.name));

    assert_eq!(ids_of(server.pid()), (alice.uid, alice.gid));
    assert_eq!(identity, (alice.uid, alice.gid));
    assert!(select.last().unwrap().starts_with("s1 OK"), "{select:?}");
    // A worker for bob would run as alice too, and alice may not open bob's maildir.
    assert_eq!(
        other_login,
        ["b1 NO [UNAVAILABLE] Your mailbox is not available now; try again later"]
    );
    assert_eq!(server.worker_pids(), [worker]);
    drop((own, other));
    assert_eq!(server.stop(), Some(0));
}

#[test]
fn connections_of_one_user_share_worker_until_linger_ends() {
    if !require_root() {
        return;
    }
    let site = Site::new();
    let alice = site.add_user("linger pw", "linger subject");
    let server = site.start(&["--worker-linger=1"]);

    let mut first = server.connect();
    first.login(&alice.name, "linger pw");
    let mut second = server.connect();
    second.login(&alice.name, "linger pw");
    let shared = server.wait_for_workers(1);
    first.command("o1", "LOGOUT");
    second.command("o2", "LOGOUT");
    drop((first, second));
    let after_linger = server.wait_for_workers(0);
    let mut third = server.connect();
    third.login(&alice.name, "linger pw");
    let restarted = server.wait_for_workers(1);

    assert_eq!(shared.len(), 1);
    assert!(after_linger.is_empty());
    assert_ne!(restarted, shared, "a new worker serves the next login");
    server.wait_for_log(&format!("worker pid {} exited", shared[0]));
    third.command("o3", "LOGOUT");
    assert_eq!(server.stop(), Some(0));
}

#[test]
fn login_during_linger_reuses_worker() {
    if !require_root() {
        return;
    }
    let site = Site::new();
    let alice = site.add_user("reuse pw", "reuse subject");
    let server = site.start(&["--worker-linger=60"]);
    let mut first = server.connect();
    first.login(&alice.name, "reuse pw");
    let before = server.wait_for_workers(1);
    first.command("o1", "LOGOUT");
    drop(first);
    server.wait_for_log("session ended");

    let mut second = server.connect();
    second.login(&alice.name, "reuse pw");
    let select = second.command("s1", "SELECT INBOX");
    let after = server.wait_for_workers(1);

    assert_eq!(after, before, "the lingering worker serves the new login");
    assert!(select.last().unwrap().starts_with("s1 OK"), "{select:?}");
    drop(second);
    assert_eq!(server.stop(), Some(0));
}

#[test]
fn killed_worker_clients_get_bye_and_next_login_works() {
    if !require_root() {
        return;
    }
    let site = Site::new();
    let alice = site.add_user("kill pw", "kill subject");
    let server = site.start(&[]);
    let mut first = server.connect();
    first.login(&alice.name, "kill pw");
    let mut second = server.connect();
    second.login(&alice.name, "kill pw");
    let killed = server.wait_for_workers(1)[0];

    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(killed as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let first_rest = first.rest();
    let second_rest = second.rest();
    let mut third = server.connect();
    third.login(&alice.name, "kill pw");
    let select = third.command("s1", "SELECT INBOX");
    let restarted = server.wait_for_workers(1)[0];

    let bye = "* BYE [UNAVAILABLE] Server process for this account stopped; please log in again";
    assert!(first_rest.contains(bye), "{first_rest:?}");
    assert!(second_rest.contains(bye), "{second_rest:?}");
    assert!(select.last().unwrap().starts_with("s1 OK"), "{select:?}");
    assert_ne!(restarted, killed);
    server.wait_for_log(&format!("worker pid {killed} killed by signal 9"));
    assert_eq!(server.stop(), Some(0));
}

#[test]
fn workers_exit_when_listener_is_killed() {
    use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};

    if !require_root() {
        return;
    }
    // Orphaned workers come to this process, which reaps them, rather than to an init
    // that may never reap them.
    nix::sys::prctl::set_child_subreaper(true).unwrap();
    let site = Site::new();
    let alice = site.add_user("orphan pw", "orphan subject");
    let server = site.start(&[]);
    let mut client = server.connect();
    client.login(&alice.name, "orphan pw");
    let worker = server.wait_for_workers(1)[0];
    let worker_pid = nix::unistd::Pid::from_raw(worker as i32);

    server.signal(nix::sys::signal::Signal::SIGKILL);

    // The worker is this process's child only once the listener is gone.
    let deadline = std::time::Instant::now() + support::TIMEOUT;
    let status = loop {
        match waitpid(worker_pid, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) | Err(nix::errno::Errno::ECHILD) => {}
            Ok(status) => break status,
            Err(error) => panic!("waitpid {worker} failed: {error}"),
        }
        assert!(
            std::time::Instant::now() < deadline,
            "worker {worker} outlived its listener"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert!(
        matches!(status, WaitStatus::Exited(..) | WaitStatus::Signaled(..)),
        "{status:?}"
    );
    drop(client);
}

#[test]
fn sigterm_ends_sessions_with_bye_and_exits_zero() {
    if !require_root() {
        return;
    }
    let site = Site::new();
    let alice = site.add_user("term pw", "term subject");
    let server = site.start(&[]);
    let mut logged_in = server.connect();
    logged_in.login(&alice.name, "term pw");
    let mut waiting = server.connect();
    let worker = server.wait_for_workers(1)[0];

    let status = server.stop();
    let logged_in_rest = logged_in.rest();
    let waiting_rest = waiting.rest();

    assert_eq!(status, Some(0));
    assert!(logged_in_rest.starts_with("* BYE"), "{logged_in_rest:?}");
    assert!(waiting_rest.starts_with("* BYE"), "{waiting_rest:?}");
    assert!(
        !Path::new(&format!("/proc/{worker}")).exists(),
        "the worker has exited"
    );
}

#[test]
fn sighup_reloads_password_file_and_certificate() {
    if !require_root() {
        return;
    }
    let site = Site::new();
    let alice = site.add_user("hup pw", "hup subject");
    let server = site.start(&[]);
    let mut before = server.connect();
    before.login(&alice.name, "hup pw");
    let old_certificate = before.peer_certificate();
    let log = server.log();
    let password_loads = log.matches("password file loaded").count();
    let certificate_loads = log.matches("TLS certificate loaded").count();

    // Logins also reread a changed password file, so none happens until the reload is seen.
    let bob = site.add_user("bob hup pw", "bob hup subject");
    let new_certificate = site.pki.issue_server_certificate();
    server.signal(nix::sys::signal::Signal::SIGHUP);
    server.wait_for_count("password file loaded", password_loads + 1);
    server.wait_for_count("TLS certificate loaded", certificate_loads + 1);
    let mut after = server.connect();
    let presented = after.peer_certificate();
    after.login(&bob.name, "bob hup pw");
    let noop = before.command("n1", "NOOP");

    assert_ne!(old_certificate, new_certificate);
    assert_eq!(presented, new_certificate, "the new certificate is served");
    assert!(noop.last().unwrap().starts_with("n1 OK"), "{noop:?}");
    drop((before, after));
    assert_eq!(server.stop(), Some(0));
}

#[test]
fn ipv6_loopback_serves_and_traces_client_address() {
    if !require_root() {
        return;
    }
    if let Err(error) = std::net::TcpListener::bind("[::1]:0") {
        panic!("this test needs the IPv6 loopback address ::1, which cannot be bound: {error}");
    }
    let site = Site::new();
    let alice = site.add_user("six pw", "six subject");
    let server = site.launch(&Launch {
        args: &["--trace"],
        address: Some("::1".parse().unwrap()),
        ..Launch::default()
    });
    let mut client = server.connect();
    let client_address = client.local_address();
    client.login(&alice.name, "six pw");
    client.command("s1", "SELECT INBOX");
    let fetch = client.command("f1", "FETCH 1 BODY.PEEK[HEADER.FIELDS (SUBJECT)]");
    client.command("o1", "LOGOUT");
    drop(client);
    assert_eq!(server.stop(), Some(0));

    let trace = site
        .trace_dir()
        .join(format!("{}-asimapd.trace", alice.name));
    let trace = std::fs::read_to_string(&trace).unwrap();
    let connect: serde_json::Value = trace
        .lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap())
        .find(|record| record["msg_type"] == "CONNECT")
        .unwrap_or_else(|| panic!("no CONNECT record in {trace}"));
    assert!(client_address.is_ipv6(), "{client_address}");
    assert_eq!(connect["remote"], client_address.to_string());
    assert!(
        fetch.iter().any(|line| line.contains("six subject")),
        "{fetch:?}"
    );
}

#[test]
fn worker_gets_supplementary_groups_of_owner() {
    if !require_root() {
        return;
    }
    let site = Site::new();
    let alice = site.add_user("groups pw", "groups subject");
    let group = format!("{}g", alice.name);
    assert!(account_tool("groupadd", &[group.as_ref()]));
    let usermod: [&std::ffi::OsStr; 4] = [
        "--append".as_ref(),
        "--groups".as_ref(),
        group.as_ref(),
        alice.name.as_ref(),
    ];
    assert!(account_tool("usermod", &usermod));
    let extra_gid = nix::unistd::Group::from_name(&group)
        .unwrap()
        .unwrap()
        .gid
        .as_raw();
    let server = site.start(&[]);
    let mut client = server.connect();
    client.login(&alice.name, "groups pw");

    let worker = server.wait_for_workers(1)[0];
    let status = std::fs::read_to_string(format!("/proc/{worker}/status")).unwrap();
    let groups: Vec<u32> = status
        .lines()
        .find_map(|line| line.strip_prefix("Groups:"))
        .unwrap()
        .split_whitespace()
        .map(|gid| gid.parse().unwrap())
        .collect();

    assert!(groups.contains(&extra_gid), "{groups:?} lacks {extra_gid}");
    assert!(!groups.contains(&0), "root's group is dropped: {groups:?}");
    drop(client);
    assert_eq!(server.stop(), Some(0));
    drop(alice);
    account_tool("groupdel", &[group.as_ref()]);
}

#[test]
fn root_owned_maildir_is_refused_with_log_line() {
    if !require_root() {
        return;
    }
    let site = Site::new();
    let alice = site.add_user("root pw", "root subject");
    chown_tree(&alice.maildir, 0, 0);
    let server = site.start(&[]);
    let mut client = server.connect();

    let answer = client.command("a1", &format!("LOGIN {} \"root pw\"", alice.name));

    assert_eq!(
        answer,
        ["a1 NO [UNAVAILABLE] Your mailbox is not available now; try again later"]
    );
    let log = server.wait_for_log("is owned by root; a worker never runs as root");
    assert!(log.contains(&alice.maildir.display().to_string()), "{log}");
    assert!(server.worker_pids().is_empty());
    drop(client);
    assert_eq!(server.stop(), Some(0));
}

#[test]
fn passwords_never_reach_debug_log() {
    if !require_root() {
        return;
    }
    use base64::Engine;
    let site = Site::new();
    let alice = site.add_user("Sekr1t-login-pw", "debug subject");
    let server = site.start(&["--debug"]);
    let mut client = server.connect();
    client.command("a1", &format!("LOGIN {} \"Wr0ng-guess-pw\"", alice.name));
    let plain = base64::engine::general_purpose::STANDARD
        .encode(format!("\0{}\0Sekr1t-login-pw", alice.name));
    let answer = client.command("a2", &format!("AUTHENTICATE PLAIN {plain}"));
    assert!(answer.last().unwrap().starts_with("a2 OK"), "{answer:?}");
    client.command("a3", "LOGOUT");
    drop(client);

    let log = server.wait_for_log("session ended");
    assert_eq!(server.stop(), Some(0));

    assert!(log.contains("DEBUG"), "debug records are logged: {log}");
    for secret in ["Sekr1t-login-pw", "Wr0ng-guess-pw", plain.as_str()] {
        assert!(
            !log.contains(secret),
            "{secret} leaked into the log:\n{log}"
        );
    }
}

#[test]
fn worker_records_reach_listener_log() {
    if !require_root() {
        return;
    }
    let site = Site::new();
    let alice = site.add_user("log pw", "log subject");
    let server = site.start(&[]);
    let mut client = server.connect();
    client.login(&alice.name, "log pw");
    client.command("s1", "SELECT INBOX");
    client.command("o1", "LOGOUT");
    drop(client);

    let log = server.wait_for_log("asimap.user_server");

    let worker_line = log
        .lines()
        .find(|line| line.contains("asimap.user_server"))
        .unwrap();
    assert!(worker_line.contains(&alice.name), "{worker_line}");
    assert_eq!(server.stop(), Some(0));
}

#[test]
fn trace_records_follow_sigusr1() {
    if !require_root() {
        return;
    }
    let site = Site::new();
    let alice = site.add_user("trace pw", "trace subject");
    let server = site.start(&["--trace"]);
    let trace = site
        .dir
        .path()
        .join(format!("traces/{}-asimapd.trace", alice.name));
    let mut client = server.connect();
    let client_address = client.local_address();
    client.login(&alice.name, "trace pw");
    client.command("t1", "NOOP");

    server.signal(nix::sys::signal::Signal::SIGUSR1);
    server.wait_for_log("protocol tracing switched off");
    client.command("t2", "CAPABILITY");
    server.signal(nix::sys::signal::Signal::SIGUSR1);
    server.wait_for_log("protocol tracing switched on");
    client.command("t3", "NOOP");
    client.command("t4", "LOGOUT");
    drop(client);
    assert_eq!(server.stop(), Some(0));

    let owner = std::os::unix::fs::MetadataExt::uid(&std::fs::metadata(&trace).unwrap());
    assert_eq!(owner, 0, "the listener, not the worker, writes the trace");
    let records: Vec<serde_json::Value> = std::fs::read_to_string(&trace)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let data: Vec<&str> = records.iter().filter_map(|r| r["data"].as_str()).collect();
    assert_eq!(records[0]["trace_format"], "1.0", "{records:#?}");
    assert!(data.contains(&"t1 NOOP"), "{data:?}");
    assert!(data.contains(&"t3 NOOP"), "{data:?}");
    assert!(
        !data.contains(&"t2 CAPABILITY"),
        "traced while off: {data:?}"
    );
    assert!(
        !data.iter().any(|line| line.contains("trace pw")),
        "{data:?}"
    );
    let received = records.iter().find(|r| r["data"] == "t1 NOOP").unwrap();
    assert_eq!(received["msg_type"], "RECEIVED");
    assert!(received["trace_time"].is_f64(), "{received}");
    assert!(received["trace_delta_time"].is_f64(), "{received}");
    let msg_types: Vec<&str> = records
        .iter()
        .filter_map(|r| r["msg_type"].as_str())
        .collect();
    assert_eq!(msg_types.first(), Some(&"CONNECT"), "{msg_types:?}");
    assert_eq!(msg_types.last(), Some(&"CLOSE"), "{msg_types:?}");
    assert!(msg_types.contains(&"SEND"), "{msg_types:?}");
    let sent = records
        .iter()
        .find(|r| r["msg_type"] == "SEND" && r["data"].as_str().unwrap().starts_with("t3 OK"));
    assert!(sent.is_some(), "the response to t3 is traced: {data:?}");
    assert!(
        received["connection"]
            .as_str()
            .unwrap()
            .starts_with("client-")
    );
    assert_eq!(received["remote"], client_address.to_string());
    let formats = records
        .iter()
        .filter(|r| r["trace_format"] == "1.0")
        .count();
    assert_eq!(
        formats, 2,
        "switching tracing on again announces the format"
    );
}

#[test]
fn failed_worker_exit_status_is_logged() {
    use std::os::unix::fs::PermissionsExt;

    if !require_root() {
        return;
    }
    let site = Site::new();
    let alice = site.add_user("fail pw", "fail subject");
    // The listener, as root, still finds the maildir; the worker, as alice, cannot open it.
    std::fs::set_permissions(&alice.maildir, std::fs::Permissions::from_mode(0o000)).unwrap();
    let server = site.start(&[]);
    let mut client = server.connect();

    client.send(&format!("a1 LOGIN {} \"fail pw\"", alice.name));
    let rest = client.rest();

    let bye = "* BYE [UNAVAILABLE] Server process for this account stopped; please log in again";
    assert!(rest.starts_with(bye), "{rest:?}");
    let log = server.wait_for_log("failed with exit status");
    let line = log
        .lines()
        .find(|line| line.contains("failed with exit status"))
        .unwrap();
    assert!(line.contains("worker pid "), "{line}");
    // The worker's own record comes over its log channel, which the listener may read after
    // it has reaped the worker.
    server.wait_for_log("worker failed");
    assert_eq!(server.stop(), Some(0));
}

#[test]
fn sigterm_ends_idle_with_bye() {
    if !require_root() {
        return;
    }
    let site = Site::new();
    let alice = site.add_user("idle pw", "idle subject");
    let server = site.start(&[]);
    let mut client = server.connect();
    client.login(&alice.name, "idle pw");
    client.command("s1", "SELECT INBOX");
    client.send("i1 IDLE");
    let continuation = client.line();

    let started = std::time::Instant::now();
    let status = server.stop();
    let stopped_after = started.elapsed();
    let rest = client.rest();

    assert!(continuation.starts_with("+ "), "{continuation:?}");
    assert_eq!(status, Some(0));
    assert_eq!(rest, "* BYE Server shutting down\r\n");
    assert!(
        stopped_after < std::time::Duration::from_secs(5),
        "IDLE held the shutdown for {stopped_after:?}"
    );
}

#[test]
fn missing_password_file_is_logged_at_start() {
    if !require_root() {
        return;
    }
    let site = Site::new();
    std::fs::remove_file(&site.pwfile).unwrap();
    let server = site.start(&[]);
    let log = server.wait_for_log("password file unavailable");
    assert!(log.contains(&site.pwfile.display().to_string()), "{log}");
    assert_eq!(server.stop(), Some(0));
}
