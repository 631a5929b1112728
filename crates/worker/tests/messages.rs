//! Message commands over real MH folders: FETCH, STORE, SEARCH, COPY, MOVE and EXPUNGE,
//! with sequence-set edge cases and fixtures from the message analysis corpus.

mod common;

use common::{Client, Worker, literal_len, message, status};

const MIXED: &[u8] = include_bytes!("../../mime/tests/fixtures/03-mixed-attachments.eml");
const ALTERNATIVE: &[u8] = include_bytes!("../../mime/tests/fixtures/02-alternative-qp.eml");

/// Starts a worker with `messages` in INBOX and a session that selected it.
async fn selected(messages: &[Vec<u8>]) -> (Worker, Client) {
    let mut worker = Worker::start().await;
    worker.deliver("inbox", messages);
    let mut client = worker.connect().await;
    client.ok("SELECT INBOX").await;
    (worker, client)
}

fn three() -> Vec<Vec<u8>> {
    vec![message("one"), message("two"), message("three")]
}

#[tokio::test]
async fn fetch_fast_items() {
    let (worker, mut client) = selected(&three()).await;
    let lines = client.ok("FETCH 1:* FAST").await;
    assert_eq!(lines.len(), 4, "{lines:#?}");
    assert!(
        lines[0].starts_with("* 1 FETCH (FLAGS (\\Recent) INTERNALDATE \""),
        "{lines:#?}"
    );
    let size = message("one").len() + message("one").iter().filter(|b| **b == b'\n').count();
    assert!(
        lines[0].ends_with(&format!("RFC822.SIZE {size})")),
        "{lines:#?}"
    );
    worker.shutdown().await.unwrap();
}

#[tokio::test]
async fn uid_fetch_includes_uid_once() {
    let (worker, mut client) = selected(&three()).await;
    let lines = client.ok("UID FETCH 2 FLAGS").await;
    assert_eq!(lines[0], "* 2 FETCH (UID 2 FLAGS (\\Recent))");
    let lines = client.ok("UID FETCH 2 (FLAGS UID)").await;
    assert_eq!(lines[0], "* 2 FETCH (FLAGS (\\Recent) UID 2)");
    worker.shutdown().await.unwrap();
}

#[tokio::test]
async fn fetch_body_sets_seen() {
    let (worker, mut client) = selected(&three()).await;
    let lines = client.ok("FETCH 1 BODY[TEXT]").await;
    assert_eq!(lines[0], "* 1 FETCH (BODY[TEXT] {13}");
    assert_eq!(lines[1], "body of one\r\n FLAGS (\\Recent \\Seen))");
    let unseen = worker
        .nmh()
        .run("mark", &["+inbox", "-list", "-sequence", "unseen"]);
    assert_eq!(unseen.trim(), "unseen: 2-3");
    let lines = client.ok("FETCH 1 FLAGS").await;
    assert_eq!(lines[0], "* 1 FETCH (FLAGS (\\Recent \\Seen))");
    worker.shutdown().await.unwrap();
}

#[tokio::test]
async fn body_peek_keeps_seen_unset() {
    let (worker, mut client) = selected(&three()).await;
    let lines = client
        .ok("FETCH 2 (BODY.PEEK[HEADER.FIELDS (Subject)] FLAGS)")
        .await;
    assert_eq!(lines[0], "* 2 FETCH (BODY[HEADER.FIELDS (Subject)] {16}");
    assert_eq!(lines[1], "Subject: two\r\n\r\n FLAGS (\\Recent))");
    let lines = client.ok("FETCH 2 RFC822.HEADER").await;
    assert!(!lines.concat().contains("\\Seen"), "{lines:#?}");
    worker.shutdown().await.unwrap();
}

#[tokio::test]
async fn examine_fetch_keeps_unseen() {
    let mut worker = Worker::start().await;
    worker.deliver("inbox", &three());
    let mut client = worker.connect().await;
    client.ok("EXAMINE INBOX").await;
    let lines = client.ok("FETCH 1 (RFC822 FLAGS)").await;
    assert!(!lines.concat().contains("\\Seen"), "{lines:#?}");
    let lines = client.ok("STATUS INBOX (UNSEEN)").await;
    assert_eq!(lines[0], "* STATUS INBOX (UNSEEN 3)");
    worker.shutdown().await.unwrap();
}

#[tokio::test]
async fn fetch_partial_labels_origin() {
    let (worker, mut client) = selected(&three()).await;
    let lines = client.ok("FETCH 1 BODY.PEEK[]<0.10>").await;
    assert_eq!(lines[0], "* 1 FETCH (BODY[]<0> {10}");
    assert_eq!(lines[1], "From: test)");
    let lines = client.ok("FETCH 1 BODY.PEEK[TEXT]<5.1000>").await;
    assert_eq!(lines[0], "* 1 FETCH (BODY[TEXT]<5> {8}");
    worker.shutdown().await.unwrap();
}

#[tokio::test]
async fn fetch_macros_expand() {
    let (worker, mut client) = selected(&[MIXED.to_vec()]).await;
    let all = client.ok("FETCH 1 ALL").await;
    assert!(
        all[0]
            .contains(" ENVELOPE (\"Tue, 1 Apr 2025 08:00:00 +0000\" \"Report with attachments\""),
        "{all:#?}"
    );
    let full = client.ok("FETCH 1 FULL").await;
    assert!(full[0].contains(" BODY (("), "{full:#?}");
    assert!(
        full[0].to_ascii_uppercase().contains("\"MIXED\")"),
        "{full:#?}"
    );
    let structure = client.ok("FETCH 1 BODYSTRUCTURE").await;
    let structure = structure[0].to_ascii_uppercase();
    assert!(
        structure.starts_with("* 1 FETCH (BODYSTRUCTURE ((\"TEXT\" \"PLAIN\""),
        "{structure}"
    );
    worker.shutdown().await.unwrap();
}

#[tokio::test]
async fn fetch_mime_and_binary_sections() {
    let (worker, mut client) = selected(&[MIXED.to_vec()]).await;
    let lines = client.ok("FETCH 1 BODY.PEEK[2.MIME]").await;
    assert!(
        lines[1].starts_with("Content-Type: application/pdf"),
        "{lines:#?}"
    );
    let lines = client.ok("FETCH 1 (BINARY.PEEK[2] BINARY.SIZE[2])").await;
    assert!(
        lines[0].starts_with("* 1 FETCH (BINARY[2] {30}"),
        "{lines:#?}"
    );
    assert!(lines[1].starts_with("%PDF-1.4"), "{lines:#?}");
    assert!(lines[1].ends_with("BINARY.SIZE[2] 30)"), "{lines:#?}");
    let lines = client.ok("FETCH 1 BINARY.PEEK[2]<1.4>").await;
    assert_eq!(lines[0], "* 1 FETCH (BINARY[2]<1> \"PDF-\")");
    let lines = client.ok("FETCH 1 BINARY.PEEK[2]<40.4>").await;
    assert_eq!(
        lines[0], "* 1 FETCH (BINARY[2]<40> \"\")",
        "origin beyond the end"
    );
    let lines = client.ok("FETCH 1 BODY.PEEK[9]").await;
    assert_eq!(
        lines[0], "* 1 FETCH (BODY[9] {0}",
        "a missing part is served empty"
    );
    worker.shutdown().await.unwrap();
}

#[tokio::test]
async fn sequence_set_edge_cases() {
    let (worker, mut client) = selected(&three()).await;
    let lines = client.command("FETCH 4 FLAGS").await;
    assert_eq!(status(&lines), "BAD", "{lines:#?}");
    let lines = client.ok("FETCH *:2 UID").await;
    assert_eq!(lines[..2], ["* 2 FETCH (UID 2)", "* 3 FETCH (UID 3)"]);
    let lines = client.ok("UID FETCH 4294967295 UID").await;
    assert_eq!(lines.len(), 1, "{lines:#?}");
    let lines = client.ok("UID FETCH 7:9 UID").await;
    assert_eq!(lines.len(), 1, "{lines:#?}");
    let lines = client.ok("UID FETCH 7:* UID").await;
    assert_eq!(
        lines[0], "* 3 FETCH (UID 3)",
        "7:* includes the highest UID (RFC 9051 §6.4.9)"
    );
    let lines = client.ok("UID FETCH 3,1 UID").await;
    assert_eq!(lines.len(), 3);
    worker.shutdown().await.unwrap();
}

#[tokio::test]
async fn empty_mailbox_star_is_bad_by_number() {
    let (worker, mut client) = selected(&[]).await;
    let lines = client.command("FETCH 1:* FLAGS").await;
    assert_eq!(status(&lines), "BAD", "{lines:#?}");
    let lines = client.ok("UID FETCH 1:* FLAGS").await;
    assert_eq!(lines.len(), 1, "{lines:#?}");
    let lines = client.ok("SEARCH ALL").await;
    assert_eq!(lines[0], "* SEARCH");
    worker.shutdown().await.unwrap();
}

#[tokio::test]
async fn store_changes_flags() {
    let (worker, mut client) = selected(&three()).await;
    let lines = client.ok("STORE 1 +FLAGS (\\flagged $Work)").await;
    assert_eq!(lines[0], "* 1 FETCH (FLAGS (\\Flagged \\Recent $Work))");
    let lines = client.ok("UID STORE 1 -FLAGS (\\Flagged)").await;
    assert_eq!(lines[0], "* 1 FETCH (FLAGS (\\Recent $Work) UID 1)");
    let lines = client.ok("STORE 2 FLAGS (\\Answered \\Seen)").await;
    assert_eq!(lines[0], "* 2 FETCH (FLAGS (\\Answered \\Recent \\Seen))");
    let lines = client.ok("STORE 3 +FLAGS.SILENT (\\Deleted)").await;
    assert_eq!(lines.len(), 1, "{lines:#?}");
    let marks = worker.nmh().mark_list("inbox");
    assert!(marks.contains("replied: 2"), "{marks}");
    assert!(marks.contains("Deleted: 3"), "{marks}");
    assert!(marks.contains("unseen: 1 3"), "{marks}");
    let lines = client.command("STORE 1 +FLAGS (\\Recent)").await;
    assert_eq!(status(&lines), "BAD", "{lines:#?}");
    let lines = client.command("STORE 1 +FLAGS (\\Important)").await;
    assert_eq!(status(&lines), "BAD", "undefined system flag: {lines:#?}");
    worker.shutdown().await.unwrap();
}

#[tokio::test]
async fn store_in_examine_is_no() {
    let mut worker = Worker::start().await;
    worker.deliver("inbox", &three());
    let mut client = worker.connect().await;
    client.ok("EXAMINE INBOX").await;
    let commands = [
        "STORE 1 +FLAGS (\\Seen)",
        "EXPUNGE",
        "UID EXPUNGE 1",
        "MOVE 1 Junk",
        "UID MOVE 1 Junk",
    ];
    for command in commands {
        let lines = client.command(command).await;
        assert_eq!(status(&lines), "NO", "{command}: {lines:#?}");
    }
    worker.shutdown().await.unwrap();
}

#[tokio::test]
async fn search_keys() {
    let mut messages = three();
    messages.push(MIXED.to_vec());
    messages.push(ALTERNATIVE.to_vec());
    let (worker, mut client) = selected(&messages).await;
    client.ok("STORE 2 +FLAGS (\\Seen \\Draft)").await;
    client.ok("STORE 3 +FLAGS ($Work \\Flagged)").await;
    client.ok("STORE 4 +FLAGS (\\Answered)").await;
    let cases = [
        ("SEARCH ALL", "* SEARCH 1 2 3 4 5"),
        ("SEARCH SEEN", "* SEARCH 2"),
        ("SEARCH UNDRAFT", "* SEARCH 1 3 4 5"),
        ("SEARCH NOT SEEN SUBJECT t", "* SEARCH 3 4 5"),
        ("SEARCH OR SUBJECT one (SUBJECT three)", "* SEARCH 1 3"),
        ("SEARCH (OR 1 5) NOT 5", "* SEARCH 1"),
        ("SEARCH FROM KELD", "* SEARCH 5"),
        ("SEARCH CHARSET UTF-8 BODY {5+}\r\nköln", "* SEARCH 5"),
        ("SEARCH BODY KOLN", "* SEARCH"),
        ("SEARCH CHARSET UTF-8 TEXT {5+}\r\nMärz", "* SEARCH 4"),
        ("SEARCH BODY \"%PDF\"", "* SEARCH"),
        ("SEARCH HEADER Content-Language \"\"", "* SEARCH"),
        ("SEARCH HEADER In-Reply-To prev", "* SEARCH 5"),
        ("SEARCH SENTBEFORE 1-Jan-2025", "* SEARCH 1 2 3 5"),
        ("SEARCH SENTON 1-Apr-2025", "* SEARCH 4"),
        ("SEARCH SENTSINCE 17-Oct-2024", "* SEARCH 4 5"),
        ("SEARCH SINCE 1-Jan-2000", "* SEARCH 1 2 3 4 5"),
        ("SEARCH BEFORE 1-Jan-2000", "* SEARCH"),
        ("SEARCH LARGER 500", "* SEARCH 4 5"),
        ("SEARCH SMALLER 500", "* SEARCH 1 2 3"),
        ("SEARCH UID 4:*", "* SEARCH 4 5"),
        ("SEARCH 2:* UNSEEN", "* SEARCH 3 4 5"),
        ("UID SEARCH RECENT", "* SEARCH 1 2 3 4 5"),
        ("SEARCH NEW", "* SEARCH 1 3 4 5"),
        ("SEARCH OLD", "* SEARCH"),
        ("SEARCH ((SEEN) (OR DRAFT (NOT FLAGGED)))", "* SEARCH 2"),
        ("SEARCH (OR (FLAGGED ANSWERED) SEEN)", "* SEARCH 2"),
        ("SEARCH CHARSET US-ASCII SUBJECT TWO", "* SEARCH 2"),
        ("SEARCH KEYWORD $Work", "* SEARCH 3"),
        ("SEARCH UNKEYWORD $Work", "* SEARCH 1 2 4 5"),
        ("SEARCH FLAGGED", "* SEARCH 3"),
        ("SEARCH UNFLAGGED", "* SEARCH 1 2 4 5"),
        ("SEARCH ANSWERED", "* SEARCH 4"),
        ("SEARCH UNANSWERED", "* SEARCH 1 2 3 5"),
        ("SEARCH DRAFT", "* SEARCH 2"),
        ("SEARCH DELETED", "* SEARCH"),
        ("SEARCH UNDELETED", "* SEARCH 1 2 3 4 5"),
        ("SEARCH TO recipient@example.org", "* SEARCH 4"),
        ("SEARCH CC charlie", "* SEARCH 5"),
        ("SEARCH BCC anyone", "* SEARCH"),
        ("SEARCH SUBJECT \"IF YOU CAN READ\"", "* SEARCH 5"),
        ("SEARCH TEXT \"body of two\"", "* SEARCH 2"),
        ("SEARCH NOT 1:3", "* SEARCH 4 5"),
        ("SEARCH *", "* SEARCH 5"),
        ("UID SEARCH UID 2,4:*", "* SEARCH 2 4 5"),
        ("UID SEARCH UID 4294967295", "* SEARCH"),
    ];
    for (command, expected) in cases {
        let lines = client.ok(command).await;
        assert_eq!(lines[0], expected, "{command}");
    }
    let lines = client.command("SEARCH CHARSET KOI8-R ALL").await;
    assert!(
        lines[0].contains("NO [BADCHARSET (UTF-8 US-ASCII)]"),
        "{lines:#?}"
    );
    worker.shutdown().await.unwrap();
}

#[tokio::test]
async fn copy_keeps_flags_and_reports_copyuid() {
    let (worker, mut client) = selected(&three()).await;
    client.ok("STORE 2 +FLAGS (\\Flagged)").await;
    let lines = client.ok("COPY 1:3 Archive").await;
    assert!(lines[0].starts_with("t3 OK [COPYUID "), "{lines:#?}");
    assert!(
        lines[0].contains(" 1:3 1:3] COPY command completed"),
        "{lines:#?}"
    );
    let source_dates = client.ok("FETCH 1:3 INTERNALDATE").await;
    client.ok("SELECT Archive").await;
    let lines = client.ok("FETCH 2 FLAGS").await;
    assert!(lines[0].contains("\\Flagged"), "{lines:#?}");
    let copied_dates = client.ok("FETCH 1:3 INTERNALDATE").await;
    assert_eq!(source_dates[..3], copied_dates[..3], "INTERNALDATE is kept");
    let lines = client.command("COPY 1 Nowhere").await;
    assert!(lines[0].contains("NO [TRYCREATE]"), "{lines:#?}");
    worker.shutdown().await.unwrap();
}

#[tokio::test]
async fn move_sends_copyuid_then_expunges() {
    let (worker, mut client) = selected(&three()).await;
    let lines = client.ok("MOVE 2:3 Junk").await;
    assert!(lines[0].starts_with("* OK [COPYUID "), "{lines:#?}");
    assert!(lines[0].contains(" 2:3 1:2]"), "{lines:#?}");
    assert_eq!(lines[1..3], ["* 3 EXPUNGE", "* 2 EXPUNGE"]);
    assert_eq!(lines[3], "t2 OK MOVE command completed");
    let lines = client.ok("UID MOVE 1 Junk").await;
    assert_eq!(lines[1], "* 1 EXPUNGE");
    let lines = client.ok("STATUS Junk (MESSAGES)").await;
    assert_eq!(lines[0], "* STATUS Junk (MESSAGES 3)");
    worker.shutdown().await.unwrap();
}

#[tokio::test]
async fn expunge_removes_deleted_highest_first() {
    let (worker, mut client) = selected(&three()).await;
    client.ok("STORE 1,3 +FLAGS.SILENT (\\Deleted)").await;
    let lines = client.ok("EXPUNGE").await;
    assert_eq!(lines[..2], ["* 3 EXPUNGE", "* 1 EXPUNGE"]);
    assert!(!worker.mail_root().join("inbox/1").exists());
    let lines = client.ok("FETCH 1 UID").await;
    assert_eq!(lines[0], "* 1 FETCH (UID 2)");
    worker.shutdown().await.unwrap();
}

#[tokio::test]
async fn uid_expunge_only_given_uids() {
    let (worker, mut client) = selected(&three()).await;
    client.ok("STORE 1:3 +FLAGS.SILENT (\\Deleted)").await;
    client.ok("STORE 1 -FLAGS.SILENT (\\Deleted)").await;
    let lines = client.ok("UID EXPUNGE 3").await;
    assert_eq!(lines[0], "* 3 EXPUNGE");
    assert_eq!(lines.len(), 2, "{lines:#?}");
    let lines = client.ok("UID SEARCH ALL").await;
    assert_eq!(lines[0], "* SEARCH 1 2");
    worker.shutdown().await.unwrap();
}

#[tokio::test]
async fn close_expunges_silently() {
    let (worker, mut client) = selected(&three()).await;
    client.ok("STORE 2 +FLAGS.SILENT (\\Deleted)").await;
    let lines = client.ok("CLOSE").await;
    assert_eq!(lines.len(), 1, "{lines:#?}");
    let lines = client.ok("STATUS INBOX (MESSAGES)").await;
    assert_eq!(lines[0], "* STATUS INBOX (MESSAGES 2)");
    worker.shutdown().await.unwrap();
}

#[tokio::test]
async fn unselect_keeps_deleted() {
    let (worker, mut client) = selected(&three()).await;
    client.ok("STORE 2 +FLAGS.SILENT (\\Deleted)").await;
    client.ok("UNSELECT").await;
    let lines = client.ok("STATUS INBOX (MESSAGES)").await;
    assert_eq!(lines[0], "* STATUS INBOX (MESSAGES 3)");
    worker.shutdown().await.unwrap();
}

const CORPUS: &[&[u8]] = &[
    include_bytes!("../../mime/tests/fixtures/01-plain.eml"),
    ALTERNATIVE,
    MIXED,
    include_bytes!("../../mime/tests/fixtures/04-forwarded.eml"),
    include_bytes!("../../mime/tests/fixtures/05-crlf.eml"),
    include_bytes!("../../mime/tests/fixtures/06-from-line.eml"),
    include_bytes!("../../mime/tests/fixtures/07-digest.eml"),
    include_bytes!("../../mime/tests/fixtures/08-groups-and-odd-addresses.eml"),
    include_bytes!("../../mime/tests/fixtures/09-rfc2231-params.eml"),
    include_bytes!("../../mime/tests/fixtures/10-empty-multipart.eml"),
];

/// Every FETCH item of RFC 9051 and RFC 3516 on every message of the analysis corpus, in
/// one command.
#[tokio::test]
async fn fetch_every_item_on_corpus() {
    let messages: Vec<Vec<u8>> = CORPUS.iter().map(|m| m.to_vec()).collect();
    let (worker, mut client) = selected(&messages).await;
    let items = [
        "FLAGS",
        "UID",
        "INTERNALDATE",
        "RFC822.SIZE",
        "ENVELOPE",
        "BODYSTRUCTURE",
        "BODY",
        "BODY.PEEK[]",
        "BODY.PEEK[HEADER]",
        "BODY.PEEK[HEADER.FIELDS (From Subject)]",
        "BODY.PEEK[HEADER.FIELDS.NOT (Received)]",
        "BODY.PEEK[TEXT]<0.20>",
        "BODY.PEEK[1]",
        "BODY.PEEK[1.MIME]",
        "BINARY.PEEK[1]",
        "BINARY.PEEK[]<0.10>",
        "BINARY.SIZE[1]",
        "RFC822.HEADER",
    ];
    let command = format!("FETCH 1:* ({})", items.join(" "));
    let lines = client.ok(&command).await;
    let responses: Vec<&String> = lines.iter().filter(|l| l.starts_with("* ")).collect();
    assert_eq!(responses.len(), CORPUS.len(), "{lines:#?}");
    let text = lines.join("\n");
    let keys = [
        "FLAGS (",
        "UID ",
        "INTERNALDATE \"",
        "RFC822.SIZE ",
        "ENVELOPE (",
        "BODYSTRUCTURE (",
        "BODY (",
        "BODY[] {",
        "BODY[HEADER] {",
        "BODY[HEADER.FIELDS (",
        "BODY[HEADER.FIELDS.NOT (",
        "BODY[TEXT]<0> {",
        "BODY[1] {",
        "BODY[1.MIME] {",
        "BINARY[1] ",
        "BINARY[]<0> ",
        "BINARY.SIZE[1] ",
        "RFC822.HEADER {",
    ];
    for key in keys {
        assert_eq!(
            text.matches(key).count(),
            CORPUS.len(),
            "item {key:?} once per message: {lines:#?}"
        );
    }
    assert!(!text.contains("\\Seen"), "PEEK items keep \\Seen unset");

    let lines = client.ok("FETCH 1:* (RFC822.TEXT RFC822)").await;
    assert_eq!(
        lines.iter().filter(|l| l.contains("RFC822 {")).count(),
        CORPUS.len()
    );
    let lines = client.ok("SEARCH UNSEEN").await;
    assert_eq!(lines[0], "* SEARCH", "RFC822 and RFC822.TEXT set \\Seen");
    worker.shutdown().await.unwrap();
}

#[tokio::test]
async fn binary_of_unknown_encoding_is_unknown_cte() {
    let message = b"From: a@example.org\nSubject: uu\nMIME-Version: 1.0\n\
        Content-Type: application/octet-stream\nContent-Transfer-Encoding: x-uuencode\n\n\
        begin 644 x\n#86)C\n`\nend\n"
        .to_vec();
    let (worker, mut client) = selected(&[message]).await;
    for command in [
        "FETCH 1 BINARY.PEEK[1]",
        "FETCH 1 BINARY.SIZE[1]",
        "FETCH 1 BINARY[]",
    ] {
        let lines = client.command(command).await;
        if command.ends_with("BINARY[]") {
            // The whole message is served as it is, with no part to decode.
            assert_eq!(status(&lines), "OK", "{command}: {lines:#?}");
            continue;
        }
        assert_eq!(lines.len(), 1, "no partial response: {lines:#?}");
        assert!(
            lines[0].contains(" NO [UNKNOWN-CTE] "),
            "{command}: {lines:#?}"
        );
    }
    let lines = client.ok("FETCH 1 BODY.PEEK[1]").await;
    assert!(lines[1].starts_with("begin 644 x"), "{lines:#?}");
    worker.shutdown().await.unwrap();
}

/// Sequence sets at the edges get the responses RFC 9051 §9 (`seq-number`) and §6.4.9
/// prescribe. A message number that does not exist is BAD, and a UID that does not exist
/// matches nothing.
#[tokio::test]
async fn sequence_sets_at_the_edges() {
    let (worker, mut client) = selected(&[]).await;
    let empty = [
        ("FETCH * FLAGS", "BAD", 1),
        ("FETCH *:1 FLAGS", "BAD", 1),
        ("STORE * +FLAGS (\\Seen)", "BAD", 1),
        ("COPY * Archive", "BAD", 1),
        ("UID FETCH * FLAGS", "OK", 1),
        ("UID FETCH *:1 FLAGS", "OK", 1),
        ("UID STORE * +FLAGS (\\Seen)", "OK", 1),
        ("UID COPY 1:* Archive", "OK", 1),
        ("UID MOVE 1:* Archive", "OK", 1),
        ("UID EXPUNGE 4294967295", "OK", 1),
        ("UID SEARCH UID *", "OK", 2),
    ];
    for (command, expected, count) in empty {
        let lines = client.command(command).await;
        assert_eq!(
            status(&lines),
            expected,
            "empty mailbox, {command}: {lines:#?}"
        );
        assert_eq!(lines.len(), count, "empty mailbox, {command}: {lines:#?}");
    }

    worker.deliver("inbox", &three());
    client.ok("NOOP").await;
    let three_messages = [
        ("FETCH *:1 UID", "OK", 4),
        ("FETCH 3:2 UID", "OK", 3),
        ("FETCH 2,4 UID", "BAD", 1),
        ("FETCH 4294967295 UID", "BAD", 1),
        ("FETCH 0 UID", "BAD", 1),
        ("STORE 1:4 +FLAGS (\\Seen)", "BAD", 1),
        ("UID FETCH 4294967295 UID", "OK", 1),
        ("UID FETCH 4294967295:* UID", "OK", 2),
        ("UID FETCH 3:1 UID", "OK", 4),
        ("UID STORE 4294967295 +FLAGS (\\Seen)", "OK", 1),
        ("UID COPY 4294967295 Archive", "OK", 1),
    ];
    for (command, expected, count) in three_messages {
        let lines = client.command(command).await;
        assert_eq!(status(&lines), expected, "{command}: {lines:#?}");
        assert_eq!(lines.len(), count, "{command}: {lines:#?}");
    }
    let lines = client.ok("FETCH 1:* FLAGS").await;
    assert!(
        !lines.iter().any(|l| l.contains("\\Seen")),
        "a BAD STORE changed nothing: {lines:#?}"
    );
    worker.shutdown().await.unwrap();
}

#[tokio::test]
async fn copyuid_lists_compact_ranges() {
    let messages: Vec<Vec<u8>> = (0..6).map(|i| message(&format!("m{i}"))).collect();
    let (worker, mut client) = selected(&messages).await;
    let lines = client.ok("UID COPY 1:2,4,6 Archive").await;
    assert!(
        lines[0].contains(" 1:2,4,6 1:4] COPY command completed"),
        "{lines:#?}"
    );
    let lines = client.ok("MOVE 5,3 Junk").await;
    assert!(lines[0].contains(" 3,5 1:2]"), "{lines:#?}");
    assert_eq!(lines[1..3], ["* 5 EXPUNGE", "* 3 EXPUNGE"]);
    worker.shutdown().await.unwrap();
}

#[tokio::test]
async fn search_body_decodes_transfer_encodings() {
    let base64 = b"From: a@example.org\nSubject: b64\nMIME-Version: 1.0\n\
        Content-Type: text/plain; charset=iso-8859-1\nContent-Transfer-Encoding: base64\n\n\
        R3L832UgYXVzIEv2bG4sIFplaWxlIHp3ZWkK\n"
        .to_vec();
    let quoted = b"From: a@example.org\nSubject: qp\nMIME-Version: 1.0\n\
        Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\n\
        Gr=C3=BC=C3=9Fe aus M=C3=BCn=\nchen\n"
        .to_vec();
    let (worker, mut client) = selected(&[base64, quoted]).await;
    let cases = [
        ("SEARCH CHARSET UTF-8 BODY {5+}\r\nköln", "* SEARCH 1"),
        ("SEARCH BODY \"zeile ZWEI\"", "* SEARCH 1"),
        ("SEARCH CHARSET UTF-8 BODY {8+}\r\nmünchen", "* SEARCH 2"),
        ("SEARCH CHARSET UTF-8 TEXT {7+}\r\ngrüße", "* SEARCH 1 2"),
        ("SEARCH BODY R3L832", "* SEARCH"),
        ("SEARCH BODY \"=C3\"", "* SEARCH"),
    ];
    for (command, expected) in cases {
        let lines = client.ok(command).await;
        assert_eq!(lines[0], expected, "{command}");
    }
    worker.shutdown().await.unwrap();
}

/// An inotify watch (`IN_OPEN`) on a folder, to see which message files the server opens.
/// The kernel queues the event when `open` runs, so every open made before a tagged
/// response has arrived is in the queue when the test reads it.
struct OpenWatch {
    fd: libc::c_int,
}

impl OpenWatch {
    fn new(dir: &std::path::Path) -> Self {
        use std::os::unix::ffi::OsStrExt;
        let path = std::ffi::CString::new(dir.as_os_str().as_bytes()).unwrap();
        // SAFETY: plain system calls; `path` is a valid NUL-terminated string that outlives
        // the call, and the descriptor is closed in `drop`.
        let fd = unsafe { libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC) };
        assert!(
            fd >= 0,
            "inotify_init1 failed: {}",
            std::io::Error::last_os_error()
        );
        let watch = unsafe { libc::inotify_add_watch(fd, path.as_ptr(), libc::IN_OPEN) };
        assert!(
            watch >= 0,
            "inotify_add_watch failed: {}",
            std::io::Error::last_os_error()
        );
        OpenWatch { fd }
    }

    /// Returns the names of the message files opened since the last call, in order.
    fn opened_messages(&self) -> Vec<String> {
        const HEADER: usize = std::mem::size_of::<libc::inotify_event>();
        let mut names = Vec::new();
        let mut buffer = vec![0u8; 1 << 16];
        loop {
            // SAFETY: the buffer is valid for writes of its full length.
            let read = unsafe { libc::read(self.fd, buffer.as_mut_ptr().cast(), buffer.len()) };
            if read < 0 {
                let error = std::io::Error::last_os_error();
                assert_eq!(error.kind(), std::io::ErrorKind::WouldBlock, "{error}");
                return names;
            }
            let mut offset = 0;
            while offset + HEADER <= read as usize {
                // The name length is the last field of the fixed part of `inotify_event`.
                let len_bytes = &buffer[offset + HEADER - 4..offset + HEADER];
                let len = u32::from_ne_bytes(len_bytes.try_into().unwrap()) as usize;
                let name = &buffer[offset + HEADER..offset + HEADER + len];
                let name = String::from_utf8_lossy(name)
                    .trim_end_matches('\0')
                    .to_owned();
                if !name.is_empty() && name.bytes().all(|b| b.is_ascii_digit()) {
                    names.push(name);
                }
                offset += HEADER + len;
            }
        }
    }
}

impl Drop for OpenWatch {
    fn drop(&mut self) {
        // SAFETY: `fd` is the descriptor `inotify_init1` returned, closed only here.
        unsafe { libc::close(self.fd) };
    }
}

#[tokio::test]
async fn header_search_opens_no_message_file() {
    let mut messages = three();
    messages.push(MIXED.to_vec());
    messages.push(ALTERNATIVE.to_vec());
    let (worker, mut client) = selected(&messages).await;
    let watch = OpenWatch::new(&worker.mail_root().join("inbox"));
    let cases = [
        ("SEARCH FROM KELD", "* SEARCH 5"),
        ("SEARCH TO recipient@example.org", "* SEARCH 4"),
        ("SEARCH CC charlie", "* SEARCH 5"),
        ("SEARCH BCC anyone", "* SEARCH"),
        ("SEARCH SUBJECT \"IF YOU CAN READ\"", "* SEARCH 5"),
        ("SEARCH OR SUBJECT one (SUBJECT three)", "* SEARCH 1 3"),
        ("SEARCH HEADER In-Reply-To prev", "* SEARCH 5"),
        ("UID SEARCH NOT HEADER Message-ID two", "* SEARCH 1 3 4 5"),
        ("SEARCH SENTSINCE 17-Oct-2024", "* SEARCH 4 5"),
        ("SEARCH LARGER 500", "* SEARCH 4 5"),
        ("SEARCH SINCE 1-Jan-2000", "* SEARCH 1 2 3 4 5"),
    ];
    for (command, expected) in cases {
        let lines = client.ok(command).await;
        assert_eq!(lines[0], expected, "{command}");
        let opened = watch.opened_messages();
        assert!(
            opened.is_empty(),
            "{command} opened message files {opened:?}"
        );
    }

    // BODY reads the files, which shows that the watch records the server's opens.
    let lines = client.ok("SEARCH BODY \"body of two\"").await;
    assert_eq!(lines[0], "* SEARCH 2");
    assert!(!watch.opened_messages().is_empty(), "BODY opened no file");
    worker.shutdown().await.unwrap();
}

#[tokio::test]
async fn search_spans_many_batches() {
    // Header keys read the index in batches of 256 and BODY reads files in batches of 32.
    // Threads share the batches out, and the result must still be in sequence order.
    let messages: Vec<Vec<u8>> = (1..=700).map(|n| message(&format!("m{n}"))).collect();
    let (worker, mut client) = selected(&messages).await;
    let expected: Vec<String> = (1..=700u32)
        .filter(|n| n.to_string().contains("37"))
        .map(|n| n.to_string())
        .collect();
    let expected = format!("* SEARCH {}", expected.join(" "));
    for command in [
        "SEARCH SUBJECT 37",
        "SEARCH HEADER Message-ID 37",
        "SEARCH BODY \"OF M\" BODY 37",
        "SEARCH TEXT 37 NOT FLAGGED",
    ] {
        let lines = client.ok(command).await;
        assert_eq!(lines[0], expected, "{command}");
    }
    let lines = client.ok("SEARCH 690:* HEADER Message-ID @TEST").await;
    let tail: Vec<String> = (690..=700).map(|n: u32| n.to_string()).collect();
    assert_eq!(lines[0], format!("* SEARCH {}", tail.join(" ")));
    worker.shutdown().await.unwrap();
}

#[tokio::test]
async fn oversized_header_still_searchable() {
    // A header block over the index's cache limit is read from the message file.
    let mut large = b"From: big@example.org\nSubject: oversized header\n".to_vec();
    let line = format!("X-Filler: {}\n", "x".repeat(70));
    while large.len() <= asimapd_store::MAX_CACHED_HEADER {
        large.extend_from_slice(line.as_bytes());
    }
    large.extend_from_slice(b"\nbody\n");
    let (worker, mut client) = selected(&[message("one"), large]).await;
    let lines = client.ok("SEARCH SUBJECT oversized").await;
    assert_eq!(lines[0], "* SEARCH 2");
    let lines = client.ok("SEARCH FROM big@example.org").await;
    assert_eq!(lines[0], "* SEARCH 2");
    worker.shutdown().await.unwrap();
}

/// FETCH loads messages in batches and opens files over 64 KiB only when their response is
/// written. Bodies of both kinds, across several batches, must arrive whole and in order.
#[tokio::test]
async fn fetch_bodies_across_batches() {
    let ids: Vec<String> = (1..=150).map(|n| format!("m{n}")).collect();
    let messages: Vec<Vec<u8>> = ids
        .iter()
        .enumerate()
        .map(|(index, id)| {
            let padding = if index % 7 == 0 { 4_000 } else { 0 };
            asimapd_testkit::nmh::message(id, 1, padding)
        })
        .collect();
    let (worker, mut client) = selected(&messages).await;

    let lines = client.ok("FETCH 1:* (RFC822.SIZE BODY.PEEK[])").await;
    let headers: Vec<&String> = lines.iter().filter(|l| l.starts_with("* ")).collect();
    assert_eq!(headers.len(), ids.len());
    for (position, id) in ids.iter().enumerate() {
        let header = lines
            .iter()
            .position(|l| l.starts_with(&format!("* {} FETCH (", position + 1)))
            .unwrap_or_else(|| panic!("no FETCH response for message {}", position + 1));
        let size: usize = lines[header]
            .split("RFC822.SIZE ")
            .nth(1)
            .and_then(|rest| rest.split(' ').next())
            .and_then(|size| size.parse().ok())
            .unwrap_or_else(|| panic!("no RFC822.SIZE in {:?}", lines[header]));
        let literal = literal_len(&lines[header]).expect("BODY[] literal");
        assert_eq!(literal, size, "message {id}");
        let body = &lines[header + 1];
        assert!(body.contains(&format!("<{id}@test>")), "message {id}");
        assert_eq!(body.len(), literal + ")".len(), "message {id}");
    }
    let sizes_above_limit = messages.iter().filter(|m| m.len() > 64 * 1024).count();
    assert!(sizes_above_limit > 20, "{sizes_above_limit} large messages");
    worker.shutdown().await.unwrap();
}

#[tokio::test]
async fn fetch_of_modseq_names_the_item() {
    let (worker, mut client) = selected(&three()).await;
    let lines = client.command("FETCH 1 (MODSEQ)").await;
    assert!(lines[0].contains(" BAD FETCH item MODSEQ "), "{lines:?}");
    worker.shutdown().await.unwrap();
}
