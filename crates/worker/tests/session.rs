//! The session engine: hand-off, any-state commands, states, errors, pipelining and
//! shutdown, driven through the listener's socket interface.

mod common;

use common::{Worker, status};

#[tokio::test]
async fn login_reply_lists_capabilities() {
    let mut worker = Worker::start().await;
    let mut client = worker.connect_with(b"").await;
    let line = client.read_line().await;
    assert!(line.starts_with("a0 OK [CAPABILITY IMAP4rev1 "), "{line}");
    for name in [
        "IDLE", "ID", "MOVE", "UNSELECT", "UIDPLUS", "LITERAL+", "CHILDREN",
    ] {
        assert!(
            line.contains(&format!(" {name} ")),
            "{name} missing: {line}"
        );
    }
    worker.shutdown().await.unwrap();
}

#[tokio::test]
async fn pending_input_is_processed_first() {
    let mut worker = Worker::start().await;
    let mut client = worker.connect_with(b"p1 NOOP\r\n").await;
    let login = client.read_line().await;
    assert!(login.starts_with("a0 OK"), "{login}");
    assert_eq!(client.read_line().await, "p1 OK NOOP command completed");
    worker.shutdown().await.unwrap();
}

#[tokio::test]
async fn capability_matches_login_reply() {
    let mut worker = Worker::start().await;
    let mut client = worker.connect().await;
    let lines = client.ok("CAPABILITY").await;
    assert!(lines[0].starts_with("* CAPABILITY IMAP4rev1 IDLE ID MOVE UNSELECT UIDPLUS LITERAL+ CHILDREN LIST-EXTENDED LIST-STATUS NAMESPACE SPECIAL-USE ENABLE"), "{lines:?}");
    worker.shutdown().await.unwrap();
}

#[tokio::test]
async fn logout_sends_bye_then_ok() {
    let mut worker = Worker::start().await;
    let mut client = worker.connect().await;
    let lines = client.command("LOGOUT").await;
    assert!(lines[0].starts_with("* BYE"), "{lines:?}");
    assert_eq!(lines[1], "t1 OK LOGOUT command completed");
    worker.shutdown().await.unwrap();
}

#[tokio::test]
async fn id_returns_server_identity() {
    let mut worker = Worker::start().await;
    let mut client = worker.connect().await;
    let lines = client.ok(r#"ID ("name" "imaplib")"#).await;
    assert!(
        lines[0].starts_with(r#"* ID ("name" "asimapd" "version" "#),
        "{lines:?}"
    );
    worker.shutdown().await.unwrap();
}

#[tokio::test]
async fn namespace_is_one_personal_root() {
    let mut worker = Worker::start().await;
    let mut client = worker.connect().await;
    let lines = client.ok("NAMESPACE").await;
    assert_eq!(lines[0], r#"* NAMESPACE (("" "/")) NIL NIL"#);
    worker.shutdown().await.unwrap();
}

#[tokio::test]
async fn enable_lists_nothing_enabled() {
    let mut worker = Worker::start().await;
    let mut client = worker.connect().await;
    let lines = client.ok("ENABLE CONDSTORE").await;
    assert_eq!(lines[0], "* ENABLED");
    worker.shutdown().await.unwrap();
}

#[tokio::test]
async fn selected_command_without_mailbox_is_bad() {
    let mut worker = Worker::start().await;
    let mut client = worker.connect().await;
    let commands = [
        "FETCH 1 FLAGS",
        "UID FETCH 1 FLAGS",
        "STORE 1 +FLAGS (\\Seen)",
        "UID STORE 1 +FLAGS (\\Seen)",
        "SEARCH ALL",
        "UID SEARCH ALL",
        "COPY 1 Archive",
        "UID COPY 1 Archive",
        "MOVE 1 Archive",
        "UID MOVE 1 Archive",
        "UID EXPUNGE 1",
        "UNSELECT",
        "CLOSE",
        "EXPUNGE",
        "CHECK",
    ];
    for command in commands {
        let lines = client.command(command).await;
        assert_eq!(status(&lines), "BAD", "{command}: {lines:?}");
    }
    let lines = client.ok("NOOP").await;
    assert_eq!(lines.len(), 1);
    worker.shutdown().await.unwrap();
}

#[tokio::test]
async fn login_after_authentication_is_bad() {
    let mut worker = Worker::start().await;
    let mut client = worker.connect().await;
    let lines = client.command("LOGIN bob secret").await;
    assert_eq!(status(&lines), "BAD", "{lines:?}");
    worker.shutdown().await.unwrap();
}

#[tokio::test]
async fn not_authenticated_commands_are_bad() {
    let mut worker = Worker::start().await;
    let mut client = worker.connect().await;
    for command in ["AUTHENTICATE PLAIN", "STARTTLS", "LOGIN bob secret"] {
        let lines = client.command(command).await;
        assert_eq!(status(&lines), "BAD", "{command}: {lines:?}");
    }
    client.ok("SELECT INBOX").await;
    let lines = client.command("LOGIN bob secret").await;
    assert_eq!(status(&lines), "BAD", "selected state: {lines:?}");
    client.ok("NOOP").await;
    worker.shutdown().await.unwrap();
}

#[tokio::test]
async fn unadvertised_extensions_are_bad() {
    let mut worker = Worker::start().await;
    let mut client = worker.connect().await;
    client.ok("SELECT INBOX").await;
    for command in [
        "COMPRESS DEFLATE",
        "GETQUOTAROOT INBOX",
        "UNAUTHENTICATE",
        "SORT (DATE) UTF-8 ALL",
        "THREAD REFERENCES UTF-8 ALL",
        "FETCH 1:* (FLAGS) (CHANGEDSINCE 1)",
        "SEARCH RETURN (MIN) ALL",
    ] {
        let lines = client.command(command).await;
        assert_eq!(status(&lines), "BAD", "{command}: {lines:?}");
        assert!(
            lines.last().unwrap().contains("not supported"),
            "{command}: {lines:?}"
        );
    }
    client.ok("NOOP").await;
    worker.shutdown().await.unwrap();
}

#[tokio::test]
async fn syntax_error_keeps_session() {
    let mut worker = Worker::start().await;
    let mut client = worker.connect().await;
    let lines = client.command("FROBNICATE now").await;
    assert_eq!(status(&lines), "BAD", "{lines:?}");
    client.send(b"\r\n").await;
    let untagged = client.read_line().await;
    assert!(untagged.starts_with("* BAD"), "{untagged}");
    client.ok("NOOP").await;
    worker.shutdown().await.unwrap();
}

#[tokio::test]
async fn pipelined_commands_answer_in_order() {
    let mut worker = Worker::start().await;
    let mut client = worker.connect().await;
    client
        .send(b"p1 NOOP\r\np2 CAPABILITY\r\np3 NAMESPACE\r\np4 NOOP\r\n")
        .await;
    assert_eq!(client.read_line().await, "p1 OK NOOP command completed");
    assert!(client.read_line().await.starts_with("* CAPABILITY"));
    assert_eq!(
        client.read_line().await,
        "p2 OK CAPABILITY command completed"
    );
    assert!(client.read_line().await.starts_with("* NAMESPACE"));
    assert_eq!(
        client.read_line().await,
        "p3 OK NAMESPACE command completed"
    );
    assert_eq!(client.read_line().await, "p4 OK NOOP command completed");
    worker.shutdown().await.unwrap();
}

#[tokio::test]
async fn shutdown_sends_bye_to_sessions() {
    let mut worker = Worker::start().await;
    let mut client = worker.connect().await;
    worker.shutdown().await.unwrap();
    let line = client.read_line().await;
    assert!(line.starts_with("* BYE"), "{line}");
}

#[tokio::test(start_paused = true)]
async fn worker_exits_after_linger() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("Mail")).unwrap();
    let mut config = common::config(&dir.path().join("Mail"));
    config.linger = std::time::Duration::from_secs(5);
    let worker = Worker::start_with(dir, config).await;
    let result = tokio::time::timeout(std::time::Duration::from_secs(60), worker.task).await;
    assert!(
        result
            .expect("worker still running after linger")
            .unwrap()
            .is_ok()
    );
}

#[tokio::test]
async fn special_use_folders_exist_after_login() {
    let mut worker = Worker::start().await;
    let _client = worker.connect().await;
    for name in [
        "inbox",
        "Junk",
        "Archive",
        "Sent Messages",
        "Drafts",
        "Deleted Messages",
    ] {
        assert!(worker.mail_root().join(name).is_dir(), "{name} missing");
    }
    worker.shutdown().await.unwrap();
}

#[tokio::test]
async fn deep_pipeline_is_answered_in_order() {
    // More commands than the reader queues ahead of the running one.
    let depth = 200;
    let mut worker = Worker::start().await;
    let mut client = worker.connect().await;
    let mut batch = Vec::new();
    for index in 0..depth {
        batch.extend_from_slice(format!("p{index} NOOP\r\n").as_bytes());
    }
    client.send(&batch).await;
    for index in 0..depth {
        assert_eq!(
            client.read_line().await,
            format!("p{index} OK NOOP command completed")
        );
    }
    worker.shutdown().await.unwrap();
}

#[tokio::test]
async fn closed_control_socket_stops_worker() {
    let mut worker = Worker::start().await;
    let mut client = worker.connect().await;
    let Worker { control, task, .. } = worker;
    drop(control);
    let line = client.read_line().await;
    assert!(line.starts_with("* BYE"), "{line}");
    let result = tokio::time::timeout(common::RESPONSE_TIMEOUT, task).await;
    assert!(result.expect("worker kept running").unwrap().is_ok());
}

#[tokio::test]
async fn invalid_commands_in_a_row_end_session() {
    let mut worker = Worker::start().await;
    let mut client = worker.connect().await;
    let limit = asimapd_worker::MAX_INVALID_COMMANDS_IN_A_ROW;
    for round in 0..limit - 1 {
        let lines = client.command("GARBAGE").await;
        assert_eq!(status(&lines), "BAD", "round {round}: {lines:?}");
    }
    client.ok("NOOP").await;
    for _ in 0..limit - 1 {
        client.command("GARBAGE").await;
    }
    client.send(b"x1 GARBAGE\r\n").await;
    assert!(client.read_line().await.starts_with("x1 BAD"));
    let bye = client.read_line().await;
    assert!(bye.starts_with("* BYE"), "{bye}");
    worker.shutdown().await.unwrap();
}

/// Unusual but parseable commands get a tagged OK, NO or BAD and leave the session and the
/// worker running.
#[tokio::test]
async fn odd_commands_keep_session() {
    let mut worker = Worker::start().await;
    worker.deliver("inbox", &[common::message("a")]);
    let mut client = worker.connect().await;
    let commands = [
        "CREATE \"\"",
        "DELETE \"\"",
        "RENAME INBOX INBOX",
        "RENAME Junk Junk",
        "RENAME Junk Junk/inner",
        "RENAME Archive Drafts",
        "SELECT \"../..\"",
        "STATUS INBOX ()",
        "STATUS nowhere (MESSAGES)",
        "LIST \"\" \"*%*%*%*%*%*%*%*%*%*%*%*%*%*%*%*%*%*%*%*%\"",
        "LIST \"../\" *",
        "SUBSCRIBE \"../x\"",
        "SELECT INBOX",
        "FETCH 1 BODY.PEEK[1.2.3.4.5.6.7.8]",
        "FETCH 1 BODY.PEEK[]<4294967295.4294967295>",
        "FETCH 1 BINARY.PEEK[1.2]",
        "FETCH 1 BODY.PEEK[HEADER.FIELDS (\"\")]",
        "SEARCH LARGER 18446744073709551615",
        "SEARCH HEADER \"\" \"\"",
        "SEARCH NOT NOT NOT NOT NOT NOT NOT NOT ALL",
        "STORE 1 FLAGS ()",
        "COPY 1 \"\"",
        "MOVE 1 INBOX",
        "UID EXPUNGE 1:4294967295",
        "EXPUNGE",
    ];
    for command in commands {
        let lines = client.command(command).await;
        assert!(
            ["OK", "NO", "BAD"].contains(&status(&lines)),
            "{command}: {lines:#?}"
        );
        assert!(
            !lines.last().unwrap().contains("SERVERBUG"),
            "{command}: {lines:#?}"
        );
    }
    client.ok("NOOP").await;
    assert!(!worker.task.is_finished());
    let mut other = worker.connect().await;
    other.ok("SELECT INBOX").await;
    worker.shutdown().await.unwrap();
}

#[tokio::test]
async fn shutdown_removes_private_copies_of_appends() {
    let mut worker = Worker::start().await;
    let mut client = worker.connect().await;
    let message = "Subject: kept\r\n\r\nbody\r\n";
    client
        .send(format!("t1 APPEND inbox {{{}+}}\r\n{message}\r\n", message.len()).as_bytes())
        .await;
    let lines = client.read_tagged("t1").await;
    assert!(lines[0].starts_with("t1 OK [APPENDUID "), "{lines:?}");
    let inbox = worker.mail_root().join("inbox");
    let hidden = |dir: &std::path::Path| -> Vec<String> {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| name.starts_with(asimapd_mh::COPY_PREFIX))
            .collect()
    };
    assert!(!hidden(&inbox).is_empty(), "the append is not watched");

    worker.stop().await.unwrap();
    assert_eq!(hidden(&inbox), Vec::<String>::new());
    assert_eq!(
        std::fs::read_to_string(inbox.join("1")).unwrap(),
        "Subject: kept\n\nbody\n"
    );
}
