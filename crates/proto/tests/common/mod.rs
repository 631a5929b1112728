//! Test support: runs the streaming parser over an input split in every way the tests need
//! and checks that every split yields the same events.

#![allow(dead_code)]

use std::fmt::Debug;

use asimapd_proto::{Command, CommandParser, Event, Limits, LiteralRequest, ParseError};

/// One thing the parser reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Command(Command),
    Error(ParseError),
    Literal(LiteralRequest),
    /// Bytes of a streamed literal, joined across chunks.
    Streamed(Vec<u8>),
}

/// What the session does with each literal request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// Accept every literal into memory.
    Accept,
    /// Stream APPEND message data, accept the rest.
    StreamAppend,
    /// Stream every literal, even where the command does not allow it.
    StreamAll,
    /// Reject every literal.
    Reject,
}

/// Feeds `chunks` one after the other and collects the events.
pub fn run_chunks(chunks: &[&[u8]], limits: Limits, policy: Policy) -> Vec<Outcome> {
    let mut parser = CommandParser::new(limits);
    let mut outcomes = Vec::new();
    for chunk in chunks {
        parser.feed(chunk);
        drain(&mut parser, policy, &mut outcomes);
    }
    outcomes
}

fn drain(parser: &mut CommandParser, policy: Policy, outcomes: &mut Vec<Outcome>) {
    loop {
        let event = parser.next_event();
        match event {
            Ok(Event::NeedMore) => return,
            Ok(Event::Command(command)) => outcomes.push(Outcome::Command(command)),
            Ok(Event::LiteralData(bytes)) => match outcomes.last_mut() {
                Some(Outcome::Streamed(joined)) => joined.extend_from_slice(bytes),
                _ => outcomes.push(Outcome::Streamed(bytes.to_vec())),
            },
            Ok(Event::Literal(request)) => {
                let is_append = request.is_append_message;
                outcomes.push(Outcome::Literal(request));
                match policy {
                    Policy::Accept => accept(parser, outcomes),
                    Policy::StreamAppend if is_append => parser.stream_literal(),
                    Policy::StreamAppend => accept(parser, outcomes),
                    Policy::StreamAll => parser.stream_literal(),
                    Policy::Reject => parser.reject_literal(),
                }
            }
            Err(error) => outcomes.push(Outcome::Error(error)),
        }
    }
}

fn accept(parser: &mut CommandParser, outcomes: &mut Vec<Outcome>) {
    if let Err(error) = parser.accept_literal() {
        outcomes.push(Outcome::Error(error));
    }
}

/// Returns the ways the tests cut an input into reads: whole, one byte at a time, and in two
/// at every position.
pub fn splits(input: &[u8]) -> Vec<Vec<&[u8]>> {
    let mut out = vec![vec![input], input.chunks(1).collect()];
    for split in 1..input.len() {
        let (head, tail) = input.split_at(split);
        out.push(vec![head, tail]);
    }
    out
}

/// Names a cut of [`splits`] in a failure message.
fn describe(chunks: &[&[u8]]) -> String {
    match chunks {
        [_] => "whole input".to_string(),
        [head, _] => format!("split at {}", head.len()),
        _ => "byte-by-byte run".to_string(),
    }
}

/// Runs the parser on `input` whole, fed one byte at a time, and split in two at every
/// position. Asserts that all runs agree, then returns the events.
pub fn parse_everywhere(input: &[u8], limits: Limits, policy: Policy) -> Vec<Outcome> {
    let whole = run_chunks(&[input], limits, policy);
    for chunks in splits(input).iter().skip(1) {
        let outcomes = run_chunks(chunks, limits, policy);
        assert_eq!(
            outcomes,
            whole,
            "{} differs for {}",
            describe(chunks),
            escape(input)
        );
    }
    whole
}

/// Runs the parser on an input too long to split at every position: whole, in reads of each
/// of `read_sizes` bytes, and split in two at each of `positions`. Asserts that all runs
/// agree, then returns the events.
pub fn parse_at(
    input: &[u8],
    limits: Limits,
    policy: Policy,
    read_sizes: &[usize],
    positions: &[usize],
) -> Vec<Outcome> {
    let whole = run_chunks(&[input], limits, policy);
    for &size in read_sizes {
        let chunks: Vec<&[u8]> = input.chunks(size).collect();
        let outcomes = run_chunks(&chunks, limits, policy);
        assert!(outcomes == whole, "reads of {size} bytes differ");
    }
    for &position in positions {
        let (head, tail) = input.split_at(position);
        let outcomes = run_chunks(&[head, tail], limits, policy);
        assert!(outcomes == whole, "split at {position} differs");
    }
    whole
}

/// Feeds `input` in every split of [`splits`] to a parser that reads raw lines between
/// commands (AUTHENTICATE replies, the end of IDLE) with `read`, calling it after each read
/// until it returns `Ok(None)`. Asserts that all runs agree, then returns the results.
pub fn read_lines_everywhere<T: PartialEq + Debug>(
    input: &[u8],
    limits: Limits,
    read: fn(&mut CommandParser) -> Result<Option<T>, ParseError>,
) -> Vec<Result<T, ParseError>> {
    let run = |chunks: &[&[u8]]| {
        let mut parser = CommandParser::new(limits);
        let mut results = Vec::new();
        for chunk in chunks {
            parser.feed(chunk);
            loop {
                match read(&mut parser) {
                    Ok(None) => break,
                    Ok(Some(value)) => results.push(Ok(value)),
                    Err(error) => results.push(Err(error)),
                }
            }
        }
        results
    };
    let whole = run(&[input]);
    for chunks in splits(input).iter().skip(1) {
        assert_eq!(
            run(chunks),
            whole,
            "{} differs for {}",
            describe(chunks),
            escape(input)
        );
    }
    whole
}

/// Parses `input`, which must hold exactly one command, in every split, accepting literals.
pub fn parse_one(input: &[u8]) -> Command {
    parse_one_with(input, Limits::default())
}

pub fn parse_one_with(input: &[u8], limits: Limits) -> Command {
    let outcomes = parse_everywhere(input, limits, Policy::Accept);
    let commands: Vec<&Command> = outcomes
        .iter()
        .filter_map(|outcome| match outcome {
            Outcome::Command(command) => Some(command),
            _ => None,
        })
        .collect();
    let errors: Vec<&Outcome> = outcomes
        .iter()
        .filter(|outcome| matches!(outcome, Outcome::Error(_)))
        .collect();
    assert!(errors.is_empty(), "errors {errors:?} for {}", escape(input));
    assert_eq!(
        commands.len(),
        1,
        "commands {commands:?} for {}",
        escape(input)
    );
    commands[0].clone()
}

/// Parses `input` and returns the one error it must produce.
pub fn parse_error(input: &[u8]) -> ParseError {
    parse_error_with(input, Limits::default())
}

pub fn parse_error_with(input: &[u8], limits: Limits) -> ParseError {
    let outcomes = parse_everywhere(input, limits, Policy::Accept);
    let errors: Vec<ParseError> = outcomes
        .into_iter()
        .filter_map(|outcome| match outcome {
            Outcome::Error(error) => Some(error),
            _ => None,
        })
        .collect();
    assert_eq!(errors.len(), 1, "errors {errors:?} for {}", escape(input));
    errors[0].clone()
}

/// Shows bytes with CR, LF and non-ASCII escaped.
pub fn escape(bytes: &[u8]) -> String {
    bytes.escape_ascii().to_string()
}
