//! One or more client lines for every extension the parser supports, each checked for the
//! part of the command the extension adds. Every line is parsed whole, byte by byte and
//! split at every position, with every literal accepted into memory.

mod common;

use asimapd_proto::*;
use common::{Outcome, Policy, parse_everywhere, parse_one, parse_one_with};

/// An extension, a client line that uses it, and a check of what the parser returned.
struct Case {
    extension: &'static str,
    line: &'static str,
    check: fn(&CommandBody) -> bool,
}

fn has_search_key(keys: &[SearchKey], wanted: fn(&SearchKey) -> bool) -> bool {
    keys.iter().any(|key| match key {
        SearchKey::Not(inner) => has_search_key(std::slice::from_ref(inner), wanted),
        SearchKey::Or(left, right) => {
            has_search_key(std::slice::from_ref(left), wanted)
                || has_search_key(std::slice::from_ref(right), wanted)
        }
        SearchKey::And(inner) => has_search_key(inner, wanted),
        other => wanted(other),
    })
}

fn search_keys(body: &CommandBody) -> &[SearchKey] {
    match body {
        CommandBody::Search { program, .. } => &program.keys,
        CommandBody::Sort { arguments, .. } => &arguments.keys,
        CommandBody::Thread { arguments, .. } => &arguments.keys,
        _ => &[],
    }
}

fn fetch_attributes(body: &CommandBody) -> &[FetchAttribute] {
    match body {
        CommandBody::Fetch {
            items: FetchItems::Attributes(attributes),
            ..
        } => attributes,
        _ => &[],
    }
}

fn status_items(body: &CommandBody) -> &[StatusItem] {
    match body {
        CommandBody::Status { items, .. } => items,
        _ => &[],
    }
}

fn is_saved_set(set: &SequenceSet) -> bool {
    *set == SequenceSet::Saved
}

const CASES: &[Case] = &[
    Case {
        extension: "IDLE",
        line: "a IDLE\r\n",
        check: |body| *body == CommandBody::Idle,
    },
    Case {
        extension: "ID",
        line: "a ID (\"name\" \"client\" \"version\" NIL)\r\n",
        check: |body| matches!(body, CommandBody::Id(_)),
    },
    Case {
        extension: "ENABLE",
        line: "a ENABLE CONDSTORE QRESYNC\r\n",
        check: |body| matches!(body, CommandBody::Enable(names) if names.len() == 2),
    },
    Case {
        extension: "NAMESPACE",
        line: "a NAMESPACE\r\n",
        check: |body| *body == CommandBody::Namespace,
    },
    Case {
        extension: "UNSELECT",
        line: "a UNSELECT\r\n",
        check: |body| *body == CommandBody::Unselect,
    },
    Case {
        extension: "UIDPLUS",
        line: "a UID EXPUNGE 3000:3002,3005\r\n",
        check: |body| matches!(body, CommandBody::UidExpunge(_)),
    },
    Case {
        extension: "MOVE",
        line: "a MOVE 2:4 Archive\r\n",
        check: |body| {
            matches!(body, CommandBody::Move { numbers: NumberKind::SequenceNumber, mailbox, .. }
                if mailbox.as_str() == "Archive")
        },
    },
    Case {
        extension: "MOVE",
        line: "a UID MOVE 42:69 foo\r\n",
        check: |body| {
            matches!(
                body,
                CommandBody::Move {
                    numbers: NumberKind::Uid,
                    ..
                }
            )
        },
    },
    Case {
        extension: "LITERAL+",
        line: "a LOGIN {4+}\r\nfred {7+}\r\nfat man\r\n",
        check: |body| matches!(body, CommandBody::Login { username, .. } if username == "fred"),
    },
    Case {
        extension: "LITERAL-",
        line: "a CREATE {6+}\r\nFolder\r\n",
        check: |body| matches!(body, CommandBody::Create { mailbox, .. } if mailbox.as_str() == "Folder"),
    },
    Case {
        extension: "CHILDREN",
        line: "a LIST \"\" % RETURN (CHILDREN)\r\n",
        check: |body| {
            matches!(body, CommandBody::List(arguments)
                if arguments.return_options == [ListReturn::Children])
        },
    },
    Case {
        extension: "LIST-EXTENDED",
        line: "a LIST (REMOTE SUBSCRIBED RECURSIVEMATCH) \"\" (\"INBOX\" \"Sent/%\") RETURN (SUBSCRIBED CHILDREN)\r\n",
        check: |body| {
            matches!(body, CommandBody::List(arguments)
                if arguments.selection == [ListSelection::Remote, ListSelection::Subscribed, ListSelection::RecursiveMatch]
                    && arguments.patterns.len() == 2
                    && arguments.return_options == [ListReturn::Subscribed, ListReturn::Children])
        },
    },
    Case {
        extension: "LIST-EXTENDED",
        line: "a LIST () \"\" % RETURN ()\r\n",
        check: |body| {
            matches!(body, CommandBody::List(arguments)
                if arguments.selection.is_empty() && arguments.return_options.is_empty())
        },
    },
    Case {
        extension: "LIST-STATUS",
        line: "a LIST \"\" % RETURN (STATUS (MESSAGES UNSEEN SIZE))\r\n",
        check: |body| {
            matches!(body, CommandBody::List(arguments)
                if arguments.return_options == [ListReturn::Status(vec![StatusItem::Messages, StatusItem::Unseen, StatusItem::Size])])
        },
    },
    Case {
        extension: "SPECIAL-USE",
        line: "a LIST (SPECIAL-USE) \"\" * RETURN (SPECIAL-USE)\r\n",
        check: |body| {
            matches!(body, CommandBody::List(arguments)
                if arguments.selection == [ListSelection::SpecialUse]
                    && arguments.return_options == [ListReturn::SpecialUse])
        },
    },
    Case {
        extension: "CREATE-SPECIAL-USE",
        line: "a CREATE MySpecial (USE (\\Drafts \\Sent))\r\n",
        check: |body| {
            matches!(body, CommandBody::Create { special_use, .. }
                if *special_use == ["\\Drafts", "\\Sent"])
        },
    },
    Case {
        extension: "CONDSTORE",
        line: "a SELECT INBOX (CONDSTORE)\r\n",
        check: |body| matches!(body, CommandBody::Select { params, .. } if *params == [SelectParam::CondStore]),
    },
    Case {
        extension: "CONDSTORE",
        line: "a FETCH 1:* (FLAGS MODSEQ) (CHANGEDSINCE 12345)\r\n",
        check: |body| {
            fetch_attributes(body).contains(&FetchAttribute::ModSeq)
                && matches!(body, CommandBody::Fetch { modifiers, .. }
                    if *modifiers == [FetchModifier::ChangedSince(ModSeq::new(12345).unwrap())])
        },
    },
    Case {
        extension: "CONDSTORE",
        line: "a STORE 1:3 (UNCHANGEDSINCE 0) FLAGS.SILENT (\\Seen)\r\n",
        check: |body| {
            matches!(body, CommandBody::Store { arguments, .. }
                if arguments.unchanged_since == Some(0) && arguments.is_silent)
        },
    },
    Case {
        extension: "CONDSTORE",
        line: "a SEARCH MODSEQ \"/flags/\\\\draft\" all 620162338\r\n",
        check: |body| {
            has_search_key(search_keys(body), |key| {
                matches!(key, SearchKey::ModSeq { entry: Some(entry), modseq: 620162338 }
                    if entry.name == "/flags/\\draft" && entry.kind.eq_ignore_ascii_case("all"))
            })
        },
    },
    Case {
        extension: "CONDSTORE",
        line: "a SEARCH MODSEQ 5\r\n",
        check: |body| {
            has_search_key(search_keys(body), |key| {
                matches!(
                    key,
                    SearchKey::ModSeq {
                        entry: None,
                        modseq: 5
                    }
                )
            })
        },
    },
    Case {
        extension: "CONDSTORE",
        line: "a STATUS INBOX (HIGHESTMODSEQ)\r\n",
        check: |body| status_items(body) == [StatusItem::HighestModSeq],
    },
    Case {
        extension: "QRESYNC",
        line: "a EXAMINE INBOX (QRESYNC (67890007 90060115194045000 41:211,214:541))\r\n",
        check: |body| {
            matches!(body, CommandBody::Examine { params, .. }
                if matches!(params.as_slice(), [SelectParam::QResync(q)] if q.known_uids.is_some()))
        },
    },
    Case {
        extension: "QRESYNC",
        line: "a UID FETCH 300:500 (FLAGS) (CHANGEDSINCE 12345 VANISHED)\r\n",
        check: |body| {
            matches!(body, CommandBody::Fetch { numbers: NumberKind::Uid, modifiers, .. }
                if modifiers.contains(&FetchModifier::Vanished))
        },
    },
    Case {
        extension: "ESEARCH",
        line: "a UID SEARCH RETURN (MIN MAX ALL COUNT) UNDELETED\r\n",
        check: |body| {
            matches!(body, CommandBody::Search { program, .. }
                if program.return_options.as_deref() == Some(&[SearchReturn::Min, SearchReturn::Max, SearchReturn::All, SearchReturn::Count][..]))
        },
    },
    Case {
        extension: "ESEARCH",
        line: "a SEARCH RETURN () ALL\r\n",
        check: |body| {
            matches!(body, CommandBody::Search { program, .. }
                if program.return_options.as_deref() == Some(&[][..]))
        },
    },
    Case {
        extension: "SEARCHRES",
        line: "a SEARCH RETURN (SAVE) FLAGGED\r\n",
        check: |body| {
            matches!(body, CommandBody::Search { program, .. }
                if program.return_options.as_deref() == Some(&[SearchReturn::Save][..]))
        },
    },
    Case {
        extension: "SEARCHRES",
        line: "a FETCH $ (FLAGS)\r\n",
        check: |body| matches!(body, CommandBody::Fetch { set, .. } if is_saved_set(set)),
    },
    Case {
        extension: "SEARCHRES",
        line: "a UID SEARCH UID $ SMALLER 4096\r\n",
        check: |body| {
            has_search_key(
                search_keys(body),
                |key| matches!(key, SearchKey::Uid(set) if is_saved_set(set)),
            )
        },
    },
    Case {
        extension: "SEARCHRES",
        line: "a UID MOVE $ Trash\r\n",
        check: |body| matches!(body, CommandBody::Move { set, .. } if is_saved_set(set)),
    },
    Case {
        extension: "SORT",
        line: "a SORT (REVERSE ARRIVAL CC DATE FROM SIZE SUBJECT TO) UTF-8 ALL\r\n",
        check: |body| {
            matches!(body, CommandBody::Sort { arguments, .. }
                if arguments.criteria.len() == 7 && arguments.criteria[0].is_reverse)
        },
    },
    Case {
        extension: "SORT",
        line: "a UID SORT (DISPLAYFROM DISPLAYTO) US-ASCII SINCE 1-Feb-1994\r\n",
        check: |body| {
            matches!(
                body,
                CommandBody::Sort {
                    numbers: NumberKind::Uid,
                    ..
                }
            )
        },
    },
    Case {
        extension: "THREAD",
        line: "a THREAD REFERENCES UTF-8 ALL\r\n",
        check: |body| {
            matches!(body, CommandBody::Thread { arguments, .. }
                if arguments.algorithm == ThreadAlgorithm::References)
        },
    },
    Case {
        extension: "THREAD",
        line: "a UID THREAD ORDEREDSUBJECT UTF-8 SUBJECT x\r\n",
        check: |body| {
            matches!(body, CommandBody::Thread { numbers: NumberKind::Uid, arguments }
                if arguments.algorithm == ThreadAlgorithm::OrderedSubject)
        },
    },
    Case {
        extension: "BINARY",
        line: "a FETCH 1 (BINARY[1.2]<0.1024> BINARY.PEEK[2] BINARY.SIZE[1])\r\n",
        check: |body| {
            let attributes = fetch_attributes(body);
            attributes.len() == 3
                && matches!(&attributes[0], FetchAttribute::Binary { peek: false, part, partial: Some(_) } if part.len() == 2)
                && matches!(&attributes[1], FetchAttribute::Binary { peek: true, .. })
                && matches!(&attributes[2], FetchAttribute::BinarySize { .. })
        },
    },
    Case {
        extension: "BINARY",
        line: "a APPEND INBOX ~{5}\r\na\0b\0c\r\n",
        check: |body| {
            matches!(body, CommandBody::Append { messages, .. }
                if messages[0].is_binary && messages[0].data == AppendData::Bytes(b"a\0b\0c".to_vec()))
        },
    },
    Case {
        extension: "MULTIAPPEND",
        line: "a APPEND Drafts (\\Draft) {3}\r\none {3}\r\ntwo (\\Seen) \" 1-Jul-2002 22:00:00 -0700\" {5}\r\nthree\r\n",
        check: |body| {
            matches!(body, CommandBody::Append { messages, .. }
                if messages.len() == 3 && messages[2].date.is_some())
        },
    },
    Case {
        extension: "APPENDLIMIT",
        line: "a STATUS INBOX (APPENDLIMIT)\r\n",
        check: |body| status_items(body) == [StatusItem::AppendLimit],
    },
    Case {
        extension: "STATUS=SIZE",
        line: "a STATUS INBOX (MESSAGES SIZE)\r\n",
        check: |body| status_items(body) == [StatusItem::Messages, StatusItem::Size],
    },
    Case {
        extension: "SAVEDATE",
        line: "a FETCH 1 (SAVEDATE)\r\n",
        check: |body| fetch_attributes(body) == [FetchAttribute::SaveDate],
    },
    Case {
        extension: "SAVEDATE",
        line: "a SEARCH SAVEDBEFORE 1-Jan-2020 SAVEDON 2-Jan-2020 SAVEDSINCE 3-Jan-2020 SAVEDATESUPPORTED\r\n",
        check: |body| search_keys(body).len() == 4,
    },
    Case {
        extension: "OBJECTID",
        line: "a FETCH 1 (EMAILID THREADID)\r\n",
        check: |body| fetch_attributes(body) == [FetchAttribute::EmailId, FetchAttribute::ThreadId],
    },
    Case {
        extension: "OBJECTID",
        line: "a SEARCH OR EMAILID M6d99ac3275bb4e THREADID T64b478a75b7ea9\r\n",
        check: |body| {
            has_search_key(
                search_keys(body),
                |key| matches!(key, SearchKey::EmailId(id) if id == "M6d99ac3275bb4e"),
            ) && has_search_key(search_keys(body), |key| {
                matches!(key, SearchKey::ThreadId(_))
            })
        },
    },
    Case {
        extension: "OBJECTID",
        line: "a STATUS INBOX (MAILBOXID)\r\n",
        check: |body| status_items(body) == [StatusItem::MailboxId],
    },
    Case {
        extension: "COMPRESS",
        line: "a COMPRESS DEFLATE\r\n",
        check: |body| matches!(body, CommandBody::Compress(name) if name.as_str() == "DEFLATE"),
    },
    Case {
        extension: "STARTTLS",
        line: "a STARTTLS\r\n",
        check: |body| *body == CommandBody::StartTls,
    },
    Case {
        extension: "SASL-IR",
        line: "a AUTHENTICATE PLAIN dGVzdAB0ZXN0AHRlc3Q=\r\n",
        check: |body| {
            matches!(body, CommandBody::Authenticate { initial_response: Some(data), .. }
                if data.expose() == b"test\0test\0test")
        },
    },
    Case {
        extension: "SASL-IR",
        line: "a AUTHENTICATE EXTERNAL =\r\n",
        check: |body| {
            matches!(body, CommandBody::Authenticate { initial_response: Some(data), .. }
                if data.expose().is_empty())
        },
    },
    Case {
        extension: "UTF8=ACCEPT",
        line: "a ENABLE UTF8=ACCEPT\r\n",
        check: |body| matches!(body, CommandBody::Enable(names) if names[0].as_str() == "UTF8=ACCEPT"),
    },
    Case {
        extension: "UTF8=ACCEPT",
        line: "a APPEND INBOX UTF8 (~{2}\r\nhi)\r\n",
        check: |body| matches!(body, CommandBody::Append { messages, .. } if messages[0].is_utf8),
    },
    Case {
        extension: "UNAUTHENTICATE",
        line: "a UNAUTHENTICATE\r\n",
        check: |body| *body == CommandBody::Unauthenticate,
    },
    Case {
        extension: "WITHIN",
        line: "a SEARCH OLDER 86400 YOUNGER 259200\r\n",
        check: |body| {
            has_search_key(
                search_keys(body),
                |key| matches!(key, SearchKey::Older(n) if n.get() == 86400),
            ) && has_search_key(
                search_keys(body),
                |key| matches!(key, SearchKey::Younger(n) if n.get() == 259200),
            )
        },
    },
    Case {
        extension: "NOTIFY",
        line: "a NOTIFY SET STATUS (selected (MessageNew (uid body.peek[header.fields (from to subject)]) MessageExpunge)) (subtree Lists (MessageNew MessageExpunge MailboxName))\r\n",
        check: |body| matches!(body, CommandBody::Notify(Notify::Set { has_status: true, groups }) if groups.len() == 2),
    },
    Case {
        extension: "NOTIFY",
        line: "a NOTIFY NONE\r\n",
        check: |body| *body == CommandBody::Notify(Notify::None),
    },
    Case {
        extension: "QUOTA",
        line: "a GETQUOTA \"\"\r\n",
        check: |body| matches!(body, CommandBody::GetQuota(root) if root.is_empty()),
    },
    Case {
        extension: "QUOTA",
        line: "a GETQUOTAROOT INBOX\r\n",
        check: |body| matches!(body, CommandBody::GetQuotaRoot(mailbox) if mailbox.is_inbox()),
    },
];

/// The extensions this parser supports, as the crate documentation lists them.
const SUPPORTED: &[&str] = &[
    "IDLE",
    "ID",
    "ENABLE",
    "NAMESPACE",
    "UNSELECT",
    "UIDPLUS",
    "MOVE",
    "LITERAL+",
    "LITERAL-",
    "CHILDREN",
    "LIST-EXTENDED",
    "LIST-STATUS",
    "SPECIAL-USE",
    "CREATE-SPECIAL-USE",
    "CONDSTORE",
    "QRESYNC",
    "ESEARCH",
    "SEARCHRES",
    "SORT",
    "THREAD",
    "BINARY",
    "MULTIAPPEND",
    "APPENDLIMIT",
    "STATUS=SIZE",
    "SAVEDATE",
    "OBJECTID",
    "COMPRESS",
    "STARTTLS",
    "SASL-IR",
    "UTF8=ACCEPT",
    "UNAUTHENTICATE",
    "WITHIN",
    "NOTIFY",
    "QUOTA",
];

#[test]
fn every_supported_extension_has_a_case() {
    for extension in SUPPORTED {
        assert!(
            CASES.iter().any(|case| case.extension == *extension),
            "no case for {extension}"
        );
    }
}

#[test]
fn extension_lines_parse() {
    for case in CASES {
        let command = parse_one(case.line.as_bytes());
        assert!(
            (case.check)(&command.body),
            "{}: {} parsed as {:?}",
            case.extension,
            common::escape(case.line.as_bytes()),
            command.body
        );
    }
}

#[test]
fn utf8_mailbox_names_after_enable() {
    let limits = Limits {
        utf8_accept: true,
        ..Limits::default()
    };
    let command = parse_one_with("a LIST \"\" \"Entwürfe/%\"\r\n".as_bytes(), limits);
    let CommandBody::List(arguments) = command.body else {
        panic!("not LIST: {command:?}");
    };
    assert_eq!(arguments.patterns, vec![ListPattern::new("Entwürfe/%")]);

    // RFC 6855 §3 allows UTF-8 in quoted strings and literals; atoms stay ASCII.
    let command = parse_one_with("a CREATE {4}\r\nČaj\r\n".as_bytes(), limits);
    let CommandBody::Create { mailbox, .. } = command.body else {
        panic!("not CREATE: {command:?}");
    };
    assert_eq!(mailbox.as_str(), "Čaj");
    let error = common::parse_error_with("a CREATE Čaj\r\n".as_bytes(), limits);
    assert_eq!(error.tag, Some(Tag::new("a").unwrap()));
}

#[test]
fn literal_plus_needs_no_continuation() {
    let outcomes = parse_everywhere(
        b"a LOGIN {4+}\r\nfred {7}\r\nfat man\r\n",
        Limits::default(),
        Policy::Accept,
    );
    let requests: Vec<&LiteralRequest> = outcomes
        .iter()
        .filter_map(|outcome| match outcome {
            Outcome::Literal(request) => Some(request),
            _ => None,
        })
        .collect();
    assert_eq!(requests.len(), 2, "{outcomes:?}");
    assert!(!requests[0].is_synchronizing, "{{4+}}");
    assert!(requests[1].is_synchronizing, "{{7}}");
}

#[test]
fn id_fields_read_as_text() {
    let fields = vec![
        ("name".to_owned(), Some("Mail \"X\"".to_owned())),
        ("os".to_owned(), None),
    ];
    assert_eq!(id_fields_text(&fields), r#"name="Mail \"X\"" os=NIL"#);
    assert_eq!(id_fields_text(&[]), "");
}
