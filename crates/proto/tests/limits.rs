//! Named limits and error recovery: every limit rejects input past it with a precise error,
//! and the parser reads the next command correctly afterwards.

mod common;

use asimapd_proto::*;
use common::{Outcome, Policy, parse_at, parse_error, parse_everywhere, read_lines_everywhere};

fn small_limits() -> Limits {
    Limits {
        max_line_len: 64,
        max_literal_len: 10,
        max_non_sync_literal_len: 10,
        max_command_len: 100,
        max_depth: 4,
        utf8_accept: false,
    }
}

fn commands(outcomes: &[Outcome]) -> Vec<&CommandBody> {
    outcomes
        .iter()
        .filter_map(|outcome| match outcome {
            Outcome::Command(command) => Some(&command.body),
            _ => None,
        })
        .collect()
}

fn errors(outcomes: &[Outcome]) -> Vec<&ParseError> {
    outcomes
        .iter()
        .filter_map(|outcome| match outcome {
            Outcome::Error(error) => Some(error),
            _ => None,
        })
        .collect()
}

#[test]
fn default_limits_match_named_constants() {
    let limits = Limits::default();
    assert_eq!(limits.max_literal_len, MAX_LITERAL_LEN);
    assert_eq!(MAX_LITERAL_LEN, 10 * 1024 * 1024);
    assert_eq!(limits.max_line_len, MAX_LINE_LEN);
    assert_eq!(limits.max_depth, MAX_DEPTH);
    assert!(Limits::pre_auth().max_literal_len < MAX_LITERAL_LEN);
    assert_eq!(Limits::pre_auth().max_literal_len, PRE_AUTH_MAX_LITERAL_LEN);
    assert_eq!(Limits::pre_auth().max_command_len, PRE_AUTH_MAX_COMMAND_LEN);
}

#[test]
fn pre_auth_command_limit_rejects_third_literal() {
    let literal = "x".repeat(PRE_AUTH_MAX_LITERAL_LEN as usize);
    let len = literal.len();
    let input = format!("a LOGIN {{{len}}}\r\n{literal} {{{len}}}\r\n{literal} {{{len}}}\r\n");
    let outcomes = parse_everywhere(input.as_bytes(), Limits::pre_auth(), Policy::Accept);
    let expected = ErrorKind::CommandTooLong {
        max: PRE_AUTH_MAX_COMMAND_LEN,
    };
    assert_eq!(errors(&outcomes).len(), 1, "{:?}", errors(&outcomes));
    assert_eq!(errors(&outcomes)[0].kind, expected);
}

#[test]
fn literal_over_default_limit_is_rejected() {
    let input = format!("a APPEND INBOX {{{}}}\r\nb NOOP\r\n", MAX_LITERAL_LEN + 1);
    let outcomes = parse_everywhere(input.as_bytes(), Limits::default(), Policy::Accept);
    let expected = ErrorKind::LiteralTooLarge {
        len: MAX_LITERAL_LEN + 1,
        max: MAX_LITERAL_LEN,
    };
    assert_eq!(errors(&outcomes)[0].kind, expected);
    assert_eq!(errors(&outcomes)[0].tag, Some(Tag::new("a").unwrap()));
    assert_eq!(commands(&outcomes), vec![&CommandBody::Noop]);
}

#[test]
fn pre_auth_literal_limit_is_smaller() {
    let len = PRE_AUTH_MAX_LITERAL_LEN + 1;
    let input = format!("a LOGIN {{{len}}}\r\n");
    let outcomes = parse_everywhere(input.as_bytes(), Limits::pre_auth(), Policy::Accept);
    let expected = ErrorKind::LiteralTooLarge {
        len,
        max: PRE_AUTH_MAX_LITERAL_LEN,
    };
    assert_eq!(errors(&outcomes)[0].kind, expected);
}

#[test]
fn oversized_non_sync_literal_is_skipped_not_parsed() {
    // The 20 literal bytes are two complete commands; they must be skipped unread.
    let input = b"a APPEND INBOX {20+}\r\nb LOGOUT\r\nc LOGOUT\r\n\r\nd NOOP\r\n";
    let outcomes = parse_everywhere(input, small_limits(), Policy::Accept);
    assert_eq!(errors(&outcomes).len(), 1, "{outcomes:?}");
    let expected = ErrorKind::LiteralTooLarge { len: 20, max: 10 };
    assert_eq!(errors(&outcomes)[0].kind, expected);
    assert_eq!(commands(&outcomes), vec![&CommandBody::Noop]);
}

#[test]
fn literal_minus_limit_applies_to_non_sync_only() {
    let limits = Limits {
        max_non_sync_literal_len: LITERAL_MINUS_MAX_LEN,
        ..Limits::default()
    };
    let too_big = format!("a LOGIN {{{}+}}\r\n", LITERAL_MINUS_MAX_LEN + 1);
    let outcomes = parse_everywhere(too_big.as_bytes(), limits, Policy::Accept);
    assert!(matches!(
        errors(&outcomes)[0].kind,
        ErrorKind::LiteralTooLarge { .. }
    ));
    let sync = format!("a LOGIN {{{}}}\r\n", LITERAL_MINUS_MAX_LEN + 1);
    let outcomes = parse_everywhere(sync.as_bytes(), limits, Policy::Accept);
    assert!(errors(&outcomes).is_empty(), "{outcomes:?}");
    assert!(matches!(outcomes[0], Outcome::Literal(_)));
}

#[test]
fn rejected_sync_literal_leaves_next_line_a_command() {
    let input = b"a LOGIN {5}\r\nb NOOP\r\n";
    let outcomes = parse_everywhere(input, Limits::default(), Policy::Reject);
    assert_eq!(commands(&outcomes), vec![&CommandBody::Noop]);
    assert!(errors(&outcomes).is_empty());
}

#[test]
fn rejected_non_sync_literal_is_skipped() {
    let input = b"a LOGIN {8+}\r\nb NOOP\r\n c\r\nd CHECK\r\n";
    let outcomes = parse_everywhere(input, Limits::default(), Policy::Reject);
    assert_eq!(commands(&outcomes), vec![&CommandBody::Check]);
}

#[test]
fn line_over_limit_is_rejected_with_tag() {
    let mut input = b"a1 LOGIN ".to_vec();
    input.extend(std::iter::repeat_n(b'x', 80));
    input.extend_from_slice(b" y\r\nb NOOP\r\n");
    let outcomes = parse_everywhere(&input, small_limits(), Policy::Accept);
    let errors = errors(&outcomes);
    assert_eq!(errors.len(), 1, "{outcomes:?}");
    assert_eq!(errors[0].kind, ErrorKind::LineTooLong { max: 64 });
    assert_eq!(errors[0].tag, Some(Tag::new("a1").unwrap()));
    assert_eq!(commands(&outcomes), vec![&CommandBody::Noop]);
}

/// Builds a LOGIN line of exactly `len` bytes, CRLF included, followed by a NOOP.
fn login_line(len: usize) -> Vec<u8> {
    let mut line = b"a LOGIN user ".to_vec();
    line.resize(len - 2, b'p');
    line.extend_from_slice(b"\r\nb NOOP\r\n");
    line
}

/// Checks that a line of `max` bytes parses and a line of `max + 1` bytes is rejected, with
/// the command after it read either way.
fn check_line_limit(limits: Limits, max: usize) {
    let fits = login_line(max);
    let positions = [1, 2, 13, max / 2, max - 2, max - 1, max, max + 1];
    let outcomes = parse_at(&fits, limits, Policy::Accept, &[1, 4096], &positions);
    assert!(errors(&outcomes).is_empty(), "line of {max} bytes");
    let bodies = commands(&outcomes);
    assert_eq!(bodies.len(), 2, "line of {max} bytes");
    assert!(matches!(bodies[0], CommandBody::Login { .. }));

    let too_long = login_line(max + 1);
    let outcomes = parse_at(&too_long, limits, Policy::Accept, &[1, 4096], &positions);
    let errors = errors(&outcomes);
    assert_eq!(errors.len(), 1, "line of {} bytes", max + 1);
    assert_eq!(errors[0].kind, ErrorKind::LineTooLong { max });
    assert_eq!(errors[0].tag, Some(Tag::new("a").unwrap()));
    assert_eq!(commands(&outcomes), vec![&CommandBody::Noop]);
}

#[test]
fn default_line_limit_is_exact() {
    check_line_limit(Limits::default(), MAX_LINE_LEN);
}

#[test]
fn pre_auth_line_limit_is_exact() {
    check_line_limit(Limits::pre_auth(), PRE_AUTH_MAX_LINE_LEN);
}

#[test]
fn literal_of_max_len_is_accepted() {
    let input = format!("a APPEND INBOX {{{MAX_LITERAL_LEN}}}\r\n");
    let outcomes = parse_everywhere(input.as_bytes(), Limits::default(), Policy::Reject);
    let Outcome::Literal(request) = &outcomes[0] else {
        panic!("no literal request: {outcomes:?}");
    };
    assert_eq!(request.len, MAX_LITERAL_LEN);
    assert!(errors(&outcomes).is_empty(), "{outcomes:?}");
}

#[test]
fn default_command_limit_counts_accepted_literals() {
    // A 10 MiB message fits into memory, but a second message of 64 KiB would make the
    // command longer than MAX_COMMAND_LEN.
    let header = format!("a APPEND INBOX {{{MAX_LITERAL_LEN}+}}\r\n");
    let second = MAX_COMMAND_LEN - MAX_LITERAL_LEN as usize;
    let mut input = header.clone().into_bytes();
    input.resize(header.len() + MAX_LITERAL_LEN as usize, b'm');
    input.extend_from_slice(format!(" {{{second}+}}\r\n").as_bytes());
    let second_start = input.len();
    input.resize(second_start + second, b'n');
    input.extend_from_slice(b"\r\nb NOOP\r\n");

    let positions = [
        header.len(),
        second_start - 3,
        second_start,
        input.len() - 8,
    ];
    let outcomes = parse_at(
        &input,
        Limits::default(),
        Policy::Accept,
        &[65536],
        &positions,
    );
    let errors = errors(&outcomes);
    assert_eq!(errors.len(), 1, "{:?}", errors);
    assert_eq!(
        errors[0].kind,
        ErrorKind::CommandTooLong {
            max: MAX_COMMAND_LEN
        }
    );
    assert_eq!(commands(&outcomes), vec![&CommandBody::Noop]);
}

#[test]
fn unterminated_long_line_rejected_early() {
    let mut parser = CommandParser::new(small_limits());
    parser.feed(&[b'x'; 100]);
    let error = parser.next_event().unwrap_err();
    assert_eq!(error.kind, ErrorKind::LineTooLong { max: 64 });
    parser.feed(b"xxx\r\nb NOOP\r\n");
    let Ok(Event::Command(command)) = parser.next_event() else {
        panic!("NOOP not parsed after a discarded line");
    };
    assert_eq!(command.body, CommandBody::Noop);

    let mut input = vec![b'x'; 103];
    input.extend_from_slice(b"\r\nb NOOP\r\n");
    let outcomes = parse_everywhere(&input, small_limits(), Policy::Accept);
    let errors = errors(&outcomes);
    assert_eq!(errors.len(), 1, "{outcomes:?}");
    assert_eq!(errors[0].kind, ErrorKind::LineTooLong { max: 64 });
    assert_eq!(commands(&outcomes), vec![&CommandBody::Noop]);
}

#[test]
fn command_over_memory_limit_is_rejected() {
    let input = b"a LOGIN {10}\r\n0123456789 {10}\r\n0123456789\r\n";
    let limits = Limits {
        max_command_len: 30,
        ..small_limits()
    };
    let outcomes = parse_everywhere(input, limits, Policy::Accept);
    assert_eq!(
        errors(&outcomes)[0].kind,
        ErrorKind::CommandTooLong { max: 30 }
    );
}

#[test]
fn search_nesting_over_limit_is_rejected() {
    let limits = small_limits();
    let deep = b"a SEARCH NOT NOT NOT NOT NOT SEEN\r\n";
    let outcomes = parse_everywhere(deep, limits, Policy::Accept);
    assert_eq!(errors(&outcomes)[0].kind, ErrorKind::TooDeep { max: 4 });
    let shallow = b"a SEARCH NOT NOT NOT SEEN\r\n";
    let outcomes = parse_everywhere(shallow, limits, Policy::Accept);
    assert!(errors(&outcomes).is_empty());
}

#[test]
fn paren_nesting_over_default_limit_is_rejected() {
    let depth = MAX_DEPTH + 1;
    let input = format!("a SEARCH {}ALL{}\r\n", "(".repeat(depth), ")".repeat(depth));
    let error = parse_error(input.as_bytes());
    assert_eq!(error.kind, ErrorKind::TooDeep { max: MAX_DEPTH });
}

#[test]
fn bare_line_feed_is_rejected() {
    let error = parse_error(b"a NOOP\nb NOOP\r\n");
    assert_eq!(error.kind, ErrorKind::BareLineFeed);
    assert_eq!(error.tag, Some(Tag::new("a").unwrap()));
}

#[test]
fn errors_carry_tag_when_read() {
    let error = parse_error(b"x17 FROBNICATE\r\n");
    assert_eq!(error.tag, Some(Tag::new("x17").unwrap()));
    assert_eq!(
        error.kind,
        ErrorKind::UnknownCommand {
            name: "FROBNICATE".into()
        }
    );
    let error = parse_error(b"+bad NOOP\r\n");
    assert_eq!(error.tag, None);
    let error = parse_error(b"\r\n");
    assert_eq!(error.tag, None);
}

#[test]
fn grammar_errors_name_the_offset() {
    let error = parse_error(b"a FETCH 1 (FLAGS\r\n");
    assert_eq!(
        error.kind,
        ErrorKind::Expected {
            expected: ")",
            offset: 16
        }
    );
}

#[test]
fn idle_done_matches_any_case() {
    let mut parser = CommandParser::new(Limits::default());
    parser.feed(b"a IDLE\r\ndo");
    assert!(matches!(parser.next_event(), Ok(Event::Command(_))));
    assert_eq!(parser.next_idle_done(), Ok(None));
    parser.feed(b"ne\r\nDONE\r\nnope\r\n");
    assert_eq!(parser.next_idle_done(), Ok(Some(())));
    assert_eq!(parser.next_idle_done(), Ok(Some(())));
    assert_eq!(
        parser.next_idle_done().unwrap_err().kind,
        ErrorKind::ExpectedDone
    );

    let results = read_lines_everywhere(
        b"done\r\nDONE\r\nnope\r\n",
        Limits::default(),
        CommandParser::next_idle_done,
    );
    let kinds: Vec<Result<(), ErrorKind>> = results
        .into_iter()
        .map(|result| result.map_err(|error| error.kind))
        .collect();
    assert_eq!(kinds, vec![Ok(()), Ok(()), Err(ErrorKind::ExpectedDone)]);
}

#[test]
fn authenticate_continuations_decode_and_cancel() {
    let mut parser = CommandParser::new(Limits::pre_auth());
    parser.feed(b"dGVzdAB0ZXN0AHRlc3Q=\r\n*\r\n\r\n!!\r\n");
    let response = parser.next_authenticate_response().unwrap().unwrap();
    let AuthenticateResponse::Data(data) = response else {
        panic!("not data");
    };
    assert_eq!(data.expose(), b"test\0test\0test");
    assert_eq!(
        parser.next_authenticate_response(),
        Ok(Some(AuthenticateResponse::Cancel))
    );
    assert_eq!(
        parser.next_authenticate_response(),
        Ok(Some(AuthenticateResponse::Data(Secret::new(Vec::new()))))
    );
    assert_eq!(
        parser.next_authenticate_response().unwrap_err().kind,
        ErrorKind::InvalidBase64
    );

    let results = read_lines_everywhere(
        b"dGVzdAB0ZXN0AHRlc3Q=\r\n*\r\n\r\n!!\r\n",
        Limits::pre_auth(),
        CommandParser::next_authenticate_response,
    );
    let kinds: Vec<Result<AuthenticateResponse, ErrorKind>> = results
        .into_iter()
        .map(|result| result.map_err(|error| error.kind))
        .collect();
    assert_eq!(
        kinds,
        vec![
            Ok(AuthenticateResponse::Data(Secret::new(
                b"test\0test\0test".to_vec()
            ))),
            Ok(AuthenticateResponse::Cancel),
            Ok(AuthenticateResponse::Data(Secret::new(Vec::new()))),
            Err(ErrorKind::InvalidBase64),
        ]
    );
}

#[test]
fn authenticate_line_over_limit_is_rejected() {
    let mut parser = CommandParser::new(Limits::pre_auth());
    parser.feed(&vec![b'A'; PRE_AUTH_MAX_LINE_LEN + 1]);
    let error = parser.next_authenticate_response().unwrap_err();
    assert_eq!(
        error.kind,
        ErrorKind::LineTooLong {
            max: PRE_AUTH_MAX_LINE_LEN
        }
    );
    parser.feed(b"AAAA\r\n*\r\n");
    assert_eq!(
        parser.next_authenticate_response(),
        Ok(Some(AuthenticateResponse::Cancel)),
        "the rest of the long line must be discarded"
    );

    let mut input = vec![b'A'; PRE_AUTH_MAX_LINE_LEN + 5];
    input.extend_from_slice(b"\r\n*\r\n");
    let results = read_lines_everywhere(
        &input,
        Limits::pre_auth(),
        CommandParser::next_authenticate_response,
    );
    let kinds: Vec<Result<AuthenticateResponse, ErrorKind>> = results
        .into_iter()
        .map(|result| result.map_err(|error| error.kind))
        .collect();
    let too_long = ErrorKind::LineTooLong {
        max: PRE_AUTH_MAX_LINE_LEN,
    };
    assert_eq!(kinds, vec![Err(too_long), Ok(AuthenticateResponse::Cancel)]);
}

#[test]
fn invalid_values_are_rejected() {
    let cases: &[(&[u8], &str)] = &[
        (b"a FETCH 0 FLAGS\r\n", "sequence number zero"),
        (b"a FETCH 1:0 FLAGS\r\n", "range ending at zero"),
        (b"a UID FETCH 4294967296 FLAGS\r\n", "number overflow"),
        (b"a SEARCH SINCE 30-Feb-2024\r\n", "impossible date"),
        (b"a SELECT &AGE-\r\n", "encoded ASCII in mailbox"),
        (
            b"a SELECT caf\xc3\xa9\r\n",
            "8-bit mailbox without UTF8=ACCEPT",
        ),
        (b"a LOGIN \"unterminated\r\n", "open quote"),
        (b"a LOGIN \"bad\\escape\" x\r\n", "invalid escape"),
        (b"a STORE 1 FLAGS (\\Seen\r\n", "open flag list"),
        (b"a FETCH 1 BODY[1.0]\r\n", "part zero"),
        (b"a FETCH 1 BODY[]<0.0>\r\n", "empty partial"),
        (b"a FETCH 1 BODY[MIME]\r\n", "MIME without part"),
        (b"a SELECT INBOX (QRESYNC (0 1))\r\n", "UIDVALIDITY zero"),
        (b"a STORE 1 +FLAGS (\\Seen) extra\r\n", "trailing bytes"),
        (b"a NOOP \r\n", "trailing space"),
        (b"a  NOOP\r\n", "double space"),
        (
            b"a LOGIN {3}\r\nabc ~{1}\r\nx\r\n",
            "literal8 outside APPEND",
        ),
        (b"a AUTHENTICATE PLAIN ***\r\n", "invalid base64"),
    ];
    for (input, reason) in cases {
        let error = parse_error(input);
        assert_eq!(error.tag, Some(Tag::new("a").unwrap()), "{reason}");
    }
}

#[test]
fn utf8_accept_takes_mailbox_names_as_utf8() {
    let limits = Limits {
        utf8_accept: true,
        ..Limits::default()
    };
    let command = common::parse_one_with("a SELECT \"Entwürfe\"\r\n".as_bytes(), limits);
    let CommandBody::Select { mailbox, .. } = command.body else {
        panic!("not SELECT");
    };
    assert_eq!(mailbox.as_str(), "Entwürfe");
    let command = common::parse_one(b"a SELECT Entw&APw-rfe\r\n");
    let CommandBody::Select { mailbox, .. } = command.body else {
        panic!("not SELECT");
    };
    assert_eq!(mailbox.as_str(), "Entwürfe");
}

#[test]
fn list_nesting_counts_every_list() {
    // A flag list is one level. A NOTIFY event group is three: the group, its event list
    // and the fetch attributes of MessageNew.
    let cases: &[(&[u8], usize)] = &[
        (b"a STORE 1 FLAGS (\\Seen)\r\n", 1),
        (b"a NOTIFY SET (selected (MessageNew (uid)))\r\n", 3),
    ];
    for (input, depth) in cases {
        let fits = Limits {
            max_depth: *depth,
            ..Limits::default()
        };
        let outcomes = parse_everywhere(input, fits, Policy::Accept);
        assert!(errors(&outcomes).is_empty(), "{outcomes:?}");
        assert_eq!(commands(&outcomes).len(), 1, "{outcomes:?}");

        let too_shallow = Limits {
            max_depth: depth - 1,
            ..Limits::default()
        };
        let outcomes = parse_everywhere(input, too_shallow, Policy::Accept);
        let errors = errors(&outcomes);
        assert_eq!(errors.len(), 1, "{outcomes:?}");
        assert_eq!(errors[0].kind, ErrorKind::TooDeep { max: depth - 1 });
    }
}

#[test]
fn long_response_text_is_cut() {
    use asimapd_proto::response::{MAX_RESPONSE_TEXT_LEN, Status, StatusResponse};
    let echoed = format!("Invalid mailbox name \"{}\"", "é".repeat(5 * 1024 * 1024));
    let response = StatusResponse::tagged(Tag::new("a").unwrap(), Status::No, None, echoed);
    let mut out = Vec::new();
    response.encode(&mut out);
    assert!(
        out.len() <= "a NO ".len() + MAX_RESPONSE_TEXT_LEN + 2,
        "{} bytes",
        out.len()
    );
    assert!(out.ends_with(b"...\r\n"));
    assert!(std::str::from_utf8(&out).is_ok(), "cut inside a character");
}
