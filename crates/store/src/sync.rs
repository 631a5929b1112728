//! Bringing the index in line with the folders: the I/O around [`crate::reconcile`].
//!
//! A full pass takes a snapshot of the folder under the `.mh_sequences` read lock and stats
//! every message file in parallel. It then runs the pure reconciliation, reads and analyses
//! only the files that are new to the index (each once, in parallel), and writes the result
//! in one transaction. A folder whose files did not change costs one directory listing and one
//! `stat` per file, and no message file is opened.

use std::ffi::OsStr;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::time::{Instant, SystemTime};

use asimapd_mh::{
    APPEND_WATCH_PERIOD, FileIdentity, Folder, MessageNumber, MessageRef, MhError, Probe,
    SequencesWrite, Snapshot,
};
use asimapd_mime::Analysis;
use asimapd_proto::{ModSeq, Uid};
use rayon::prelude::*;

use crate::append_watch::{APPEND_RECHECK, is_append_changed};
use crate::error::{Result, StoreError};
use crate::events::{MailboxEvent, MessageView};
use crate::flags::FlagSet;
use crate::import::Imported;
use crate::index::{
    DirIdentity, InternalDate, MailboxRow, MailboxUpdate, MessageDetails, MessageRow, NewMessage,
};
use crate::own_change::DirWatch;
use crate::reconcile::{DiskMessage, Plan, merge_index_only, reconcile};
use crate::store::{Live, MailboxState, Store, lock, not_found};

impl Store {
    /// Brings a mailbox up to date when its folder or `.mh_sequences` changed since the last
    /// pass (two `stat` calls when nothing did), or when files are still settling. Sessions
    /// call it before each command.
    pub fn check(&self, name: &str) -> Result<()> {
        let state = self.state(name);
        let mut live = lock(&state.live);
        self.check_locked(name, &state, &mut live)
    }

    /// Brings a mailbox up to date unconditionally. This also catches messages rewritten
    /// in place (`anno`), which change neither the folder nor `.mh_sequences`.
    pub fn sync(&self, name: &str) -> Result<()> {
        let state = self.state(name);
        let mut live = lock(&state.live);
        self.sync_locked(name, &state, &mut live)
    }

    /// Reports that a writer closed `file_name` in the folder of mailbox `name`: a message
    /// file that still has the identity it has now is complete and settles at the next pass.
    /// Names that are no message number, and files already gone, are ignored.
    // NOTE: the identity is taken when the event is read, up to one event tick after the
    // close. A writer that opened the file again meanwhile gets its partial file indexed, and
    // the next pass then sees changed content and gives the file a new UID.
    pub(crate) fn note_closed(&self, name: &str, file_name: &OsStr) {
        let Some(number) = MessageNumber::parse_file_name(file_name.as_bytes()) else {
            return;
        };
        let Ok(folder) = self.inner.root.folder(name) else {
            return;
        };
        let Ok(identity) = folder.identity(number) else {
            return;
        };
        let state = self.state(name);
        let mut live = lock(&state.live);
        live.settle.note_closed(number, &identity, Instant::now());
    }

    pub(crate) fn check_locked(
        &self,
        name: &str,
        state: &MailboxState,
        live: &mut Live,
    ) -> Result<()> {
        let folder = self.inner.root.folder(name)?;
        if !live.flag_writes.is_empty() && folder.exists() {
            live.flag_writes.repair(&folder)?;
        }
        let probe = match folder.probe() {
            Ok(probe) => probe,
            Err(MhError::FolderNotFound { .. }) => return self.vanished(name, state),
            Err(err) => return Err(err.into()),
        };
        let same_dir = live.probe.is_some_and(|seen| seen.dir == probe.dir) && !live.pending;
        let unchanged = same_dir && live.probe == Some(probe);
        if same_dir
            && !live.appends.is_empty()
            && (!unchanged || appends_due(live))
            && self.watch_appends(name, &folder, live)?
        {
            return self.sync_locked(name, state, live);
        }
        if unchanged {
            return Ok(());
        }
        // An empty `.mh_sequences` may be in the middle of a rewrite, which the full pass's
        // snapshot waits out.
        if same_dir && probe.sequences.is_some_and(|stamp| stamp.size > 0) {
            return self.sync_sequences(name, state, live, &folder, probe);
        }
        self.sync_locked(name, state, live)
    }

    /// Applies a change of `.mh_sequences` alone. The folder directory has the stamp that
    /// the last full pass saw, so no file was added, removed or renamed since, and only flags
    /// can have changed. `probe` was taken before the sequences are read, so a change made
    /// meanwhile shows in the next probe.
    fn sync_sequences(
        &self,
        name: &str,
        state: &MailboxState,
        live: &mut Live,
        folder: &Folder,
        probe: Probe,
    ) -> Result<()> {
        let sequences = folder.sequences()?;
        if sequences.public.sequences().next().is_none() {
            // Emptied after the probe, maybe by a rewrite in progress: the full pass waits.
            return self.sync_locked(name, state, live);
        }
        let row = self.mailbox_row(name)?;
        let rows = self.index()?.messages(row.id)?;
        let numbers: Vec<MessageNumber> = rows.iter().map(|message| message.number).collect();
        let flags = self
            .inner
            .flag_map
            .flags_from_sequences(&sequences.public, &numbers);
        let map = &self.inner.flag_map;
        let changes: Vec<(Uid, FlagSet)> = rows
            .iter()
            .zip(flags)
            .map(|(message, from_disk)| {
                (message, merge_index_only(&from_disk, &message.flags, map))
            })
            .filter(|(message, merged)| *merged != message.flags)
            .map(|(message, merged)| (message.uid, merged))
            .collect();
        live.probe = Some(probe);
        if changes.is_empty() {
            return Ok(());
        }
        let update = MailboxUpdate {
            flags: changes,
            uid_next: row.uid_next,
            modseq: ModSeq::new(row.highest_modseq + 1),
            ..MailboxUpdate::default()
        };
        self.writer().write(|w| w.apply(row.id, &update))?;
        send_update_events(state, &update);
        Ok(())
    }

    pub(crate) fn sync_locked(
        &self,
        name: &str,
        state: &MailboxState,
        live: &mut Live,
    ) -> Result<()> {
        let folder = self.inner.root.folder(name)?;
        if !folder.exists() {
            return self.vanished(name, state);
        }
        live.flag_writes.repair(&folder)?;
        if live.probe.is_none() {
            remove_stale_files(&folder);
        }
        let (snapshot, present) = match self.snapshot_after_watch(name, &folder, live) {
            Ok(taken) => taken,
            Err(StoreError::Mh(MhError::FolderNotFound { .. })) => {
                return self.vanished(name, state);
            }
            Err(err) => return Err(err),
        };
        let dir = DirIdentity::of(folder.path()).map_err(|source| StoreError::Io {
            op: "stat",
            path: folder.path().to_owned(),
            source,
        })?;
        let row = self.prepare_row(name, dir, state, live)?;
        let rows = self.index()?.messages(row.id)?;
        let disk = self.disk_messages(&folder, &snapshot, present, &rows, live)?;
        let plan = reconcile(
            &rows,
            &disk,
            row.uid_next,
            row.highest_modseq,
            &self.inner.flag_map,
        )
        .map_err(|_| uids_exhausted(name))?;
        live.probe = Some(snapshot.probe);
        live.listing = snapshot.listing.messages;
        // Its events may predate this pass; the next append starts a new one.
        live.dir_watch = None;
        live.pending = !plan.unsettled.is_empty();
        if plan.is_empty() {
            return Ok(());
        }

        let (update, unreadable) = self.build_update(&folder, &row, &plan)?;
        if unreadable > 0 {
            live.pending = true;
        }
        self.writer().write(|w| w.apply(row.id, &update))?;
        let (expunged, added) = (update.expunged.len(), update.inserted.len());
        let (renumbered, flags) = (update.moved.len(), update.flags.len());
        if expunged + added + renumbered > 0 {
            // Messages came or went on disk: inc, rmm, refile, sortm, or the first look at
            // a folder. An administrator tracing a client's complaint needs these at INFO.
            tracing::info!(
                mailbox = name,
                expunged,
                added,
                renumbered,
                flags,
                "mailbox updated from its folder"
            );
        } else {
            tracing::debug!(
                mailbox = name,
                flags,
                "mailbox flags updated from its folder"
            );
        }
        send_update_events(state, &update);
        Ok(())
    }

    /// Takes a snapshot in which every watched append is intact. `inc` may write over an
    /// append after the watch checked it, and reconciling such a snapshot would expunge the
    /// append's UID, so the watch runs again first and the snapshot is taken again, up to
    /// [`SNAPSHOT_ATTEMPTS`] times.
    fn snapshot_after_watch(
        &self,
        name: &str,
        folder: &Folder,
        live: &mut Live,
    ) -> Result<(Snapshot, Vec<(MessageNumber, FileIdentity)>)> {
        self.watch_appends(name, folder, live)?;
        let mut attempt = 1;
        loop {
            let (snapshot, present) = stable_snapshot(folder)?;
            if attempt == SNAPSHOT_ATTEMPTS || !is_append_changed(&live.appends, &present) {
                return Ok((snapshot, present));
            }
            self.watch_appends(name, folder, live)?;
            attempt += 1;
        }
    }

    /// Returns the mailbox's row, creating it for a new folder and starting it over under
    /// a new UIDVALIDITY when the folder directory was replaced.
    fn prepare_row(
        &self,
        name: &str,
        dir: DirIdentity,
        state: &MailboxState,
        live: &mut Live,
    ) -> Result<MailboxRow> {
        let (row, replaced) = self.writer().write(|w| {
            let now = SystemTime::now();
            match w.mailbox(name)? {
                None => {
                    let validity = w.issue_uid_validity(now)?;
                    Ok((w.insert_mailbox(name, validity, Some(dir))?, None))
                }
                Some(row) => match row.dir {
                    None => {
                        w.set_dir(row.id, dir)?;
                        Ok((
                            MailboxRow {
                                dir: Some(dir),
                                ..row
                            },
                            None,
                        ))
                    }
                    Some(known) if !is_same_dir(known, dir) => {
                        let validity = w.issue_uid_validity(now)?;
                        w.reset_mailbox(row.id, validity, Some(dir))?;
                        let row = w.mailbox(name)?.ok_or_else(|| not_found(name))?;
                        Ok((row, Some(validity)))
                    }
                    Some(_) => Ok((row, None)),
                },
            }
        })?;
        if let Some(validity) = replaced {
            tracing::warn!(
                mailbox = name,
                uid_validity = validity.get(),
                "folder directory was replaced; new UIDVALIDITY"
            );
            live.settle = Default::default();
            let _ = state
                .events
                .send(MailboxEvent::UidValidityChanged(validity));
        }
        Ok(row)
    }

    /// Stats the listed files and computes their flags; new files go through the settle
    /// watch.
    fn disk_messages(
        &self,
        folder: &Folder,
        snapshot: &Snapshot,
        present: Vec<(MessageNumber, FileIdentity)>,
        rows: &[MessageRow],
        live: &mut Live,
    ) -> Result<Vec<DiskMessage>> {
        let known: std::collections::HashSet<FileIdentity> =
            rows.iter().map(|r| r.identity).collect();
        let numbers: Vec<MessageNumber> = present.iter().map(|(number, _)| *number).collect();
        let flags = self
            .inner
            .flag_map
            .flags_from_sequences(&snapshot.sequences.public, &numbers);

        let writer_active = present
            .iter()
            .any(|(_, identity)| !known.contains(identity))
            && folder.is_inc_running()?;
        let now = Instant::now();
        let wall = SystemTime::now();
        let disk = present
            .into_iter()
            .zip(flags)
            .map(|((number, identity), flags)| {
                let settled = known.contains(&identity)
                    || live
                        .settle
                        .observe(number, &identity, now, wall, writer_active);
                DiskMessage {
                    number,
                    identity,
                    flags,
                    settled,
                }
            })
            .collect();
        Ok(disk)
    }

    /// Turns a plan into an index update, reading and analysing the new files. Returns the
    /// update and how many new files could not be read. Those get no UID now and are looked
    /// at again on the next pass, and the UIDs planned for them are never handed out.
    fn build_update(
        &self,
        folder: &Folder,
        row: &MailboxRow,
        plan: &Plan,
    ) -> Result<(MailboxUpdate, usize)> {
        let modseq = plan.modseq.map_or(row.highest_modseq, |m| m.get());
        let mut reused = Vec::new();
        {
            let index = self.index()?;
            for added in &plan.added {
                let details = match added.previous_uid {
                    Some(previous) => index.details(row.id, previous)?,
                    None => None,
                };
                reused.push(details);
            }
        }
        let details: Vec<Option<MessageDetails>> = plan
            .added
            .par_iter()
            .zip(reused)
            .map(|(added, reused)| {
                reused.or_else(|| read_details(folder, added.number, &added.identity))
            })
            .collect();

        let mut inserted = Vec::with_capacity(plan.added.len());
        let mut unreadable = 0;
        for (added, details) in plan.added.iter().zip(details) {
            let Some(details) = details else {
                unreadable += 1;
                continue;
            };
            inserted.push(NewMessage {
                row: MessageRow {
                    uid: added.uid,
                    number: added.number,
                    identity: added.identity,
                    modseq,
                    flags: added.flags.clone(),
                },
                details,
            });
        }
        let update = MailboxUpdate {
            expunged: plan.expunged.clone(),
            moved: plan.moved.clone(),
            inserted,
            flags: plan.flag_changes.clone(),
            uid_next: plan.uid_next,
            modseq: plan.modseq,
        };
        Ok((update, unreadable))
    }

    /// Handles a folder that disappeared: a subscribed mailbox keeps its row (emptied, and
    /// under a new UIDVALIDITY should the folder come back), any other loses it.
    fn vanished(&self, name: &str, state: &MailboxState) -> Result<()> {
        self.writer().write(|w| {
            let Some(row) = w.mailbox(name)? else {
                return Ok(());
            };
            if row.subscribed {
                let validity = w.issue_uid_validity(SystemTime::now())?;
                w.reset_mailbox(row.id, validity, None)
            } else {
                w.delete_mailbox(row.id)
            }
        })?;
        let _ = state.events.send(MailboxEvent::Deleted);
        Err(not_found(name))
    }
}

/// How many times a pass takes its snapshot again when a file changed between the listing
/// and its `stat`.
pub const SNAPSHOT_ATTEMPTS: usize = 3;

/// True when the append watch has not run for [`APPEND_RECHECK`]. The watch runs before
/// a command whenever the folder's probe changed, and the nmh commands that damage an
/// append (`inc` writing over it, `sortm`, `rmm`, `mark`) change the probe. Writing over a
/// file in place changes neither the directory nor `.mh_sequences` (`inc` changes the
/// latter because it sets `cur`), so the timed run catches such a write by another program.
fn appends_due(live: &Live) -> bool {
    live.appends_checked
        .is_none_or(|checked| checked.elapsed() >= APPEND_RECHECK)
}

impl Store {
    /// Records the folder's current probe after an APPEND when nothing else changed the
    /// folder since the stamp the store had. `watch`, which ran from before the check that
    /// preceded the append, must show no message file created, removed or renamed but
    /// `added`, and no one else may have written `.mh_sequences` (`sequences`). Then `added`
    /// joins the listing, and the next check needs no full pass. A new watch, started before
    /// the probe, stays with the mailbox for the next append. Otherwise the next check runs
    /// a full pass, even if the directory stamp looks unchanged.
    pub(crate) fn adopt_own_append(
        &self,
        folder: &Folder,
        live: &mut Live,
        sequences: SequencesWrite,
        watch: Option<DirWatch>,
        added: MessageRef,
    ) {
        if live.probe.is_none() || live.pending {
            return;
        }
        match self.try_adopt(folder, live, sequences, watch, added.number) {
            Some((now, next_watch)) => {
                live.probe = Some(now);
                if let Err(position) = live.listing.binary_search(&added) {
                    live.listing.insert(position, added);
                }
                live.dir_watch = Some(next_watch);
            }
            None => live.pending = true,
        }
    }

    /// The checks of [`Store::adopt_own_append`]: returns the probe to record and the next
    /// watch, or `None` when the change cannot be shown to be the append's alone.
    fn try_adopt(
        &self,
        folder: &Folder,
        live: &Live,
        sequences: SequencesWrite,
        watch: Option<DirWatch>,
        added: MessageNumber,
    ) -> Option<(Probe, DirWatch)> {
        let seen = live.probe?;
        let watch = watch?;
        // Started before the probe, so a change right after the probe shows in its events.
        let next_watch = self.inner.dir_watches.start(folder)?;
        let now = folder.probe().ok()?;
        let sequences_ours = match sequences {
            SequencesWrite::Untouched => now.sequences == seen.sequences,
            SequencesWrite::Rewritten { before, after } => {
                before == seen.sequences && now.sequences == Some(after)
            }
        };
        // The watch is read after the probe: a change after the probe shows in its events.
        (sequences_ours && watch.only_added(added)).then_some((now, next_watch))
    }
}

/// Takes a snapshot and stats every listed file (in parallel). The `stat` calls run after
/// the read lock is released, so a renumbering nmh command may run in between. When any
/// file is gone or has another inode than the listing gave, the snapshot is taken again, up
/// to [`SNAPSHOT_ATTEMPTS`] times. After that the files as last seen are used, and the next
/// pass corrects what changed.
fn stable_snapshot(
    folder: &Folder,
) -> std::result::Result<(Snapshot, Vec<(MessageNumber, FileIdentity)>), MhError> {
    let mut attempt = 1;
    loop {
        let snapshot = folder.snapshot()?;
        let identities: Vec<Option<FileIdentity>> = snapshot
            .listing
            .messages
            .par_iter()
            .map(|message| folder.identity(message.number).ok())
            .collect();
        let is_consistent = snapshot
            .listing
            .messages
            .iter()
            .zip(&identities)
            .all(|(message, identity)| identity.is_some_and(|id| id.ino == message.ino));
        if is_consistent || attempt == SNAPSHOT_ATTEMPTS {
            let present = snapshot
                .listing
                .messages
                .iter()
                .zip(identities)
                .filter_map(|(message, identity)| identity.map(|id| (message.number, id)))
                .collect();
            return Ok((snapshot, present));
        }
        attempt += 1;
    }
}

/// Reads a message file once and analyses it. Returns `None` when the file is gone or is no
/// longer the file that was listed.
pub(crate) fn read_details(
    folder: &Folder,
    number: MessageNumber,
    expected: &FileIdentity,
) -> Option<MessageDetails> {
    let (mut file, identity) = folder.open_message(number).ok()?;
    if identity != *expected {
        return None;
    }
    let mut bytes = Vec::with_capacity(identity.size as usize);
    file.read_to_end(&mut bytes).ok()?;
    let date = InternalDate {
        timestamp: (identity.mtime_ns / 1_000_000_000) as i64,
        zone_minutes: None,
    };
    Some(analyze(&bytes, date))
}

/// Removes the temporary files and private copies that a worker killed during an APPEND or
/// its watch left in the folder. Only files older than the watch period go, so the copies of
/// appends this process still watches stay. Runs on a mailbox's first pass in this process.
fn remove_stale_files(folder: &Folder) {
    match folder.remove_stale_temp_files(APPEND_WATCH_PERIOD) {
        Ok(0) => {}
        Ok(removed) => {
            tracing::info!(folder = %folder.path().display(), removed, "removed stale temporary files");
        }
        Err(error) => {
            tracing::warn!(folder = %folder.path().display(), %error, "failed to remove stale temporary files");
        }
    }
}

/// Analyses a message's bytes: RFC822.SIZE, ENVELOPE, BODYSTRUCTURE and the header block.
pub(crate) fn analyze(bytes: &[u8], internal_date: InternalDate) -> MessageDetails {
    let analysis = Analysis::parse(bytes);
    MessageDetails {
        internal_date,
        rfc822_size: analysis.size(),
        envelope: Some(analysis.envelope().to_imap()),
        body_structure: Some(analysis.body_structure(true)),
        header: crate::headers::cacheable_header(bytes),
    }
}

pub(crate) fn send_update_events(state: &MailboxState, update: &MailboxUpdate) {
    let modseq = update.modseq.unwrap_or(crate::store::modseq(1));
    if !update.expunged.is_empty() {
        let _ = state.events.send(MailboxEvent::Expunged {
            uids: update.expunged.clone(),
            modseq,
        });
    }
    if !update.inserted.is_empty() {
        let views = update
            .inserted
            .iter()
            .map(|m| MessageView::from_row(&m.row))
            .collect();
        let _ = state.events.send(MailboxEvent::Added(views));
    }
    if !update.flags.is_empty() {
        let views = update
            .flags
            .iter()
            .map(|(uid, flags)| MessageView {
                uid: *uid,
                flags: flags.clone(),
                modseq,
            })
            .collect();
        let _ = state.events.send(MailboxEvent::FlagsChanged(views));
    }
}

fn uids_exhausted(name: &str) -> StoreError {
    StoreError::UidsExhausted {
        name: name.to_owned(),
        max: crate::index::MAX_UID,
    }
}

fn is_same_dir(known: DirIdentity, now: DirIdentity) -> bool {
    let same_birth = match (known.btime_ns, now.btime_ns) {
        (Some(a), Some(b)) => a == b,
        _ => true,
    };
    known.dev == now.dev && known.ino == now.ino && same_birth
}

/// Writes what was read from `asimap.db` into the index: each mailbox whose folder exists
/// gets its old UIDVALIDITY and UIDNEXT, and each listed message that is still on disk its
/// old UID. Files the Python server never saw are found by the next pass.
pub(crate) fn apply_import(store: &Store, imported: &Imported) -> Result<()> {
    for mailbox in &imported.mailboxes {
        let folder = store.root().folder(&mailbox.name)?;
        let (dir, messages) = if folder.exists() {
            let snapshot = folder.snapshot()?;
            let dir = DirIdentity::of(folder.path()).map_err(|source| StoreError::Io {
                op: "stat",
                path: folder.path().to_owned(),
                source,
            })?;
            (Some(dir), imported_rows(store, &folder, &snapshot, mailbox))
        } else {
            (None, Vec::new())
        };
        if dir.is_none() && !mailbox.subscribed {
            continue;
        }
        store.writer().write(|w| {
            w.note_uid_validity(mailbox.uid_validity)?;
            if let Some(row) = w.mailbox(&mailbox.name)? {
                w.delete_mailbox(row.id)?;
            }
            let row = w.insert_mailbox(&mailbox.name, mailbox.uid_validity, dir)?;
            w.set_subscribed(row.id, mailbox.subscribed)?;
            w.set_special_use(row.id, mailbox.special_use.as_deref())?;
            let recent = mailbox
                .first_recent
                .map_or(mailbox.uid_next, |uid| uid.get());
            w.set_recent_uid(row.id, recent)?;
            let update = MailboxUpdate {
                inserted: messages.clone(),
                uid_next: mailbox.uid_next,
                ..MailboxUpdate::default()
            };
            w.apply(row.id, &update)
        })?;
    }
    Ok(())
}

fn imported_rows(
    store: &Store,
    folder: &Folder,
    snapshot: &Snapshot,
    mailbox: &crate::import::ImportedMailbox,
) -> Vec<NewMessage> {
    let listed: Vec<(MessageNumber, asimapd_proto::Uid)> = mailbox
        .messages
        .iter()
        .filter(|(number, _)| snapshot.listing.get(*number).is_some())
        .copied()
        .collect();
    let numbers: Vec<MessageNumber> = listed.iter().map(|(number, _)| *number).collect();
    let flags = store
        .flag_map()
        .flags_from_sequences(&snapshot.sequences.public, &numbers);
    listed
        .par_iter()
        .zip(flags)
        .filter_map(|(&(number, uid), flags)| {
            let identity = folder.identity(number).ok()?;
            let details = read_details(folder, number, &identity)?;
            Some(NewMessage {
                row: MessageRow {
                    uid,
                    number,
                    identity,
                    modseq: 1,
                    flags,
                },
                details,
            })
        })
        .collect()
}
