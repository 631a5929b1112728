//! Feeds arbitrary bytes to the streaming command parser in chunks whose sizes come from the
//! input, deciding each literal request in every way a session can. The parser must never
//! panic or stop making progress.

#![no_main]

use asimapd_proto::{CommandParser, Event, Limits, parse_command};
use libfuzzer_sys::fuzz_target;

/// Bound on events per input, far above what any input of libFuzzer's default maximum length
/// can produce, so a parser that stops making progress fails the run.
const MAX_EVENTS: usize = 100_000;

fuzz_target!(|data: &[u8]| {
    let Some((&control, input)) = data.split_first() else {
        return;
    };
    let limits = Limits {
        max_line_len: 256,
        max_literal_len: 64,
        max_non_sync_literal_len: 32,
        max_command_len: 512,
        max_depth: 8,
        utf8_accept: control & 0x40 != 0,
    };
    let _ = parse_command(input, &limits);

    let chunk_len = usize::from(control & 0x0f) + 1;
    let mut parser = CommandParser::new(limits);
    let mut events = 0;
    for chunk in input.chunks(chunk_len) {
        parser.feed(chunk);
        loop {
            events += 1;
            assert!(events < MAX_EVENTS, "parser made no progress");
            match parser.next_event() {
                Ok(Event::NeedMore) => break,
                Ok(Event::Literal(request)) => match (control >> 4) % 3 {
                    0 => {
                        let _ = parser.accept_literal();
                    }
                    1 if request.is_append_message => parser.stream_literal(),
                    1 => {
                        let _ = parser.accept_literal();
                    }
                    _ => parser.reject_literal(),
                },
                Ok(Event::Command(_) | Event::LiteralData(_)) | Err(_) => {}
            }
        }
    }
    let _ = parser.next_line();
});
