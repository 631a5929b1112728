//! The selected mailbox in one session's view: sequence numbers, flags and `\Recent`, and
//! the changes of other sessions and of nmh waiting to be announced (RFC 3501 §5.2, §7.4.1;
//! RFC 9051 §5.5, §7.3 and §7.4).

use std::collections::HashSet;
use std::ops::RangeInclusive;

use asimapd_proto::response::{Data, FetchValue, encode_fetch};
use asimapd_proto::{Flag, MailboxName, ModSeq, SeqNum, SequenceSet, Uid, UidValidity};
use asimapd_store::{FlagSet, MailboxEvent, MessageView, Selected, Store};
use tokio::sync::broadcast;

use crate::error::CommandError;

/// One message of the view; its index plus one is its sequence number.
#[derive(Debug, Clone)]
pub(crate) struct ViewMessage {
    pub(crate) uid: Uid,
    pub(crate) flags: FlagSet,
    pub(crate) modseq: ModSeq,
}

/// The mailbox was deleted, renamed away or got a new UIDVALIDITY: the session must end,
/// because every sequence number and UID the client has is void.
#[derive(Debug)]
pub(crate) struct MailboxGone;

/// A selected mailbox.
#[derive(Debug)]
pub(crate) struct MailboxView {
    /// The name the client selected.
    pub(crate) name: MailboxName,
    /// The MH folder.
    pub(crate) folder: String,
    /// True after EXAMINE.
    pub(crate) is_read_only: bool,
    pub(crate) uid_validity: UidValidity,
    messages: Vec<ViewMessage>,
    recent: HashSet<Uid>,
    events: broadcast::Receiver<MailboxEvent>,
    /// UIDs expunged elsewhere whose EXPUNGE the client has not been sent yet; they keep
    /// their sequence numbers until then.
    pending_expunges: Vec<Uid>,
    /// The message count the client last learnt through EXISTS.
    announced_exists: usize,
    announced_recent: usize,
    /// Set when events were lost or the mailbox went away.
    needs_resync: bool,
    is_gone: bool,
}

impl MailboxView {
    pub(crate) fn new(
        name: MailboxName,
        folder: String,
        is_read_only: bool,
        selected: Selected,
    ) -> Self {
        let recent = recent_uids(&selected.messages, &selected.recent);
        let messages: Vec<ViewMessage> = selected.messages.iter().map(view_message).collect();
        MailboxView {
            name,
            folder,
            is_read_only,
            uid_validity: selected.uid_validity,
            announced_exists: messages.len(),
            announced_recent: recent.len(),
            messages,
            recent,
            events: selected.events,
            pending_expunges: Vec::new(),
            needs_resync: false,
            is_gone: false,
        }
    }

    /// Returns the number of messages.
    pub(crate) fn len(&self) -> usize {
        self.messages.len()
    }

    /// Returns the number of `\Recent` messages.
    pub(crate) fn recent_count(&self) -> usize {
        self.recent.len()
    }

    /// Returns the message with sequence number `index + 1`.
    pub(crate) fn message(&self, index: usize) -> &ViewMessage {
        &self.messages[index]
    }

    pub(crate) fn messages(&self) -> &[ViewMessage] {
        &self.messages
    }

    /// Returns true when message `uid` is `\Recent` in this session.
    pub(crate) fn is_recent(&self, uid: Uid) -> bool {
        self.recent.contains(&uid)
    }

    /// Returns the flags of message `index` for the client, `\Recent` included: system flags
    /// in alphabetical order, then keywords, as the Python asimap lists them.
    pub(crate) fn flags(&self, index: usize) -> Vec<Flag> {
        let message = &self.messages[index];
        let (mut flags, keywords): (Vec<Flag>, Vec<Flag>) = message
            .flags
            .to_flags()
            .into_iter()
            .partition(|flag| !matches!(flag, Flag::Keyword(_)));
        if self.recent.contains(&message.uid) {
            flags.push(Flag::Recent);
        }
        flags.sort_by_key(Flag::to_string);
        flags.extend(keywords);
        flags
    }

    /// Returns the index of message `uid`.
    pub(crate) fn index_of(&self, uid: Uid) -> Option<usize> {
        self.messages.binary_search_by_key(&uid, |m| m.uid).ok()
    }

    /// Returns true when message `uid` was expunged elsewhere and its EXPUNGE has not been
    /// sent yet.
    pub(crate) fn is_expunge_pending(&self, uid: Uid) -> bool {
        self.pending_expunges.contains(&uid)
    }

    /// Resolves a set of sequence numbers to message indexes, ascending. A number above the
    /// message count, `*` in an empty mailbox included, is a `BAD` (RFC 9051 §9,
    /// `seq-number`).
    pub(crate) fn resolve_sequence_set(
        &self,
        set: &SequenceSet,
    ) -> Result<Vec<usize>, CommandError> {
        let largest = SeqNum::new(self.messages.len() as u32);
        let ranges: Vec<RangeInclusive<SeqNum>> = set.resolve(largest, &[]);
        let uses_star = matches!(set, SequenceSet::Ranges(parts) if parts.iter().any(|p| {
            p.start == asimapd_proto::SeqBound::Largest || p.end == asimapd_proto::SeqBound::Largest
        }));
        if largest.is_none() && uses_star {
            return Err(CommandError::bad(
                "Invalid message sequence number: the mailbox is empty",
            ));
        }
        let count = self.messages.len() as u32;
        let mut indexes = Vec::new();
        for range in ranges {
            if range.end().get() > count {
                return Err(CommandError::bad(format!(
                    "Invalid message sequence number: {} exceeds the {count} messages",
                    range.end().get()
                )));
            }
            indexes.extend((range.start().get() - 1) as usize..range.end().get() as usize);
        }
        Ok(indexes)
    }

    /// Resolves a set of UIDs to message indexes, ascending; UIDs not in the mailbox match
    /// nothing, and `*` is the highest UID (RFC 9051 §6.4.9).
    pub(crate) fn resolve_uid_set(&self, set: &SequenceSet) -> Vec<usize> {
        let largest = self.messages.last().map(|m| m.uid);
        let ranges: Vec<RangeInclusive<Uid>> = set.resolve(largest, &[]);
        let mut indexes = Vec::new();
        for range in ranges {
            let start = self.messages.partition_point(|m| m.uid < *range.start());
            let end = self.messages.partition_point(|m| m.uid <= *range.end());
            indexes.extend(start..end);
        }
        indexes
    }

    /// Records new flags of messages this session changed itself, so the store's event for
    /// the same change is not announced twice.
    pub(crate) fn apply_own_flags(&mut self, changed: &[MessageView]) {
        for view in changed {
            if let Some(index) = self.index_of(view.uid) {
                let message = &mut self.messages[index];
                message.flags = view.flags.clone();
                message.modseq = view.modseq;
            }
        }
    }

    /// Removes messages this session expunged itself and writes their EXPUNGE responses,
    /// highest sequence number first so every number is valid when the client reads it.
    pub(crate) fn apply_own_expunge(&mut self, uids: &[Uid], out: &mut Vec<u8>) {
        let mut indexes: Vec<usize> = uids.iter().filter_map(|uid| self.index_of(*uid)).collect();
        indexes.sort_unstable_by(|a, b| b.cmp(a));
        for index in indexes {
            let message = self.messages.remove(index);
            self.recent.remove(&message.uid);
            self.pending_expunges.retain(|uid| *uid != message.uid);
            // Messages past the announced count arrived after the last EXISTS (new UIDs are
            // always appended at the end), so the client never saw them and gets no EXPUNGE.
            if index >= self.announced_exists {
                continue;
            }
            self.announced_exists -= 1;
            let seq = SeqNum::new(index as u32 + 1).expect("index + 1 is non-zero");
            Data::Expunge(seq).encode(out, false);
        }
        self.announced_recent = self.announced_recent.min(self.recent.len());
    }

    /// Waits for the next change of the mailbox and queues it; for IDLE.
    pub(crate) async fn wait_for_event(&mut self) -> MailboxEvent {
        match self.events.recv().await {
            Ok(event) => event,
            Err(broadcast::error::RecvError::Lagged(_)) => {
                self.needs_resync = true;
                MailboxEvent::Added(Vec::new())
            }
            Err(broadcast::error::RecvError::Closed) => {
                self.is_gone = true;
                MailboxEvent::Deleted
            }
        }
    }

    /// Applies the changes announced since the last call and writes the untagged
    /// responses the client may get now: FETCH FLAGS, EXPUNGE (only when
    /// `allows_expunge`), then EXISTS and RECENT. `first` is an event already taken from
    /// the channel (by IDLE).
    pub(crate) async fn announce(
        &mut self,
        store: &Store,
        first: Option<MailboxEvent>,
        allows_expunge: bool,
        out: &mut Vec<u8>,
    ) -> Result<(), MailboxGone> {
        let mut added = false;
        if let Some(event) = first {
            added |= self.apply_event(event, out);
        }
        loop {
            match self.events.try_recv() {
                Ok(event) => added |= self.apply_event(event, out),
                Err(broadcast::error::TryRecvError::Lagged(_)) => self.needs_resync = true,
                Err(broadcast::error::TryRecvError::Empty) => break,
                Err(broadcast::error::TryRecvError::Closed) => {
                    self.is_gone = true;
                    break;
                }
            }
        }
        if self.is_gone {
            return Err(MailboxGone);
        }
        if self.needs_resync {
            added |= self.resync(store, out).await?;
        }
        if allows_expunge && !self.pending_expunges.is_empty() {
            let pending = std::mem::take(&mut self.pending_expunges);
            self.apply_own_expunge(&pending, out);
        }
        if added {
            self.claim_recent(store).await;
        }
        let is_exists_due = self.messages.len() != self.announced_exists;
        if is_exists_due {
            self.announced_exists = self.messages.len();
            Data::Exists(self.messages.len() as u32).encode(out, false);
        }
        if self.recent.len() != self.announced_recent || (added && is_exists_due) {
            self.announced_recent = self.recent.len();
            Data::Recent(self.recent.len() as u32).encode(out, false);
        }
        Ok(())
    }

    /// Applies one event; returns true when messages were added.
    fn apply_event(&mut self, event: MailboxEvent, out: &mut Vec<u8>) -> bool {
        match event {
            MailboxEvent::Added(views) => {
                let mut added = false;
                for view in views {
                    if self.messages.last().is_none_or(|last| last.uid < view.uid) {
                        self.messages.push(view_message(&view));
                        added = true;
                    }
                }
                added
            }
            MailboxEvent::FlagsChanged(views) => {
                for view in views {
                    self.apply_flags(&view, out);
                }
                false
            }
            MailboxEvent::Expunged { uids, .. } => {
                for uid in uids {
                    self.note_expunged_elsewhere(uid);
                }
                false
            }
            MailboxEvent::UidValidityChanged(_) | MailboxEvent::Deleted => {
                self.is_gone = true;
                false
            }
        }
    }

    /// Queues the EXPUNGE of a message that another session or nmh removed. A message whose
    /// EXISTS the client has not received yet is dropped at once: it sits in the unannounced
    /// tail, so removing it changes no sequence number the client knows.
    fn note_expunged_elsewhere(&mut self, uid: Uid) {
        match self.index_of(uid) {
            Some(index) if index >= self.announced_exists => {
                self.messages.remove(index);
                self.recent.remove(&uid);
            }
            Some(_) if !self.pending_expunges.contains(&uid) => self.pending_expunges.push(uid),
            _ => {}
        }
    }

    fn apply_flags(&mut self, view: &MessageView, out: &mut Vec<u8>) {
        let Some(index) = self.index_of(view.uid) else {
            return;
        };
        let message = &mut self.messages[index];
        if view.modseq <= message.modseq || view.flags == message.flags {
            message.modseq = message.modseq.max(view.modseq);
            return;
        }
        message.flags = view.flags.clone();
        message.modseq = view.modseq;
        if index >= self.announced_exists {
            // A FETCH must not name a message before its EXISTS; the client reads the
            // flags of a new message after it learns of it.
            return;
        }
        let seq = SeqNum::new(index as u32 + 1).expect("index + 1 is non-zero");
        encode_fetch(out, seq, &[FetchValue::Flags(self.flags(index))]);
    }

    /// Rebuilds the view from a new snapshot after events were lost. Returns true when
    /// messages were added.
    async fn resync(&mut self, store: &Store, out: &mut Vec<u8>) -> Result<bool, MailboxGone> {
        self.needs_resync = false;
        let folder = self.folder.clone();
        let store = store.clone();
        let is_read_only = self.is_read_only;
        let selected = tokio::task::spawn_blocking(move || {
            if is_read_only {
                store.examine(&folder)
            } else {
                store.select(&folder)
            }
        })
        .await
        .map_err(|_| MailboxGone)?
        .map_err(|_| MailboxGone)?;
        if selected.uid_validity != self.uid_validity {
            return Err(MailboxGone);
        }
        self.recent
            .extend(recent_uids(&selected.messages, &selected.recent));
        self.events = selected.events;
        let vanished: Vec<Uid> = self
            .messages
            .iter()
            .map(|message| message.uid)
            .filter(|uid| {
                selected
                    .messages
                    .binary_search_by_key(uid, |m| m.uid)
                    .is_err()
            })
            .collect();
        for uid in vanished {
            self.note_expunged_elsewhere(uid);
        }
        let mut added = false;
        for view in &selected.messages {
            if self.index_of(view.uid).is_some() {
                self.apply_flags(view, out);
            } else if self.messages.last().is_none_or(|last| last.uid < view.uid) {
                self.messages.push(view_message(view));
                added = true;
            }
        }
        Ok(added)
    }

    /// Claims the new messages no other session has seen as `\Recent`. An examined
    /// mailbox claims nothing (RFC 3501 §6.3.2), so new messages are not `\Recent` there.
    async fn claim_recent(&mut self, store: &Store) {
        if self.is_read_only {
            return;
        }
        let folder = self.folder.clone();
        let store = store.clone();
        let claimed = tokio::task::spawn_blocking(move || store.claim_recent(&folder)).await;
        if let Ok(Ok(range)) = claimed {
            for message in &self.messages {
                if range.contains(&message.uid.get()) {
                    self.recent.insert(message.uid);
                }
            }
        }
    }
}

fn view_message(view: &MessageView) -> ViewMessage {
    ViewMessage {
        uid: view.uid,
        flags: view.flags.clone(),
        modseq: view.modseq,
    }
}

fn recent_uids(messages: &[MessageView], range: &std::ops::Range<u32>) -> HashSet<Uid> {
    messages
        .iter()
        .filter(|m| range.contains(&m.uid.get()))
        .map(|m| m.uid)
        .collect()
}
