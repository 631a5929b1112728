//! An `IMAP_HOOK` for nmh-scenarios.sh that works on the folders through this crate alone, as
//! the server's store will. It appends with a private copy and later checks, updates flags as
//! locked in-place sequence rewrites, and uses the inode number as the UID.
//!
//! Usage: `scenario_hook ACTION FOLDER [ARGS...]` with `HOME` (or `MH`) naming the nmh
//! profile. Actions: `append FOLDER FILE`, `flag FOLDER MSGID +|- FLAG`, `uidmap FOLDER`,
//! `fetch FOLDER`, `settle FOLDER`, and `list FOLDER` (prints the message count). Appends
//! and flag changes are recorded in `$HOME/.scenario-hook/FOLDER.*` so that `settle` can check and repair them, because the
//! hook runs as a new process for every call.

use std::fs::OpenOptions;
use std::io::{Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use asimapd_mh::{
    AppendCheck, Appended, FileIdentity, Folder, MailRoot, MessageNumber, NumberSet, Profile,
    SequenceChange, SequenceName,
};

type HookResult<T> = Result<T, Box<dyn std::error::Error>>;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("scenario_hook: {err}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &[String]) -> HookResult<()> {
    let [action, folder_name, rest @ ..] = args else {
        return Err("usage: scenario_hook ACTION FOLDER [ARGS...]".into());
    };

    let home = PathBuf::from(std::env::var_os("HOME").ok_or("HOME is not set")?);
    let profile_path =
        Profile::locate(&home, std::env::var_os("MH").as_deref()).ok_or("no MH profile found")?;
    let profile = Profile::load(&profile_path, &home)?;
    let mail = profile.mail_path().ok_or("the profile has no Path")?;
    let root = MailRoot::open(&mail, Some(&profile), true)?;
    let folder = root.folder(folder_name)?;

    // Each call is a new process, so appends and flag changes are kept in files for `settle`.
    let state = home.join(".scenario-hook");
    std::fs::create_dir_all(&state)?;
    let records = state.join(format!("{folder_name}.appends"));
    let flags = state.join(format!("{folder_name}.flags"));

    match (action.as_str(), rest) {
        ("append", [file]) => append(&root, &folder, Path::new(file), &records),
        ("flag", [id, sign, flag]) => {
            append_line(&flags, &format!("{id} {sign} {flag}"))?;
            set_flag(&root, &folder, id, sign, flag)
        }
        ("uidmap", []) => uidmap(&folder),
        ("fetch", []) => fetch(&folder),
        ("list", []) => {
            let listing = folder.list()?;
            println!("{} messages", listing.messages.len());
            Ok(())
        }
        ("settle", []) => settle(&root, &folder, &records, &flags),
        _ => Err(format!("unknown action or wrong arguments: {args:?}").into()),
    }
}

fn append(root: &MailRoot, folder: &Folder, file: &Path, records: &Path) -> HookResult<()> {
    let mut message = std::fs::File::open(file)?;
    let appended = folder.append(&mut message, root.unseen_sequences())?;
    let identity = appended.identity;
    let sequences: Vec<&str> = appended
        .sequences
        .iter()
        .map(SequenceName::as_str)
        .collect();
    let line = format!(
        "{} {} {} {} {} {} {} {}",
        appended.number,
        identity.dev,
        identity.ino,
        identity.size,
        identity.mtime_ns,
        identity
            .btime_ns
            .map_or("-".to_owned(), |ns| ns.to_string()),
        if sequences.is_empty() {
            "-".to_owned()
        } else {
            sequences.join(",")
        },
        appended.private_copy().display(),
    );
    append_line(records, &line)
}

fn set_flag(root: &MailRoot, folder: &Folder, id: &str, sign: &str, flag: &str) -> HookResult<()> {
    let Some(number) = find_message(folder, id)? else {
        return Ok(()); // UID SEARCH found nothing: nothing to store
    };
    let numbers: NumberSet = [number].into_iter().collect();
    let unseen = root.unseen_sequences().first().cloned();
    let change = match (flag, sign) {
        ("\\Seen", "+") => unseen.map(|name| SequenceChange::remove(name, numbers)),
        ("\\Seen", "-") => unseen.map(|name| SequenceChange::add(name, numbers)),
        ("\\Flagged", "+") => Some(SequenceChange::add(root.sequence_name("flagged")?, numbers)),
        ("\\Flagged", "-") => Some(SequenceChange::remove(
            root.sequence_name("flagged")?,
            numbers,
        )),
        _ => return Err(format!("unsupported flag change {sign}{flag}").into()),
    };
    if let Some(change) = change {
        folder.update_sequences(&[change])?;
    }
    Ok(())
}

fn uidmap(folder: &Folder) -> HookResult<()> {
    let snapshot = folder.snapshot()?;
    let validity = std::fs::metadata(folder.path())?.ino();
    println!("UIDVALIDITY {validity}");
    let mut lines = Vec::new();
    for listed in &snapshot.listing.messages {
        if let Ok(bytes) = std::fs::read(folder.message_path(listed.number)) {
            lines.push((listed.ino, message_id(&bytes).unwrap_or_default()));
        }
    }
    lines.sort();
    for (uid, id) in lines {
        println!("{uid} {id}");
    }
    Ok(())
}

fn fetch(folder: &Folder) -> HookResult<()> {
    let snapshot = folder.snapshot()?;
    for listed in &snapshot.listing.messages {
        let Ok((mut file, identity)) = folder.open_message(listed.number) else {
            continue; // removed since the listing: an expunge, not an error
        };
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        let id =
            message_id(&bytes).ok_or(format!("message {} has no Message-ID", listed.number))?;
        println!("{} {id}", identity.ino);
    }
    Ok(())
}

fn settle(root: &MailRoot, folder: &Folder, records: &Path, flags: &Path) -> HookResult<()> {
    for line in read_lines(records)? {
        let mut appended = parse_record(root, &line)?;
        loop {
            match folder.check_append(&mut appended)? {
                AppendCheck::Intact | AppendCheck::Removed => break,
                AppendCheck::Redelivered { lost } => {
                    eprintln!(
                        "    hook: message {lost} was destroyed; delivered again as {}",
                        appended.number
                    );
                }
                AppendCheck::Renumbered { .. } | AppendCheck::SequencesRestored => {}
            }
        }
        folder.finish_append(appended)?;
    }
    let _ = std::fs::remove_file(records);
    // Flag changes are re-issued: they are idempotent, and an nmh command that wrote back a
    // stale view (folder +F, inc) may have undone one.
    for line in read_lines(flags)? {
        let [id, sign, flag] = line.split(' ').collect::<Vec<_>>()[..] else {
            continue;
        };
        set_flag(root, folder, id, sign, flag)?;
    }
    Ok(())
}

fn parse_record(root: &MailRoot, line: &str) -> HookResult<Appended> {
    let fields: Vec<&str> = line.splitn(8, ' ').collect();
    let [number, dev, ino, size, mtime, btime, sequences, copy] = fields[..] else {
        return Err(format!("bad append record {line:?}").into());
    };
    let number = MessageNumber::new(number.parse()?).ok_or("bad message number")?;
    let identity = FileIdentity {
        dev: dev.parse()?,
        ino: ino.parse()?,
        size: size.parse()?,
        mtime_ns: mtime.parse()?,
        btime_ns: if btime == "-" {
            None
        } else {
            Some(btime.parse()?)
        },
    };
    let sequences = match sequences {
        "-" => Vec::new(),
        list => list
            .split(',')
            .map(|name| root.sequence_name(name))
            .collect::<Result<_, _>>()?,
    };
    Ok(Appended::from_parts(
        number,
        identity,
        sequences,
        PathBuf::from(copy),
    ))
}

/// Finds the message whose Message-ID is `id` (what UID SEARCH HEADER Message-ID does).
fn find_message(folder: &Folder, id: &str) -> HookResult<Option<MessageNumber>> {
    for listed in folder.list()?.messages {
        let Ok(bytes) = std::fs::read(folder.message_path(listed.number)) else {
            continue;
        };
        if message_id(&bytes).as_deref() == Some(id) {
            return Ok(Some(listed.number));
        }
    }
    Ok(None)
}

fn message_id(bytes: &[u8]) -> Option<String> {
    for line in String::from_utf8_lossy(bytes).lines() {
        if line.is_empty() {
            return None;
        }
        if line.to_ascii_lowercase().starts_with("message-id:") {
            return Some(line["message-id:".len()..].trim().to_owned());
        }
    }
    None
}

fn append_line(path: &Path, line: &str) -> HookResult<()> {
    let mut file = OpenOptions::new().create(true).append(true).open(path)?;
    writeln!(file, "{line}")?;
    Ok(())
}

fn read_lines(path: &Path) -> HookResult<Vec<String>> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(text.lines().map(str::to_owned).collect()),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(err) => Err(err.into()),
    }
}
