//! Test support: runs the streaming parser over an input split in every way the tests need
//! and checks that every split yields the same events.

#![allow(dead_code)]

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

/// Runs the parser on `input` whole, fed one byte at a time, and split in two at every
/// position. Asserts that all runs agree, then returns the events.
pub fn parse_everywhere(input: &[u8], limits: Limits, policy: Policy) -> Vec<Outcome> {
    let whole = run_chunks(&[input], limits, policy);
    let bytes: Vec<&[u8]> = input.chunks(1).collect();
    let by_byte = run_chunks(&bytes, limits, policy);
    assert_eq!(
        by_byte,
        whole,
        "byte-by-byte run differs for {}",
        escape(input)
    );
    for split in 1..input.len() {
        let (head, tail) = input.split_at(split);
        let halves = run_chunks(&[head, tail], limits, policy);
        assert_eq!(
            halves,
            whole,
            "split at {split} differs for {}",
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
    let outcomes = parse_everywhere(input, Limits::default(), Policy::Accept);
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
