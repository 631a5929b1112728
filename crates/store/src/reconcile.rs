//! Reconciliation: turning what is on disk into IMAP changes against the index.
//!
//! [`reconcile`] is a pure function. It compares the index's rows for a folder with a fresh
//! snapshot (message numbers with file identities and the flags their sequences give) and
//! returns the changes with IMAP meaning:
//!
//! * a row whose file is still there under the same number and identity keeps its UID;
//! * a row whose identity (device, inode, birth time, size and mtime) now sits under another
//!   number was renumbered by `folder -pack`, `sortm` or `mv`, and keeps its UID;
//! * any other row is expunged: its file was removed, or its content changed (`anno`, `inc`
//!   truncating it, a reused inode), which makes the file a new message;
//! * files no row claims are new, and once settled get the next UIDs in number order, above
//!   every existing UID whatever their numbers;
//! * the message sequence order is UID order, which follows file-number order for files that
//!   settle in number order. A file that settles after a higher-numbered one was indexed
//!   (`inc` still writing while the server appends, or a file copied in by hand) comes later
//!   in IMAP than in nmh. Expunging the higher-numbered message to restore number order would
//!   take away a UID that APPEND may have just returned to a client;
//! * when renumbering changes the relative order of indexed messages (`sortm`), the fewest
//!   messages that restore their previous relative order (the complement of a longest
//!   increasing run) are expunged and added again with new UIDs, keeping their flags, so IMAP
//!   clients see the new order. Renumbering that keeps the order (`folder -pack`) changes no
//!   UID, and an order that already differed from number order is left as it is;
//! * flags that differ from the row's become flag changes.
//!
//! Every change of one pass gets the same new MODSEQ, one above HIGHESTMODSEQ. UIDs come
//! only from UIDNEXT upwards, so no UID is ever reused.

use std::collections::HashMap;

use asimapd_mh::{FileIdentity, MessageNumber};
use asimapd_proto::{ModSeq, Uid};

use crate::flags::{FlagMap, FlagSet};
use crate::index::{MAX_UID, MessageRow};

/// A message file in a snapshot of the folder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DiskMessage {
    /// The file's number.
    pub number: MessageNumber,
    /// The file's identity from `stat`.
    pub identity: FileIdentity,
    /// The flags its public sequences give, without keywords kept only in the index.
    pub flags: FlagSet,
    /// False while the file may still be written (see `asimapd_mh::SettleWatch`); unsettled
    /// files get no UID yet.
    pub settled: bool,
}

/// A message that gets a new UID.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddedMessage {
    /// The new UID.
    pub uid: Uid,
    /// The file's number.
    pub number: MessageNumber,
    /// The file's identity.
    pub identity: FileIdentity,
    /// Its flags.
    pub flags: FlagSet,
    /// The UID it had before, when the same file was expunged to restore UID order; its
    /// cached analysis can be reused.
    pub previous_uid: Option<Uid>,
}

/// The changes that bring the index in line with the disk.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// UIDs to expunge, in UID order.
    pub expunged: Vec<Uid>,
    /// Kept messages whose file has a new number, with that number and identity.
    pub moved: Vec<(Uid, MessageNumber, FileIdentity)>,
    /// Messages that get new UIDs, in UID (and number) order.
    pub added: Vec<AddedMessage>,
    /// Kept messages whose flags changed, with the new flags.
    pub flag_changes: Vec<(Uid, FlagSet)>,
    /// UIDNEXT after the plan.
    pub uid_next: u32,
    /// The MODSEQ of every change, or `None` when nothing visible to IMAP changed.
    pub modseq: Option<ModSeq>,
    /// Files left for a later pass because they have not settled.
    pub unsettled: Vec<MessageNumber>,
}

impl Plan {
    /// Returns true when the index needs no change.
    pub fn is_empty(&self) -> bool {
        self.expunged.is_empty()
            && self.moved.is_empty()
            && self.added.is_empty()
            && self.flag_changes.is_empty()
    }
}

/// The reason a plan could not be made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReconcileError {
    /// The new messages need UIDs above [`MAX_UID`], so the mailbox needs a new UIDVALIDITY.
    UidsExhausted,
}

/// Compares the index's rows (`index`, any order) with a snapshot (`disk`, any order) and
/// returns the changes; see the module documentation for the rules. `uid_next` and
/// `highest_modseq` are the mailbox's current values.
pub fn reconcile(
    index: &[MessageRow],
    disk: &[DiskMessage],
    uid_next: u32,
    highest_modseq: u64,
    flag_map: &FlagMap,
) -> Result<Plan, ReconcileError> {
    let mut rows: Vec<&MessageRow> = index.iter().collect();
    rows.sort_by_key(|row| row.uid);
    let mut files: Vec<&DiskMessage> = disk.iter().collect();
    files.sort_by_key(|file| file.number);

    let claims = match_rows(&rows, &files);
    let mut plan = Plan {
        uid_next,
        ..Plan::default()
    };
    let mut claimed_files = vec![false; files.len()];
    let mut matched: Vec<(usize, usize)> = Vec::new();
    for (row_index, claim) in claims.iter().enumerate() {
        match claim {
            Some(file_index) => {
                claimed_files[*file_index] = true;
                matched.push((row_index, *file_index));
            }
            None => plan.expunged.push(rows[row_index].uid),
        }
    }

    let new_files: Vec<usize> = (0..files.len())
        .filter(|&i| !claimed_files[i])
        .filter(|&i| {
            if !files[i].settled {
                plan.unsettled.push(files[i].number);
            }
            files[i].settled
        })
        .collect();
    let (kept, readded) = split_by_order(&matched, &rows, &files);

    for &(row_index, file_index) in &kept {
        keep_message(&mut plan, rows[row_index], files[file_index], flag_map);
    }
    let mut additions: Vec<(&DiskMessage, Option<&MessageRow>)> = readded
        .iter()
        .map(|&(row_index, file_index)| (files[file_index], Some(rows[row_index])))
        .chain(new_files.iter().map(|&i| (files[i], None)))
        .collect();
    additions.sort_by_key(|(file, _)| file.number);
    for (_, previous) in &additions {
        if let Some(row) = previous {
            plan.expunged.push(row.uid);
        }
    }
    plan.expunged.sort();
    assign_uids(&mut plan, &additions, flag_map)?;

    if !plan.expunged.is_empty() || !plan.added.is_empty() || !plan.flag_changes.is_empty() {
        plan.modseq = ModSeq::new(highest_modseq.saturating_add(1).max(1));
    }
    Ok(plan)
}

/// Matches each row (in UID order) to a file: first the file under the same number with
/// the same identity, then any unclaimed file with the same identity (lowest number first,
/// which keeps hard-linked copies in one folder apart).
fn match_rows(rows: &[&MessageRow], files: &[&DiskMessage]) -> Vec<Option<usize>> {
    let by_number: HashMap<MessageNumber, usize> = files
        .iter()
        .enumerate()
        .map(|(i, file)| (file.number, i))
        .collect();
    let mut by_identity: HashMap<FileIdentity, Vec<usize>> = HashMap::new();
    for (i, file) in files.iter().enumerate() {
        by_identity.entry(file.identity).or_default().push(i);
    }
    let mut taken = vec![false; files.len()];
    let mut claims = vec![None; rows.len()];

    for (row_index, row) in rows.iter().enumerate() {
        if let Some(&i) = by_number.get(&row.number)
            && files[i].identity == row.identity
        {
            taken[i] = true;
            claims[row_index] = Some(i);
        }
    }
    for (row_index, row) in rows.iter().enumerate() {
        if claims[row_index].is_some() {
            continue;
        }
        let candidates = by_identity.get(&row.identity).map(Vec::as_slice);
        if let Some(&i) = candidates.unwrap_or_default().iter().find(|&&i| !taken[i]) {
            taken[i] = true;
            claims[row_index] = Some(i);
        }
    }
    claims
}

/// A matched pair: index of the row, index of the file.
type Pair = (usize, usize);

/// Splits matched pairs into those that keep their UID and those that must be added again.
/// The kept ones are a longest run whose new numbers increase with their numbers in the
/// index, so no two kept messages changed their relative order.
fn split_by_order(
    matched: &[Pair],
    rows: &[&MessageRow],
    files: &[&DiskMessage],
) -> (Vec<Pair>, Vec<Pair>) {
    let mut by_old_number = matched.to_vec();
    by_old_number.sort_by_key(|(row_index, _)| rows[*row_index].number);
    let numbers: Vec<MessageNumber> = by_old_number
        .iter()
        .map(|(_, file_index)| files[*file_index].number)
        .collect();
    let in_run = longest_increasing_run(&numbers);
    let mut kept = Vec::with_capacity(by_old_number.len());
    let mut readded = Vec::new();
    for (pair, keep) in by_old_number.into_iter().zip(in_run) {
        if keep {
            kept.push(pair);
        } else {
            readded.push(pair);
        }
    }
    kept.sort_unstable();
    (kept, readded)
}

/// Marks a longest strictly increasing subsequence of `values` (patience sorting,
/// O(n log n)). Already sorted input, the common case, keeps everything.
fn longest_increasing_run<T: Ord + Copy>(values: &[T]) -> Vec<bool> {
    let mut tails: Vec<usize> = Vec::new();
    let mut previous: Vec<Option<usize>> = vec![None; values.len()];
    for (i, value) in values.iter().enumerate() {
        let position = tails.partition_point(|&t| values[t] < *value);
        previous[i] = position.checked_sub(1).map(|p| tails[p]);
        if position == tails.len() {
            tails.push(i);
        } else {
            tails[position] = i;
        }
    }
    let mut in_run = vec![false; values.len()];
    let mut cursor = tails.last().copied();
    while let Some(i) = cursor {
        in_run[i] = true;
        cursor = previous[i];
    }
    in_run
}

fn keep_message(plan: &mut Plan, row: &MessageRow, file: &DiskMessage, flag_map: &FlagMap) {
    if row.number != file.number || row.identity != file.identity {
        plan.moved.push((row.uid, file.number, file.identity));
    }
    let flags = merge_index_only(&file.flags, &row.flags, flag_map);
    if flags != row.flags {
        plan.flag_changes.push((row.uid, flags));
    }
}

fn assign_uids(
    plan: &mut Plan,
    additions: &[(&DiskMessage, Option<&MessageRow>)],
    flag_map: &FlagMap,
) -> Result<(), ReconcileError> {
    let count = u32::try_from(additions.len()).map_err(|_| ReconcileError::UidsExhausted)?;
    let last = u64::from(plan.uid_next) + u64::from(count);
    if count > 0 && last - 1 > u64::from(MAX_UID) {
        return Err(ReconcileError::UidsExhausted);
    }
    for (file, previous) in additions {
        let uid = Uid::new(plan.uid_next).ok_or(ReconcileError::UidsExhausted)?;
        let flags = match previous {
            Some(row) => merge_index_only(&file.flags, &row.flags, flag_map),
            None => file.flags.clone(),
        };
        plan.added.push(AddedMessage {
            uid,
            number: file.number,
            identity: file.identity,
            flags,
            previous_uid: previous.map(|row| row.uid),
        });
        plan.uid_next += 1;
    }
    Ok(())
}

/// Returns the flags from the sequences plus the keywords that live only in the index.
pub(crate) fn merge_index_only(
    from_disk: &FlagSet,
    stored: &FlagSet,
    flag_map: &FlagMap,
) -> FlagSet {
    let mut flags = from_disk.clone();
    for keyword in stored.keywords() {
        if flag_map.is_index_only(keyword) {
            flags.add_keyword(keyword);
        }
    }
    flags
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flags::SystemFlag;

    fn uid(value: u32) -> Uid {
        Uid::new(value).unwrap()
    }

    fn number(value: u32) -> MessageNumber {
        MessageNumber::new(value).unwrap()
    }

    /// A file identity: inode `ino`, content version `version` (size and mtime).
    fn ident(ino: u64, version: u64) -> FileIdentity {
        FileIdentity {
            dev: 7,
            ino,
            size: 100 + version,
            mtime_ns: 1_000 + i128::from(version),
            btime_ns: Some(i128::from(ino) * 10),
        }
    }

    fn seen() -> FlagSet {
        let mut flags = FlagSet::new();
        flags.set(SystemFlag::Seen, true);
        flags
    }

    /// Index row: UID, number, inode.
    fn row(uid_value: u32, num: u32, ino: u64) -> MessageRow {
        MessageRow {
            uid: uid(uid_value),
            number: number(num),
            identity: ident(ino, 0),
            modseq: 1,
            flags: seen(),
        }
    }

    /// Settled file on disk: number, inode, content version.
    fn file(num: u32, ino: u64, version: u64) -> DiskMessage {
        DiskMessage {
            number: number(num),
            identity: ident(ino, version),
            flags: seen(),
            settled: true,
        }
    }

    fn uids(values: &[u32]) -> Vec<Uid> {
        values.iter().map(|v| uid(*v)).collect()
    }

    fn plan(index: &[MessageRow], disk: &[DiskMessage], uid_next: u32) -> Plan {
        reconcile(index, disk, uid_next, 10, &FlagMap::with_unseen(&[])).unwrap()
    }

    fn added(plan: &Plan) -> Vec<(u32, u32, Option<u32>)> {
        plan.added
            .iter()
            .map(|a| (a.uid.get(), a.number.get(), a.previous_uid.map(Uid::get)))
            .collect()
    }

    /// One case: index rows (uid, number, inode), disk files (number, inode, version),
    /// UIDNEXT, then the expected expunged UIDs, moved (uid, number) and added
    /// (uid, number, previous uid).
    struct Case {
        name: &'static str,
        index: &'static [(u32, u32, u64)],
        disk: &'static [(u32, u64, u64)],
        uid_next: u32,
        expunged: &'static [u32],
        moved: &'static [(u32, u32)],
        added: &'static [(u32, u32, Option<u32>)],
    }

    const CASES: &[Case] = &[
        Case {
            name: "unchanged folder",
            index: &[(1, 1, 11), (2, 2, 12)],
            disk: &[(1, 11, 0), (2, 12, 0)],
            uid_next: 3,
            expunged: &[],
            moved: &[],
            added: &[],
        },
        Case {
            name: "new files get next UIDs in number order",
            index: &[(1, 1, 11)],
            disk: &[(1, 11, 0), (3, 13, 0), (2, 12, 0)],
            uid_next: 5,
            expunged: &[],
            moved: &[],
            added: &[(5, 2, None), (6, 3, None)],
        },
        Case {
            name: "first scan of a folder",
            index: &[],
            disk: &[(1, 11, 0), (2, 12, 0), (9, 19, 0)],
            uid_next: 1,
            expunged: &[],
            moved: &[],
            added: &[(1, 1, None), (2, 2, None), (3, 9, None)],
        },
        Case {
            name: "removed files are expunged",
            index: &[(1, 1, 11), (2, 2, 12), (3, 3, 13)],
            disk: &[(1, 11, 0), (3, 13, 0)],
            uid_next: 4,
            expunged: &[2],
            moved: &[],
            added: &[],
        },
        Case {
            name: "folder -pack keeps UIDs",
            index: &[(1, 1, 11), (2, 3, 13), (3, 5, 15)],
            disk: &[(1, 11, 0), (2, 13, 0), (3, 15, 0)],
            uid_next: 4,
            expunged: &[],
            moved: &[(2, 2), (3, 3)],
            added: &[],
        },
        Case {
            name: "content changed under same number",
            index: &[(1, 1, 11), (2, 2, 12)],
            disk: &[(1, 11, 0), (2, 12, 1)],
            uid_next: 3,
            expunged: &[2],
            moved: &[],
            added: &[(3, 2, None)],
        },
        Case {
            name: "new inode under same number",
            index: &[(1, 1, 11), (2, 2, 12)],
            disk: &[(1, 11, 0), (2, 99, 0)],
            uid_next: 3,
            expunged: &[2],
            moved: &[],
            added: &[(3, 2, None)],
        },
        Case {
            name: "sortm swap re-adds the moved one",
            index: &[(1, 1, 11), (2, 2, 12), (3, 3, 13)],
            disk: &[(1, 11, 0), (2, 13, 0), (3, 12, 0)],
            uid_next: 4,
            expunged: &[2],
            moved: &[(3, 2)],
            added: &[(4, 3, Some(2))],
        },
        Case {
            name: "sortm full reversal",
            index: &[(1, 1, 11), (2, 2, 12), (3, 3, 13)],
            disk: &[(1, 13, 0), (2, 12, 0), (3, 11, 0)],
            uid_next: 4,
            expunged: &[1, 2],
            moved: &[(3, 1)],
            added: &[(4, 2, Some(2)), (5, 3, Some(1))],
        },
        Case {
            name: "new file below kept ones takes the next UID",
            index: &[(1, 1, 11), (2, 3, 13)],
            disk: &[(1, 11, 0), (2, 20, 0), (3, 13, 0)],
            uid_next: 3,
            expunged: &[],
            moved: &[],
            added: &[(3, 2, None)],
        },
        Case {
            name: "late file below an append keeps both UIDs",
            index: &[(1, 1, 11), (5, 4, 14), (6, 2, 12), (7, 3, 13)],
            disk: &[(1, 11, 0), (2, 12, 0), (3, 13, 0), (4, 14, 0), (5, 15, 0)],
            uid_next: 8,
            expunged: &[],
            moved: &[],
            added: &[(8, 5, None)],
        },
        Case {
            name: "folder -pack keeps an earlier order",
            index: &[(1, 1, 11), (5, 4, 14), (6, 2, 12), (7, 3, 13)],
            disk: &[(1, 12, 0), (2, 13, 0), (3, 14, 0)],
            uid_next: 8,
            expunged: &[1],
            moved: &[(5, 3), (6, 1), (7, 2)],
            added: &[],
        },
        Case {
            name: "sortm after a late file re-adds the moved one",
            index: &[(1, 1, 11), (5, 3, 13), (6, 2, 12)],
            disk: &[(1, 13, 0), (2, 11, 0), (3, 12, 0)],
            uid_next: 7,
            expunged: &[5],
            moved: &[(1, 2), (6, 3)],
            added: &[(7, 1, Some(5))],
        },
        Case {
            name: "renumbered and new together",
            index: &[(4, 2, 12), (5, 4, 14)],
            disk: &[(1, 12, 0), (2, 14, 0), (3, 30, 0)],
            uid_next: 6,
            expunged: &[],
            moved: &[(4, 1), (5, 2)],
            added: &[(6, 3, None)],
        },
        Case {
            name: "hard links in one folder stay apart",
            index: &[(1, 1, 11), (2, 2, 11)],
            disk: &[(1, 11, 0), (2, 11, 0)],
            uid_next: 3,
            expunged: &[],
            moved: &[],
            added: &[],
        },
        Case {
            name: "removed then renumbered",
            index: &[(1, 1, 11), (2, 2, 12), (3, 3, 13)],
            disk: &[(1, 11, 0), (2, 13, 0)],
            uid_next: 4,
            expunged: &[2],
            moved: &[(3, 2)],
            added: &[],
        },
        Case {
            name: "everything removed",
            index: &[(1, 1, 11), (2, 2, 12)],
            disk: &[],
            uid_next: 3,
            expunged: &[1, 2],
            moved: &[],
            added: &[],
        },
    ];

    #[test]
    fn reconcile_cases() {
        for case in CASES {
            let index: Vec<MessageRow> = case.index.iter().map(|&(u, n, i)| row(u, n, i)).collect();
            let disk: Vec<DiskMessage> = case.disk.iter().map(|&(n, i, v)| file(n, i, v)).collect();
            let plan = plan(&index, &disk, case.uid_next);
            assert_eq!(
                plan.expunged,
                uids(case.expunged),
                "{}: expunged",
                case.name
            );
            let moved: Vec<(u32, u32)> = plan
                .moved
                .iter()
                .map(|(u, n, _)| (u.get(), n.get()))
                .collect();
            assert_eq!(moved, case.moved, "{}: moved", case.name);
            assert_eq!(added(&plan), case.added, "{}: added", case.name);
            let expected_next = case.uid_next + case.added.len() as u32;
            assert_eq!(plan.uid_next, expected_next, "{}: UIDNEXT", case.name);
        }
    }

    #[test]
    fn reconcile_keeps_relative_order_of_kept_messages() {
        for case in CASES {
            let index: Vec<MessageRow> = case.index.iter().map(|&(u, n, i)| row(u, n, i)).collect();
            let disk: Vec<DiskMessage> = case.disk.iter().map(|&(n, i, v)| file(n, i, v)).collect();
            let plan = plan(&index, &disk, case.uid_next);
            let mut kept: Vec<(MessageNumber, MessageNumber)> = index
                .iter()
                .filter(|r| !plan.expunged.contains(&r.uid))
                .map(|r| {
                    let moved = plan.moved.iter().find(|(u, _, _)| *u == r.uid);
                    (r.number, moved.map_or(r.number, |(_, n, _)| *n))
                })
                .collect();
            kept.sort();
            let new_numbers: Vec<MessageNumber> = kept.iter().map(|(_, n)| *n).collect();
            assert!(
                new_numbers.is_sorted(),
                "{}: kept numbers {kept:?}",
                case.name
            );
            let added_numbers: Vec<MessageNumber> = plan.added.iter().map(|a| a.number).collect();
            assert!(
                added_numbers.is_sorted(),
                "{}: added numbers {added_numbers:?}",
                case.name
            );
        }
    }

    #[test]
    fn late_file_causes_no_churn_on_later_passes() {
        // UID 3 is message 3. Message 2 settled after it and got UID 4.
        let index = [row(1, 1, 11), row(3, 3, 13), row(4, 2, 12)];
        let disk = [file(1, 11, 0), file(2, 12, 0), file(3, 13, 0)];
        let plan = plan(&index, &disk, 5);
        assert!(plan.is_empty(), "{plan:?}");
        assert_eq!(plan.modseq, None);
    }

    #[test]
    fn inode_reuse_is_a_new_message() {
        // rmm 2 freed inode 12; inc then wrote a new message that got inode 12 back, with
        // another birth time, size and mtime.
        let index = [row(1, 1, 11), row(2, 2, 12)];
        let mut reused = file(3, 12, 5);
        reused.identity.btime_ns = Some(999);
        let plan = plan(&index, &[file(1, 11, 0), reused], 3);
        assert_eq!(plan.expunged, uids(&[2]));
        assert_eq!(added(&plan), vec![(3, 3, None)]);
    }

    #[test]
    fn unsettled_files_wait() {
        let mut growing = file(2, 12, 0);
        growing.settled = false;
        let plan = plan(&[row(1, 1, 11)], &[file(1, 11, 0), growing], 2);
        assert!(plan.is_empty());
        assert_eq!(plan.unsettled, vec![number(2)]);
        assert_eq!(plan.uid_next, 2);
        assert_eq!(plan.modseq, None);
    }

    #[test]
    fn sequence_change_is_a_flag_change() {
        let mut flagged = file(1, 11, 0);
        flagged.flags.set(SystemFlag::Flagged, true);
        let plan = plan(&[row(1, 1, 11)], &[flagged.clone()], 2);
        assert_eq!(plan.flag_changes, vec![(uid(1), flagged.flags)]);
        assert_eq!(plan.modseq, ModSeq::new(11));
    }

    #[test]
    fn index_only_keywords_survive() {
        let mut stored = row(1, 1, 11);
        stored.flags.add_keyword("$Junk");
        stored.flags.add_keyword("work");
        let plan = plan(&[stored], &[file(1, 11, 0)], 2);
        let mut expected = seen();
        expected.add_keyword("$Junk");
        assert_eq!(plan.flag_changes, vec![(uid(1), expected)]);
    }

    #[test]
    fn readded_message_keeps_flags() {
        let mut first = row(1, 1, 11);
        first.flags.add_keyword("$Junk");
        let index = [first, row(2, 2, 12)];
        let plan = plan(&index, &[file(1, 12, 0), file(2, 11, 0)], 3);
        let readded = plan
            .added
            .iter()
            .find(|a| a.previous_uid == Some(uid(1)))
            .unwrap();
        assert!(readded.flags.has_keyword("$Junk"));
    }

    #[test]
    fn unchanged_folder_needs_no_modseq() {
        let plan = plan(&[row(1, 1, 11)], &[file(1, 11, 0)], 2);
        assert!(plan.is_empty());
        assert_eq!(plan.modseq, None);
    }

    #[test]
    fn uids_never_pass_the_limit() {
        let disk = [file(1, 11, 0), file(2, 12, 0)];
        let result = reconcile(&[], &disk, MAX_UID, 1, &FlagMap::with_unseen(&[]));
        assert_eq!(result, Err(ReconcileError::UidsExhausted));
        let last = reconcile(&[], &disk[..1], MAX_UID, 1, &FlagMap::with_unseen(&[])).unwrap();
        assert_eq!(last.added[0].uid.get(), MAX_UID);
    }

    #[test]
    fn longest_run_marks_fewest_moves() {
        assert_eq!(longest_increasing_run(&[1, 2, 3]), vec![true, true, true]);
        assert_eq!(longest_increasing_run(&[3, 1, 2]), vec![false, true, true]);
        assert_eq!(
            longest_increasing_run(&[1, 5, 2, 3, 4]),
            vec![true, false, true, true, true]
        );
        assert_eq!(longest_increasing_run::<u32>(&[]), Vec::<bool>::new());
    }
}
