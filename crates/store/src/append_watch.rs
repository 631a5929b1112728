//! The watch on appended messages: repairs what nmh commands do to a message in the
//! [`asimapd_mh::APPEND_WATCH_PERIOD`] after its APPEND.
//!
//! `inc` can write its delivery over the number an APPEND just took (it opens the numbers
//! it picked from an earlier listing with `O_TRUNC`). `asimapd-mh` then links the private
//! copy in again under a new number ([`AppendCheck::Redelivered`]). That copy is the message
//! the client appended, so it keeps its UID and the index row moves to the new number. The
//! new number gets the sequences of the row's current flags, which a STORE may have changed
//! since the APPEND. The old number, which now contains `inc`'s message, loses them, so that
//! message does not inherit another message's flags.

use std::time::{Duration, Instant};

use asimapd_mh::{
    AppendCheck, Appended, FileIdentity, Folder, MessageNumber, NumberSet, SequenceChange,
};
use asimapd_proto::Uid;

use crate::error::Result;
use crate::flag_writes::FlagWrites;
use crate::index::MailboxUpdate;
use crate::store::{Live, Store, lock};

/// How often the append watch runs while the folder's probe stays the same. A change of
/// the probe runs it before the next command.
pub const APPEND_RECHECK: Duration = Duration::from_secs(1);

/// An appended message watched for damage by nmh.
#[derive(Debug)]
pub(crate) struct WatchedAppend {
    /// The message and its private copy.
    pub(crate) appended: Appended,
    /// The UID that APPEND returned.
    pub(crate) uid: Uid,
    /// When the watch ends.
    pub(crate) until: Instant,
}

impl Store {
    /// Runs the damage check on appends still watched and ends the watch of old ones.
    /// Returns true when another writer changed one of them, so the folder needs a pass.
    pub(crate) fn watch_appends(
        &self,
        name: &str,
        folder: &Folder,
        live: &mut Live,
    ) -> Result<bool> {
        let now = Instant::now();
        live.appends_checked = Some(now);
        let before: Vec<(MessageNumber, FileIdentity)> = live
            .appends
            .iter()
            .map(|watched| (watched.appended.number, watched.appended.identity))
            .collect();
        let checks =
            folder.check_appends(live.appends.iter_mut().map(|watched| &mut watched.appended))?;

        let mut kept = Vec::new();
        let mut changed = false;
        let mut first_error = None;
        for ((mut watched, check), previous) in std::mem::take(&mut live.appends)
            .into_iter()
            .zip(checks)
            .zip(before)
        {
            if check != AppendCheck::Intact {
                changed = true;
                tracing::info!(
                    mailbox = name,
                    uid = watched.uid.get(),
                    change = %describe(check),
                    "append changed by another writer"
                );
            }
            let result = match check {
                AppendCheck::Redelivered { lost } => self.keep_redelivered_uid(
                    name,
                    folder,
                    &mut live.flag_writes,
                    &mut watched,
                    previous,
                    lost,
                ),
                _ => Ok(()),
            };
            if let Err(err) = result {
                first_error.get_or_insert(err);
            }
            if now >= watched.until || check == AppendCheck::Removed {
                if let Err(err) = folder.finish_append(watched.appended) {
                    first_error.get_or_insert(err.into());
                }
            } else {
                kept.push(watched);
            }
        }
        live.appends = kept;
        match first_error {
            Some(err) => Err(err),
            None => Ok(changed),
        }
    }

    /// Ends the watch of every appended message, for a worker that stops: checks each one a
    /// last time, repairing what nmh did to it, then removes its private copy and watch link.
    /// Without this the copies stay in the folders until a later process's first pass there.
    /// Returns how many watches ended.
    // NOTE: an nmh command that acts on a listing taken before the append can still destroy
    // the message during the rest of the watch period, and no process repairs that.
    pub fn end_append_watches(&self) -> usize {
        let mut ended = 0;
        for (name, state) in self.live_mailboxes() {
            let mut live = lock(&state.live);
            if live.appends.is_empty() {
                continue;
            }
            let folder = match self.inner.root.folder(&name) {
                Ok(folder) => folder,
                Err(error) => {
                    tracing::warn!(mailbox = name, %error, "ending append watches failed");
                    continue;
                }
            };
            if let Err(error) = self.watch_appends(&name, &folder, &mut live) {
                tracing::warn!(mailbox = name, %error, "last check of appended messages failed");
            }
            for watched in std::mem::take(&mut live.appends) {
                let uid = watched.uid.get();
                match folder.finish_append(watched.appended) {
                    Ok(()) => ended += 1,
                    Err(error) => {
                        tracing::warn!(mailbox = name, uid, %error, "removing the private copy of an append failed");
                    }
                }
            }
        }
        ended
    }

    /// Moves the index row of a redelivered append to its new number and identity, and moves
    /// its flags' sequences from the `lost` number to the new one. `previous` is the number
    /// and identity the append had before the check.
    fn keep_redelivered_uid(
        &self,
        name: &str,
        folder: &Folder,
        flag_writes: &mut FlagWrites,
        watched: &mut WatchedAppend,
        previous: (MessageNumber, FileIdentity),
        lost: MessageNumber,
    ) -> Result<()> {
        // The number now names another message, whose sequences a replay must not touch.
        flag_writes.forget(lost);
        let row = self.mailbox_row(name)?;
        let message = self.index()?.message(row.id, watched.uid)?;
        let Some(message) = message.filter(|m| m.number == previous.0 && m.identity == previous.1)
        else {
            // Expunged or re-added meanwhile: the next pass indexes the copy as a new message
            // with the sequences given at APPEND.
            tracing::warn!(
                mailbox = name,
                uid = watched.uid.get(),
                "redelivered append has no index row to keep"
            );
            return Ok(());
        };

        let appended = &mut watched.appended;
        let existing = folder.sequences()?.public;
        let target = self.sequences_for(&message.flags, &existing);
        let new_number: NumberSet = [appended.number].into_iter().collect();
        let lost_number: NumberSet = [lost].into_iter().collect();
        let mut changes: Vec<SequenceChange> = target
            .iter()
            .map(|sequence| SequenceChange::add(sequence.clone(), new_number.clone()))
            .collect();
        for sequence in appended.sequences.iter().filter(|s| !target.contains(s)) {
            changes.push(SequenceChange::remove(sequence.clone(), new_number.clone()));
        }
        // `inc` puts its own message in the Unseen-Sequence, so that one stays as it is.
        for sequence in target.iter().filter(|s| !self.inner.flag_map.is_unseen(s)) {
            changes.push(SequenceChange::remove(
                sequence.clone(),
                lost_number.clone(),
            ));
        }
        if !changes.is_empty() {
            folder.update_sequences(&changes)?;
        }
        appended.sequences = target;

        let update = MailboxUpdate {
            moved: vec![(watched.uid, appended.number, appended.identity)],
            uid_next: row.uid_next,
            ..MailboxUpdate::default()
        };
        self.writer().write(|w| w.apply(row.id, &update))?;
        tracing::info!(
            mailbox = name,
            uid = watched.uid.get(),
            from = lost.get(),
            to = appended.number.get(),
            "redelivered append keeps its UID"
        );
        Ok(())
    }
}

/// Describes what another writer did to an appended message, for the log.
fn describe(check: AppendCheck) -> String {
    match check {
        AppendCheck::Intact => "none".to_owned(),
        AppendCheck::Renumbered { from, to } => format!("renumbered from {from} to {to}"),
        AppendCheck::SequencesRestored => {
            "its flags were written over and are set again".to_owned()
        }
        AppendCheck::Redelivered { lost } => {
            format!("message {lost} was written over; the appended message is delivered again")
        }
        AppendCheck::Removed => "removed".to_owned(),
    }
}

/// Returns true when the file under a watched append's number is missing or is not the
/// appended file any more: `inc` or `sortm` got to it after the last check. `present` is a
/// pass's listing with identities, in number order.
pub(crate) fn is_append_changed(
    appends: &[WatchedAppend],
    present: &[(MessageNumber, FileIdentity)],
) -> bool {
    appends.iter().any(|watched| {
        let appended = &watched.appended;
        match present.binary_search_by_key(&appended.number, |(number, _)| *number) {
            Ok(position) => !present[position].1.is_same_message(&appended.identity),
            Err(_) => true,
        }
    })
}
