//! Re-applying flag writes that an nmh command wrote over.
//!
//! `folder +F N` in nmh 1.8 reads `.mh_sequences` under a read lock, lets go, and later
//! truncates the file and writes back what it read, with only `cur` changed. A STORE that
//! lands between that read and that write is lost without any sign under the lock. The
//! `asimapd-mh` crate repairs the case where the truncation happens while it holds the lock.
//! The store covers the rest: it remembers each STORE's sequence changes for
//! [`FLAG_RECHECK_PERIOD`], and when `.mh_sequences` is rewritten within that period so that
//! none of a STORE's changes is still in effect, it applies them again. Re-applying is
//! idempotent, so a change still in effect is never written twice.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use asimapd_mh::{Folder, NumberSet, SequenceChange, SequenceOp, SequencesFile, Stamp};

use crate::error::Result;

/// How long after a STORE its sequence changes are checked. `folder +F N` writes back its
/// stale copy a few milliseconds after reading it, or after one-second lock retries when the
/// lock was busy. Two seconds covers one retry with margin.
pub const FLAG_RECHECK_PERIOD: Duration = Duration::from_secs(2);

/// The sequence changes of one STORE, watched for being written over.
#[derive(Debug)]
pub(crate) struct FlagWrite {
    /// The changes as written. Numbers that a later write of ours changed again, or that
    /// were expunged since, are taken out.
    changes: Vec<SequenceChange>,
    /// Wall-clock time of the write, compared with the mtime of `.mh_sequences`.
    written_ns: i128,
    /// When the watch ends.
    until: Instant,
    /// The folder directory right after the write. Another stamp means files were added,
    /// removed or renumbered, so the numbers in `changes` may name other messages now.
    // NOTE: an APPEND of ours also changes the stamp, so it ends the watch of earlier STOREs.
    dir: Stamp,
}

impl FlagWrite {
    /// Records changes just written to `folder`.
    pub(crate) fn record(folder: &Folder, changes: Vec<SequenceChange>) -> Result<FlagWrite> {
        let written_ns = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_nanos() as i128);
        let dir = folder.probe()?.dir;
        Ok(FlagWrite {
            changes,
            written_ns,
            until: Instant::now() + FLAG_RECHECK_PERIOD,
            dir,
        })
    }
}

/// Adds a new write to the watched ones. Numbers it changes are taken out of older writes
/// to the same sequence, so that a later STORE that undoes an earlier one is not mistaken
/// for a lost update.
pub(crate) fn push_write(writes: &mut Vec<FlagWrite>, write: FlagWrite) {
    for older in writes.iter_mut() {
        for change in &write.changes {
            let numbers = change_numbers(change);
            for previous in older
                .changes
                .iter_mut()
                .filter(|previous| previous.name == change.name)
            {
                subtract(previous, numbers);
            }
        }
        older
            .changes
            .retain(|change| !change_numbers(change).is_empty());
    }
    writes.retain(|older| !older.changes.is_empty());
    writes.push(write);
}

/// Takes expunged message numbers out of every watched write, so that they are never added
/// back to a sequence.
pub(crate) fn forget_numbers(writes: &mut Vec<FlagWrite>, removed: &NumberSet) {
    for write in writes.iter_mut() {
        for change in &mut write.changes {
            subtract(change, removed);
        }
        write
            .changes
            .retain(|change| !change_numbers(change).is_empty());
    }
    writes.retain(|write| !write.changes.is_empty());
}

/// Checks the watched writes against `.mh_sequences` and applies again those of which no
/// change is in effect any more. Returns how many writes were applied again. Writes whose
/// period ended are dropped after this check.
pub(crate) fn repair_writes(folder: &Folder, writes: &mut Vec<FlagWrite>) -> Result<usize> {
    if writes.is_empty() {
        return Ok(0);
    }
    let probe = folder.probe()?;
    let now = Instant::now();
    let mut lost: Vec<SequenceChange> = Vec::new();
    let mut repaired = 0;
    let mut sequences: Option<SequencesFile> = None;
    for write in writes.iter() {
        if probe.dir != write.dir {
            continue;
        }
        // Only a rewrite inside the period counts, so a change a user makes later is kept.
        let rewritten_in_time = probe.sequences.is_none_or(|stamp| {
            stamp.mtime_ns <= write.written_ns + FLAG_RECHECK_PERIOD.as_nanos() as i128
        });
        if !rewritten_in_time {
            continue;
        }
        let file = match &sequences {
            Some(file) => file,
            None => sequences.insert(folder.sequences()?.public),
        };
        if write
            .changes
            .iter()
            .any(|change| is_in_effect(change, file))
        {
            continue;
        }
        // NOTE: when a user undoes every change of a STORE with nmh within the period, the
        // STORE is applied again, because a stale rewrite looks the same on disk.
        lost.extend(write.changes.iter().cloned());
        repaired += 1;
    }
    if !lost.is_empty() {
        tracing::info!(
            folder = %folder.path().display(),
            writes = repaired,
            "flag update written over by another writer; applying it again"
        );
        folder.update_sequences(&lost)?;
    }
    writes.retain(|write| now < write.until && probe.dir == write.dir);
    Ok(repaired)
}

/// Returns true when the file shows the change: every added number is in the sequence and
/// no removed number is.
fn is_in_effect(change: &SequenceChange, file: &SequencesFile) -> bool {
    let present = file.get(change.name.as_str());
    let contains = |number| present.is_some_and(|set| set.contains(number));
    match &change.op {
        SequenceOp::Add(numbers) => numbers.iter().all(contains),
        SequenceOp::Remove(numbers) => !numbers.iter().any(contains),
        SequenceOp::Replace(numbers) => present.map_or(numbers.is_empty(), |set| set == numbers),
    }
}

fn change_numbers(change: &SequenceChange) -> &NumberSet {
    match &change.op {
        SequenceOp::Add(numbers) | SequenceOp::Remove(numbers) | SequenceOp::Replace(numbers) => {
            numbers
        }
    }
}

fn subtract(change: &mut SequenceChange, numbers: &NumberSet) {
    match &mut change.op {
        SequenceOp::Add(own) | SequenceOp::Remove(own) | SequenceOp::Replace(own) => {
            own.subtract(numbers);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use asimapd_mh::{MessageNumber, SequenceName};

    fn numbers(values: &[u32]) -> NumberSet {
        values
            .iter()
            .map(|v| MessageNumber::new(*v).unwrap())
            .collect()
    }

    fn add(name: &str, values: &[u32]) -> SequenceChange {
        SequenceChange::add(SequenceName::new(name).unwrap(), numbers(values))
    }

    fn remove(name: &str, values: &[u32]) -> SequenceChange {
        SequenceChange::remove(SequenceName::new(name).unwrap(), numbers(values))
    }

    fn write(changes: Vec<SequenceChange>) -> FlagWrite {
        FlagWrite {
            changes,
            written_ns: 0,
            until: Instant::now() + FLAG_RECHECK_PERIOD,
            dir: Stamp {
                dev: 1,
                ino: 2,
                size: 0,
                mtime_ns: 0,
                ctime_ns: 0,
            },
        }
    }

    #[test]
    fn add_in_effect_needs_every_number() {
        let file = SequencesFile::parse(b"flagged: 1-3\n");
        assert!(is_in_effect(&add("flagged", &[1, 3]), &file));
        assert!(!is_in_effect(&add("flagged", &[3, 4]), &file));
        assert!(!is_in_effect(&add("replied", &[1]), &file));
    }

    #[test]
    fn remove_in_effect_needs_no_number() {
        let file = SequencesFile::parse(b"unseen: 2 5\n");
        assert!(is_in_effect(&remove("unseen", &[1, 3]), &file));
        assert!(!is_in_effect(&remove("unseen", &[1, 5]), &file));
        assert!(is_in_effect(&remove("flagged", &[5]), &file));
    }

    #[test]
    fn later_write_takes_numbers_from_earlier() {
        let mut writes = Vec::new();
        push_write(&mut writes, write(vec![add("flagged", &[1, 2])]));
        push_write(&mut writes, write(vec![remove("flagged", &[2])]));
        assert_eq!(writes.len(), 2);
        assert_eq!(writes[0].changes, vec![add("flagged", &[1])]);

        push_write(&mut writes, write(vec![remove("flagged", &[1])]));
        assert_eq!(writes.len(), 2, "the emptied first write is dropped");
        assert_eq!(writes[0].changes, vec![remove("flagged", &[2])]);
    }

    #[test]
    fn expunged_numbers_leave_every_write() {
        let mut writes = Vec::new();
        push_write(&mut writes, write(vec![add("flagged", &[4])]));
        push_write(&mut writes, write(vec![remove("unseen", &[4, 6])]));
        forget_numbers(&mut writes, &numbers(&[4]));
        assert_eq!(writes.len(), 1);
        assert_eq!(writes[0].changes, vec![remove("unseen", &[6])]);
    }
}
