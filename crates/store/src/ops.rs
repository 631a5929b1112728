//! Changing mailboxes: APPEND, STORE, EXPUNGE, COPY and MOVE.
//!
//! Every operation changes the folder first and the index after, in one transaction. A crash
//! in between leaves a change on disk that the next reconciliation picks up. A file linked
//! but not indexed becomes a new message, a sequence written but not indexed becomes a flag
//! change, and a file removed but still indexed is expunged.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::sync::{MutexGuard, mpsc};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use asimapd_mh::{
    APPEND_WATCH_PERIOD, Appended, CopyRequest, Folder, KnownMessage, MessageNumber, MessageRef,
    NumberSet, SequenceChange, SequenceName, SequencesFile,
};
use asimapd_proto::{Flag, ModSeq, Uid, UidValidity};

use crate::append_watch::WatchedAppend;
use crate::error::{Result, StoreError};
use crate::events::MessageView;
use crate::flags::{FlagSet, SystemFlag};
use crate::index::{
    InternalDate, MAX_UID, MailboxRow, MailboxUpdate, MessageDetails, MessageRow, NewMessage,
};
use crate::store::{Live, MailboxState, Store, lock, modseq};
use crate::sync::{analyze, send_update_events};

/// Up to this many UIDs are looked up one by one. More load the whole mailbox in one query,
/// which is faster than that many single lookups.
const MAX_SINGLE_LOOKUPS: usize = 256;

/// The way STORE combines the request's flags with the current ones (RFC 9051 §6.4.6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreMode {
    /// `FLAGS`: replace.
    Replace,
    /// `+FLAGS`: add.
    Add,
    /// `-FLAGS`: remove.
    Remove,
}

/// The result of STORE.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StoreOutcome {
    /// Messages whose flags changed, with their new flags and MODSEQ.
    pub changed: Vec<MessageView>,
    /// Messages left alone because their MODSEQ was above UNCHANGEDSINCE (RFC 7162 §3.1.3).
    pub modified: Vec<Uid>,
}

/// The result of COPY or MOVE (the COPYUID response code of RFC 4315).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CopyOutcome {
    /// The target's UIDVALIDITY.
    pub uid_validity: UidValidity,
    /// Source UID and target UID of each copied message, in source UID order.
    pub pairs: Vec<(Uid, Uid)>,
}

/// A message file opened for FETCH, checked to be the indexed one.
#[derive(Debug)]
pub struct OpenedMessage {
    /// The open file; read it from the start.
    pub file: File,
    /// The cached analysis.
    pub details: MessageDetails,
}

impl Store {
    /// Appends a message (RFC 9051 §6.3.12) and returns its UIDVALIDITY and UID (APPENDUID,
    /// RFC 4315). `internal_date` defaults to now, in UTC.
    pub fn append(
        &self,
        name: &str,
        message: &[u8],
        flags: &FlagSet,
        internal_date: Option<InternalDate>,
    ) -> Result<(UidValidity, Uid)> {
        let state = self.state(name);
        let mut live = lock(&state.live);
        let folder = self.inner.root.folder(name)?;
        // The last append's watch, or one started before the check's probe, so that every
        // change since the stamp the store recorded shows in the probe or in the watch.
        let dir_watch = live
            .dir_watch
            .take()
            .or_else(|| self.inner.dir_watches.start(&folder));
        self.check_locked(name, &state, &mut live)?;
        let existing = folder.sequences()?.public;
        let sequences = self.sequences_for(flags, &existing);
        // The check left `live.listing` current, so the append need not list the folder.
        let next = match live.probe {
            Some(_) => live
                .listing
                .last()
                .map_or(MessageNumber::new(1), |last| last.number.next()),
            None => None,
        };
        let (appended, written) = folder.append_from(&mut &message[..], &sequences, next)?;

        let date = internal_date.unwrap_or_else(now_date);
        let details = analyze(message, date);
        let row = self.mailbox_row(name)?;
        let uid = next_uid(&row, 1)?;
        let update = MailboxUpdate {
            inserted: vec![NewMessage {
                row: MessageRow {
                    uid,
                    number: appended.number,
                    identity: appended.identity,
                    modseq: row.highest_modseq + 1,
                    flags: flags.clone(),
                },
                details,
            }],
            uid_next: uid.get() + 1,
            modseq: ModSeq::new(row.highest_modseq + 1),
            ..MailboxUpdate::default()
        };
        self.writer().write(|w| w.apply(row.id, &update))?;
        // Without this, the append's own change of the directory stamp would make the next
        // command's check run a full pass, one `stat` per file.
        let added = MessageRef {
            number: appended.number,
            ino: appended.identity.ino,
        };
        self.adopt_own_append(&folder, &mut live, written, dir_watch, added);
        live.appends.push(WatchedAppend {
            appended,
            uid,
            until: Instant::now() + APPEND_WATCH_PERIOD,
        });
        send_update_events(&state, &update);
        Ok((row.uid_validity, uid))
    }

    /// Changes flags (RFC 9051 §6.4.6, with UNCHANGEDSINCE of RFC 7162 §3.1.3) of the
    /// messages with the given UIDs; UIDs not in the mailbox are ignored.
    pub fn store_flags(
        &self,
        name: &str,
        uids: &[Uid],
        mode: StoreMode,
        flags: &FlagSet,
        unchanged_since: Option<ModSeq>,
    ) -> Result<StoreOutcome> {
        let state = self.state(name);
        let mut live = lock(&state.live);
        self.check_locked(name, &state, &mut live)?;
        let row = self.mailbox_row(name)?;
        let rows = self.rows_for(&row, uids)?;
        let modseq_value = row.highest_modseq + 1;

        let mut outcome = StoreOutcome::default();
        let mut changed: Vec<(&MessageRow, FlagSet)> = Vec::new();
        for message in &rows {
            if unchanged_since.is_some_and(|limit| message.modseq > limit.get()) {
                outcome.modified.push(message.uid);
                continue;
            }
            let new_flags = combine(&message.flags, flags, mode);
            if new_flags != message.flags {
                changed.push((message, new_flags));
            }
        }
        if changed.is_empty() {
            return Ok(outcome);
        }

        let folder = self.inner.root.folder(name)?;
        let existing = folder.sequences()?.public;
        let changes = self.flag_changes(&changed, &existing);
        if !changes.is_empty() {
            let written = folder.update_sequences(&changes)?;
            let indexed = self.index()?.numbers(row.id)?;
            live.flag_writes
                .record(&folder, &existing, &written, changes, &indexed)?;
        }
        // The append watch puts back, and gives a redelivered copy, the sequences of the
        // message's current flags, not those given at APPEND.
        for (message, new_flags) in &changed {
            if let Some(watched) = live.appends.iter_mut().find(|w| w.uid == message.uid) {
                watched.appended.sequences = self.sequences_for(new_flags, &existing);
            }
        }
        let update = MailboxUpdate {
            flags: changed.iter().map(|(m, f)| (m.uid, f.clone())).collect(),
            uid_next: row.uid_next,
            modseq: ModSeq::new(modseq_value),
            ..MailboxUpdate::default()
        };
        self.writer().write(|w| w.apply(row.id, &update))?;
        send_update_events(&state, &update);
        outcome.changed = changed
            .into_iter()
            .map(|(m, flags)| MessageView {
                uid: m.uid,
                flags,
                modseq: modseq(modseq_value),
            })
            .collect();
        Ok(outcome)
    }

    /// Removes the messages flagged `\Deleted` (RFC 9051 §6.4.3), only those in `uids` when
    /// given (UID EXPUNGE, RFC 4315), and returns the expunged UIDs.
    pub fn expunge(&self, name: &str, uids: Option<&[Uid]>) -> Result<Vec<Uid>> {
        let state = self.state(name);
        let mut live = lock(&state.live);
        self.check_locked(name, &state, &mut live)?;
        let row = self.mailbox_row(name)?;
        let rows = match uids {
            Some(uids) => self.rows_for(&row, uids)?,
            None => self.index()?.messages(row.id)?,
        };
        let deleted: Vec<&MessageRow> = rows
            .iter()
            .filter(|m| m.flags.has(SystemFlag::Deleted))
            .collect();
        if deleted.is_empty() {
            return Ok(Vec::new());
        }
        let folder = self.inner.root.folder(name)?;
        let known: Vec<KnownMessage> = deleted.iter().map(|m| known(m)).collect();
        let removed = folder.remove(&known)?;
        end_append_watches(&folder, &mut live, &removed.removed)?;
        self.commit_expunge(&state, &row, &deleted, &removed.removed)
    }

    /// Copies messages into another mailbox (RFC 9051 §6.4.7), keeping their flags and
    /// INTERNALDATE.
    pub fn copy(&self, from: &str, to: &str, uids: &[Uid]) -> Result<CopyOutcome> {
        let source_rows = {
            let source_state = self.state(from);
            let mut live = lock(&source_state.live);
            self.check_locked(from, &source_state, &mut live)?;
            let row = self.mailbox_row(from)?;
            self.rows_for(&row, uids)?
        };
        let target_state = self.state(to);
        let mut live = lock(&target_state.live);
        self.check_locked(to, &target_state, &mut live)?;
        let source = self.inner.root.folder(from)?;
        let target = self.inner.root.folder(to)?;
        let requests = self.transfer_requests(&source_rows, &target)?;
        let transferred = source.copy_to(&target, &requests)?;
        let (outcome, _) =
            self.index_copies(&target_state, to, from, &source_rows, &transferred, &target)?;
        Ok(outcome)
    }

    /// Moves messages into another mailbox (RFC 6851). The files are renamed into the
    /// target, so a crash at any point leaves each message in exactly one folder. If the
    /// index did not record the move, the next reconciliation expunges the message from the
    /// source and indexes it in the target. Returns the COPYUID data and the UIDs expunged
    /// from the source.
    pub fn move_messages(
        &self,
        from: &str,
        to: &str,
        uids: &[Uid],
    ) -> Result<(CopyOutcome, Vec<Uid>)> {
        let source_state = self.state(from);
        let target_state = self.state(to);
        // Both mailboxes stay locked until both index updates are written, so no other
        // session's check finds the files moved while the index still lists them.
        let (mut source_live, mut target_live) = lock_both(&source_state, &target_state, from, to);
        self.check_locked(from, &source_state, &mut source_live)?;
        if let Some(live) = target_live.as_mut() {
            self.check_locked(to, &target_state, live)?;
        }
        let source_rows = self.rows_for(&self.mailbox_row(from)?, uids)?;
        let source = self.inner.root.folder(from)?;
        let target = self.inner.root.folder(to)?;
        let requests = self.transfer_requests(&source_rows, &target)?;
        let transferred = source.move_to(&target, &requests)?;
        let (outcome, moved) =
            self.index_copies(&target_state, to, from, &source_rows, &transferred, &target)?;
        let moved_rows: Vec<&MessageRow> = source_rows
            .iter()
            .filter(|m| outcome.pairs.iter().any(|(source, _)| *source == m.uid))
            .collect();
        end_append_watches(&source, &mut source_live, &moved)?;
        // Read again: a MOVE within one mailbox has just raised its UIDNEXT.
        let row = self.mailbox_row(from)?;
        let expunged = self.commit_expunge(&source_state, &row, &moved_rows, &moved)?;
        Ok((outcome, expunged))
    }

    /// Opens the file of message `uid` for FETCH and checks that it is still the indexed
    /// file. A file that nmh replaced or rewrote triggers a reconciliation and gives
    /// [`StoreError::MessageNotFound`].
    pub fn open_message(&self, name: &str, uid: Uid) -> Result<OpenedMessage> {
        let row = self.mailbox_row(name)?;
        let (message, details) = self.index()?.read(|index| {
            let message = index.message(row.id, uid)?;
            let details = index.details(row.id, uid)?;
            message.zip(details).ok_or_else(|| missing(name, uid))
        })?;
        let folder = self.inner.root.folder(name)?;
        match folder.open_message(message.number) {
            Ok((file, identity)) if identity == message.identity => {
                Ok(OpenedMessage { file, details })
            }
            _ => {
                self.sync(name)?;
                Err(missing(name, uid))
            }
        }
    }

    /// Returns what to ask the mh folder for: each message with the target's sequences for
    /// its flags.
    fn transfer_requests(
        &self,
        source_rows: &[MessageRow],
        target: &Folder,
    ) -> Result<Vec<CopyRequest>> {
        let existing = target.sequences()?.public;
        Ok(source_rows
            .iter()
            .map(|m| CopyRequest {
                message: known(m),
                sequences: self.sequences_for(&m.flags, &existing),
            })
            .collect())
    }

    /// Indexes the files `transferred` put in the target. Returns the UID pairs and the
    /// source messages that were transferred.
    fn index_copies(
        &self,
        target_state: &MailboxState,
        to: &str,
        from: &str,
        source_rows: &[MessageRow],
        transferred: &asimapd_mh::Transferred,
        target: &Folder,
    ) -> Result<(CopyOutcome, Vec<KnownMessage>)> {
        let source_row = self.mailbox_row(from)?;
        let target_row = self.mailbox_row(to)?;
        let first = next_uid(&target_row, transferred.copied.len())?;
        let modseq_value = target_row.highest_modseq + 1;
        let mut inserted = Vec::new();
        let mut pairs = Vec::new();
        let mut copied_sources = Vec::new();
        let by_source: HashMap<KnownMessage, &MessageRow> =
            source_rows.iter().map(|m| (known(m), m)).collect();
        let mut cached_details = match (source_rows.first(), source_rows.last()) {
            (Some(lowest), Some(highest)) => {
                self.index()?
                    .details_between(source_row.id, lowest.uid, highest.uid)?
            }
            _ => HashMap::new(),
        };
        for (offset, copied) in transferred.copied.iter().enumerate() {
            let Some(&message) = by_source.get(&copied.source) else {
                continue;
            };
            let uid = Uid::new(first.get() + offset as u32).expect("UIDs above zero");
            let details = match cached_details.remove(&message.uid) {
                Some(details) => details,
                None => crate::sync::read_details(target, copied.number, &copied.identity)
                    .ok_or_else(|| missing(&source_row.name, message.uid))?,
            };
            inserted.push(NewMessage {
                row: MessageRow {
                    uid,
                    number: copied.number,
                    identity: copied.identity,
                    modseq: modseq_value,
                    flags: message.flags.clone(),
                },
                details,
            });
            pairs.push((message.uid, uid));
            copied_sources.push(copied.source);
        }
        let update = MailboxUpdate {
            uid_next: first.get() + transferred.copied.len() as u32,
            inserted,
            modseq: ModSeq::new(modseq_value),
            ..MailboxUpdate::default()
        };
        self.writer().write(|w| w.apply(target_row.id, &update))?;
        send_update_events(target_state, &update);
        let outcome = CopyOutcome {
            uid_validity: target_row.uid_validity,
            pairs,
        };
        Ok((outcome, copied_sources))
    }

    fn commit_expunge(
        &self,
        state: &MailboxState,
        row: &MailboxRow,
        candidates: &[&MessageRow],
        removed: &[KnownMessage],
    ) -> Result<Vec<Uid>> {
        let expunged: Vec<Uid> = candidates
            .iter()
            .filter(|m| removed.contains(&known(m)))
            .map(|m| m.uid)
            .collect();
        if expunged.is_empty() {
            return Ok(expunged);
        }
        let update = MailboxUpdate {
            expunged: expunged.clone(),
            uid_next: row.uid_next,
            modseq: ModSeq::new(row.highest_modseq + 1),
            ..MailboxUpdate::default()
        };
        self.writer().write(|w| w.apply(row.id, &update))?;
        send_update_events(state, &update);
        Ok(expunged)
    }

    /// Returns the rows of the given UIDs that are in the mailbox, in UID order.
    fn rows_for(&self, row: &MailboxRow, uids: &[Uid]) -> Result<Vec<MessageRow>> {
        let mut wanted = uids.to_vec();
        wanted.sort_unstable();
        wanted.dedup();
        let index = self.index()?;
        if wanted.len() <= MAX_SINGLE_LOOKUPS {
            return index.read(|index| {
                let mut rows = Vec::with_capacity(wanted.len());
                for uid in wanted {
                    rows.extend(index.message(row.id, uid)?);
                }
                Ok(rows)
            });
        }
        let (Some(&first), Some(&last)) = (wanted.first(), wanted.last()) else {
            return Ok(Vec::new());
        };
        let rows = index.messages_between(row.id, first, last)?;
        Ok(rows
            .into_iter()
            .filter(|m| wanted.binary_search(&m.uid).is_ok())
            .collect())
    }

    /// Returns the sequences a message with `flags` belongs to.
    pub(crate) fn sequences_for(
        &self,
        flags: &FlagSet,
        existing: &SequencesFile,
    ) -> Vec<SequenceName> {
        let map = &self.inner.flag_map;
        let one = NumberSet::new();
        let mut names = Vec::new();
        let mut wanted: Vec<Flag> = flags.to_flags();
        if !flags.has(SystemFlag::Seen) {
            wanted.retain(|flag| *flag != Flag::Seen);
            names.extend(
                map.sequence_changes(&Flag::Seen, false, &one, existing)
                    .into_iter()
                    .map(|change| change.name),
            );
        }
        for flag in wanted.iter().filter(|flag| **flag != Flag::Seen) {
            names.extend(
                map.sequence_changes(flag, true, &one, existing)
                    .into_iter()
                    .map(|change| change.name),
            );
        }
        names
    }

    /// Returns the sequence changes that turn each message's flags into its new flags.
    fn flag_changes(
        &self,
        changed: &[(&MessageRow, FlagSet)],
        existing: &SequencesFile,
    ) -> Vec<SequenceChange> {
        let map = &self.inner.flag_map;
        let mut all_flags: Vec<Flag> = Vec::new();
        for (message, new_flags) in changed {
            for flag in message
                .flags
                .to_flags()
                .into_iter()
                .chain(new_flags.to_flags())
            {
                if !all_flags.contains(&flag) {
                    all_flags.push(flag);
                }
            }
        }
        let mut changes = Vec::new();
        for flag in &all_flags {
            let mut added = NumberSet::new();
            let mut removed = NumberSet::new();
            for (message, new_flags) in changed {
                match (message.flags.contains(flag), new_flags.contains(flag)) {
                    (false, true) => added.insert(message.number),
                    (true, false) => removed.insert(message.number),
                    _ => {}
                }
            }
            if !added.is_empty() {
                changes.extend(map.sequence_changes(flag, true, &added, existing));
            }
            if !removed.is_empty() {
                changes.extend(map.sequence_changes(flag, false, &removed, existing));
            }
        }
        changes
    }
}

/// Combines current flags with the flags of a STORE.
fn combine(current: &FlagSet, given: &FlagSet, mode: StoreMode) -> FlagSet {
    match mode {
        StoreMode::Replace => given.clone(),
        StoreMode::Add => {
            let mut flags = current.clone();
            for flag in given.to_flags() {
                flags.insert(&flag);
            }
            flags
        }
        StoreMode::Remove => {
            let mut flags = current.clone();
            for flag in given.to_flags() {
                flags.remove(&flag);
            }
            flags
        }
    }
}

fn known(message: &MessageRow) -> KnownMessage {
    KnownMessage {
        number: message.number,
        identity: message.identity,
    }
}

fn next_uid(row: &MailboxRow, count: usize) -> Result<Uid> {
    let last = u64::from(row.uid_next) + count as u64;
    if count > 0 && last - 1 > u64::from(MAX_UID) {
        return Err(StoreError::UidsExhausted {
            name: row.name.clone(),
            max: MAX_UID,
        });
    }
    Ok(Uid::new(row.uid_next.max(1)).expect("UIDNEXT is at least 1"))
}

fn missing(name: &str, uid: Uid) -> StoreError {
    StoreError::MessageNotFound {
        mailbox: name.to_owned(),
        uid: uid.get(),
    }
}

fn now_date() -> InternalDate {
    let timestamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs() as i64);
    InternalDate {
        timestamp,
        zone_minutes: None,
    }
}

/// Locks the live state of both mailboxes of a MOVE, in name order so that two MOVEs in
/// opposite directions cannot deadlock. The second guard is `None` when both are one mailbox.
fn lock_both<'a>(
    source: &'a MailboxState,
    target: &'a MailboxState,
    from: &str,
    to: &str,
) -> (MutexGuard<'a, Live>, Option<MutexGuard<'a, Live>>) {
    if from == to {
        return (lock(&source.live), None);
    }
    if from < to {
        let source_live = lock(&source.live);
        (source_live, Some(lock(&target.live)))
    } else {
        let target_live = lock(&target.live);
        (lock(&source.live), Some(target_live))
    }
}

/// Ends the watch of appended messages that the server removed itself (EXPUNGE, MOVE), so the
/// watch does not take the missing file for damage by nmh and link the private copy in again.
fn end_append_watches(folder: &Folder, live: &mut Live, removed: &[KnownMessage]) -> Result<()> {
    let removed: HashSet<(MessageNumber, u64)> = removed
        .iter()
        .map(|message| (message.number, message.identity.ino))
        .collect();
    let (ended, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut live.appends).into_iter().partition(
        |WatchedAppend { appended, .. }| {
            removed.contains(&(appended.number, appended.identity.ino))
        },
    );
    live.appends = kept;
    let ended: Vec<Appended> = ended.into_iter().map(|watched| watched.appended).collect();
    if ended.is_empty() {
        return Ok(());
    }
    remove_private_copies(folder, ended)
}

/// Removes the files kept for appends whose watch ended (the private copy and what else
/// [`Folder::finish_append`] removes), on a thread of its own. A removal that frees an inode
/// costs about as much as removing a message, and nothing reads these files once the watch
/// ended, so EXPUNGE and MOVE do not wait for them. When the thread cannot be started, the
/// files are removed here.
// NOTE: a crash before the thread is done leaves the remaining files in the folder under
// hidden `.asimapd-copy.*` names, which nmh and the store ignore.
fn remove_private_copies(folder: &Folder, ended: Vec<Appended>) -> Result<()> {
    let (sender, receiver) = mpsc::channel::<Vec<Appended>>();
    let background = folder.clone();
    let spawned = std::thread::Builder::new()
        .name("private-copies".to_owned())
        .spawn(move || {
            for appends in receiver {
                for appended in appends {
                    if let Err(error) = background.finish_append(appended) {
                        tracing::warn!(%error, folder = %background.path().display(), "removing the files of an ended append watch failed");
                    }
                }
            }
        });
    let ended = match spawned {
        Ok(_) => match sender.send(ended) {
            Ok(()) => return Ok(()),
            Err(mpsc::SendError(ended)) => ended,
        },
        Err(error) => {
            tracing::warn!(%error, folder = %folder.path().display(), "starting a thread failed; removing the files of ended append watches in the request");
            ended
        }
    };
    for appended in ended {
        folder.finish_append(appended)?;
    }
    Ok(())
}
