//! Races between the real nmh commands and the crate on the same folders. Each race runs
//! [`common::REPEATS`] times, each repetition in a new folder, with the nmh side in a loop
//! for as long as the crate side is making its calls.

mod common;

use std::io::Cursor;
use std::time::Duration;

use asimapd_mh::{AppendCheck, Appended, Folder, NumberSet, SequenceChange};
use asimapd_testkit::nmh::message;
use common::{
    Env, Progress, REPEATS, Until, assert_layout_clean, ids_of, inode_ids, message_id, num, race,
    setup,
};

/// Pause between two crate-side calls, so that the crate side spans many nmh steps.
const CRATE_PAUSE: Duration = Duration::from_millis(8);
/// Pause between two nmh steps where back-to-back runs would leave no gap at all.
const NMH_PAUSE: Duration = Duration::from_millis(10);
/// Messages the crate side appends per repetition.
const APPENDS: usize = 12;

fn numbers(values: impl IntoIterator<Item = u32>) -> NumberSet {
    values.into_iter().map(num).collect()
}

/// Appends app1..appN (dates varying), pausing between calls and pacing on the nmh side.
fn append_messages(
    env: &Env,
    folder: &Folder,
    flagged: bool,
    progress: &Progress,
) -> Vec<Appended> {
    let mut sequences = vec![env.seq("unseen")];
    if flagged {
        sequences.push(env.seq("flagged"));
    }
    (1..=APPENDS)
        .map(|i| {
            let bytes = crlf(&message(&format!("app{i}"), (i % 28 + 1) as u32, 30));
            let appended = folder
                .append(&mut Cursor::new(bytes), &sequences)
                .expect("append");
            std::thread::sleep(CRATE_PAUSE);
            progress.wait_for_steps(i / 3);
            appended
        })
        .collect()
}

/// Converts LF line ends to CRLF, as an IMAP client sends them.
fn crlf(lf: &[u8]) -> Vec<u8> {
    String::from_utf8_lossy(lf)
        .replace('\n', "\r\n")
        .into_bytes()
}

/// Runs the post-append checks once everything has stopped, repairing what nmh destroyed,
/// and returns how many messages had to be delivered again.
fn settle_appends(folder: &Folder, appended: Vec<Appended>) -> usize {
    let mut redelivered = 0;
    for mut message in appended {
        loop {
            match folder.check_append(&mut message).expect("check append") {
                AppendCheck::Redelivered { .. } => redelivered += 1,
                AppendCheck::Renumbered { .. } | AppendCheck::SequencesRestored => {}
                AppendCheck::Intact | AppendCheck::Removed => break,
            }
        }
        folder.finish_append(message).expect("finish append");
    }
    redelivered
}

/// Asserts every appended message has exactly its original (LF) content somewhere.
fn assert_appends_intact(env: &Env, folder: &str) {
    let dir = env.home.folder_path(folder);
    let mut found = 0;
    for i in 1..=APPENDS {
        let id = format!("<app{i}@test>");
        let expected = message(&format!("app{i}"), (i % 28 + 1) as u32, 30);
        for entry in std::fs::read_dir(&dir).unwrap() {
            let entry = entry.unwrap();
            let name = entry.file_name().to_string_lossy().into_owned();
            if !name.bytes().all(|b| b.is_ascii_digit()) {
                continue;
            }
            let bytes = std::fs::read(entry.path()).unwrap();
            if message_id(&bytes).as_deref() == Some(id.as_str()) {
                assert_eq!(bytes, expected, "content of {id} in {name}");
                found += 1;
            }
        }
    }
    assert_eq!(found, APPENDS, "every appended message present once");
}

fn inc_drop(env: &Env, folder: &str, prefix: &str, k: usize) {
    let messages: Vec<Vec<u8>> = (1..=4)
        .map(|j| message(&format!("{prefix}{k}x{j}"), 1, 20))
        .collect();
    let drop = env.home.home().join(format!("drop-{folder}"));
    let output = env.home.inc_mbox(folder, &drop, &messages);
    assert!(output.status.success(), "inc failed: {output:?}");
}

fn inc_ids(prefix: &str, steps: usize) -> Vec<String> {
    let mut ids: Vec<String> = (0..steps)
        .flat_map(|k| (1..=4).map(move |j| format!("<{prefix}{k}x{j}@test>")))
        .collect();
    ids.sort();
    ids
}

#[test]
fn inc_and_append_keep_every_message_once() {
    let Some(env) = setup("") else { return };
    let mut redelivered = 0;
    for rep in 0..REPEATS {
        let name = format!("incappend{rep}");
        env.home.create_folder(&name);
        let folder = env.root.folder(&name).unwrap();
        let mut appended = Vec::new();
        let stats = race(
            Until::CrateDone,
            |k| {
                inc_drop(&env, &name, "inc", k);
                true
            },
            |progress| appended = append_messages(&env, &folder, false, progress),
        );
        assert!(stats.overlapped > 0, "no overlap: {stats:?}");
        redelivered += settle_appends(&folder, appended);

        let mut expected = inc_ids("inc", stats.steps);
        expected.extend(ids_of("app", 1..=APPENDS));
        expected.sort();
        assert_eq!(env.ids(&name, None), expected, "every message once");
        assert_appends_intact(&env, &name);
        let unseen = env.ids(&name, Some("unseen"));
        for id in inc_ids("inc", stats.steps) {
            assert!(unseen.contains(&id), "inc'd {id} lost its unseen entry");
        }
        assert_layout_clean(&env, &name);
    }
    eprintln!("inc_and_append: {redelivered} appends destroyed by inc and delivered again");
}

#[test]
fn inc_rewrites_keep_flags_of_appends() {
    let Some(env) = setup("") else { return };
    for rep in 0..REPEATS {
        let name = format!("incflags{rep}");
        env.folder_with(&name, 3);
        let folder = env.root.folder(&name).unwrap();
        let mut appended = Vec::new();
        let stats = race(
            Until::CrateDone,
            |k| {
                inc_drop(&env, &name, "big", k);
                true
            },
            |progress| appended = append_messages(&env, &folder, true, progress),
        );
        assert!(stats.overlapped > 0, "no overlap: {stats:?}");
        settle_appends(&folder, appended);

        let mut expected = inc_ids("big", stats.steps);
        expected.extend(ids_of("app", 1..=APPENDS));
        expected.extend(ids_of("m", 1..=3));
        expected.sort();
        assert_eq!(env.ids(&name, None), expected, "every message once");
        assert_eq!(
            env.ids(&name, Some("flagged")),
            ids_of("app", 1..=APPENDS),
            "every appended message still flagged"
        );
        assert_layout_clean(&env, &name);
    }
}

#[test]
fn mark_and_crate_updates_both_survive() {
    // nmh marks odd messages (unseen -delete, then flagged -add, one command each), the crate
    // even ones, at least 150 updates per side and repetition.
    const PAIRS: u32 = 75;
    let Some(env) = setup("") else { return };
    for rep in 0..REPEATS {
        let name = format!("mark{rep}");
        let pool = 2 * PAIRS as usize + 40;
        env.folder_with(&name, pool);
        env.home.run(
            "mark",
            &[&format!("+{name}"), "all", "-seq", "unseen", "-add"],
        );
        let folder = env.root.folder(&name).unwrap();
        let stats = race(
            Until::PoolDone,
            |k| {
                let i = (2 * (k / 2) + 1).to_string();
                if k >= 2 * PAIRS as usize {
                    return false;
                }
                let args: &[&str] = if k % 2 == 0 {
                    &["-seq", "unseen", "-delete"]
                } else {
                    &["-seq", "flagged", "-add"]
                };
                let mut full = vec![format!("+{name}"), i];
                full.extend(args.iter().map(|a| a.to_string()));
                let refs: Vec<&str> = full.iter().map(String::as_str).collect();
                env.home.run("mark", &refs);
                true
            },
            |progress| {
                for i in (2..=2 * PAIRS).step_by(2) {
                    progress.wait_for_steps(i as usize - 2);
                    let one = numbers([i]);
                    folder
                        .update_sequences(&[SequenceChange::remove(env.seq("unseen"), one.clone())])
                        .unwrap();
                    folder
                        .update_sequences(&[SequenceChange::add(env.seq("flagged"), one)])
                        .unwrap();
                }
            },
        );
        assert!(stats.overlapped > 0, "no overlap: {stats:?}");
        assert_eq!(
            stats.steps,
            2 * PAIRS as usize,
            "nmh finished its pool: {stats:?}"
        );

        let touched: Vec<usize> = (1..=2 * PAIRS as usize).collect();
        let untouched: Vec<usize> = (2 * PAIRS as usize + 1..=pool).collect();
        assert_eq!(
            env.ids(&name, Some("unseen")),
            ids_of("m", untouched),
            "unseen"
        );
        assert_eq!(
            env.ids(&name, Some("flagged")),
            ids_of("m", touched),
            "flagged"
        );
        assert_layout_clean(&env, &name);
    }
}

/// Reads every message of `folder` through the crate, checking that each opened file is
/// the message its inode was at the start (`by_inode`). Returns how many were read.
fn read_all_messages(folder: &Folder, by_inode: &std::collections::HashMap<u64, String>) -> usize {
    use std::io::Read;
    let snapshot = folder.snapshot().expect("snapshot");
    let mut read = 0;
    for listed in &snapshot.listing.messages {
        let Ok((mut file, identity)) = folder.open_message(listed.number) else {
            continue; // removed since the listing: an expunge, not an error
        };
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).expect("read message");
        let id = message_id(&bytes).expect("message has a Message-ID");
        if let Some(expected) = by_inode.get(&identity.ino) {
            assert_eq!(
                &id, expected,
                "inode {} served another message",
                identity.ino
            );
        }
        read += 1;
    }
    read
}

fn crate_ids(env: &Env, name: &str) -> Vec<String> {
    let folder = env.root.folder(name).unwrap();
    let dir = env.home.folder_path(name);
    let mut ids: Vec<String> = folder
        .list()
        .unwrap()
        .messages
        .iter()
        .map(|m| {
            let bytes = std::fs::read(dir.join(m.number.to_string())).unwrap();
            message_id(&bytes).unwrap()
        })
        .collect();
    ids.sort();
    ids
}

#[test]
fn rmm_while_reading_serves_no_wrong_body() {
    const POOL: usize = 60;
    let Some(env) = setup("") else { return };
    for rep in 0..REPEATS {
        let name = format!("rmm{rep}");
        env.folder_with(&name, 2 * POOL);
        let folder = env.root.folder(&name).unwrap();
        let by_inode = inode_ids(&env.home.folder_path(&name));
        let stats = race(
            Until::CrateDone,
            |k| {
                let i = 2 * k + 1;
                if i >= 2 * POOL {
                    return false;
                }
                let folder_arg = format!("+{name}");
                let number = i.to_string();
                let mut args = vec![folder_arg.as_str(), number.as_str()];
                if i % 4 == 1 {
                    args.push("-unlink");
                }
                env.home.run("rmm", &args);
                true
            },
            |progress| {
                for round in 0..8 {
                    read_all_messages(&folder, &by_inode);
                    progress.wait_for_steps(round * 2 + 1);
                }
            },
        );
        assert!(stats.overlapped > 0, "no overlap: {stats:?}");

        let removed: Vec<usize> = (0..stats.steps).map(|k| 2 * k + 1).collect();
        let survivors: Vec<usize> = (1..=2 * POOL).filter(|i| !removed.contains(i)).collect();
        assert_eq!(
            env.ids(&name, None),
            ids_of("m", survivors.clone()),
            "nmh view"
        );
        assert_eq!(
            crate_ids(&env, &name),
            ids_of("m", survivors),
            ",N backups are not messages"
        );
        assert_layout_clean(&env, &name);
    }
}

#[test]
fn pack_keeps_inodes_and_flags_follow() {
    const COUNT: usize = 90;
    const POOL: usize = 40;
    let Some(env) = setup("") else { return };
    for rep in 0..REPEATS {
        let name = format!("pack{rep}");
        let folder_arg = format!("+{name}");
        env.folder_with(&name, COUNT);
        for i in (1..=COUNT).step_by(3) {
            env.home
                .run("rmm", &[&folder_arg, &i.to_string(), "-unlink"]);
        }
        let folder = env.root.folder(&name).unwrap();
        folder
            .update_sequences(&[SequenceChange::add(env.seq("flagged"), numbers([2]))])
            .unwrap();
        env.home
            .run("mark", &[&folder_arg, "3", "-seq", "unseen", "-add"]);
        let dir = env.home.folder_path(&name);
        let before = inode_ids(&dir);
        let stats = race(
            Until::CrateDone,
            |k| {
                if k >= POOL {
                    return false;
                }
                if k > 0 {
                    env.home.run("rmm", &[&folder_arg, "3", "-unlink"]);
                }
                env.home.run("folder", &[&folder_arg, "-pack", "-fast"]);
                true
            },
            |progress| {
                for round in 0..8 {
                    read_all_messages(&folder, &before);
                    progress.wait_for_steps(round * 2 + 1);
                }
            },
        );
        assert!(stats.overlapped > 0, "no overlap: {stats:?}");

        let listing = folder.list().unwrap();
        let highest = listing.highest().map_or(0, |n| n.get() as usize);
        assert_eq!(
            highest,
            listing.messages.len(),
            "numbering is contiguous after pack"
        );
        let after = inode_ids(&dir);
        for (ino, id) in &after {
            assert_eq!(
                before.get(ino),
                Some(id),
                "{id} kept its inode through the renames"
            );
        }
        assert!(
            env.ids(&name, Some("flagged"))
                .contains(&"<m2@test>".to_owned())
        );
        assert!(
            env.ids(&name, Some("unseen"))
                .contains(&"<m3@test>".to_owned())
        );
        assert_layout_clean(&env, &name);
    }
}

#[test]
fn sortm_and_append_keep_every_message_once() {
    const COUNT: usize = 80;
    let Some(env) = setup("") else { return };
    let mut redelivered = 0;
    for rep in 0..REPEATS {
        let name = format!("sortm{rep}");
        env.folder_with(&name, COUNT);
        let folder = env.root.folder(&name).unwrap();
        folder
            .update_sequences(&[SequenceChange::add(env.seq("flagged"), numbers([1]))])
            .unwrap();
        let mut appended = Vec::new();
        let stats = race(
            Until::CrateDone,
            |_| {
                // sortm fails only when it cannot lock; the next round tries again.
                env.home.output("sortm", &[&format!("+{name}")]);
                true
            },
            |progress| appended = append_messages(&env, &folder, false, progress),
        );
        assert!(stats.overlapped > 0, "no overlap: {stats:?}");
        redelivered += settle_appends(&folder, appended);

        let mut expected = ids_of("m", 1..=COUNT);
        expected.extend(ids_of("app", 1..=APPENDS));
        expected.sort();
        assert_eq!(env.ids(&name, None), expected, "every message once");
        assert_appends_intact(&env, &name);
        assert!(
            env.ids(&name, Some("flagged"))
                .contains(&"<m1@test>".to_owned())
        );
        assert_layout_clean(&env, &name);
    }
    eprintln!("sortm_and_append: {redelivered} appends destroyed by sortm and delivered again");
}

#[test]
fn show_and_seen_updates_both_survive() {
    const POOL: usize = 60;
    const STORES: usize = 12;
    let Some(env) = setup("") else { return };
    for rep in 0..REPEATS {
        let name = format!("show{rep}");
        let folder_arg = format!("+{name}");
        env.folder_with(&name, POOL + STORES);
        env.home
            .run("mark", &[&folder_arg, "all", "-seq", "unseen", "-add"]);
        let folder = env.root.folder(&name).unwrap();
        let stats = race(
            Until::CrateDone,
            |k| {
                if k >= POOL {
                    return false;
                }
                let output = if k == 0 {
                    env.home.output("show", &[&folder_arg, "1", "-noshowproc"])
                } else {
                    env.home.output("next", &[&folder_arg, "-noshowproc"])
                };
                assert!(output.status.success(), "show/next failed: {output:?}");
                true
            },
            |progress| {
                for i in POOL + 1..=POOL + STORES {
                    let seen = numbers([i as u32]);
                    folder
                        .update_sequences(&[SequenceChange::remove(env.seq("unseen"), seen)])
                        .unwrap();
                    std::thread::sleep(CRATE_PAUSE);
                    progress.wait_for_steps(i - POOL);
                }
            },
        );
        assert!(stats.overlapped > 0, "no overlap: {stats:?}");

        assert_eq!(
            env.ids(&name, Some("unseen")),
            ids_of("m", stats.steps + 1..=POOL),
            "unseen is what neither side marked seen"
        );
        let cur = env.home.run("mark", &[&folder_arg, "-list", "-seq", "cur"]);
        assert_eq!(
            cur.trim(),
            format!("cur: {}", stats.steps),
            "cur is the last shown"
        );
        assert_layout_clean(&env, &name);
    }
}

#[test]
fn refile_keeps_each_message_in_one_folder() {
    const POOL: usize = 40;
    let Some(env) = setup("") else { return };
    for rep in 0..REPEATS {
        let source_name = format!("refile{rep}");
        let target_name = format!("refiled{rep}");
        env.home.create_folder(&target_name);
        env.folder_with(&source_name, 2 * POOL);
        let source = env.root.folder(&source_name).unwrap();
        let target = env.root.folder(&target_name).unwrap();
        let by_inode = inode_ids(&env.home.folder_path(&source_name));
        let stats = race(
            Until::CrateDone,
            |k| {
                let i = 2 * k + 1;
                if i >= 2 * POOL {
                    return false;
                }
                let src = format!("+{source_name}");
                let dst = format!("+{target_name}");
                env.home
                    .run("refile", &["-src", &src, &i.to_string(), &dst]);
                true
            },
            |progress| {
                for round in 0..8 {
                    read_all_messages(&source, &by_inode);
                    read_all_messages(&target, &by_inode);
                    progress.wait_for_steps(round * 2 + 1);
                }
            },
        );
        assert!(stats.overlapped > 0, "no overlap: {stats:?}");

        let moved: Vec<usize> = (0..stats.steps).map(|k| 2 * k + 1).collect();
        let kept: Vec<usize> = (1..=2 * POOL).filter(|i| !moved.contains(i)).collect();
        assert_eq!(crate_ids(&env, &source_name), ids_of("m", kept.clone()));
        assert_eq!(crate_ids(&env, &target_name), ids_of("m", moved.clone()));
        assert_eq!(env.ids(&source_name, None), ids_of("m", kept));
        assert_eq!(env.ids(&target_name, None), ids_of("m", moved));
        assert_layout_clean(&env, &source_name);
        assert_layout_clean(&env, &target_name);
    }
}

#[test]
fn pick_rewrites_keep_flags_of_appends() {
    const COUNT: usize = 120;
    let Some(env) = setup("") else { return };
    for rep in 0..REPEATS {
        let name = format!("pick{rep}");
        env.folder_with(&name, COUNT);
        let folder = env.root.folder(&name).unwrap();
        let mut appended = Vec::new();
        let stats = race(
            Until::CrateDone,
            |_| {
                env.home.output(
                    "pick",
                    &[&format!("+{name}"), "-subject", "m1", "-seq", "picked"],
                );
                true
            },
            |progress| appended = append_messages(&env, &folder, true, progress),
        );
        assert!(stats.overlapped > 0, "no overlap: {stats:?}");
        settle_appends(&folder, appended);

        assert_eq!(env.ids(&name, Some("flagged")), ids_of("app", 1..=APPENDS));
        assert!(
            !env.ids(&name, Some("picked")).is_empty(),
            "pick's own sequence is there"
        );
        assert_layout_clean(&env, &name);
    }
}

#[test]
fn setcur_truncation_loses_no_flag_update_after_settle() {
    // `folder +F N` reads .mh_sequences, lets go of the lock, truncates the file and writes
    // what it read once it holds the lock again. An update that lands inside that gap is
    // overwritten; the crate re-applies it when it detects the truncation while it holds the
    // lock, and a caller re-issues recent changes at settle time (updates are idempotent).
    const COUNT: u32 = 16;
    let Some(env) = setup("") else { return };
    let mut lost_before_settle = 0;
    for rep in 0..REPEATS {
        let name = format!("setcur{rep}");
        env.folder_with(&name, COUNT as usize);
        let folder = env.root.folder(&name).unwrap();
        let change = |i: u32| SequenceChange::add(env.seq("flagged"), numbers([i]));
        let stats = race(
            Until::CrateDone,
            |k| {
                let number = (k as u32 % COUNT + 1).to_string();
                env.home
                    .run("folder", &[&format!("+{name}"), &number, "-fast"]);
                std::thread::sleep(NMH_PAUSE);
                true
            },
            |progress| {
                for i in 1..=COUNT {
                    folder.update_sequences(&[change(i)]).unwrap();
                    std::thread::sleep(CRATE_PAUSE);
                    progress.wait_for_steps(i as usize / 2);
                }
            },
        );
        assert!(stats.overlapped > 0, "no overlap: {stats:?}");
        lost_before_settle += COUNT as usize - env.ids(&name, Some("flagged")).len();

        std::thread::sleep(asimapd_mh::MID_REWRITE_WAIT);
        let changes: Vec<SequenceChange> = (1..=COUNT).map(change).collect();
        folder.update_sequences(&changes).unwrap();
        assert_eq!(
            env.ids(&name, Some("flagged")),
            ids_of("m", 1..=COUNT as usize),
            "every flag update survived"
        );
        assert_layout_clean(&env, &name);
    }
    eprintln!("setcur: {lost_before_settle} flag updates overwritten by folder +F before settle");
}
