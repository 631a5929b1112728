//! Re-applying flag writes that an nmh command wrote over.
//!
//! `folder +F N` in nmh 1.8 reads `.mh_sequences` under a read lock, lets go, and later
//! truncates the file and writes back what it read, with only `cur` changed. When the lock is
//! busy it retries once a second, up to 60 times. `inc` and `pick -sequence` likewise write
//! back sequences they read before delivering or searching. A STORE that lands between such a
//! read and its write is lost without any sign under the lock. The `asimapd-mh` crate repairs
//! the case where the truncation happens while it holds the lock. The store covers the rest:
//! it remembers each STORE's sequence changes together with the sequences as they were just
//! before and after it, for [`FLAG_RECHECK_PERIOD`]. When `.mh_sequences` turns back into one
//! of those states, every STORE whose changes the file no longer shows is applied again, in
//! order. Re-applying is idempotent.
//!
//! Messages may be added, removed or renumbered meanwhile (`inc`, `rmm`, `folder -pack`, our
//! own APPEND and EXPUNGE). So states are compared only on the message numbers that still name
//! the file they named at the STORE (same inode number in the directory entry), and only on
//! the sequences the watched STOREs change. Sequences of new messages, `cur`, and sequences
//! such as `pick`'s own do not hide a stale rewrite. A change replayed is likewise limited to
//! those numbers.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use asimapd_mh::{
    Folder, Listing, MessageNumber, MessageRef, NumberSet, Probe, SequenceChange, SequenceOp,
    SequencesFile, Stamp,
};

use crate::error::Result;

/// How long after a STORE its sequence changes are checked: nmh's 60 lock retries one second
/// apart, plus a margin, as for the watch of appended messages.
pub const FLAG_RECHECK_PERIOD: Duration = asimapd_mh::APPEND_WATCH_PERIOD;

/// The public sequences without `cur`, by name. A name listed twice takes its last line, as
/// nmh reads it.
type SequenceState = BTreeMap<String, NumberSet>;

/// The sequence changes of one STORE, watched for being written over.
#[derive(Debug)]
struct FlagWrite {
    /// The changes as written.
    changes: Vec<SequenceChange>,
    /// The sequences just before the write. A stale rewrite brings them back.
    before: SequenceState,
    /// The sequences as the write left them.
    after: SequenceState,
    /// Wall-clock time of the write, compared with the mtime of `.mh_sequences`.
    written_ns: i128,
    /// When the watch ends.
    until: Instant,
    /// The indexed messages in the folder right after the write. The directory stamp cannot stand in
    /// for this listing: its times are as coarse as the kernel clock tick, so a file added
    /// within a tick of the last write can leave it unchanged.
    // NOTE: a number counts as the same message when its directory entry has the same inode
    // number. A message removed and a new one delivered under the same number within the
    // period can reuse the inode, and then the new message is compared and repaired as the
    // old one.
    messages: Arc<Vec<MessageRef>>,
}

/// The recent STOREs of one mailbox, oldest first.
#[derive(Debug, Default)]
pub(crate) struct FlagWrites {
    writes: Vec<FlagWrite>,
    /// The `.mh_sequences` stamp at the last check; the file is read again only when it
    /// changed.
    checked: Option<Stamp>,
}

impl FlagWrites {
    /// Records changes just written to `folder`. `before` is the file as read just before
    /// the write and `after` the file as written; a write that changed nothing is not
    /// watched. `indexed` contains the numbers of the indexed messages, and only those are
    /// compared later. A file that is not indexed yet may be one that `inc` is still
    /// delivering. `inc` adds it to the Unseen-Sequence when it writes back its stale copy of
    /// the sequences, and comparing it would hide that stale copy.
    // NOTE: `before` is read without holding the lock across the write, so a change another
    // writer makes in between hides a later stale rewrite of this STORE.
    pub(crate) fn record(
        &mut self,
        folder: &Folder,
        before: &SequencesFile,
        after: &SequencesFile,
        changes: Vec<SequenceChange>,
        indexed: &NumberSet,
    ) -> Result<()> {
        let before = state_of(before);
        let after = state_of(after);
        if before == after {
            return Ok(());
        }
        let written_ns = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_nanos() as i128);
        let mut listing = folder.list()?.messages;
        listing.retain(|message| indexed.contains(message.number));
        let messages = match self.writes.last() {
            Some(last) if *last.messages == listing => Arc::clone(&last.messages),
            _ => Arc::new(listing),
        };
        // A rewrite may land right after the write, so the next check reads the file whatever
        // its stamp.
        self.checked = None;
        self.writes.push(FlagWrite {
            changes,
            before,
            after,
            written_ns,
            until: Instant::now() + FLAG_RECHECK_PERIOD,
            messages,
        });
        Ok(())
    }

    /// Stops comparing and replaying the watched writes on message `number`, because it now
    /// names another message than at those writes, even if it kept the inode (`inc`
    /// writing over a file in place).
    pub(crate) fn forget(&mut self, number: MessageNumber) {
        for write in &mut self.writes {
            if write
                .messages
                .iter()
                .any(|message| message.number == number)
            {
                let others = write
                    .messages
                    .iter()
                    .filter(|message| message.number != number)
                    .copied()
                    .collect();
                write.messages = Arc::new(others);
            }
        }
        self.checked = None;
    }

    /// Returns true when no write is watched.
    pub(crate) fn is_empty(&self) -> bool {
        self.writes.is_empty()
    }

    /// Checks `.mh_sequences` when it changed since the last check, and applies the lost
    /// writes again. Returns how many writes were applied again. Writes whose period ended
    /// are dropped after this check.
    pub(crate) fn repair(&mut self, folder: &Folder) -> Result<usize> {
        if self.writes.is_empty() {
            return Ok(0);
        }
        let probe = folder.probe()?;
        let now = Instant::now();
        let repaired = if probe.sequences == self.checked {
            0
        } else {
            self.checked = probe.sequences;
            self.apply_lost(folder, &probe)?
        };
        self.writes.retain(|write| now < write.until);
        Ok(repaired)
    }

    /// Applies again, in order, every write whose changes the file no longer shows, when
    /// the file is back in a state that one of the writes saw before or after it.
    fn apply_lost(&mut self, folder: &Folder, probe: &Probe) -> Result<usize> {
        // Only a rewrite inside a write's period counts, so a change a user makes later is
        // kept.
        let in_period = |write: &FlagWrite| {
            probe.sequences.is_none_or(|stamp| {
                stamp.mtime_ns <= write.written_ns + FLAG_RECHECK_PERIOD.as_nanos() as i128
            })
        };
        let current = state_of(&folder.sequences()?.public);
        let listing = folder.list()?;
        let names: BTreeSet<String> = self
            .writes
            .iter()
            .flat_map(|write| &write.changes)
            .map(|change| change.name.as_str().to_owned())
            .collect();
        let unchanged: Vec<NumberSet> = self
            .writes
            .iter()
            .map(|write| unchanged_numbers(write, &listing))
            .collect();

        // A stale rewrite brings back a state the file had before. A state no write saw is a
        // change made by someone else, and is kept.
        let is_known = self.writes.iter().zip(&unchanged).any(|(write, numbers)| {
            let seen = view(&current, &names, numbers);
            in_period(write)
                && (view(&write.before, &names, numbers) == seen
                    || view(&write.after, &names, numbers) == seen)
        });
        if !is_known {
            return Ok(0);
        }

        // NOTE: when a user undoes with nmh exactly what recent STOREs did, they are applied
        // again, because a stale rewrite looks the same on disk.
        // Writes are replayed in order from the oldest one the file no longer shows, so a later
        // write that reversed it (a STORE -FLAGS, then a FETCH that sets \Seen) still wins.
        let limited: Vec<Vec<SequenceChange>> = self
            .writes
            .iter()
            .zip(&unchanged)
            .map(|(write, numbers)| limit_changes(&write.changes, numbers))
            .collect();
        let Some(first_lost) = limited
            .iter()
            .position(|changes| !changes.iter().all(|change| is_in_effect(change, &current)))
        else {
            return Ok(0);
        };
        let changes: Vec<SequenceChange> = limited[first_lost..].concat();
        let mut replayed = current.clone();
        for change in &changes {
            apply(change, &mut replayed);
        }
        if replayed == current {
            return Ok(0);
        }
        let repaired = self.writes.len() - first_lost;
        tracing::info!(
            folder = %folder.path().display(),
            writes = repaired,
            "flag update written over by another writer; applying it again"
        );
        folder.update_sequences(&changes)?;
        self.checked = None;
        Ok(repaired)
    }
}

/// Returns the numbers that name the same file in `listing` as right after `write`.
fn unchanged_numbers(write: &FlagWrite, listing: &Listing) -> NumberSet {
    write
        .messages
        .iter()
        .filter(|message| listing.get(message.number) == Some(**message))
        .map(|message| message.number)
        .collect()
}

/// Returns the sequences named in `names`, each cut down to `numbers`. Empty sequences are
/// left out, as nmh drops them.
fn view(state: &SequenceState, names: &BTreeSet<String>, numbers: &NumberSet) -> SequenceState {
    names
        .iter()
        .filter_map(|name| {
            let set = intersection(state.get(name)?, numbers);
            (!set.is_empty()).then(|| (name.clone(), set))
        })
        .collect()
}

/// Returns `changes` limited to `numbers`. A replacement becomes an addition of its numbers
/// and a removal of the others, so numbers outside `numbers` keep what the file has now.
fn limit_changes(changes: &[SequenceChange], numbers: &NumberSet) -> Vec<SequenceChange> {
    let mut limited = Vec::new();
    for change in changes {
        let name = change.name.clone();
        match &change.op {
            SequenceOp::Add(added) => {
                limited.push(SequenceChange::add(name, intersection(added, numbers)));
            }
            SequenceOp::Remove(removed) => {
                limited.push(SequenceChange::remove(name, intersection(removed, numbers)));
            }
            SequenceOp::Replace(replacement) => {
                let mut others = numbers.clone();
                others.subtract(replacement);
                limited.push(SequenceChange::add(
                    name.clone(),
                    intersection(replacement, numbers),
                ));
                limited.push(SequenceChange::remove(name, others));
            }
        }
    }
    limited.retain(|change| match &change.op {
        SequenceOp::Add(set) | SequenceOp::Remove(set) | SequenceOp::Replace(set) => {
            !set.is_empty()
        }
    });
    limited
}

/// Returns the numbers in both sets.
fn intersection(set: &NumberSet, numbers: &NumberSet) -> NumberSet {
    let mut outside = set.clone();
    outside.subtract(numbers);
    let mut inside = set.clone();
    inside.subtract(&outside);
    inside
}

/// Returns true when the state shows the change: every added number is in the sequence and
/// no removed number is.
fn is_in_effect(change: &SequenceChange, state: &SequenceState) -> bool {
    let present = state.get(change.name.as_str());
    let contains = |number| present.is_some_and(|set| set.contains(number));
    match &change.op {
        SequenceOp::Add(numbers) => numbers.iter().all(contains),
        SequenceOp::Remove(numbers) => !numbers.iter().any(contains),
        SequenceOp::Replace(numbers) => present.map_or(numbers.is_empty(), |set| set == numbers),
    }
}

/// Applies one change to a state in memory, as `Folder::update_sequences` applies it on disk.
fn apply(change: &SequenceChange, state: &mut SequenceState) {
    let name = change.name.as_str();
    match &change.op {
        SequenceOp::Add(numbers) => state
            .entry(name.to_owned())
            .or_default()
            .union_with(numbers),
        SequenceOp::Remove(numbers) => {
            if let Some(present) = state.get_mut(name) {
                present.subtract(numbers);
            }
        }
        SequenceOp::Replace(numbers) => {
            state.insert(name.to_owned(), numbers.clone());
        }
    }
    if state.get(name).is_some_and(NumberSet::is_empty) {
        state.remove(name);
    }
}

fn state_of(file: &SequencesFile) -> SequenceState {
    file.sequences()
        .filter(|(name, _)| *name != "cur")
        .map(|(name, numbers)| (name.to_owned(), numbers.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_ignores_cur() {
        let with_cur = SequencesFile::parse(b"cur: 3\nflagged: 1-2\nunseen: 4\n");
        let without = SequencesFile::parse(b"flagged: 1-2\nunseen: 4\n");
        assert_eq!(state_of(&with_cur), state_of(&without));
    }

    #[test]
    fn state_takes_last_line_of_a_name() {
        let twice = SequencesFile::parse(b"flagged: 1\nflagged: 5\n");
        let once = SequencesFile::parse(b"flagged: 5\n");
        assert_eq!(state_of(&twice), state_of(&once));
    }

    #[test]
    fn add_in_effect_needs_every_number() {
        let state = state_of(&SequencesFile::parse(b"flagged: 1-3\n"));
        let add = |numbers: &[u32]| {
            SequenceChange::add(
                asimapd_mh::SequenceName::new("flagged").unwrap(),
                numbers
                    .iter()
                    .map(|n| asimapd_mh::MessageNumber::new(*n).unwrap())
                    .collect(),
            )
        };
        assert!(is_in_effect(&add(&[1, 3]), &state));
        assert!(!is_in_effect(&add(&[3, 4]), &state));
    }

    #[test]
    fn remove_in_effect_needs_no_number() {
        let state = state_of(&SequencesFile::parse(b"unseen: 2 5\n"));
        let remove = |numbers: &[u32]| {
            SequenceChange::remove(
                asimapd_mh::SequenceName::new("unseen").unwrap(),
                numbers
                    .iter()
                    .map(|n| asimapd_mh::MessageNumber::new(*n).unwrap())
                    .collect(),
            )
        };
        assert!(is_in_effect(&remove(&[1, 3]), &state));
        assert!(!is_in_effect(&remove(&[1, 5]), &state));
    }

    #[test]
    fn state_tells_sequences_apart() {
        let before = SequencesFile::parse(b"flagged: 1\n");
        let after = SequencesFile::parse(b"flagged: 1-2\n");
        assert_ne!(state_of(&before), state_of(&after));
    }
}
