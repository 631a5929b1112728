//! Mailbox commands over real MH folders: SELECT, EXAMINE, CREATE, DELETE, RENAME,
//! SUBSCRIBE, LIST, LSUB, STATUS and APPEND.

mod common;

use common::{Worker, message, status};

#[tokio::test]
async fn select_sends_responses_in_order() {
    let mut worker = Worker::start().await;
    let mut client = worker.connect().await;
    worker.deliver("inbox", &[message("a"), message("b")]);
    let lines = client.ok("SELECT INBOX").await;
    assert_eq!(lines[0], "* 2 EXISTS");
    assert_eq!(lines[1], "* 2 RECENT");
    assert!(lines[2].starts_with("* OK [UNSEEN 1]"), "{lines:#?}");
    assert!(lines[3].starts_with("* OK [UIDVALIDITY "), "{lines:#?}");
    assert!(lines[4].starts_with("* OK [UIDNEXT 3]"), "{lines:#?}");
    assert!(
        lines[5].starts_with("* FLAGS (\\Answered \\Deleted \\Draft \\Flagged \\Recent \\Seen"),
        "{lines:#?}"
    );
    assert!(
        lines[6].starts_with(
            "* OK [PERMANENTFLAGS (\\Answered \\Deleted \\Draft \\Flagged \\Seen \\*)]"
        ),
        "{lines:#?}"
    );
    assert_eq!(lines[7], "t1 OK [READ-WRITE] SELECT command completed");
    worker.shutdown().await.unwrap();
}

#[tokio::test]
async fn examine_is_read_only() {
    let mut worker = Worker::start().await;
    let mut client = worker.connect().await;
    let lines = client.ok("EXAMINE INBOX").await;
    assert_eq!(
        lines.last().unwrap(),
        "t1 OK [READ-ONLY] EXAMINE command completed"
    );
    worker.shutdown().await.unwrap();
}

#[tokio::test]
async fn recent_is_claimed_by_one_session() {
    let mut worker = Worker::start().await;
    let mut first = worker.connect().await;
    let mut second = worker.connect().await;
    worker.deliver("inbox", &[message("a")]);
    let lines = first.ok("SELECT INBOX").await;
    assert_eq!(lines[1], "* 1 RECENT");
    let lines = second.ok("SELECT INBOX").await;
    assert_eq!(lines[1], "* 0 RECENT");
    worker.shutdown().await.unwrap();
}

#[tokio::test]
async fn select_missing_mailbox_is_no() {
    let mut worker = Worker::start().await;
    let mut client = worker.connect().await;
    let lines = client.command("SELECT nowhere").await;
    assert_eq!(status(&lines), "NO", "{lines:?}");
    worker.shutdown().await.unwrap();
}

#[tokio::test]
async fn create_makes_intermediate_levels() {
    let mut worker = Worker::start().await;
    let mut client = worker.connect().await;
    client.ok("CREATE a/b/c").await;
    assert!(worker.mail_root().join("a/b/c").is_dir());
    let lines = client.ok("LIST \"\" a*").await;
    assert!(
        lines.contains(&r#"* LIST (\HasChildren) "/" a"#.to_owned()),
        "{lines:#?}"
    );
    assert!(
        lines.contains(&r#"* LIST (\HasNoChildren) "/" a/b/c"#.to_owned()),
        "{lines:#?}"
    );
    worker.shutdown().await.unwrap();
}

#[tokio::test]
async fn create_existing_is_alreadyexists() {
    let mut worker = Worker::start().await;
    let mut client = worker.connect().await;
    client.ok("CREATE x/").await;
    let lines = client.command("CREATE x").await;
    assert!(lines[0].starts_with("t2 NO [ALREADYEXISTS]"), "{lines:?}");
    let lines = client.command("CREATE inbox").await;
    assert!(lines[0].starts_with("t3 NO [ALREADYEXISTS]"), "{lines:?}");
    worker.shutdown().await.unwrap();
}

#[tokio::test]
async fn create_rejects_escaping_names() {
    let mut worker = Worker::start().await;
    let mut client = worker.connect().await;
    for name in ["../evil", "\"/etc/x\"", "a/../../b", "42", "a/7"] {
        let lines = client.command(&format!("CREATE {name}")).await;
        assert!(lines[0].contains(" NO [CANNOT]"), "{name}: {lines:?}");
    }
    assert!(!worker.mail_root().join("../evil").exists());
    worker.shutdown().await.unwrap();
}

#[tokio::test]
async fn create_with_special_use() {
    let mut worker = Worker::start().await;
    let mut client = worker.connect().await;
    client.ok("CREATE Spam (USE (\\Junk))").await;
    let lines = client.ok("LIST \"\" Spam").await;
    assert_eq!(lines[0], r#"* LIST (\HasNoChildren \Junk) "/" Spam"#);
    let lines = client.command("CREATE Every (USE (\\All))").await;
    assert!(lines[0].contains("NO [USEATTR]"), "{lines:?}");
    worker.shutdown().await.unwrap();
}

#[tokio::test]
async fn mutf7_names_round_trip() {
    let mut worker = Worker::start().await;
    let mut client = worker.connect().await;
    client.ok("CREATE Entw&APw-rfe").await;
    client.ok("CREATE \"Tom &- Jerry\"").await;
    assert!(worker.mail_root().join("Entwürfe").is_dir());
    assert!(worker.mail_root().join("Tom & Jerry").is_dir());
    let lines = client.ok("LIST \"\" *").await;
    assert!(
        lines.iter().any(|l| l.ends_with("\"/\" Entw&APw-rfe")),
        "{lines:#?}"
    );
    assert!(
        lines.iter().any(|l| l.ends_with("\"/\" \"Tom &- Jerry\"")),
        "{lines:#?}"
    );
    client.ok("SELECT \"Tom &- Jerry\"").await;
    worker.shutdown().await.unwrap();
}

#[tokio::test]
async fn delete_removes_mailbox() {
    let mut worker = Worker::start().await;
    let mut client = worker.connect().await;
    client.ok("CREATE gone").await;
    client.ok("DELETE gone").await;
    assert!(!worker.mail_root().join("gone").exists());
    let lines = client.command("DELETE gone").await;
    assert!(lines[0].starts_with("t3 NO [NONEXISTENT]"), "{lines:?}");
    worker.shutdown().await.unwrap();
}

#[tokio::test]
async fn delete_inbox_is_refused() {
    let mut worker = Worker::start().await;
    let mut client = worker.connect().await;
    for name in ["INBOX", "inbox", "\"InBox\""] {
        let lines = client.command(&format!("DELETE {name}")).await;
        assert_eq!(status(&lines), "NO", "{lines:?}");
    }
    assert!(worker.mail_root().join("inbox").is_dir());
    worker.shutdown().await.unwrap();
}

#[tokio::test]
async fn delete_with_children_leaves_noselect() {
    let mut worker = Worker::start().await;
    let mut client = worker.connect().await;
    client.ok("CREATE p/q").await;
    worker.deliver("p", &[message("a")]);
    client.ok("DELETE p").await;
    assert!(worker.mail_root().join("p/q").is_dir());
    assert!(!worker.mail_root().join("p/1").exists(), "messages removed");
    let lines = client.ok("LIST \"\" p*").await;
    assert_eq!(lines[0], r#"* LIST (\Noselect \HasChildren) "/" p"#);
    assert_eq!(lines[1], r#"* LIST (\HasNoChildren) "/" p/q"#);

    let lines = client.command("SELECT p").await;
    assert!(lines[0].contains(" NO [NONEXISTENT]"), "{lines:?}");
    let lines = client.command("STATUS p (MESSAGES)").await;
    assert!(lines[0].contains(" NO [NONEXISTENT]"), "{lines:?}");
    client.send(b"t9 APPEND p {5+}\r\nhello\r\n").await;
    let lines = client.read_tagged("t9").await;
    assert!(lines[0].starts_with("t9 NO [TRYCREATE]"), "{lines:?}");
    let lines = client.ok("LIST \"\" p RETURN (STATUS (MESSAGES))").await;
    assert_eq!(lines.len(), 2, "no STATUS for a \\Noselect name: {lines:?}");

    // RFC 9051 §6.3.4: a \Noselect name with inferiors cannot be deleted.
    let lines = client.command("DELETE p").await;
    assert!(lines[0].contains(" NO [HASCHILDREN]"), "{lines:?}");
    client.ok("DELETE p/q").await;
    let lines = client.ok("LIST \"\" p*").await;
    assert_eq!(lines[0], r#"* LIST (\Noselect \HasNoChildren) "/" p"#);
    client.ok("DELETE p").await;
    assert!(!worker.mail_root().join("p").exists());
    worker.shutdown().await.unwrap();
}

#[tokio::test]
async fn create_revives_noselect_mailbox() {
    let mut worker = Worker::start().await;
    let mut client = worker.connect().await;
    client.ok("CREATE p/q").await;
    client.ok("DELETE p").await;
    client.ok("RENAME p r").await;
    let lines = client.ok("LIST \"\" r").await;
    assert_eq!(lines[0], r#"* LIST (\Noselect \HasChildren) "/" r"#);
    client.ok("CREATE r").await;
    let lines = client.ok("LIST \"\" r").await;
    assert_eq!(lines[0], r#"* LIST (\HasChildren) "/" r"#);
    client.ok("SELECT r").await;
    let lines = client.command("CREATE r").await;
    assert!(lines[0].contains(" NO [ALREADYEXISTS]"), "{lines:?}");
    worker.shutdown().await.unwrap();
}

#[tokio::test]
async fn lsub_marks_noselect_names() {
    let mut worker = Worker::start().await;
    let mut client = worker.connect().await;
    client.ok("CREATE p/q").await;
    client.ok("SUBSCRIBE p").await;
    client.ok("DELETE p").await;
    let lines = client.ok("LSUB \"\" p").await;
    assert_eq!(lines[0], r#"* LSUB (\Noselect) "/" p"#);
    worker.shutdown().await.unwrap();
}

#[tokio::test]
async fn rename_moves_children() {
    let mut worker = Worker::start().await;
    let mut client = worker.connect().await;
    client.ok("CREATE old/kid").await;
    worker.deliver("old", &[message("a")]);
    let before = client.ok("STATUS old (UIDVALIDITY)").await;
    client.ok("RENAME old new").await;
    assert!(worker.mail_root().join("new/kid").is_dir());
    assert!(!worker.mail_root().join("old").exists());
    let after = client.ok("STATUS new (UIDVALIDITY MESSAGES)").await;
    let validity = before[0]
        .trim_start_matches("* STATUS old (")
        .trim_end_matches(')');
    assert!(after[0].contains(validity), "{before:?} {after:?}");
    assert!(after[0].contains("MESSAGES 1"), "{after:?}");
    let lines = client.command("RENAME missing other").await;
    assert!(lines[0].contains("NO [NONEXISTENT]"), "{lines:?}");
    let lines = client.command("RENAME new NEW/../new").await;
    assert!(lines[0].contains("NO [CANNOT]"), "{lines:?}");
    let lines = client.command("RENAME new new").await;
    assert!(lines[0].contains("NO [ALREADYEXISTS]"), "{lines:?}");
    let lines = client.command("RENAME new new/kid/deeper").await;
    assert!(lines[0].contains("NO [CANNOT]"), "into itself: {lines:?}");
    worker.shutdown().await.unwrap();
}

#[tokio::test]
async fn rename_inbox_moves_messages() {
    let mut worker = Worker::start().await;
    let mut client = worker.connect().await;
    worker.deliver("inbox", &[message("a"), message("b")]);
    client.ok("CREATE INBOX/kid").await;
    client.ok("RENAME INBOX saved").await;
    let lines = client.ok("STATUS INBOX (MESSAGES)").await;
    assert_eq!(lines[0], "* STATUS INBOX (MESSAGES 0)");
    let lines = client.ok("STATUS saved (MESSAGES)").await;
    assert_eq!(lines[0], "* STATUS saved (MESSAGES 2)");
    assert!(worker.mail_root().join("inbox/kid").is_dir());
    worker.shutdown().await.unwrap();
}

#[tokio::test]
async fn subscribe_and_lsub() {
    let mut worker = Worker::start().await;
    let mut client = worker.connect().await;
    client.ok("CREATE lists/rust").await;
    client.ok("SUBSCRIBE lists/rust").await;
    client.ok("SUBSCRIBE ghost").await;
    let lines = client.ok("LSUB \"\" *").await;
    assert!(
        lines.contains(&r#"* LSUB () "/" lists/rust"#.to_owned()),
        "{lines:#?}"
    );
    assert!(
        lines.contains(&r#"* LSUB (\Noselect) "/" ghost"#.to_owned()),
        "{lines:#?}"
    );
    client.ok("UNSUBSCRIBE lists/rust").await;
    let lines = client.ok("LSUB \"\" lists/*").await;
    assert_eq!(lines.len(), 1, "{lines:#?}");
    worker.shutdown().await.unwrap();
}

#[tokio::test]
async fn list_empty_pattern_returns_delimiter() {
    let mut worker = Worker::start().await;
    let mut client = worker.connect().await;
    let lines = client.ok("LIST \"\" \"\"").await;
    assert_eq!(lines[0], r#"* LIST (\Noselect) "/" """#);
    worker.shutdown().await.unwrap();
}

#[tokio::test]
async fn list_percent_shows_top_level_with_children() {
    let mut worker = Worker::start().await;
    let mut client = worker.connect().await;
    client.ok("CREATE top/sub").await;
    let lines = client.ok("LIST \"\" %").await;
    assert!(
        lines.contains(&r#"* LIST (\HasChildren) "/" top"#.to_owned()),
        "{lines:#?}"
    );
    assert!(
        lines.contains(&r#"* LIST (\HasNoChildren) "/" INBOX"#.to_owned()),
        "{lines:#?}"
    );
    assert!(
        lines.contains(&r#"* LIST (\HasNoChildren \Sent) "/" "Sent Messages""#.to_owned()),
        "{lines:#?}"
    );
    assert!(
        lines.contains(&r#"* LIST (\HasNoChildren \Trash) "/" "Deleted Messages""#.to_owned()),
        "{lines:#?}"
    );
    assert!(!lines.iter().any(|l| l.ends_with("top/sub")), "{lines:#?}");
    client.ok("DELETE top/sub").await;
    let lines = client.ok("LIST \"\" top").await;
    assert_eq!(lines[0], r#"* LIST (\HasNoChildren) "/" top"#);
    worker.shutdown().await.unwrap();
}

#[tokio::test]
async fn list_extended_subscribed_and_recursivematch() {
    let mut worker = Worker::start().await;
    let mut client = worker.connect().await;
    client.ok("CREATE box/child").await;
    client.ok("SUBSCRIBE box/child").await;
    client.ok("SUBSCRIBE vanished").await;
    let lines = client.ok("LIST (SUBSCRIBED) \"\" *").await;
    assert!(
        lines.contains(&r#"* LIST (\HasNoChildren \Subscribed) "/" box/child"#.to_owned()),
        "{lines:#?}"
    );
    assert!(
        lines.contains(&r#"* LIST (\NonExistent \Subscribed) "/" vanished"#.to_owned()),
        "{lines:#?}"
    );
    let lines = client.ok("LIST (SUBSCRIBED RECURSIVEMATCH) \"\" %").await;
    assert!(
        lines.contains(&r#"* LIST (\HasChildren) "/" box ("CHILDINFO" ("SUBSCRIBED"))"#.to_owned()),
        "{lines:#?}"
    );
    let lines = client.command("LIST (RECURSIVEMATCH) \"\" %").await;
    assert_eq!(status(&lines), "BAD");
    let lines = client
        .ok("LIST \"\" (box box/child) RETURN (SUBSCRIBED)")
        .await;
    assert_eq!(lines[0], r#"* LIST (\HasChildren) "/" box"#);
    assert_eq!(
        lines[1],
        r#"* LIST (\HasNoChildren \Subscribed) "/" box/child"#
    );
    worker.shutdown().await.unwrap();
}

#[tokio::test]
async fn list_special_use_selection() {
    let mut worker = Worker::start().await;
    let mut client = worker.connect().await;
    let lines = client.ok("LIST (SPECIAL-USE) \"\" *").await;
    assert_eq!(lines.len(), 6, "{lines:#?}");
    assert!(
        lines.contains(&r#"* LIST (\HasNoChildren \Drafts) "/" Drafts"#.to_owned()),
        "{lines:#?}"
    );
    worker.shutdown().await.unwrap();
}

#[tokio::test]
async fn list_status_follows_each_entry() {
    let mut worker = Worker::start().await;
    let mut client = worker.connect().await;
    worker.deliver("inbox", &[message("a")]);
    let lines = client
        .ok("LIST \"\" INBOX RETURN (STATUS (MESSAGES UNSEEN))")
        .await;
    assert_eq!(lines[0], r#"* LIST (\HasNoChildren) "/" INBOX"#);
    assert_eq!(lines[1], "* STATUS INBOX (MESSAGES 1 UNSEEN 1)");
    worker.shutdown().await.unwrap();
}

#[tokio::test]
async fn status_reports_counters() {
    let mut worker = Worker::start().await;
    let mut client = worker.connect().await;
    worker.deliver("inbox", &[message("a"), message("b")]);
    let lines = client
        .ok("STATUS inbox (UIDNEXT MESSAGES RECENT UNSEEN UIDVALIDITY)")
        .await;
    assert!(
        lines[0].starts_with("* STATUS INBOX (UIDNEXT 3 MESSAGES 2 RECENT 2 UNSEEN 2 UIDVALIDITY "),
        "{lines:?}"
    );
    client.ok("SELECT INBOX").await;
    let lines = client.ok("STATUS INBOX (RECENT)").await;
    assert_eq!(lines[0], "* STATUS INBOX (RECENT 0)");
    worker.shutdown().await.unwrap();
}

#[tokio::test]
async fn append_returns_appenduid() {
    let mut worker = Worker::start().await;
    let mut client = worker.connect().await;
    let body = message("appended");
    client
        .send(
            format!(
                "t1 APPEND Drafts (\\Seen \\Draft) \"02-Jan-2024 10:00:00 +0200\" {{{}}}\r\n",
                body.len()
            )
            .as_bytes(),
        )
        .await;
    assert_eq!(client.read_line().await, "+ Ready for literal data");
    client.send(&body).await;
    client.send(b"\r\n").await;
    let lines = client.read_tagged("t1").await;
    assert!(lines[0].starts_with("t1 OK [APPENDUID "), "{lines:?}");
    assert!(
        lines[0].contains(" 1] APPEND command completed"),
        "{lines:?}"
    );
    let lines = client.ok("STATUS Drafts (MESSAGES UNSEEN)").await;
    assert_eq!(lines[0], "* STATUS Drafts (MESSAGES 1 UNSEEN 0)");
    worker.shutdown().await.unwrap();
}

#[tokio::test]
async fn append_non_synchronizing_literal() {
    let mut worker = Worker::start().await;
    let mut client = worker.connect().await;
    let body = message("plus");
    let mut command = format!("t1 APPEND INBOX {{{}+}}\r\n", body.len()).into_bytes();
    command.extend_from_slice(&body);
    command.extend_from_slice(b"\r\nt2 NOOP\r\n");
    client.send(&command).await;
    let lines = client.read_tagged("t1").await;
    assert!(lines[0].starts_with("t1 OK [APPENDUID "), "{lines:?}");
    assert_eq!(client.read_line().await, "t2 OK NOOP command completed");
    worker.shutdown().await.unwrap();
}

#[tokio::test]
async fn append_to_missing_mailbox_is_trycreate() {
    let mut worker = Worker::start().await;
    let mut client = worker.connect().await;
    client.send(b"t1 APPEND nowhere {5+}\r\nhello\r\n").await;
    let lines = client.read_tagged("t1").await;
    assert!(lines[0].starts_with("t1 NO [TRYCREATE]"), "{lines:?}");
    worker.shutdown().await.unwrap();
}

#[tokio::test]
async fn append_over_limit_is_limit() {
    let mut worker = Worker::start().await;
    let mut client = worker.connect().await;
    let too_big = asimapd_proto::MAX_LITERAL_LEN + 1;
    client
        .send(format!("t1 APPEND INBOX {{{too_big}}}\r\n").as_bytes())
        .await;
    let lines = client.read_tagged("t1").await;
    assert!(lines[0].starts_with("t1 NO [LIMIT]"), "{lines:?}");
    client.ok("NOOP").await;
    worker.shutdown().await.unwrap();
}

#[tokio::test]
async fn append_to_selected_mailbox_announces_exists() {
    let mut worker = Worker::start().await;
    let mut client = worker.connect().await;
    client.ok("SELECT INBOX").await;
    client.send(b"t9 APPEND INBOX {5+}\r\nhello\r\n").await;
    let lines = client.read_tagged("t9").await;
    assert_eq!(lines[0], "* 1 EXISTS", "{lines:?}");
    assert_eq!(lines[1], "* 1 RECENT", "{lines:?}");
    assert!(lines[2].starts_with("t9 OK [APPENDUID"), "{lines:?}");
    worker.shutdown().await.unwrap();
}

#[tokio::test]
async fn nmh_folder_create_appears_in_list() {
    let mut worker = Worker::start_nmh().await;
    let mut client = worker.connect().await;
    worker.nmh().create_folder("fromnmh");
    let lines = client.ok("LIST \"\" fromnmh").await;
    assert_eq!(lines[0], r#"* LIST (\HasNoChildren) "/" fromnmh"#);

    worker.nmh().create_folder("fromnmh/kid");
    let lines = client.ok("LIST \"\" fromnmh*").await;
    assert_eq!(lines[0], r#"* LIST (\HasChildren) "/" fromnmh"#);
    assert_eq!(lines[1], r#"* LIST (\HasNoChildren) "/" fromnmh/kid"#);
    worker.nmh().run("rmf", &["+fromnmh/kid", "-nointeractive"]);
    let lines = client.ok("LIST \"\" fromnmh*").await;
    assert_eq!(lines[0], r#"* LIST (\HasNoChildren) "/" fromnmh"#);
    assert_eq!(lines.len(), 2, "{lines:#?}");
    worker.shutdown().await.unwrap();
}

#[tokio::test]
async fn list_return_children_and_special_use() {
    let mut worker = Worker::start().await;
    let mut client = worker.connect().await;
    client.ok("CREATE Junk/old").await;
    let lines = client
        .ok("LIST \"\" (INBOX Junk) RETURN (CHILDREN SPECIAL-USE)")
        .await;
    assert_eq!(lines.len(), 3, "{lines:#?}");
    assert!(
        lines.contains(&r#"* LIST (\HasChildren \Junk) "/" Junk"#.to_owned()),
        "{lines:#?}"
    );
    assert!(
        lines.contains(&r#"* LIST (\HasNoChildren) "/" INBOX"#.to_owned()),
        "{lines:#?}"
    );
    let lines = client.ok("LIST (REMOTE) \"\" INBOX").await;
    assert_eq!(lines[0], r#"* LIST (\HasNoChildren) "/" INBOX"#);
    let lines = client
        .ok("LIST (SPECIAL-USE) \"\" J* RETURN (SPECIAL-USE)")
        .await;
    assert_eq!(lines.len(), 2, "Junk/old has no special use: {lines:#?}");
    let lines = client.command("LIST (BOGUS) \"\" *").await;
    assert_eq!(status(&lines), "BAD", "{lines:#?}");
    worker.shutdown().await.unwrap();
}

#[tokio::test]
async fn list_recursivematch_with_several_patterns() {
    let mut worker = Worker::start().await;
    let mut client = worker.connect().await;
    client.ok("CREATE a/deep/leaf").await;
    client.ok("CREATE b/kid").await;
    client.ok("SUBSCRIBE a/deep/leaf").await;
    client.ok("SUBSCRIBE b").await;
    let lines = client
        .ok("LIST (SUBSCRIBED RECURSIVEMATCH) \"\" (a b) RETURN (CHILDREN)")
        .await;
    assert_eq!(lines.len(), 3, "{lines:#?}");
    assert!(
        lines.contains(&r#"* LIST (\HasChildren) "/" a ("CHILDINFO" ("SUBSCRIBED"))"#.to_owned()),
        "{lines:#?}"
    );
    assert!(
        lines.contains(&r#"* LIST (\HasChildren \Subscribed) "/" b"#.to_owned()),
        "{lines:#?}"
    );
    worker.shutdown().await.unwrap();
}

#[tokio::test]
async fn select_while_selected_sends_closed() {
    let mut worker = Worker::start().await;
    let mut client = worker.connect().await;
    client.ok("SELECT INBOX").await;
    let lines = client.ok("EXAMINE Archive").await;
    assert!(lines[0].starts_with("* OK [CLOSED]"), "{lines:#?}");
    let lines = client.command("SELECT nowhere").await;
    assert!(lines[0].starts_with("* OK [CLOSED]"), "{lines:#?}");
    assert_eq!(status(&lines), "NO", "{lines:#?}");
    let lines = client.command("FETCH 1 FLAGS").await;
    assert_eq!(
        status(&lines),
        "BAD",
        "a failed SELECT leaves no mailbox: {lines:#?}"
    );
    worker.shutdown().await.unwrap();
}

#[tokio::test]
async fn close_after_examine_keeps_deleted() {
    let mut worker = Worker::start().await;
    worker.deliver("inbox", &[message("a"), message("b")]);
    let mut client = worker.connect().await;
    client.ok("SELECT INBOX").await;
    client.ok("STORE 1 +FLAGS.SILENT (\\Deleted)").await;
    client.ok("CHECK").await;
    client.ok("EXAMINE INBOX").await;
    let lines = client.ok("CLOSE").await;
    assert_eq!(lines.len(), 1, "{lines:#?}");
    let lines = client.ok("STATUS INBOX (MESSAGES)").await;
    assert_eq!(lines[0], "* STATUS INBOX (MESSAGES 2)");
    assert!(worker.mail_root().join("inbox/1").exists());
    worker.shutdown().await.unwrap();
}

#[tokio::test]
async fn inbox_is_special_only_at_top() {
    let mut worker = Worker::start().await;
    let mut client = worker.connect().await;
    client.ok("SELECT iNbOx").await;
    client.ok("CREATE lists/INBOX").await;
    assert!(worker.mail_root().join("lists/INBOX").is_dir());
    let lines = client.ok("LIST \"\" lists/%").await;
    assert_eq!(lines[0], r#"* LIST (\HasNoChildren) "/" lists/INBOX"#);
    let lines = client.command("SELECT lists/inbox").await;
    assert_eq!(status(&lines), "NO", "{lines:#?}");
    worker.shutdown().await.unwrap();
}

#[tokio::test]
async fn append_keeps_flags_and_date() {
    let mut worker = Worker::start().await;
    let mut client = worker.connect().await;
    let body = message("dated");
    let command = format!(
        "t1 APPEND Drafts (\\Draft $Sent) \"02-Jan-2024 23:30:00 -0500\" {{{}+}}\r\n",
        body.len()
    );
    client.send(command.as_bytes()).await;
    client.send(&body).await;
    client.send(b"\r\n").await;
    let lines = client.read_tagged("t1").await;
    assert_eq!(status(&lines), "OK", "{lines:#?}");
    client.ok("SELECT Drafts").await;
    let lines = client.ok("FETCH 1 (INTERNALDATE FLAGS)").await;
    assert_eq!(
        lines[0],
        r#"* 1 FETCH (INTERNALDATE " 2-Jan-2024 23:30:00 -0500" FLAGS (\Draft \Recent $Sent))"#,
        "date-day-fixed pads the day with a space (RFC 9051 §9)"
    );
    // RFC 9051 §6.4.4: date keys compare the date of INTERNALDATE in its own zone.
    for (command, expected) in [
        ("SEARCH ON 2-Jan-2024", "* SEARCH 1"),
        ("SEARCH SINCE 3-Jan-2024", "* SEARCH"),
        ("SEARCH BEFORE 3-Jan-2024", "* SEARCH 1"),
        ("SEARCH SENTON 1-Jan-2024", "* SEARCH 1"),
    ] {
        let lines = client.ok(command).await;
        assert_eq!(lines[0], expected, "{command}");
    }
    let marks = worker.nmh().mark_list("Drafts");
    assert!(marks.contains("Draft: 1"), "{marks}");
    worker.shutdown().await.unwrap();
}

/// RFC 3501 §6.3.2: EXAMINE must not make messages lose `\Recent`.
#[tokio::test]
async fn examine_leaves_recent_for_select() {
    let mut worker = Worker::start().await;
    let mut first = worker.connect().await;
    let mut second = worker.connect().await;
    worker.deliver("inbox", &[message("a")]);
    let lines = first.ok("EXAMINE INBOX").await;
    assert_eq!(lines[1], "* 1 RECENT");
    let lines = second.ok("SELECT INBOX").await;
    assert_eq!(lines[1], "* 1 RECENT");
    worker.shutdown().await.unwrap();
}

#[tokio::test]
async fn append_large_literal_round_trips() {
    let mut worker = Worker::start().await;
    let mut client = worker.connect().await;
    let mut body = b"From: big@example.org\r\nSubject: big\r\n\r\n".to_vec();
    let mut line = 0u32;
    while body.len() < 8 * 1024 * 1024 {
        body.extend_from_slice(format!("line {line:08} of the large message\r\n").as_bytes());
        line += 1;
    }
    let command = format!("t1 APPEND Archive {{{}}}\r\n", body.len());
    client.send(command.as_bytes()).await;
    assert_eq!(client.read_line().await, "+ Ready for literal data");
    client.send(&body).await;
    client.send(b"\r\n").await;
    let lines = client.read_tagged("t1").await;
    assert!(lines[0].starts_with("t1 OK [APPENDUID "), "{lines:?}");

    client.ok("SELECT Archive").await;
    let lines = client.ok("FETCH 1 RFC822.SIZE").await;
    assert_eq!(lines[0], format!("* 1 FETCH (RFC822.SIZE {})", body.len()));
    let tail_start = body.len() - 40;
    let lines = client
        .ok(&format!("FETCH 1 BODY.PEEK[]<{tail_start}.40>"))
        .await;
    let tail = String::from_utf8_lossy(&body[tail_start..]);
    assert_eq!(lines[1], format!("{tail})"));
    worker.shutdown().await.unwrap();
}

#[tokio::test]
async fn append_of_empty_message_is_answered() {
    let mut worker = Worker::start().await;
    let mut client = worker.connect().await;
    client.send(b"t1 APPEND inbox {0+}\r\n\r\n").await;
    let lines = client.read_tagged("t1").await;
    assert!(lines[0].starts_with("t1 NO "), "{lines:?}");
    client.send(b"t2 APPEND inbox {0}\r\n").await;
    assert!(client.read_line().await.starts_with("+ "));
    client.send(b"\r\n").await;
    let lines = client.read_tagged("t2").await;
    assert!(lines[0].starts_with("t2 NO "), "{lines:?}");
    client.ok("NOOP").await;
    assert!(
        !worker.mail_root().join("inbox/1").exists(),
        "empty message stored"
    );
    worker.shutdown().await.unwrap();
}

#[tokio::test]
async fn append_rejects_flags_store_rejects() {
    let mut worker = Worker::start().await;
    let mut client = worker.connect().await;
    for (tag, flag) in [("t1", "\\Recent"), ("t2", "\\Bogus")] {
        client
            .send(format!("{tag} APPEND inbox ({flag}) {{8+}}\r\nSubject:\r\n").as_bytes())
            .await;
        let lines = client.read_tagged(tag).await;
        assert!(lines[0].starts_with(&format!("{tag} BAD ")), "{lines:?}");
    }
    assert!(
        !worker.mail_root().join("inbox/1").exists(),
        "message stored"
    );
    worker.shutdown().await.unwrap();
}
