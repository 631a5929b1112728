//! Client lines of the example conversations of RFC 3501 §8 and RFC 9051 §8 and of the
//! examples in each command's section, in the base RFCs and in the extensions'. Every line
//! is parsed whole, byte by byte and split at every position.

mod common;

use std::num::NonZeroU32;

use asimapd_proto::*;
use common::{Outcome, Policy, parse_everywhere, parse_one};

fn nz(value: u32) -> NonZeroU32 {
    NonZeroU32::new(value).unwrap()
}

fn range(start: u32, end: u32) -> SeqRange {
    SeqRange {
        start: SeqBound::Number(nz(start)),
        end: SeqBound::Number(nz(end)),
    }
}

fn tag(text: &str) -> Tag {
    Tag::new(text).unwrap()
}

/// Each client line with the command name the parser must report.
const EXAMPLES: &[(&str, &str)] = &[
    // RFC 3501 §8 and RFC 9051 §8.
    ("a001 login mrc secret\r\n", "LOGIN"),
    ("a002 select inbox\r\n", "SELECT"),
    ("a003 fetch 12 full\r\n", "FETCH"),
    ("a004 fetch 12 body[header]\r\n", "FETCH"),
    ("a005 store 12 +flags \\deleted\r\n", "STORE"),
    ("a006 logout\r\n", "LOGOUT"),
    // Any state, RFC 9051 §6.1.
    ("abcd CAPABILITY\r\n", "CAPABILITY"),
    ("a002 NOOP\r\n", "NOOP"),
    ("A023 LOGOUT\r\n", "LOGOUT"),
    // Not authenticated, §6.2.
    ("a002 STARTTLS\r\n", "STARTTLS"),
    ("a004 LOGIN joe password\r\n", "LOGIN"),
    ("A001 AUTHENTICATE PLAIN\r\n", "AUTHENTICATE"),
    ("a001 LOGIN SMITH SESAME\r\n", "LOGIN"),
    // Authenticated, §6.3.
    ("t2 ENABLE CONDSTORE\r\n", "ENABLE"),
    ("A142 SELECT INBOX\r\n", "SELECT"),
    ("A932 EXAMINE blurdybloop\r\n", "EXAMINE"),
    ("A003 CREATE owatagusiam/\r\n", "CREATE"),
    ("A004 CREATE owatagusiam/blurdybloop\r\n", "CREATE"),
    ("A683 DELETE blurdybloop\r\n", "DELETE"),
    ("A685 DELETE foo/bar\r\n", "DELETE"),
    ("A683 RENAME blurdybloop sarasoop\r\n", "RENAME"),
    ("A002 SUBSCRIBE #news.comp.mail.mime\r\n", "SUBSCRIBE"),
    ("A002 UNSUBSCRIBE #news.comp.mail.mime\r\n", "UNSUBSCRIBE"),
    ("A101 LIST \"\" \"\"\r\n", "LIST"),
    ("A102 LIST #news.comp.mail.misc \"\"\r\n", "LIST"),
    ("A103 LIST /usr/staff/jones \"\"\r\n", "LIST"),
    ("A202 LIST ~/Mail/ %\r\n", "LIST"),
    ("A682 LIST \"\" *\r\n", "LIST"),
    ("A002 LSUB \"#news.\" \"comp.mail.*\"\r\n", "LSUB"),
    ("A003 LSUB \"#news.\" \"comp.%\"\r\n", "LSUB"),
    ("A001 NAMESPACE\r\n", "NAMESPACE"),
    ("A042 STATUS blurdybloop (UIDNEXT MESSAGES)\r\n", "STATUS"),
    ("a001 IDLE\r\n", "IDLE"),
    // Selected, §6.4.
    ("FXXZ CHECK\r\n", "CHECK"),
    ("A341 CLOSE\r\n", "CLOSE"),
    ("A342 UNSELECT\r\n", "UNSELECT"),
    ("A202 EXPUNGE\r\n", "EXPUNGE"),
    ("A202 UID EXPUNGE 3000:3002\r\n", "UID EXPUNGE"),
    (
        "A282 SEARCH FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\"\r\n",
        "SEARCH",
    ),
    ("A283 SEARCH TEXT \"string not in mailbox\"\r\n", "SEARCH"),
    (
        "A282 SEARCH RETURN (MIN COUNT) FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\"\r\n",
        "SEARCH",
    ),
    (
        "A283 SEARCH RETURN () FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\"\r\n",
        "SEARCH",
    ),
    ("A284 SEARCH CHARSET UTF-8 TEXT {6}\r\nXXXXXX\r\n", "SEARCH"),
    ("A301 SEARCH $ SMALLER 4096\r\n", "SEARCH"),
    ("A302 SEARCH RETURN (SAVE) FLAGGED\r\n", "SEARCH"),
    ("A303 UID SEARCH UID $ OR SEEN DRAFT\r\n", "UID SEARCH"),
    (
        "A654 FETCH 2:4 (FLAGS BODY[HEADER.FIELDS (DATE FROM)])\r\n",
        "FETCH",
    ),
    ("A003 STORE 2:4 +FLAGS (\\Deleted)\r\n", "STORE"),
    ("A003 COPY 2:4 MEETING\r\n", "COPY"),
    ("a UID MOVE 42:69 foo\r\n", "UID MOVE"),
    ("A999 UID FETCH 4827313:4828442 FLAGS\r\n", "UID FETCH"),
    // ID (RFC 2971).
    (
        "a023 ID (\"name\" \"sodr\" \"version\" \"19.34\" \"vendor\" \"Pink Floyd Music Limited\")\r\n",
        "ID",
    ),
    ("a024 ID NIL\r\n", "ID"),
    // CONDSTORE and QRESYNC (RFC 7162).
    (
        "a103 UID STORE 6,4,8 (UNCHANGEDSINCE 12121230045) +FLAGS.SILENT (\\Deleted)\r\n",
        "UID STORE",
    ),
    (
        "s100 UID FETCH 1:* (FLAGS) (CHANGEDSINCE 12345)\r\n",
        "UID FETCH",
    ),
    (
        "s101 UID FETCH 300:500 (FLAGS) (CHANGEDSINCE 12345 VANISHED)\r\n",
        "UID FETCH",
    ),
    (
        "a SEARCH MODSEQ \"/flags/\\\\draft\" all 620162338\r\n",
        "SEARCH",
    ),
    ("A142 SELECT INBOX (CONDSTORE)\r\n", "SELECT"),
    (
        "A02 SELECT INBOX (QRESYNC (67890007 20050715194045000 41,43:211,214:541))\r\n",
        "SELECT",
    ),
    (
        "B04 SELECT INBOX (QRESYNC (67890007 90060115194045000 41:211,214:541 (1:15,19 1:30,38)))\r\n",
        "SELECT",
    ),
    (
        "a EXAMINE INBOX (QRESYNC (67890007 90060115194045000 (1:15,19 1:30,38)))\r\n",
        "EXAMINE",
    ),
    // LIST-EXTENDED, LIST-STATUS, SPECIAL-USE (RFC 5258, 5819, 6154).
    ("A01 LIST \"\" % RETURN (CHILDREN)\r\n", "LIST"),
    ("A02 LIST (SUBSCRIBED) \"\" \"*\"\r\n", "LIST"),
    (
        "A03 LIST (SUBSCRIBED RECURSIVEMATCH) \"\" \"%\" RETURN (CHILDREN)\r\n",
        "LIST",
    ),
    (
        "A04 LIST \"\" (\"INBOX\" \"Drafts\" \"Sent/%\")\r\n",
        "LIST",
    ),
    (
        "A05 LIST \"\" % RETURN (STATUS (MESSAGES UNSEEN))\r\n",
        "LIST",
    ),
    ("t1 LIST (SPECIAL-USE) \"\" *\r\n", "LIST"),
    ("t2 CREATE MySpecial (USE (\\Drafts \\Sent))\r\n", "CREATE"),
    // SORT and THREAD (RFC 5256).
    ("A282 SORT (SUBJECT) UTF-8 SINCE 1-Feb-1994\r\n", "SORT"),
    ("C283 SORT (SUBJECT REVERSE DATE) UTF-8 ALL\r\n", "SORT"),
    (
        "D283 SORT (SUBJECT) US-ASCII TEXT \"not in mailbox\"\r\n",
        "SORT",
    ),
    (
        "A283 THREAD ORDEREDSUBJECT UTF-8 SINCE 5-MAR-2000\r\n",
        "THREAD",
    ),
    (
        "A284 THREAD ORDEREDSUBJECT US-ASCII TEXT \"gewp\"\r\n",
        "THREAD",
    ),
    (
        "A285 UID THREAD REFERENCES UTF-8 SINCE 5-MAR-2000\r\n",
        "UID THREAD",
    ),
    // BINARY (RFC 3516).
    ("t FETCH 1 (BINARY[1]<0.1024>)\r\n", "FETCH"),
    ("t FETCH 1 BINARY.SIZE[1]\r\n", "FETCH"),
    ("t FETCH 1 (BINARY.PEEK[1.2])\r\n", "FETCH"),
    // Other extensions.
    ("a COMPRESS DEFLATE\r\n", "COMPRESS"),
    ("a UNAUTHENTICATE\r\n", "UNAUTHENTICATE"),
    ("a UID SEARCH YOUNGER 259200\r\n", "UID SEARCH"),
    ("a SEARCH OLDER 86400 SAVEDBEFORE 1-Jan-2020\r\n", "SEARCH"),
    ("a SEARCH SAVEDATESUPPORTED\r\n", "SEARCH"),
    ("a FETCH 1 (SAVEDATE EMAILID THREADID)\r\n", "FETCH"),
    ("a SEARCH EMAILID M6d99ac3275bb4e\r\n", "SEARCH"),
    (
        "a STATUS INBOX (SIZE APPENDLIMIT MAILBOXID HIGHESTMODSEQ DELETED)\r\n",
        "STATUS",
    ),
    ("G0001 GETQUOTA \"!partition/sda4\"\r\n", "GETQUOTA"),
    ("G0002 GETQUOTAROOT INBOX\r\n", "GETQUOTAROOT"),
    ("a NOTIFY NONE\r\n", "NOTIFY"),
    (
        "a NOTIFY SET STATUS (selected (MessageNew (uid body.peek[header.fields (from to subject)]) MessageExpunge)) (subtree Lists (MessageNew MessageExpunge MailboxName))\r\n",
        "NOTIFY",
    ),
    (
        "a NOTIFY SET (mailboxes (INBOX Drafts) (MessageNew FlagChange)) (personal NONE)\r\n",
        "NOTIFY",
    ),
    (
        "a AUTHENTICATE PLAIN dGVzdAB0ZXN0AHRlc3Q=\r\n",
        "AUTHENTICATE",
    ),
    ("a AUTHENTICATE EXTERNAL =\r\n", "AUTHENTICATE"),
    (
        "A001 LOGIN {11+}\r\nFRED FOOBAR {7+}\r\nfat man\r\n",
        "LOGIN",
    ),
    ("A001 LOGIN {11}\r\nFRED FOOBAR {7}\r\nfat man\r\n", "LOGIN"),
];

#[test]
fn rfc_example_lines_parse() {
    for (input, name) in EXAMPLES {
        let command = parse_one(input.as_bytes());
        assert_eq!(command.body.name(), *name, "for {input:?}");
    }
}

#[test]
fn rfc_conversation_parses_as_a_stream() {
    let conversation: String = EXAMPLES.iter().map(|(line, _)| *line).collect();
    let outcomes = common::run_chunks(
        &conversation.as_bytes().chunks(7).collect::<Vec<_>>(),
        Limits::default(),
        Policy::Accept,
    );
    let names: Vec<&str> = outcomes
        .iter()
        .filter_map(|outcome| match outcome {
            Outcome::Command(command) => Some(command.body.name()),
            Outcome::Error(error) => panic!("unexpected error {error:?}"),
            _ => None,
        })
        .collect();
    let expected: Vec<&str> = EXAMPLES.iter().map(|(_, name)| *name).collect();
    assert_eq!(names, expected);
}

#[test]
fn fetch_header_fields_example() {
    let command = parse_one(b"A654 FETCH 2:4 (FLAGS BODY[HEADER.FIELDS (DATE FROM)])\r\n");
    let expected = CommandBody::Fetch {
        numbers: NumberKind::SequenceNumber,
        set: SequenceSet::Ranges(vec![range(2, 4)]),
        items: FetchItems::Attributes(vec![
            FetchAttribute::Flags,
            FetchAttribute::BodySection {
                peek: false,
                section: Section {
                    part: vec![],
                    text: Some(SectionText::HeaderFields(vec![
                        "DATE".into(),
                        "FROM".into(),
                    ])),
                },
                partial: None,
            },
        ]),
        modifiers: vec![],
    };
    assert_eq!(command.tag, tag("A654"));
    assert_eq!(command.body, expected);
}

#[test]
fn search_example_builds_key_tree() {
    let command = parse_one(b"A282 SEARCH FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\"\r\n");
    let CommandBody::Search { numbers, program } = command.body else {
        panic!("not a SEARCH: {command:?}");
    };
    assert_eq!(numbers, NumberKind::SequenceNumber);
    assert_eq!(program.charset, None);
    assert_eq!(program.return_options, None);
    assert_eq!(
        program.keys,
        vec![
            SearchKey::Flagged,
            SearchKey::Since(Date::new(1994, 2, 1).unwrap()),
            SearchKey::Not(Box::new(SearchKey::From(b"Smith".to_vec()))),
        ]
    );
}

#[test]
fn store_unchangedsince_example() {
    let command = parse_one(
        b"a103 UID STORE 6,4,8 (UNCHANGEDSINCE 12121230045) +FLAGS.SILENT (\\Deleted)\r\n",
    );
    let expected = CommandBody::Store {
        numbers: NumberKind::Uid,
        arguments: StoreArguments {
            set: SequenceSet::Ranges(vec![range(6, 6), range(4, 4), range(8, 8)]),
            unchanged_since: Some(12121230045),
            mode: StoreMode::Add,
            is_silent: true,
            flags: vec![Flag::Deleted],
        },
    };
    assert_eq!(command.body, expected);
}

#[test]
fn qresync_select_example() {
    let command = parse_one(
        b"B04 SELECT INBOX (QRESYNC (67890007 90060115194045000 41:211,214:541 (1:15,19 1:30,38)))\r\n",
    );
    let CommandBody::Select { mailbox, params } = command.body else {
        panic!("not a SELECT");
    };
    assert!(mailbox.is_inbox());
    let expected = SelectParam::QResync(QResync {
        uid_validity: UidValidity::new(67890007).unwrap(),
        modseq: ModSeq::new(90060115194045000).unwrap(),
        known_uids: Some(SequenceSet::Ranges(vec![range(41, 211), range(214, 541)])),
        seq_match: Some((
            SequenceSet::Ranges(vec![range(1, 15), range(19, 19)]),
            SequenceSet::Ranges(vec![range(1, 30), range(38, 38)]),
        )),
    });
    assert_eq!(params, vec![expected]);
}

#[test]
fn login_literal_plus_example() {
    let command = parse_one(b"A001 LOGIN {11+}\r\nFRED FOOBAR {7+}\r\nfat man\r\n");
    let CommandBody::Login { username, password } = command.body else {
        panic!("not a LOGIN");
    };
    assert_eq!(username, "FRED FOOBAR");
    assert_eq!(password.expose(), b"fat man");
}

#[test]
fn authenticate_initial_response_is_decoded() {
    let command = parse_one(b"a AUTHENTICATE PLAIN dGVzdAB0ZXN0AHRlc3Q=\r\n");
    let CommandBody::Authenticate {
        mechanism,
        initial_response,
    } = command.body
    else {
        panic!("not AUTHENTICATE");
    };
    assert_eq!(mechanism.as_str(), "PLAIN");
    assert_eq!(initial_response.unwrap().expose(), b"test\0test\0test");
}

#[test]
fn list_extended_example() {
    let command =
        parse_one(b"A03 LIST (SUBSCRIBED RECURSIVEMATCH) \"\" (\"%\" Sent) RETURN (CHILDREN STATUS (MESSAGES))\r\n");
    let CommandBody::List(arguments) = command.body else {
        panic!("not LIST");
    };
    assert_eq!(
        arguments.selection,
        vec![ListSelection::Subscribed, ListSelection::RecursiveMatch]
    );
    assert_eq!(arguments.reference.as_str(), "");
    assert_eq!(
        arguments.patterns,
        vec![ListPattern::new("%"), ListPattern::new("Sent")]
    );
    assert_eq!(
        arguments.return_options,
        vec![
            ListReturn::Children,
            ListReturn::Status(vec![StatusItem::Messages])
        ]
    );
}

/// RFC 3502 §6: MULTIAPPEND of two messages, the second with a date-time.
#[test]
fn multiappend_example() {
    let first =
        "Date: Mon, 7 Feb 1994 21:52:25 -0800\r\nSubject: afternoon meeting\r\n\r\nHello Joe\r\n";
    let second =
        "Date: Mon, 7 Feb 1994 22:43:04 -0800\r\nSubject: afternoon meeting 2\r\n\r\nHello\r\n";
    let input = format!(
        "A003 APPEND saved-messages (\\Seen) {{{}}}\r\n{first} (\\Seen) \" 1-Jul-2002 22:00:00 -0700\" {{{}}}\r\n{second}\r\n",
        first.len(),
        second.len()
    );
    let command = parse_one(input.as_bytes());
    let CommandBody::Append { mailbox, messages } = command.body else {
        panic!("not APPEND");
    };
    assert_eq!(mailbox.as_str(), "saved-messages");
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[0].flags, vec![Flag::Seen]);
    assert_eq!(
        messages[0].data,
        AppendData::Bytes(first.as_bytes().to_vec())
    );
    assert_eq!(
        messages[1].data,
        AppendData::Bytes(second.as_bytes().to_vec())
    );
    let date = messages[1].date.unwrap();
    assert_eq!(date.date, Date::new(2002, 7, 1).unwrap());
    assert_eq!(date.zone_minutes, -7 * 60);
}

#[test]
fn append_literal_requests_mark_message_data() {
    let input = b"a APPEND {5}\r\nDraft (\\Draft) {3}\r\nabc\r\n";
    let outcomes = parse_everywhere(input, Limits::default(), Policy::Accept);
    let requests: Vec<&LiteralRequest> = outcomes
        .iter()
        .filter_map(|outcome| match outcome {
            Outcome::Literal(request) => Some(request),
            _ => None,
        })
        .collect();
    assert_eq!(requests.len(), 2);
    assert!(!requests[0].is_append_message, "mailbox literal");
    assert!(requests[1].is_append_message, "message literal");
    assert!(requests[1].is_synchronizing);
    assert_eq!(requests[1].tag, Some(tag("a")));
}

#[test]
fn append_message_streams_to_session() {
    let input = b"a APPEND INBOX ~{6}\r\nab\0cde\r\nb NOOP\r\n";
    let outcomes = parse_everywhere(input, Limits::default(), Policy::StreamAppend);
    assert_eq!(outcomes.len(), 4, "{outcomes:?}");
    let Outcome::Literal(request) = &outcomes[0] else {
        panic!("no literal request: {outcomes:?}");
    };
    assert!(request.is_binary);
    assert!(request.is_append_message);
    assert_eq!(outcomes[1], Outcome::Streamed(b"ab\0cde".to_vec()));
    let Outcome::Command(command) = &outcomes[2] else {
        panic!("no command: {outcomes:?}");
    };
    let CommandBody::Append { messages, .. } = &command.body else {
        panic!("not APPEND");
    };
    assert_eq!(messages[0].data, AppendData::External { len: 6 });
    assert!(messages[0].is_binary);
    let Outcome::Command(noop) = &outcomes[3] else {
        panic!("no NOOP: {outcomes:?}");
    };
    assert_eq!(noop.body, CommandBody::Noop);
}
