//! Parses arbitrary bytes as one command; when that succeeds, writes the command back with
//! `Command::encode` and parses the result, which must give the same command.

#![no_main]

use asimapd_proto::{Command, Limits, parse_command};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&control, input)) = data.split_first() else {
        return;
    };
    let limits = Limits {
        utf8_accept: control & 1 != 0,
        ..Limits::default()
    };
    let Ok(command) = parse_command(input, &limits) else {
        return;
    };
    let mut wire = Vec::new();
    command.encode(&mut wire, limits.utf8_accept);
    let reparsed: Result<Command, _> = parse_command(&wire, &limits);
    assert_eq!(
        reparsed.as_ref(),
        Ok(&command),
        "re-encoded as {}",
        wire.escape_ascii()
    );
});
