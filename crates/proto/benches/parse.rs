//! Parsing speed of typical client lines, in three groups. `parse_command` parses a complete
//! line. The CPU-time group times the same in thread CPU time, which other processes on a
//! busy machine do not inflate. `CommandParser` is fed one line at a time, as a session does.

use asimapd_proto::{CommandParser, Event, Limits, parse_command};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::time::Duration;

const LINES: &[(&str, &[u8])] = &[
    ("fetch_flags", b"A651 UID FETCH 1:* (FLAGS)\r\n"),
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

/// `struct timespec` of 64-bit Linux, where `time_t` and `long` are both 64 bits.
#[repr(C)]
struct Timespec {
    seconds: i64,
    nanoseconds: i64,
}

/// `CLOCK_THREAD_CPUTIME_ID` of Linux (`<linux/time.h>`).
const CLOCK_THREAD_CPUTIME_ID: i32 = 3;

// The C library that std already links provides clock_gettime, so no crate is needed.
unsafe extern "C" {
    fn clock_gettime(clock: i32, now: *mut Timespec) -> i32;
}

/// Returns the CPU time this thread has used.
fn thread_cpu_time() -> Duration {
    let mut now = Timespec {
        seconds: 0,
        nanoseconds: 0,
    };
    // SAFETY: `now` is a valid, writable timespec of the layout clock_gettime expects on
    // 64-bit Linux, and the clock id is a Linux constant.
    let status = unsafe { clock_gettime(CLOCK_THREAD_CPUTIME_ID, &mut now) };
    assert_eq!(status, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed");
    Duration::new(now.seconds as u64, now.nanoseconds as u32)
}

fn parse_lines_cpu_time(c: &mut Criterion) {
    let limits = Limits::default();
    let mut group = c.benchmark_group("parse_command_cpu_time");
    for (name, line) in LINES {
        group.bench_function(*name, |b| {
            b.iter_custom(|iterations| {
                let start = thread_cpu_time();
                for _ in 0..iterations {
                    let _ = black_box(parse_command(black_box(line), &limits));
                }
                thread_cpu_time() - start
            });
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

criterion_group!(benches, parse_lines, parse_lines_cpu_time, stream_lines);
criterion_main!(benches);
