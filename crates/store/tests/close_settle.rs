//! A message file that `inc` closed is indexed at once when the folder is watched with
//! inotify, even while `inc` still delivers the rest of the maildrop. Without the close event
//! nothing in the inbox counts as settled until `inc` releases the maildrop.

mod support;

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use asimapd_mh::is_locked_by_other;
use asimapd_store::WatchConfig;
use asimapd_testkit::nmh::{NmhHome, mbox, message};
use asimapd_testkit::require_tool;
use support::*;

/// Messages in the maildrop.
const COUNT: usize = 10;
/// Delay strace adds before each `write` of inc, in microseconds.
const WRITE_DELAY_US: u32 = 15_000;
/// Padding lines per message: about 30 KiB, so inc needs several 4 KiB writes per message.
const PADDING: usize = 800;

/// Starts `inc +inbox` under strace with every write delayed.
fn slow_inc(home: &NmhHome) -> Option<Child> {
    let strace = require_tool("strace", "strace")?;
    let inject = format!("inject=write:delay_enter={WRITE_DELAY_US}");
    let child = home
        .command(strace.to_str().expect("UTF-8 path"))
        .args(["-f", "-o", "/dev/null", "-e", "trace=write", "-e", &inject])
        .args(["inc", "+inbox", "-silent"])
        .stdout(Stdio::null())
        .spawn()
        .expect("start strace inc");
    Some(child)
}

#[test]
fn closed_file_indexed_while_inc_runs() {
    if !asimapd_testkit::nmh::require_nmh() {
        return;
    }
    let home = NmhHome::new("MailDrop: maildrop\n");
    home.create_folder("inbox");
    let maildrop = home.mail_root().join("maildrop");
    let messages: Vec<Vec<u8>> = (1..=COUNT)
        .map(|i| message(&format!("d{i}"), 1, PADDING))
        .collect();
    std::fs::write(&maildrop, mbox(&messages)).unwrap();
    let store = open_store(&home);
    let _selected = store.select("inbox").unwrap();
    let watcher = store.spawn_watcher(WatchConfig::default()).unwrap();

    let Some(mut child) = slow_inc(&home) else {
        return;
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while !is_locked_by_other(&maildrop).unwrap() {
        assert!(
            child.try_wait().unwrap().is_none(),
            "inc ended before it locked the drop"
        );
        assert!(Instant::now() < deadline, "inc never locked the maildrop");
        std::thread::sleep(Duration::from_millis(1));
    }
    let mut indexed_during_inc = 0;
    while is_locked_by_other(&maildrop).unwrap() {
        indexed_during_inc = store.indexed_messages("inbox").unwrap().len();
        if indexed_during_inc > 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(child.wait().unwrap().success());
    assert!(
        indexed_during_inc > 0,
        "no message was indexed while inc held the maildrop"
    );

    sync_until(&store, "inbox", |store| {
        store.indexed_messages("inbox").unwrap().len() == COUNT
    });
    drop(watcher);
    let folder = store.root().folder("inbox").unwrap();
    for row in store.indexed_messages("inbox").unwrap() {
        let on_disk = folder.identity(row.number).unwrap();
        assert_eq!(
            row.identity, on_disk,
            "message {} was indexed before inc finished writing it",
            row.number
        );
    }
}
