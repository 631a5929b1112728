//! Line and literal framing: several commands per read, empty literals, streamed MULTIAPPEND
//! messages and sequence-set forms, each fed whole, byte by byte and split everywhere.

mod common;

use std::num::NonZeroU32;

use asimapd_proto::*;
use common::{Outcome, Policy, parse_everywhere, parse_one};

fn bodies(outcomes: &[Outcome]) -> Vec<CommandBody> {
    outcomes
        .iter()
        .filter_map(|outcome| match outcome {
            Outcome::Command(command) => Some(command.body.clone()),
            Outcome::Error(error) => panic!("unexpected error {error:?}"),
            _ => None,
        })
        .collect()
}

#[test]
fn several_commands_in_one_read() {
    let outcomes = parse_everywhere(
        b"a NOOP\r\nb CHECK\r\nc LOGOUT\r\n",
        Limits::default(),
        Policy::Accept,
    );
    let expected = vec![CommandBody::Noop, CommandBody::Check, CommandBody::Logout];
    assert_eq!(bodies(&outcomes), expected);
}

#[test]
fn empty_literal_is_an_empty_string() {
    let command = parse_one(b"a LOGIN {0}\r\n {0+}\r\n\r\n");
    let CommandBody::Login { username, password } = command.body else {
        panic!("not LOGIN");
    };
    assert_eq!(username, "");
    assert!(password.expose().is_empty());
}

#[test]
fn streamed_multiappend_keeps_message_order() {
    let input = b"a APPEND Drafts (\\Draft) {3}\r\none ~{3+}\r\nt\0o {5}\r\nthree\r\nb NOOP\r\n";
    let outcomes = parse_everywhere(input, Limits::default(), Policy::StreamAppend);
    let streamed: Vec<&Outcome> = outcomes
        .iter()
        .filter(|outcome| matches!(outcome, Outcome::Streamed(_)))
        .collect();
    assert_eq!(
        streamed,
        vec![
            &Outcome::Streamed(b"one".to_vec()),
            &Outcome::Streamed(b"t\0o".to_vec()),
            &Outcome::Streamed(b"three".to_vec()),
        ]
    );
    let bodies = bodies(&outcomes);
    let CommandBody::Append { mailbox, messages } = &bodies[0] else {
        panic!("not APPEND: {bodies:?}");
    };
    assert_eq!(mailbox.as_str(), "Drafts");
    let lens: Vec<&AppendData> = messages.iter().map(|message| &message.data).collect();
    let expected = [3, 3, 5].map(|len| AppendData::External { len });
    assert_eq!(lens, expected.iter().collect::<Vec<_>>());
    assert_eq!(messages[0].flags, vec![Flag::Draft]);
    assert!(messages[1].is_binary);
    assert_eq!(bodies[1], CommandBody::Noop);
}

/// RFC 6855 §4: under UTF8=ACCEPT a message may come as `UTF8 (~{n})`.
#[test]
fn utf8_append_data_streams_and_parses() {
    let input = "a APPEND INBOX UTF8 (~{6}\r\nSé: x) UTF8 (~{2+}\r\nab)\r\n".as_bytes();
    let outcomes = parse_everywhere(input, Limits::default(), Policy::StreamAppend);
    let requests: Vec<&LiteralRequest> = outcomes
        .iter()
        .filter_map(|outcome| match outcome {
            Outcome::Literal(request) => Some(request),
            _ => None,
        })
        .collect();
    assert_eq!(requests.len(), 2);
    assert!(requests.iter().all(|request| request.is_append_message));
    assert!(requests.iter().all(|request| request.is_binary));
    let bodies = bodies(&outcomes);
    let CommandBody::Append { messages, .. } = &bodies[0] else {
        panic!("not APPEND: {bodies:?}");
    };
    assert_eq!(messages.len(), 2);
    assert!(messages[0].is_utf8);
    assert_eq!(messages[0].data, AppendData::External { len: 6 });
    assert_eq!(messages[1].data, AppendData::External { len: 2 });
}

#[test]
fn utf8_append_data_needs_literal8() {
    let error = common::parse_error(b"a APPEND INBOX UTF8 ({1}\r\nx)\r\n");
    assert_eq!(error.tag, Some(Tag::new("a").unwrap()));
}

#[test]
fn streamed_literal_outside_append_is_rejected() {
    let mut parser = CommandParser::new(Limits::default());
    parser.feed(b"a LOGIN {3}\r\nabc x\r\n");
    let Ok(Event::Literal(request)) = parser.next_event() else {
        panic!("no literal request");
    };
    assert!(!request.is_append_message);
    parser.stream_literal();
    assert!(matches!(
        parser.next_event(),
        Ok(Event::LiteralData(b"abc"))
    ));
    let error = parser.next_event().unwrap_err();
    assert_eq!(error.kind, ErrorKind::UnexpectedExternalLiteral);

    let outcomes = parse_everywhere(
        b"a LOGIN {3}\r\nabc x\r\n",
        Limits::default(),
        Policy::StreamAll,
    );
    assert!(matches!(&outcomes[0], Outcome::Literal(request) if !request.is_append_message));
    assert_eq!(outcomes[1], Outcome::Streamed(b"abc".to_vec()));
    let Outcome::Error(error) = &outcomes[2] else {
        panic!("no error: {outcomes:?}");
    };
    assert_eq!(error.kind, ErrorKind::UnexpectedExternalLiteral);
    assert_eq!(outcomes.len(), 3, "{outcomes:?}");
}

#[test]
fn empty_streamed_literal_completes_command() {
    for (input, is_synchronizing) in [
        (&b"a APPEND INBOX {0}\r\n\r\nb NOOP\r\n"[..], true),
        (&b"a APPEND INBOX {0+}\r\n\r\nb NOOP\r\n"[..], false),
    ] {
        let outcomes = parse_everywhere(input, Limits::default(), Policy::StreamAppend);
        assert!(
            matches!(&outcomes[0], Outcome::Literal(request) if request.is_synchronizing == is_synchronizing),
            "{outcomes:?}"
        );
        let commands: Vec<_> = outcomes
            .iter()
            .filter_map(|outcome| match outcome {
                Outcome::Command(command) => Some(command.tag.as_str().to_owned()),
                _ => None,
            })
            .collect();
        assert_eq!(commands, ["a", "b"], "{outcomes:?}");
    }
}

#[test]
fn literal_request_repeats_until_decided() {
    let mut parser = CommandParser::new(Limits::default());
    parser.feed(b"a LOGIN {3}\r\n");
    assert!(matches!(parser.next_event(), Ok(Event::Literal(_))));
    assert!(matches!(parser.next_event(), Ok(Event::Literal(_))));
    parser.accept_literal().unwrap();
    assert!(matches!(parser.next_event(), Ok(Event::NeedMore)));
}

#[test]
fn sequence_sets_accept_star_reversed_ranges_and_saved() {
    let command = parse_one(b"a UID FETCH *:5,3,7:2 FLAGS\r\n");
    let CommandBody::Fetch { set, .. } = command.body else {
        panic!("not FETCH");
    };
    let nz = |value| SeqBound::Number(NonZeroU32::new(value).unwrap());
    let expected = SequenceSet::Ranges(vec![
        SeqRange {
            start: SeqBound::Largest,
            end: nz(5),
        },
        SeqRange {
            start: nz(3),
            end: nz(3),
        },
        SeqRange {
            start: nz(7),
            end: nz(2),
        },
    ]);
    assert_eq!(set, expected);
    let command = parse_one(b"a UID COPY $ Trash\r\n");
    let CommandBody::Copy { set, .. } = command.body else {
        panic!("not COPY");
    };
    assert_eq!(set, SequenceSet::Saved);
}

#[test]
fn saved_set_cannot_join_a_list() {
    let error = common::parse_error(b"a UID FETCH 1,$ FLAGS\r\n");
    assert_eq!(error.tag, Some(Tag::new("a").unwrap()));
}

#[test]
fn keywords_match_any_case() {
    let command = parse_one(b"a uid fetch 1 (body.peek[header.fields.not (x)] rfc822.size)\r\n");
    assert_eq!(command.body.name(), "UID FETCH");
    let command = parse_one(b"a Select inBOX\r\n");
    let CommandBody::Select { mailbox, .. } = command.body else {
        panic!("not SELECT");
    };
    assert!(mailbox.is_inbox());
}

#[test]
fn quoted_strings_honour_escapes() {
    let command = parse_one(b"a LOGIN \"a\\\"b\" \"c\\\\d\"\r\n");
    let CommandBody::Login { username, password } = command.body else {
        panic!("not LOGIN");
    };
    assert_eq!(username, "a\"b");
    assert_eq!(password.expose(), b"c\\d");
}

/// RFC 9051 §9: `ASTRING-CHAR` is `ATOM-CHAR` plus `]`, `list-char` adds `%` and `*`, and
/// a tag is an astring without `+`.
#[test]
fn atoms_and_astrings_follow_abnf() {
    let command = parse_one(b"a LOGIN us]er p!#$&'+,-./:;<=>?@^_`|}~w\r\n");
    let CommandBody::Login { username, password } = command.body else {
        panic!("not LOGIN: {command:?}");
    };
    assert_eq!(username, "us]er");
    assert_eq!(password.expose(), b"p!#$&'+,-./:;<=>?@^_`|}~w");

    let command = parse_one(b"a LIST Ref] foo]%/*\r\n");
    let CommandBody::List(arguments) = command.body else {
        panic!("not LIST: {command:?}");
    };
    assert_eq!(arguments.reference.as_str(), "Ref]");
    assert_eq!(arguments.patterns, vec![ListPattern::new("foo]%/*")]);

    let command = parse_one(b"a] NOOP\r\n");
    assert_eq!(command.tag, Tag::new("a]").unwrap());

    let invalid: &[(&[u8], &str)] = &[
        (b"a LOGIN us%er pw\r\n", "% in an astring"),
        (b"a LOGIN us*er pw\r\n", "* in an astring"),
        (b"a LOGIN us(er pw\r\n", "( in an astring"),
        (b"a LOGIN us\"er pw\r\n", "quote in an astring"),
        (b"a LOGIN us\\er pw\r\n", "backslash in an astring"),
        (b"a LOGIN us\x01er pw\r\n", "control byte in an astring"),
        (b"a LOGIN us\x7fer pw\r\n", "DEL in an astring"),
        (b"a SELECT in*box\r\n", "* in a mailbox"),
        (b"a SELECT in%box\r\n", "% in a mailbox"),
        (b"a LIST \"\" fo(o\r\n", "( in list-mailbox"),
        (b"a LIST \"\" fo{o\r\n", "{ in list-mailbox"),
        (b"a STORE 1 +FLAGS (fo]o)\r\n", "] in a flag keyword atom"),
        (b"a ENABLE con%dstore\r\n", "% in a capability atom"),
        (b"a LOGIN \"line\rbreak\" pw\r\n", "CR in a quoted string"),
        (b"a LOGIN \"nul\0byte\" pw\r\n", "NUL in a quoted string"),
    ];
    for (input, reason) in invalid {
        let error = common::parse_error(input);
        assert_eq!(error.tag, Some(Tag::new("a").unwrap()), "{reason}");
    }

    // `+` ends the tag, so the parser expects a space there and rejects the command.
    let error = common::parse_error(b"a+b NOOP\r\n");
    assert_eq!(error.tag, Some(Tag::new("a").unwrap()));
    assert!(
        matches!(error.kind, ErrorKind::Expected { offset: 1, .. }),
        "{error:?}"
    );
}
