//! Parsing speed of typical client lines, each fed whole to a fresh position of one
//! long-lived parser, as a session does.

use asimapd_proto::{CommandParser, Event, Limits, parse_command};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;

const LINES: &[(&str, &[u8])] = &[
    (
        "fetch",
        b"A654 UID FETCH 1:* (UID FLAGS RFC822.SIZE INTERNALDATE BODY.PEEK[HEADER.FIELDS (DATE FROM SUBJECT)])\r\n",
    ),
    ("uid_store", b"A003 UID STORE 2001:2004,2010 +FLAGS.SILENT (\\Seen \\Flagged)\r\n"),
    (
        "uid_search",
        b"A282 UID SEARCH RETURN (ALL) UNDELETED SINCE 1-Feb-2024 NOT FROM \"Smith\"\r\n",
    ),
    ("append_header", b"A003 APPEND saved-messages (\\Seen) \" 7-Feb-2024 21:52:25 -0800\" {3100}\r\n"),
];

fn parse_lines(c: &mut Criterion) {
    let limits = Limits::default();
    let mut group = c.benchmark_group("parse_command");
    for (name, line) in LINES {
        group.throughput(Throughput::Bytes(line.len() as u64));
        group.bench_function(*name, |b| {
            b.iter(|| parse_command(black_box(line), &limits));
        });
    }
    group.finish();
}

fn stream_lines(c: &mut Criterion) {
    let mut group = c.benchmark_group("command_parser");
    for (name, line) in LINES {
        group.throughput(Throughput::Bytes(line.len() as u64));
        group.bench_function(*name, |b| {
            let mut parser = CommandParser::new(Limits::default());
            b.iter(|| {
                parser.feed(black_box(line));
                match parser.next_event() {
                    Ok(Event::Literal(_)) => parser.reject_literal(),
                    Ok(Event::Command(command)) => {
                        black_box(command);
                    }
                    other => panic!("unexpected {other:?}"),
                }
            });
        });
    }
    group.finish();
}

criterion_group!(benches, parse_lines, stream_lines);
criterion_main!(benches);
