//! The crate's file formats and folder operations checked against the real nmh commands.

mod common;

use std::io::Cursor;
use std::os::unix::fs::MetadataExt;

use asimapd_mh::{
    CopyRequest, KnownMessage, MailRoot, MhError, NumberSet, Profile, RemoveMode, SequenceChange,
    SequenceName,
};
use asimapd_testkit::nmh::message;
use common::{assert_layout_clean, ids_of, num, setup};

fn numbers(values: impl IntoIterator<Item = u32>) -> NumberSet {
    values.into_iter().map(num).collect()
}

#[test]
fn sequences_round_trip_byte_for_byte_except_changed() {
    let Some(env) = setup("") else { return };
    env.folder_with("trip", 3000);
    let folder_arg = "+trip";
    // nmh writes one long line for 1500 scattered numbers, and keeps cur first.
    let odd: Vec<String> = (1..=3000).step_by(2).map(|n| n.to_string()).collect();
    let mut args = vec![folder_arg];
    args.extend(odd.iter().map(String::as_str));
    args.extend(["-seq", "odd", "-add"]);
    env.home.run("mark", &args);
    env.home
        .run("mark", &[folder_arg, "2", "4", "-seq", "flagged", "-add"]);
    env.home.run("folder", &[folder_arg, "7", "-fast"]);
    env.home.run(
        "mark",
        &[folder_arg, "1", "3", "-seq", "privseq", "-add", "-nopublic"],
    );

    // Wrapped lines and names mark rejects, as other MH tools write them.
    let path = env.home.folder_path("trip").join(".mh_sequences");
    let mut original = std::fs::read(&path).unwrap();
    original.extend_from_slice(b"X-Imap-Flagged: 2 40-50\nwrapped: 1-6\n\t 8 9\n  12\n$Junk: 5\n");
    std::fs::write(&path, &original).unwrap();
    let inode = std::fs::metadata(&path).unwrap().ino();
    assert!(original.len() > 6000, "nmh wrote the long line unwrapped");

    let folder = env.root.folder("trip").unwrap();
    let sequences = folder.sequences().unwrap();
    assert_eq!(
        sequences.get("wrapped"),
        Some(&numbers([1, 2, 3, 4, 5, 6, 8, 9, 12]))
    );
    assert_eq!(sequences.get("privseq"), Some(&numbers([1, 3])));
    assert_eq!(sequences.get("odd").map(NumberSet::len), Some(1500));

    folder
        .update_sequences(&[SequenceChange::add(env.seq("flagged"), numbers([6]))])
        .unwrap();
    let written = std::fs::read(&path).unwrap();
    let expected = String::from_utf8(original.clone())
        .unwrap()
        .replace("flagged: 2 4\n", "flagged: 2 4 6\n");
    assert_eq!(String::from_utf8(written).unwrap(), expected);
    assert_eq!(
        std::fs::metadata(&path).unwrap().ino(),
        inode,
        "rewritten in place"
    );

    let listed = env.home.mark_list("trip");
    assert!(listed.contains("privseq (private): 1 3"), "{listed}");
    assert!(listed.contains("flagged: 2 4 6"), "{listed}");
    assert!(listed.contains("cur: 7"), "{listed}");
    let context = std::fs::read_to_string(env.home.mail_root().join("context")).unwrap();
    assert!(
        context.contains("atr-privseq-"),
        "context untouched: {context}"
    );
}

#[test]
fn emptied_sequences_file_stays_in_place() {
    let Some(env) = setup("") else { return };
    env.folder_with("empty", 3);
    env.home
        .run("mark", &["+empty", "2", "-seq", "flagged", "-add"]);
    let path = env.home.folder_path("empty").join(".mh_sequences");
    let inode = std::fs::metadata(&path).unwrap().ino();
    let folder = env.root.folder("empty").unwrap();
    folder
        .update_sequences(&[SequenceChange::remove(env.seq("flagged"), numbers([2]))])
        .unwrap();
    let meta = std::fs::metadata(&path).unwrap();
    assert_eq!(meta.len(), 0);
    assert_eq!(meta.ino(), inode);
    env.home
        .run("mark", &["+empty", "1", "-seq", "flagged", "-add"]);
    assert_eq!(env.ids("empty", Some("flagged")), ids_of("m", [1]));
}

/// nmh unlinks `.mh_sequences` when no sequence is left, so an empty file is read again
/// after a pause only when another process emptied it, never after this process did.
#[test]
fn own_emptied_sequences_are_read_at_once() {
    let Some(env) = setup("") else { return };
    env.folder_with("quick", 2);
    env.home
        .run("mark", &["+quick", "1", "-seq", "flagged", "-add"]);
    let path = env.home.folder_path("quick").join(".mh_sequences");
    let folder = env.root.folder("quick").unwrap();
    folder
        .update_sequences(&[SequenceChange::remove(env.seq("flagged"), numbers([1]))])
        .unwrap();
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 0);

    let started = std::time::Instant::now();
    folder.snapshot().unwrap();
    folder
        .update_sequences(&[SequenceChange::remove(env.seq("flagged"), numbers([2]))])
        .unwrap();
    let waited = started.elapsed();
    assert!(
        waited < asimapd_mh::MID_REWRITE_WAIT,
        "read and update waited {waited:?}"
    );

    // File timestamps come from a coarse clock, so let it move on before the other write.
    std::thread::sleep(std::time::Duration::from_millis(50));
    std::fs::write(&path, b"flagged: 2\n").unwrap();
    std::fs::File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(0)
        .unwrap();
    let started = std::time::Instant::now();
    folder.snapshot().unwrap();
    let waited = started.elapsed();
    assert!(
        waited >= asimapd_mh::MID_REWRITE_WAIT,
        "a file emptied elsewhere is read again after a pause, waited {waited:?}"
    );
}

#[test]
fn listing_follows_nmh_name_rules() {
    let Some(env) = setup("") else { return };
    env.folder_with("names", 3);
    let dir = env.home.folder_path("names");
    for name in [
        ",3",
        "@",
        ".xmhcache",
        "#5",
        "notes.txt",
        "1a",
        "+14",
        "0",
        "007",
        "99999999999",
    ] {
        std::fs::write(dir.join(name), b"not a message\n").unwrap();
    }
    std::fs::create_dir(dir.join("99")).unwrap();
    std::fs::create_dir(dir.join("sub")).unwrap();
    std::fs::create_dir(dir.join(".hidden")).unwrap();

    let listing = env.root.folder("names").unwrap().list().unwrap();
    let listed: Vec<u32> = listing.messages.iter().map(|m| m.number.get()).collect();
    assert_eq!(listed, [1, 2, 3]);
    assert_eq!(listing.subfolders, ["sub"]);
    for message in &listing.messages {
        let ino = std::fs::metadata(dir.join(message.number.to_string()))
            .unwrap()
            .ino();
        assert_eq!(message.ino, ino, "inode from the directory entry");
    }
}

#[test]
fn append_stores_lf_and_nmh_sees_it_unseen() {
    let Some(env) = setup("") else { return };
    env.folder_with("app", 2);
    let folder = env.root.folder("app").unwrap();
    let crlf = String::from_utf8(message("new", 1, 3))
        .unwrap()
        .replace('\n', "\r\n");
    let appended = folder
        .append(
            &mut Cursor::new(crlf.into_bytes()),
            env.root.unseen_sequences(),
        )
        .unwrap();
    assert_eq!(appended.number, num(3));
    let stored = std::fs::read(env.home.folder_path("app").join("3")).unwrap();
    assert_eq!(stored, message("new", 1, 3));
    assert_eq!(env.ids("app", Some("unseen")), ["<new@test>"]);
    let copies: Vec<_> = std::fs::read_dir(env.home.folder_path("app"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(asimapd_mh::COPY_PREFIX)
        })
        .collect();
    assert_eq!(
        copies.len(),
        2,
        "private copy and watch link kept while watched"
    );
    let message_ino = std::fs::metadata(env.home.folder_path("app").join("3"))
        .unwrap()
        .ino();
    let links = copies
        .iter()
        .filter(|entry| entry.metadata().unwrap().ino() == message_ino)
        .count();
    assert_eq!(links, 1, "the watch link names the message file");
    folder.finish_append(appended).unwrap();
    assert_layout_clean(&env, "app");
}

#[test]
fn append_recovers_message_overwritten_by_inc() {
    let Some(env) = setup("") else { return };
    env.folder_with("clobber", 2);
    let folder = env.root.folder("clobber").unwrap();
    let mut appended = folder
        .append(
            &mut Cursor::new(message("mine", 1, 5)),
            env.root.unseen_sequences(),
        )
        .unwrap();

    // This is what inc does with a stale listing: open the same number with O_TRUNC, write.
    std::fs::write(folder.message_path(appended.number), message("incs", 1, 0)).unwrap();
    let lost = appended.number;

    let check = folder.check_append(&mut appended).unwrap();
    assert_eq!(check, asimapd_mh::AppendCheck::Redelivered { lost });
    assert_ne!(appended.number, lost);

    let mut ids = env.ids("clobber", None);
    ids.sort();
    assert_eq!(
        ids,
        ["<incs@test>", "<m1@test>", "<m2@test>", "<mine@test>"]
    );
    assert!(
        env.ids("clobber", Some("unseen"))
            .contains(&"<mine@test>".to_owned())
    );
    assert_eq!(
        folder.check_append(&mut appended).unwrap(),
        asimapd_mh::AppendCheck::Intact
    );
    folder.finish_append(appended).unwrap();
}

#[test]
fn redelivery_takes_flags_off_lost_number() {
    // With the profile's Unseen-Sequence, and with no profile at all (a server that reads
    // none, beside nmh commands run with one): either way inc fills `unseen`.
    let Some(env) = setup("") else { return };
    let without_profile = MailRoot::open(&env.home.mail_root(), None, true).unwrap();
    for (name, root) in [("reflag", &env.root), ("noprofile", &without_profile)] {
        env.folder_with(name, 2);
        let folder = root.folder(name).unwrap();
        let mut appended = folder
            .append(
                &mut Cursor::new(message(&format!("{name}-mine"), 1, 5)),
                &[env.seq("unseen"), env.seq("flagged")],
            )
            .unwrap();
        let lost = appended.number;

        // inc with a stale listing overwrites the number, then adds its delivery to unseen.
        let delivery = message(&format!("{name}-incs"), 1, 0);
        std::fs::write(folder.message_path(lost), delivery).unwrap();
        let lost_numbers = numbers([lost.get()]);
        folder
            .update_sequences(&[SequenceChange::add(env.seq("unseen"), lost_numbers)])
            .unwrap();

        let check = folder.check_append(&mut appended).unwrap();
        assert_eq!(
            check,
            asimapd_mh::AppendCheck::Redelivered { lost },
            "{name}"
        );
        let mine = format!("<{name}-mine@test>");
        let incs = format!("<{name}-incs@test>");
        assert_eq!(
            env.ids(name, Some("flagged")),
            std::slice::from_ref(&mine),
            "{name}"
        );
        assert_eq!(env.ids(name, Some("unseen")), [incs, mine], "{name}");
        folder.finish_append(appended).unwrap();
    }
}

#[test]
fn append_leaves_message_removed_by_rmm_alone() {
    let Some(env) = setup("") else { return };
    env.folder_with("gone", 1);
    let folder = env.root.folder("gone").unwrap();
    let mut appended = folder
        .append(&mut Cursor::new(message("x", 1, 0)), &[])
        .unwrap();
    env.home
        .run("rmm", &["+gone", &appended.number.to_string()]);
    assert_eq!(
        folder.check_append(&mut appended).unwrap(),
        asimapd_mh::AppendCheck::Removed
    );
    assert_eq!(env.ids("gone", None), ["<m1@test>"]);
}

#[test]
fn append_restores_sequences_lost_to_stale_rewrite() {
    let Some(env) = setup("") else { return };
    env.folder_with("restore", 2);
    let folder = env.root.folder("restore").unwrap();
    let mut appended = folder
        .append(
            &mut Cursor::new(message("y", 1, 0)),
            &[env.seq("unseen"), env.seq("flagged")],
        )
        .unwrap();
    let number = appended.number.get();
    folder
        .update_sequences(&[
            SequenceChange::remove(env.seq("unseen"), numbers([number])),
            SequenceChange::remove(env.seq("flagged"), numbers([number])),
        ])
        .unwrap();
    assert_eq!(
        folder.check_append(&mut appended).unwrap(),
        asimapd_mh::AppendCheck::SequencesRestored
    );
    assert_eq!(env.ids("restore", Some("flagged")), ["<y@test>"]);
}

#[test]
fn check_appends_repairs_each_damage() {
    use asimapd_mh::AppendCheck;
    let Some(env) = setup("") else { return };
    env.folder_with("batch", 2);
    let folder = env.root.folder("batch").unwrap();
    let mut appends: Vec<_> = (0..5)
        .map(|i| {
            folder
                .append(
                    &mut Cursor::new(message(&format!("b{i}"), 1, 0)),
                    &[env.seq("unseen")],
                )
                .unwrap()
        })
        .collect();
    let numbers_now: Vec<u32> = appends.iter().map(|a| a.number.get()).collect();
    assert_eq!(numbers_now, [3, 4, 5, 6, 7]);

    // Damage to four of the five: inc with a stale listing overwrites 3, rmm removes 4, a
    // stale rewrite drops 5 from unseen, and a renumbering command moves 7 to 20.
    std::fs::write(folder.message_path(num(3)), message("incs", 1, 0)).unwrap();
    env.home.run("rmm", &["+batch", "4"]);
    folder
        .update_sequences(&[SequenceChange::remove(env.seq("unseen"), numbers([5]))])
        .unwrap();
    std::fs::rename(folder.message_path(num(7)), folder.message_path(num(20))).unwrap();

    let checks = folder.check_appends(appends.iter_mut()).unwrap();
    assert_eq!(
        checks,
        [
            AppendCheck::Redelivered { lost: num(3) },
            AppendCheck::Removed,
            AppendCheck::SequencesRestored,
            AppendCheck::Intact,
            AppendCheck::Renumbered {
                from: num(7),
                to: num(20)
            },
        ]
    );
    assert_eq!(appends[0].number, num(21), "redelivered above the highest");
    assert_eq!(appends[4].number, num(20));
    let removed = appends.remove(1);
    folder.finish_append(removed).unwrap();

    // The plain rename left unseen naming 7, where sortm would have moved it to 20. So
    // the next pass adds 20 to unseen, and the pass after it finds everything intact.
    let again = folder.check_appends(appends.iter_mut()).unwrap();
    assert_eq!(
        again,
        [
            AppendCheck::Intact,
            AppendCheck::Intact,
            AppendCheck::Intact,
            AppendCheck::SequencesRestored
        ]
    );
    let last = folder.check_appends(appends.iter_mut()).unwrap();
    assert_eq!(last, [AppendCheck::Intact; 4]);
    let mut unseen = env.ids("batch", Some("unseen"));
    unseen.sort();
    // Number 3 keeps the unseen entry its overwritten message had, now for inc's message.
    assert_eq!(
        unseen,
        [
            "<b0@test>",
            "<b2@test>",
            "<b3@test>",
            "<b4@test>",
            "<incs@test>"
        ]
    );
    for appended in appends {
        folder.finish_append(appended).unwrap();
    }
}

#[test]
fn remove_keeps_backup_like_rmm_and_updates_sequences() {
    let Some(env) = setup("") else { return };
    env.folder_with("expunge", 5);
    env.home
        .run("mark", &["+expunge", "all", "-seq", "unseen", "-add"]);
    env.home.run("folder", &["+expunge", "3", "-fast"]);
    assert_eq!(env.root.remove_mode(), RemoveMode::Backup);
    let folder = env.root.folder("expunge").unwrap();
    let known = |number: u32| KnownMessage {
        number: num(number),
        identity: folder.identity(num(number)).unwrap(),
    };
    let targets = [known(2), known(3)];
    let removed = folder.remove(&targets).unwrap();
    assert_eq!(removed.removed.len(), 2);
    let dir = env.home.folder_path("expunge");
    assert!(dir.join(",2").exists());
    assert!(dir.join(",3").exists());
    assert_eq!(env.ids("expunge", None), ids_of("m", [1, 4, 5]));
    assert_eq!(env.ids("expunge", Some("unseen")), ids_of("m", [1, 4, 5]));
    assert!(
        env.home.mark_list("expunge").contains("cur: 3"),
        "cur kept, as rmm does"
    );

    // A number that now names another file is left alone.
    let stale = known(4);
    std::fs::remove_file(dir.join("4")).unwrap();
    std::fs::write(dir.join("4"), message("other", 1, 0)).unwrap();
    let outcome = folder.remove(&[stale]).unwrap();
    assert_eq!(outcome.missing, [stale]);
    assert!(dir.join("4").exists());
}

#[test]
fn remove_unlinks_when_profile_says_so() {
    let Some(env) = setup("rmm: -unlink\n") else {
        return;
    };
    env.folder_with("unlink", 2);
    let folder = env.root.folder("unlink").unwrap();
    let first = KnownMessage {
        number: num(1),
        identity: folder.identity(num(1)).unwrap(),
    };
    folder.remove(&[first]).unwrap();
    let dir = env.home.folder_path("unlink");
    assert!(!dir.join("1").exists());
    assert!(!dir.join(",1").exists());
}

#[test]
fn copy_links_and_move_renames_into_target() {
    let Some(env) = setup("") else { return };
    env.folder_with("from", 3);
    env.home.create_folder("to");
    env.home.fill("to", &[message("t1", 1, 0)]);
    let source = env.root.folder("from").unwrap();
    let target = env.root.folder("to").unwrap();
    let request = |number: u32| CopyRequest {
        message: KnownMessage {
            number: num(number),
            identity: source.identity(num(number)).unwrap(),
        },
        sequences: vec![env.seq("flagged")],
    };
    let first = request(1);
    let copied = source
        .copy_to(&target, std::slice::from_ref(&first))
        .unwrap();
    assert_eq!(copied.copied[0].number, num(2));
    let ino = first.message.identity.ino;
    assert_eq!(copied.copied[0].identity.ino, ino, "hard link");
    let moved = source.move_to(&target, &[request(2), request(3)]).unwrap();
    assert_eq!(moved.copied.len(), 2);
    let taken: Vec<_> = moved.copied.iter().map(|copy| copy.number).collect();
    assert_eq!(
        taken,
        [num(3), num(4)],
        "one batch takes consecutive numbers"
    );
    assert_eq!(env.ids("from", None), ids_of("m", [1]));
    let mut expected = ids_of("m", 1..=3);
    expected.push("<t1@test>".to_owned());
    expected.sort();
    assert_eq!(env.ids("to", None), expected);
    assert_eq!(env.ids("to", Some("flagged")), ids_of("m", 1..=3));
    assert_layout_clean(&env, "to");
}

#[test]
fn move_renames_and_keeps_backup() {
    let Some(env) = setup("") else { return };
    env.folder_with("from", 3);
    env.home
        .run("mark", &["+from", "2-3", "-sequence", "flagged"]);
    env.home.create_folder("to");
    let source = env.root.folder("from").unwrap();
    let target = env.root.folder("to").unwrap();
    let known = KnownMessage {
        number: num(2),
        identity: source.identity(num(2)).unwrap(),
    };
    let request = CopyRequest {
        message: known,
        sequences: vec![],
    };

    let moved = source.move_to(&target, &[request]).unwrap();

    assert_eq!(moved.copied.len(), 1);
    let dir = env.home.folder_path("from");
    let moved_meta = std::fs::metadata(target.message_path(moved.copied[0].number)).unwrap();
    assert_eq!(moved_meta.ino(), known.identity.ino, "renamed, not copied");
    assert!(!dir.join("2").exists());
    let backup = std::fs::metadata(dir.join(",2")).unwrap();
    assert_eq!(
        backup.ino(),
        known.identity.ino,
        "the backup is a link, as rmm leaves"
    );
    assert_eq!(env.ids("from", Some("flagged")), ids_of("m", [3]));
    assert_layout_clean(&env, "from");
}

#[test]
fn move_leaves_no_link_behind_when_rmm_unlinks() {
    let Some(env) = setup("rmm: -unlink\n") else {
        return;
    };
    env.folder_with("from", 2);
    env.home.create_folder("to");
    let source = env.root.folder("from").unwrap();
    let target = env.root.folder("to").unwrap();
    let known = KnownMessage {
        number: num(1),
        identity: source.identity(num(1)).unwrap(),
    };
    let stale = KnownMessage {
        number: num(2),
        identity: source.identity(num(1)).unwrap(),
    };
    let request = |message| CopyRequest {
        message,
        sequences: vec![],
    };

    let moved = source
        .move_to(&target, &[request(known), request(stale)])
        .unwrap();

    assert_eq!(moved.missing, [stale], "a number naming another file stays");
    let meta = std::fs::metadata(target.message_path(moved.copied[0].number)).unwrap();
    assert_eq!((meta.ino(), meta.nlink()), (known.identity.ino, 1));
    assert_eq!(env.ids("from", None), ids_of("m", [2]));
    assert!(!env.home.folder_path("from").join(",1").exists());
}

#[test]
fn folder_tree_operations_match_nmh() {
    let Some(env) = setup("") else { return };
    let root = &env.root;
    root.create_folder("lists/rust/announce").unwrap();
    root.create_folder("work").unwrap();
    assert!(matches!(
        root.create_folder("work"),
        Err(MhError::FolderExists { .. })
    ));
    let folders = env.home.run("folders", &["-recurse", "-fast"]);
    for name in ["lists", "lists/rust", "lists/rust/announce", "work"] {
        assert!(
            folders.lines().any(|line| line == name),
            "{name} in {folders}"
        );
    }
    let names: Vec<String> = root
        .list_folders()
        .unwrap()
        .iter()
        .map(|n| n.to_string())
        .collect();
    assert_eq!(
        names,
        ["lists", "lists/rust", "lists/rust/announce", "work"]
    );

    root.rename_folder("lists", "archive/lists").unwrap();
    assert!(env.home.folder_path("archive/lists/rust/announce").is_dir());
    assert!(root.rename_folder("archive", "archive/inner").is_err());
    root.delete_folder("archive").unwrap();
    assert!(!env.home.folder_path("archive").exists());
    assert!(matches!(
        root.delete_folder("archive"),
        Err(MhError::FolderNotFound { .. })
    ));
    for bad in ["../escape", "/abs", "a//b", "123", "x/007", ""] {
        assert!(
            matches!(root.folder(bad), Err(MhError::InvalidFolderName { .. })),
            "{bad:?}"
        );
    }
}

#[test]
fn profile_settings_are_honoured() {
    let Some(env) = setup("Sequence-Negation: not\nMsg-Protect: 660\nFolder-Protect: 770\n") else {
        return;
    };
    assert!(env.root.sequence_name("notseen").is_err());
    assert!(env.root.sequence_name("seen").is_ok());
    let folder = env.root.create_folder("modes").unwrap();
    let mode = std::fs::metadata(folder.path()).unwrap().mode() & 0o7777;
    assert_eq!(mode, 0o770, "Folder-Protect applied whatever the umask");
    let appended = folder
        .append(&mut Cursor::new(message("p", 1, 0)), &[])
        .unwrap();
    let mode = std::fs::metadata(folder.message_path(appended.number))
        .unwrap()
        .mode()
        & 0o7777;
    assert_eq!(mode, 0o660, "Msg-Protect applied whatever the umask");
    let flag = SequenceChange::add(env.seq("flagged"), numbers([1]));
    let bad = SequenceChange::add(asimapd_mh::SequenceName::new("notx").unwrap(), numbers([1]));
    assert!(folder.update_sequences(&[flag]).is_ok());
    assert!(matches!(
        folder.update_sequences(&[bad]),
        Err(MhError::InvalidSequenceName { .. })
    ));
}

#[test]
fn disabled_public_sequences_are_read_only() {
    let Some(env) = setup("mh-sequences:\n") else {
        return;
    };
    env.folder_with("private", 2);
    env.home
        .run("mark", &["+private", "1", "-seq", "flagged", "-add"]);
    let folder = env.root.folder("private").unwrap();
    assert_eq!(
        folder.sequences().unwrap().get("flagged"),
        Some(&numbers([1]))
    );
    let change = SequenceChange::add(env.seq("flagged"), numbers([2]));
    assert!(matches!(
        folder.update_sequences(&[change]),
        Err(MhError::PublicSequencesDisabled { .. })
    ));
}

#[test]
fn dot_locking_waits_for_nmh_lock_file() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let Some(env) = setup("Datalocking: dot\n") else {
        return;
    };
    env.folder_with("dot", 2);
    env.home
        .run("mark", &["+dot", "1", "-seq", "flagged", "-add"]);
    let lock = env.home.folder_path("dot").join(".mh_sequences.lock");
    std::fs::write(&lock, b"0\n").unwrap();
    let released = AtomicBool::new(false);
    let folder = env.root.folder("dot").unwrap();
    std::thread::scope(|scope| {
        scope.spawn(|| {
            std::thread::sleep(std::time::Duration::from_millis(300));
            released.store(true, Ordering::SeqCst);
            std::fs::remove_file(&lock).unwrap();
        });
        folder
            .update_sequences(&[SequenceChange::add(env.seq("flagged"), numbers([2]))])
            .unwrap();
        assert!(
            released.load(Ordering::SeqCst),
            "update waited for the dot lock"
        );
    });
    assert!(!lock.exists(), "own dot lock removed");
    env.home.run("mark", &["+dot", "1", "-seq", "seen", "-add"]);
    assert_eq!(env.ids("dot", Some("flagged")), ids_of("m", [1, 2]));
}

#[test]
fn own_updates_survive_without_nmh_locking() {
    let Some(env) = setup("") else { return };
    env.folder_with("nolock", 200);
    let profile = Profile::load(&env.home.profile_path(), env.home.home()).unwrap();
    let root = MailRoot::open(&env.home.mail_root(), Some(&profile), false).unwrap();
    std::thread::scope(|scope| {
        for thread in 0..4u32 {
            let root = &root;
            scope.spawn(move || {
                let folder = root.folder("nolock").unwrap();
                let name = root.sequence_name(&format!("t{thread}")).unwrap();
                for i in 1..=50 {
                    let change = SequenceChange::add(name.clone(), numbers([thread * 50 + i]));
                    folder.update_sequences(&[change]).unwrap();
                }
            });
        }
    });
    let sequences = env.root.folder("nolock").unwrap().sequences().unwrap();
    for thread in 0..4u32 {
        let expected = numbers(thread * 50 + 1..=thread * 50 + 50);
        assert_eq!(
            sequences.get(&format!("t{thread}")),
            Some(&expected),
            "thread {thread}"
        );
    }
}

#[test]
fn unlocked_update_waits_for_an_nmh_reader() {
    // Without nmh-compatible locking, an update still takes nmh's lock for its write. An nmh
    // command that reads under that lock then gets the whole old or the whole new text.
    // strace slows each read of `mark -list`, so mark reads the file in several 8 KiB
    // pieces and keeps its lock for tens of milliseconds while the update shortens the file.
    // A write that ignored the lock would leave mark listing only the part it had read.
    use std::process::Stdio;
    use std::time::{Duration, Instant};
    const ROUNDS: usize = 5;
    const MESSAGES: u32 = 12_000;

    let Some(env) = setup("") else { return };
    let Some(strace) = asimapd_testkit::require_tool("strace", "strace") else {
        return;
    };
    env.home.create_folder("slowread");
    let messages: Vec<Vec<u8>> = (0..MESSAGES).map(|_| message("same", 1, 0)).collect();
    env.home.fill("slowread", &messages);
    let profile = Profile::load(&env.home.profile_path(), env.home.home()).unwrap();
    let root = MailRoot::open(&env.home.mail_root(), Some(&profile), false).unwrap();
    let folder = root.folder("slowread").unwrap();
    let path = env.home.folder_path("slowread").join(".mh_sequences");
    // About 33 KiB of text: five reads of mark's 8 KiB buffer.
    let long = numbers((1..=MESSAGES).step_by(2));
    let short = numbers([1]);

    for round in 0..ROUNDS {
        folder
            .update_sequences(&[SequenceChange::add(env.seq("long"), long.clone())])
            .unwrap();
        let before = env.home.mark_list("slowread");

        let mut mark = env
            .home
            .command(strace.to_str().unwrap())
            .args(["-f", "-o", "/dev/null", "-e", "trace=read"])
            .args([
                "-e",
                "inject=read:delay_exit=10000",
                "mark",
                "+slowread",
                "-list",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start strace mark");
        let deadline = Instant::now() + Duration::from_secs(10);
        while !asimapd_mh::is_locked_by_other(&path).unwrap() {
            assert!(
                mark.try_wait().unwrap().is_none(),
                "round {round}: mark ended before it locked the file"
            );
            assert!(
                Instant::now() < deadline,
                "round {round}: mark never locked"
            );
            std::thread::sleep(Duration::from_millis(1));
        }

        folder
            .update_sequences(&[
                SequenceChange::remove(env.seq("long"), long.clone()),
                SequenceChange::add(env.seq("long"), short.clone()),
            ])
            .unwrap();

        let output = mark.wait_with_output().unwrap();
        let after = env.home.mark_list("slowread");
        assert!(output.status.success(), "round {round}: {output:?}");
        let seen = String::from_utf8_lossy(&output.stdout);
        assert!(
            seen == before || seen == after,
            "round {round}: mark listed neither the old nor the new text: {:.200}",
            seen
        );
    }
}

#[test]
fn stale_temp_files_are_removed() {
    let Some(env) = setup("") else { return };
    env.folder_with("stale", 1);
    let folder = env.root.folder("stale").unwrap();
    let dir = env.home.folder_path("stale");
    let old = dir.join(format!("{}old", asimapd_mh::COPY_PREFIX));
    let fresh = dir.join(format!("{}fresh", asimapd_mh::TEMP_PREFIX));
    let two_hours_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(7200);
    std::fs::File::create(&old)
        .unwrap()
        .set_modified(two_hours_ago)
        .unwrap();
    std::fs::File::create(&fresh).unwrap();

    let removed = folder
        .remove_stale_temp_files(asimapd_mh::APPEND_WATCH_PERIOD)
        .unwrap();

    assert_eq!(removed, 1);
    assert!(!old.exists());
    assert!(fresh.exists());
    assert!(dir.join("1").exists());
}

#[test]
fn update_waits_out_truncated_sequences_file() {
    // nmh's `folder +F N` empties .mh_sequences, waits for the lock, then writes what it read
    // before. An update that found the file empty must wait and apply on top of that.
    let Some(env) = setup("") else { return };
    env.folder_with("midrewrite", 3);
    let path = env.home.folder_path("midrewrite").join(".mh_sequences");
    std::fs::write(&path, b"").unwrap();
    let folder = env.root.folder("midrewrite").unwrap();
    std::thread::scope(|scope| {
        scope.spawn(|| {
            std::thread::sleep(std::time::Duration::from_millis(300));
            std::fs::write(&path, b"cur: 1\nflagged: 1\n").unwrap();
        });
        let change = SequenceChange::add(env.seq("flagged"), numbers([2]));
        folder.update_sequences(&[change]).unwrap();
    });
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "cur: 1\nflagged: 1-2\n"
    );
}

#[test]
fn copy_across_file_systems_copies_bytes() {
    let Some(env) = setup("") else { return };
    let shm = std::path::Path::new("/dev/shm");
    let mail_dev = std::fs::metadata(env.home.mail_root()).unwrap().dev();
    let shm_dev = std::fs::metadata(shm).map(|meta| meta.dev());
    assert!(
        shm_dev.is_ok_and(|dev| dev != mail_dev),
        "this test needs /dev/shm on another file system than {}",
        env.home.mail_root().display()
    );
    let elsewhere = tempfile::tempdir_in(shm).unwrap();
    std::os::unix::fs::symlink(elsewhere.path(), env.home.folder_path("remote")).unwrap();
    env.folder_with("local", 2);
    let source = env.root.folder("local").unwrap();
    let target = env.root.folder("remote").unwrap();
    let request = |number: u32, sequences: Vec<SequenceName>| CopyRequest {
        message: KnownMessage {
            number: num(number),
            identity: source.identity(num(number)).unwrap(),
        },
        sequences,
    };

    let requests = [request(2, vec![env.seq("flagged")]), request(1, vec![])];
    let outcome = source.copy_to(&target, &requests).unwrap();

    assert_eq!(outcome.copied.len(), 2);
    let copied = outcome.copied[0];
    assert_eq!(copied.number, num(1));
    assert_ne!(copied.identity.dev, mail_dev);
    let bytes = std::fs::read(target.message_path(num(1))).unwrap();
    assert_eq!(bytes, message("m2", 26, 0));
    assert_eq!(
        outcome.copied[1].number,
        num(2),
        "next number carried forward"
    );
    let bytes = std::fs::read(target.message_path(num(2))).unwrap();
    assert_eq!(bytes, message("m1", 27, 0));
    assert_eq!(env.ids("remote", Some("flagged")), ids_of("m", [2]));
}

#[test]
fn move_across_file_systems_copies_then_removes() {
    let Some(env) = setup("rmm: -unlink\n") else {
        return;
    };
    let shm = std::path::Path::new("/dev/shm");
    let elsewhere = tempfile::tempdir_in(shm).unwrap();
    std::os::unix::fs::symlink(elsewhere.path(), env.home.folder_path("remote")).unwrap();
    env.folder_with("local", 2);
    let source = env.root.folder("local").unwrap();
    let target = env.root.folder("remote").unwrap();
    let request = CopyRequest {
        message: KnownMessage {
            number: num(2),
            identity: source.identity(num(2)).unwrap(),
        },
        sequences: vec![env.seq("flagged")],
    };

    let outcome = source.move_to(&target, &[request]).unwrap();

    assert_eq!(outcome.copied.len(), 1);
    let bytes = std::fs::read(target.message_path(outcome.copied[0].number)).unwrap();
    assert_eq!(bytes, message("m2", 26, 0));
    assert_eq!(env.ids("local", None), ids_of("m", [1]));
    assert_eq!(env.ids("remote", Some("flagged")), ids_of("m", [2]));
}
