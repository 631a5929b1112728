//! New files written by a slowed-down `inc` (every write delayed with strace fault injection)
//! are never reported as settled before they are complete, and appends to the inbox wait for
//! `inc` to release the maildrop.

mod common;

use std::collections::HashMap;
use std::io::Cursor;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant, SystemTime};

use asimapd_mh::{MessageNumber, SettleWatch, is_locked_by_other};
use asimapd_testkit::nmh::{NmhHome, mbox, message};
use asimapd_testkit::require_tool;
use common::setup;

/// Delay strace adds before each `write` of inc, in microseconds.
const WRITE_DELAY_US: u32 = 15_000;
/// Padding lines per message: about 30 KiB, so inc needs several 4 KiB writes per message.
const PADDING: usize = 800;
/// How often the test looks at the folder while inc runs.
const POLL: Duration = Duration::from_millis(20);

/// Starts `inc ARGS` under strace with every write delayed.
fn slow_inc(home: &NmhHome, args: &[&str]) -> Option<Child> {
    let strace = require_tool("strace", "strace")?;
    let inject = format!("inject=write:delay_enter={WRITE_DELAY_US}");
    let child = home
        .command(strace.to_str().expect("UTF-8 path"))
        .args([
            "-f",
            "-o",
            "/dev/null",
            "-e",
            "trace=write",
            "-e",
            &inject,
            "inc",
        ])
        .args(args)
        .stdout(Stdio::null())
        .spawn()
        .expect("start strace inc");
    Some(child)
}

fn wait_until_locked(maildrop: &std::path::Path, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !is_locked_by_other(maildrop).unwrap() {
        assert!(
            child.try_wait().unwrap().is_none(),
            "inc ended before it locked the drop"
        );
        assert!(Instant::now() < deadline, "inc never locked the maildrop");
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn drop_messages(prefix: &str, count: usize) -> Vec<Vec<u8>> {
    (1..=count)
        .map(|i| message(&format!("{prefix}{i}"), 1, PADDING))
        .collect()
}

#[test]
fn settle_watch_waits_for_slow_inc() {
    let Some(env) = setup("") else { return };
    env.home.create_folder("slow");
    let drop = env.home.home().join("slowdrop");
    std::fs::write(&drop, mbox(&drop_messages("s", 3))).unwrap();
    let Some(mut child) = slow_inc(
        &env.home,
        &[
            "+slow",
            "-file",
            drop.to_str().unwrap(),
            "-truncate",
            "-silent",
        ],
    ) else {
        return;
    };
    wait_until_locked(&drop, &mut child);

    let folder = env.root.folder("slow").unwrap();
    let mut watch = SettleWatch::new();
    let mut settled_sizes: HashMap<MessageNumber, u64> = HashMap::new();
    let mut unsettled_looks = 0;
    let mut partial_seen = false;
    loop {
        let inc_done = child.try_wait().unwrap().is_some();
        let writer_active = is_locked_by_other(&drop).unwrap();
        for listed in folder.list().unwrap().messages {
            let Ok(identity) = folder.identity(listed.number) else {
                continue;
            };
            partial_seen |= identity.size < 30_000;
            let settled = watch.observe(
                listed.number,
                &identity,
                Instant::now(),
                SystemTime::now(),
                writer_active,
            );
            if settled {
                settled_sizes.entry(listed.number).or_insert(identity.size);
            } else {
                unsettled_looks += 1;
            }
        }
        if inc_done && settled_sizes.len() == 3 {
            break;
        }
        std::thread::sleep(POLL);
    }
    assert!(child.wait().unwrap().success());

    assert!(
        partial_seen,
        "the test never saw a file while inc was writing it"
    );
    assert!(unsettled_looks > 0);
    for (number, size) in settled_sizes {
        let final_size = folder.identity(number).unwrap().size;
        assert_eq!(
            size, final_size,
            "message {number} reported settled before it was complete"
        );
    }
    assert_eq!(env.ids("slow", Some("unseen")).len(), 3);
}

#[test]
fn inbox_append_waits_for_running_inc() {
    let Some(env) = setup("MailDrop: maildrop\n") else {
        return;
    };
    env.home.create_folder("inbox");
    let maildrop = env.home.mail_root().join("maildrop");
    std::fs::write(&maildrop, mbox(&drop_messages("d", 2))).unwrap();
    let Some(mut child) = slow_inc(&env.home, &["+inbox", "-silent"]) else {
        return;
    };
    wait_until_locked(&maildrop, &mut child);
    let inbox = env.root.folder("inbox").unwrap();
    assert!(inbox.is_inc_running().unwrap());

    let appended = inbox
        .append(
            &mut Cursor::new(message("mine", 1, 0)),
            env.root.unseen_sequences(),
        )
        .unwrap();
    // The append waits for inc's locks, not for the process: inc may still be writing its
    // context file when they are released. Taking number 3, after both deliveries, shows
    // that the append did not run between them.
    assert_eq!(appended.number.get(), 3, "append ran before inc delivered");
    assert!(child.wait().unwrap().success());

    let mut ids = env.ids("inbox", None);
    ids.sort();
    assert_eq!(ids, ["<d1@test>", "<d2@test>", "<mine@test>"]);
    inbox.finish_append(appended).unwrap();
}
