//! The `Store`: one per user, shared by all of the user's sessions.
//!
//! Locking: each mailbox has its own mutex ([`MailboxState::live`]) that serialises its
//! reconciliation and writes. Queries run on pooled read-only connections to the index
//! (WAL mode), and the writer connection's mutex is taken for one write transaction at a
//! time, never across folder I/O. Only MOVE holds two mailbox mutexes at once, and it takes
//! them in name order, so MOVEs between two mailboxes in opposite directions cannot
//! deadlock.

use std::collections::HashMap;
use std::ops::Range;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Instant, SystemTime};

use asimapd_mh::{MailRoot, MessageRef, Probe, SettleWatch};
use asimapd_proto::{ModSeq, UidValidity};
use tokio::sync::broadcast;

use crate::append_watch::WatchedAppend;
use crate::error::{Result, StoreError};
use crate::events::{EVENT_CAPACITY, MailboxEvent, MailboxInfo, MailboxStatus, MessageView};
use crate::flag_writes::FlagWrites;
use crate::flags::FlagMap;
use crate::import::{ASIMAP_DB_FILE, read_asimap_db};
use crate::index::{DirIdentity, Index, MailboxRow};
use crate::own_change::{DirWatch, DirWatchBudget};
use crate::pool::{MAX_READERS, ReadPool, Reader};
use crate::schema::INDEX_FILE;

/// The `meta` key recording that `asimap.db` was imported (its value is the time, in
/// seconds since the Unix epoch), so the import runs once.
pub(crate) const ASIMAP_IMPORTED_KEY: &str = "asimap_imported";

/// The mailbox model of one user.
///
/// Cheap to clone. Its methods block on file and SQLite I/O, so async callers run them with
/// `tokio::task::spawn_blocking`.
#[derive(Clone, Debug)]
pub struct Store {
    pub(crate) inner: Arc<Inner>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) root: MailRoot,
    pub(crate) flag_map: FlagMap,
    /// The one connection that writes, used for write transactions only.
    writer: Mutex<Index>,
    /// Read-only connections for queries, which run beside each other and beside a write.
    readers: ReadPool,
    mailboxes: Mutex<HashMap<String, Arc<MailboxState>>>,
    /// The directory watches that appends keep open.
    pub(crate) dir_watches: DirWatchBudget,
    /// Set once the fallback from inotify to polling has been logged.
    pub(crate) polling_logged: AtomicBool,
}

/// The live state of one mailbox.
#[derive(Debug)]
pub(crate) struct MailboxState {
    pub(crate) live: Mutex<Live>,
    pub(crate) events: broadcast::Sender<MailboxEvent>,
}

/// The state a mailbox keeps between reconciliations.
#[derive(Debug, Default)]
pub(crate) struct Live {
    /// The probe of the last full reconciliation; an equal probe means nothing to do.
    pub(crate) probe: Option<Probe>,
    /// New files seen but not settled yet.
    pub(crate) settle: SettleWatch,
    /// Appends still watched for damage by nmh.
    pub(crate) appends: Vec<WatchedAppend>,
    /// True when a later pass has work even if the probe is unchanged: files still
    /// settling, or new files that could not be read.
    pub(crate) pending: bool,
    /// Recent STOREs, watched for being written over by nmh.
    pub(crate) flag_writes: FlagWrites,
    /// The message files as listed under `probe`, in number order. They are still the
    /// folder's files while its directory keeps the stamp in `probe`.
    pub(crate) listing: Vec<MessageRef>,
    /// When the append watch last ran.
    pub(crate) appends_checked: Option<Instant>,
    /// The watch on the folder directory started when the last append recorded its stamp;
    /// the next append reads it.
    pub(crate) dir_watch: Option<DirWatch>,
}

/// A selected mailbox: the messages at the time of SELECT and the events after it.
#[derive(Debug)]
pub struct Selected {
    /// UIDVALIDITY.
    pub uid_validity: UidValidity,
    /// UIDNEXT.
    pub uid_next: u32,
    /// HIGHESTMODSEQ.
    pub highest_modseq: ModSeq,
    /// The messages in UID order.
    pub messages: Vec<MessageView>,
    /// UIDs that are `\Recent` for this session (RFC 3501 §2.3.2): no other session saw
    /// them before.
    pub recent: Range<u32>,
    /// Changes after this snapshot. Subscribed before the snapshot was taken, so an event
    /// may repeat a change the snapshot already shows; applying it again is harmless.
    pub events: broadcast::Receiver<MailboxEvent>,
}

impl Store {
    /// Opens the store of the mail root: opens (creating and migrating) `.asimapd.db`, and
    /// imports the Python asimap's `asimap.db` once when one is present.
    pub fn open(root: MailRoot) -> Result<Store> {
        let path = root.path().join(INDEX_FILE);
        let mut writer = Index::open(&path)?;
        writer.checkpoint_in_background();
        let store = Store {
            inner: Arc::new(Inner {
                flag_map: FlagMap::for_root(&root),
                root,
                writer: Mutex::new(writer),
                readers: ReadPool::new(&path, MAX_READERS),
                mailboxes: Mutex::new(HashMap::new()),
                dir_watches: DirWatchBudget::default(),
                polling_logged: AtomicBool::new(false),
            }),
        };
        store.import_once()?;
        Ok(store)
    }

    /// Returns the mail root.
    pub fn root(&self) -> &MailRoot {
        &self.inner.root
    }

    /// Returns the flag mapping in use.
    pub fn flag_map(&self) -> &FlagMap {
        &self.inner.flag_map
    }

    /// Returns the index file's path.
    pub fn index_path(&self) -> PathBuf {
        self.inner.root.path().join(INDEX_FILE)
    }

    /// Lists every folder on disk and every subscribed name, sorted by name.
    pub fn list_mailboxes(&self) -> Result<Vec<MailboxInfo>> {
        let folders = self.inner.root.list_folders()?;
        let rows = self.index()?.mailboxes()?;
        let rows: HashMap<&str, &MailboxRow> = rows.iter().map(|r| (r.name.as_str(), r)).collect();
        let parents: std::collections::HashSet<String> = folders
            .iter()
            .filter_map(|folder| folder.parent())
            .map(|parent| parent.as_str().to_owned())
            .collect();
        let mut infos: Vec<MailboxInfo> = folders
            .iter()
            .map(|folder| {
                let name = folder.as_str();
                let row = rows.get(name);
                MailboxInfo {
                    name: name.to_owned(),
                    exists: true,
                    subscribed: row.is_some_and(|r| r.subscribed),
                    special_use: row.and_then(|r| r.special_use.clone()),
                    has_children: parents.contains(name),
                }
            })
            .collect();
        for row in rows.values() {
            if row.subscribed && !infos.iter().any(|info| info.name == row.name) {
                infos.push(MailboxInfo {
                    name: row.name.clone(),
                    exists: false,
                    subscribed: true,
                    special_use: row.special_use.clone(),
                    has_children: false,
                });
            }
        }
        infos.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(infos)
    }

    /// Creates a mailbox (its folder and index row) with a new UIDVALIDITY.
    pub fn create_mailbox(&self, name: &str, special_use: Option<&str>) -> Result<UidValidity> {
        let state = self.state(name);
        let _live = lock(&state.live);
        let folder = self
            .inner
            .root
            .create_folder(name)
            .map_err(|err| match err {
                asimapd_mh::MhError::FolderExists { .. } => StoreError::MailboxExists {
                    name: name.to_owned(),
                },
                other => StoreError::Mh(other),
            })?;
        let dir = DirIdentity::of(folder.path()).map_err(|source| StoreError::Io {
            op: "stat",
            path: folder.path().to_owned(),
            source,
        })?;
        let mut index = self.writer();
        index.write(|w| {
            let existing = w.mailbox(name)?;
            let subscribed = existing.as_ref().is_some_and(|row| row.subscribed);
            if let Some(row) = existing {
                w.delete_mailbox(row.id)?;
            }
            let validity = w.issue_uid_validity(SystemTime::now())?;
            let row = w.insert_mailbox(name, validity, Some(dir))?;
            w.set_subscribed(row.id, subscribed)?;
            w.set_special_use(row.id, special_use)?;
            Ok(validity)
        })
    }

    /// Deletes a mailbox: its folder with everything in it (sub-folders included, as
    /// `rmf` does) and its index rows. Sessions that selected it get
    /// [`MailboxEvent::Deleted`].
    pub fn delete_mailbox(&self, name: &str) -> Result<()> {
        let state = self.state(name);
        let _live = lock(&state.live);
        self.inner
            .root
            .delete_folder(name)
            .map_err(|err| match err {
                asimapd_mh::MhError::FolderNotFound { .. } => StoreError::MailboxNotFound {
                    name: name.to_owned(),
                },
                other => StoreError::Mh(other),
            })?;
        let rows = self.index()?.mailboxes()?;
        let prefix = format!("{name}/");
        let mut index = self.writer();
        index.write(|w| {
            for row in rows
                .iter()
                .filter(|r| r.name == name || r.name.starts_with(&prefix))
            {
                w.delete_mailbox(row.id)?;
            }
            Ok(())
        })?;
        drop(index);
        self.forget(name);
        let _ = state.events.send(MailboxEvent::Deleted);
        Ok(())
    }

    /// Renames a mailbox with its sub-folders. UIDVALIDITY and UIDs stay: the folder
    /// directory keeps its identity across `rename`.
    // NOTE: RFC 9051 §6.3.6 wants RENAME of INBOX to move its messages into a new mailbox
    // and leave INBOX empty. This renames the folder, so the caller must use MOVE for INBOX.
    pub fn rename_mailbox(&self, from: &str, to: &str) -> Result<()> {
        let state = self.state(from);
        let _live = lock(&state.live);
        self.inner
            .root
            .rename_folder(from, to)
            .map_err(|err| match err {
                asimapd_mh::MhError::FolderNotFound { .. } => StoreError::MailboxNotFound {
                    name: from.to_owned(),
                },
                asimapd_mh::MhError::FolderExists { .. } => StoreError::MailboxExists {
                    name: to.to_owned(),
                },
                other => StoreError::Mh(other),
            })?;
        self.writer().write(|w| {
            if let Some(row) = w.mailbox(to)? {
                w.delete_mailbox(row.id)?;
            }
            w.rename_mailbox(from, to)
        })?;
        self.forget(from);
        let _ = state.events.send(MailboxEvent::Deleted);
        Ok(())
    }

    /// Subscribes to or unsubscribes from a name; the mailbox need not exist (RFC 9051
    /// §6.3.7).
    pub fn set_subscribed(&self, name: &str, subscribed: bool) -> Result<()> {
        self.writer().write(|w| {
            let row = match w.mailbox(name)? {
                Some(row) => row,
                None => {
                    let validity = w.issue_uid_validity(SystemTime::now())?;
                    w.insert_mailbox(name, validity, None)?
                }
            };
            w.set_subscribed(row.id, subscribed)
        })
    }

    /// Sets a mailbox's special-use attribute (RFC 6154), such as `\Sent`.
    pub fn set_special_use(&self, name: &str, special_use: Option<&str>) -> Result<()> {
        let row = self.mailbox_row(name)?;
        self.writer()
            .write(|w| w.set_special_use(row.id, special_use))
    }

    /// Brings the mailbox up to date and returns its counters.
    pub fn status(&self, name: &str) -> Result<MailboxStatus> {
        self.check(name)?;
        let row = self.mailbox_row(name)?;
        let totals = self.index()?.totals(row.id, row.recent_uid)?;
        Ok(MailboxStatus {
            messages: totals.messages,
            recent: totals.recent,
            unseen: totals.unseen,
            uid_next: row.uid_next,
            uid_validity: row.uid_validity,
            highest_modseq: modseq(row.highest_modseq),
            size: totals.size,
        })
    }

    /// Selects a mailbox: brings it up to date, claims its `\Recent` messages for this
    /// session and returns its messages with a subscription to later changes.
    pub fn select(&self, name: &str) -> Result<Selected> {
        self.open_view(name, true)
    }

    /// Opens a mailbox like [`Store::select`] but leaves `\Recent` unclaimed, for EXAMINE
    /// (RFC 3501 §6.3.2: EXAMINE must not make messages lose `\Recent`). The returned range
    /// names the messages no session has claimed yet.
    pub fn examine(&self, name: &str) -> Result<Selected> {
        self.open_view(name, false)
    }

    fn open_view(&self, name: &str, claims_recent: bool) -> Result<Selected> {
        let state = self.state(name);
        let events = state.events.subscribe();
        {
            let mut live = lock(&state.live);
            self.sync_locked(name, &state, &mut live)?;
        }
        let row = self.mailbox_row(name)?;
        let rows = self.index()?.messages(row.id)?;
        let recent = if claims_recent {
            self.claim_recent(name)?
        } else {
            row.recent_uid..row.uid_next.max(row.recent_uid)
        };
        Ok(Selected {
            uid_validity: row.uid_validity,
            uid_next: row.uid_next,
            highest_modseq: modseq(row.highest_modseq),
            messages: rows.iter().map(MessageView::from_row).collect(),
            recent,
            events,
        })
    }

    /// Claims every message no session has seen as `\Recent` yet and returns their UID
    /// range; later calls, from any session, get none of them again.
    pub fn claim_recent(&self, name: &str) -> Result<Range<u32>> {
        let mut index = self.writer();
        index.write(|w| {
            let row = w.mailbox(name)?.ok_or_else(|| not_found(name))?;
            if row.recent_uid < row.uid_next {
                w.set_recent_uid(row.id, row.uid_next)?;
            }
            Ok(row.recent_uid..row.uid_next.max(row.recent_uid))
        })
    }

    /// Returns the index's rows of a mailbox in UID order, as they are: no reconciliation
    /// runs first.
    pub fn indexed_messages(&self, name: &str) -> Result<Vec<crate::index::MessageRow>> {
        let row = self.mailbox_row(name)?;
        self.index()?.messages(row.id)
    }

    /// Returns the mailbox's index row.
    pub fn mailbox_row(&self, name: &str) -> Result<MailboxRow> {
        self.index()?.mailbox(name)?.ok_or_else(|| not_found(name))
    }

    /// Takes a read-only connection for queries. It reads every write committed before the
    /// query starts, and waits neither for other readers nor for a write transaction.
    pub(crate) fn index(&self) -> Result<Reader<'_>> {
        self.inner.readers.get()
    }

    /// Locks the connection for write transactions. Reads that a write depends on run
    /// inside its transaction ([`crate::Writer`]), or under the mailbox's `live` lock,
    /// which serialises the mailbox's writes.
    pub(crate) fn writer(&self) -> MutexGuard<'_, Index> {
        lock(&self.inner.writer)
    }

    pub(crate) fn state(&self, name: &str) -> Arc<MailboxState> {
        let mut mailboxes = lock(&self.inner.mailboxes);
        Arc::clone(mailboxes.entry(name.to_owned()).or_insert_with(|| {
            Arc::new(MailboxState {
                live: Mutex::new(Live::default()),
                events: broadcast::channel(EVENT_CAPACITY).0,
            })
        }))
    }

    /// Returns every mailbox that has live state, with that state.
    pub(crate) fn live_mailboxes(&self) -> Vec<(String, Arc<MailboxState>)> {
        lock(&self.inner.mailboxes)
            .iter()
            .map(|(name, state)| (name.clone(), Arc::clone(state)))
            .collect()
    }

    /// Returns the names of mailboxes that have live state and need watching: those that a
    /// session selected, those with a recent STORE still watched for a stale rewrite, and
    /// those with appends still watched, so that a damaged append is repaired and the watch
    /// ends on time even when no session selects the mailbox.
    pub(crate) fn watched_mailboxes(&self) -> Vec<String> {
        lock(&self.inner.mailboxes)
            .iter()
            .filter(|(_, state)| {
                // A mailbox busy in another thread is included: its check waits for the lock.
                let has_writes = state.live.try_lock().map_or(true, |live| {
                    !live.flag_writes.is_empty() || !live.appends.is_empty()
                });
                state.events.receiver_count() > 0 || has_writes
            })
            .map(|(name, _)| name.clone())
            .collect()
    }

    fn forget(&self, name: &str) {
        let prefix = format!("{name}/");
        lock(&self.inner.mailboxes).retain(|key, _| key != name && !key.starts_with(&prefix));
    }

    fn import_once(&self) -> Result<()> {
        let path = self.inner.root.path().join(ASIMAP_DB_FILE);
        if !path.exists() || self.index()?.meta(ASIMAP_IMPORTED_KEY)?.is_some() {
            return Ok(());
        }
        let imported = read_asimap_db(&path)?;
        for skipped in &imported.skipped {
            tracing::warn!(
                mailbox = %skipped.name,
                reason = %skipped.reason,
                "asimap.db row not imported; the mailbox is indexed with new UIDs"
            );
        }
        crate::sync::apply_import(self, &imported)?;
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |since| since.as_secs() as i64);
        self.writer()
            .write(|w| w.set_meta(ASIMAP_IMPORTED_KEY, now))?;
        tracing::info!(
            path = %path.display(),
            mailboxes = imported.mailboxes.len(),
            "imported UIDs from the Python asimap"
        );
        Ok(())
    }
}

/// Locks a mutex, recovering the data when a thread panicked while holding it: every
/// guarded value stays consistent between statements, and the index has its own
/// transactions.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

pub(crate) fn not_found(name: &str) -> StoreError {
    StoreError::MailboxNotFound {
        name: name.to_owned(),
    }
}

pub(crate) fn modseq(value: u64) -> ModSeq {
    ModSeq::new(value.max(1)).expect("MODSEQ values in the index are below 2^63")
}
