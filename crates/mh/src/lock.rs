//! Locks on `.mh_sequences` that exclude running nmh commands.
//!
//! nmh 1.8 locks with `fcntl(F_SETLK)` on the whole file by default, retrying once a second
//! for 60 s. This module takes an open-file-description lock (`F_OFD_SETLK`), which conflicts
//! with nmh's POSIX locks on Linux but, unlike a POSIX lock, belongs to one descriptor: threads
//! exclude each other, and closing another descriptor of the file does not drop it.
//! `flock(2)` (what `std::fs::File::lock` uses) does not exclude nmh's fcntl locks.
//!
//! With `Datalocking: dot` a liblockfile-style `FILE.lock` is taken as well, and with
//! `Datalocking: flock` an `flock` as well. When nmh-compatible locking is turned off
//! (`ENABLE_MH_FILE_LOCKING` false) only an `flock` is taken: it serialises this crate's own
//! processes and threads, and the nmh lock is taken only around the write itself, waiting at
//! most [`UNLOCKED_WRITE_WAIT`] for it. An nmh command reading the file under its lock thus
//! gets the whole old or the whole new text. A command that holds its lock for longer
//! (`sortm`, `folder -pack`) is not waited for, and can read a partly written file.
//!
//! Every lock is taken by polling with a short back-off up to a time limit, never by blocking
//! without one, and the caller holds it for milliseconds.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use crate::error::{IoContext, MhError, Result};
use crate::identity::Stamp;
use crate::profile::DataLocking;

/// How long the crate waits for a lock before giving up. nmh commands that renumber a folder
/// (`sortm`, `folder -pack`, `refile`) hold the write lock for their whole run, so this is
/// generous. nmh itself gives up after 60 one-second tries.
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(10);

/// First pause between two lock attempts; it doubles up to [`MAX_LOCK_POLL`].
const FIRST_LOCK_POLL: Duration = Duration::from_millis(1);
/// Maximum pause between two lock attempts.
const MAX_LOCK_POLL: Duration = Duration::from_millis(25);
/// With nmh-compatible locking off, how long a rewrite of `.mh_sequences` waits for the nmh
/// lock around the write itself before it writes without it. nmh commands that only read
/// the file usually hold the lock for a few milliseconds.
const UNLOCKED_WRITE_WAIT: Duration = Duration::from_millis(200);
/// Age after which a dot lock file whose owner cannot be checked is treated as stale
/// (liblockfile uses the same five minutes).
const DOT_LOCK_STALE_AGE: Duration = Duration::from_secs(300);

/// Settings that decide which locks are taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LockPolicy {
    /// Take the nmh-compatible locks (`ENABLE_MH_FILE_LOCKING`).
    pub file_locking: bool,
    /// The profile's `Datalocking`.
    pub data_locking: DataLocking,
    /// How long to wait for a lock.
    pub timeout: Duration,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LockMode {
    Read,
    Write,
}

/// An open, locked `.mh_sequences`. Dropping it releases every lock it holds.
#[derive(Debug)]
pub(crate) struct LockedFile {
    file: File,
    path: PathBuf,
    /// True when this lock's `open` created the file.
    pub(crate) created: bool,
    /// Whether nmh's locks are held for the whole update, not only this crate's `flock`.
    nmh_locked: bool,
    _dot: Option<DotLock>,
}

impl LockedFile {
    /// Opens and locks `path`. A read lock on a missing file returns `None`; a write lock
    /// creates the file with `mode`. After locking, the file is checked to be still linked and
    /// still the file that `path` names, because nmh may unlink it and create a new one. If
    /// not, the lock is dropped and taken again on the new file.
    pub(crate) fn lock(
        path: &Path,
        mode: LockMode,
        policy: &LockPolicy,
        create_mode: u32,
    ) -> Result<Option<Self>> {
        let deadline = Instant::now() + policy.timeout;
        loop {
            let dot = match policy.file_locking && policy.data_locking == DataLocking::Dot {
                true => Some(DotLock::acquire(path, deadline, policy.timeout)?),
                false => None,
            };
            let Some((file, created)) = open_for_lock(path, mode, create_mode)? else {
                return Ok(None);
            };
            lock_descriptor(&file, path, mode, policy, deadline)?;
            if still_names(&file, path)? {
                return Ok(Some(LockedFile {
                    file,
                    path: path.to_owned(),
                    created,
                    nmh_locked: policy.file_locking,
                    _dot: dot,
                }));
            }
        }
    }

    /// Reads the whole file from offset 0.
    pub(crate) fn read_all(&self) -> Result<Vec<u8>> {
        let mut bytes = Vec::new();
        let mut buffer = [0u8; 8192];
        loop {
            let count = self
                .file
                .read_at(&mut buffer, bytes.len() as u64)
                .context("read", &self.path)?;
            if count == 0 {
                return Ok(bytes);
            }
            bytes.extend_from_slice(&buffer[..count]);
        }
    }

    /// Rewrites the file in place: write from offset 0, then truncate to the new length. The
    /// inode stays the same, so nmh commands waiting on this file's lock see the new content.
    /// When nmh's locks are not held for the whole update, nmh's write lock is taken for the
    /// write alone if it can be had within [`UNLOCKED_WRITE_WAIT`].
    pub(crate) fn replace_contents(&self, bytes: &[u8]) -> Result<()> {
        let nmh_lock_for_write = !self.nmh_locked && self.lock_for_write()?;
        let written = self
            .file
            .write_all_at(bytes, 0)
            .context("write", &self.path)
            .and_then(|()| {
                self.file
                    .set_len(bytes.len() as u64)
                    .context("ftruncate", &self.path)
            });
        if nmh_lock_for_write {
            unlock_fcntl(&self.file);
        }
        written?;
        let meta = self.file.metadata().context("fstat", &self.path)?;
        let key = (meta.dev(), meta.ino());
        let mut emptied = emptied_here();
        match (bytes.is_empty(), meta.modified()) {
            (true, Ok(modified)) => {
                emptied.insert(key, modified);
            }
            _ => {
                emptied.remove(&key);
            }
        }
        Ok(())
    }

    /// Tries for up to [`UNLOCKED_WRITE_WAIT`] to take the fcntl write lock that nmh
    /// commands take; returns whether it was taken.
    fn lock_for_write(&self) -> Result<bool> {
        poll_until(Instant::now() + UNLOCKED_WRITE_WAIT, || {
            try_fcntl_lock(&self.file, &self.path, LockMode::Write)
        })
    }

    /// Returns true when this process emptied the file last, judged by its device, inode
    /// and modification time. nmh unlinks `.mh_sequences` instead of leaving it empty, so
    /// only an empty file that another process wrote can be an nmh rewrite in progress.
    // NOTE: the kernel stamps files from a coarse clock (a few milliseconds), so another
    // process that truncates the file within that time after this process emptied it goes
    // unnoticed here.
    pub(crate) fn was_emptied_here(&self) -> bool {
        let Ok(meta) = self.file.metadata() else {
            return false;
        };
        let Ok(modified) = meta.modified() else {
            return false;
        };
        emptied_here().get(&(meta.dev(), meta.ino())) == Some(&modified)
    }

    /// Returns the file's current size.
    pub(crate) fn len(&self) -> Result<u64> {
        let meta = self.file.metadata().context("fstat", &self.path)?;
        Ok(meta.len())
    }

    /// Returns the stamp of the locked file, as [`crate::Folder::probe`] reports it.
    pub(crate) fn stamp(&self) -> Result<Stamp> {
        let meta = self.file.metadata().context("fstat", &self.path)?;
        Ok(Stamp::from_metadata(&meta))
    }

    /// Returns the file's modification time.
    pub(crate) fn modified(&self) -> Result<SystemTime> {
        let meta = self.file.metadata().context("fstat", &self.path)?;
        meta.modified().context("fstat", &self.path)
    }
}

/// Locks and returns the modification time, by device and inode, of every file that
/// [`LockedFile::replace_contents`] left empty in this process.
fn emptied_here() -> std::sync::MutexGuard<'static, HashMap<(u64, u64), SystemTime>> {
    static EMPTIED: OnceLock<Mutex<HashMap<(u64, u64), SystemTime>>> = OnceLock::new();
    EMPTIED
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Returns true when another process holds an fcntl lock (of either kind) on `path`, or a dot
/// lock file `path.lock` exists. nmh's `inc` keeps a read lock on the maildrop for its whole
/// run, so a lock there means `inc` is delivering.
pub fn is_locked_by_other(path: &Path) -> Result<bool> {
    if path.with_file_name(dot_lock_name(path)).exists() {
        return Ok(true);
    }
    let file = match File::open(path) {
        Ok(file) => file,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(err) => return Err(MhError::io("open", path, err)),
    };
    let mut query = whole_file_lock(libc::F_WRLCK);
    // SAFETY: `query` is a valid, initialised `flock` and the descriptor is open.
    let rc = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_OFD_GETLK, &mut query) };
    if rc == -1 {
        return Err(MhError::io(
            "fcntl(F_OFD_GETLK)",
            path,
            io::Error::last_os_error(),
        ));
    }
    Ok(i32::from(query.l_type) != libc::F_UNLCK)
}

fn open_for_lock(path: &Path, mode: LockMode, create_mode: u32) -> Result<Option<(File, bool)>> {
    loop {
        let mut options = OpenOptions::new();
        options.read(true).write(mode == LockMode::Write);
        match options.open(path) {
            Ok(file) => return Ok(Some((file, false))),
            Err(err) if err.kind() == io::ErrorKind::NotFound => {}
            Err(err) => return Err(MhError::io("open", path, err)),
        }
        if mode == LockMode::Read {
            return Ok(None);
        }
        let created = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(create_mode)
            .open(path);
        match created {
            Ok(file) => return Ok(Some((file, true))),
            Err(err) if err.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(err) => return Err(MhError::io("open", path, err)),
        }
    }
}

fn lock_descriptor(
    file: &File,
    path: &Path,
    mode: LockMode,
    policy: &LockPolicy,
    deadline: Instant,
) -> Result<()> {
    let use_fcntl = policy.file_locking;
    let use_flock = !policy.file_locking || policy.data_locking == DataLocking::Flock;
    let locked = poll_until(deadline, || {
        let got = (!use_fcntl || try_fcntl_lock(file, path, mode)?)
            && (!use_flock || try_flock(file, path, mode)?);
        if !got {
            // Drop whichever lock was taken, so that a half-taken pair blocks no other process.
            unlock_all(file);
        }
        Ok(got)
    })?;
    match locked {
        true => Ok(()),
        false => Err(MhError::LockTimeout {
            path: path.to_owned(),
            waited: policy.timeout,
        }),
    }
}

/// Calls `attempt` until it returns true or `deadline` has passed, pausing between calls
/// from [`FIRST_LOCK_POLL`], doubled each time up to [`MAX_LOCK_POLL`]. Returns whether an
/// attempt succeeded.
fn poll_until(deadline: Instant, mut attempt: impl FnMut() -> Result<bool>) -> Result<bool> {
    let mut pause = FIRST_LOCK_POLL;
    loop {
        if attempt()? {
            return Ok(true);
        }
        if Instant::now() >= deadline {
            return Ok(false);
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(MAX_LOCK_POLL);
    }
}

fn whole_file_lock(lock_type: i32) -> libc::flock {
    // SAFETY: `flock` is a plain C struct for which all-zero bytes are a valid value.
    let mut lock: libc::flock = unsafe { std::mem::zeroed() };
    lock.l_type = lock_type as libc::c_short;
    lock.l_whence = libc::SEEK_SET as libc::c_short;
    lock
}

fn try_fcntl_lock(file: &File, path: &Path, mode: LockMode) -> Result<bool> {
    let lock_type = match mode {
        LockMode::Read => libc::F_RDLCK,
        LockMode::Write => libc::F_WRLCK,
    };
    let lock = whole_file_lock(lock_type);
    // SAFETY: `lock` is a valid `flock`; OFD locks require `l_pid` to be zero, which it is.
    let rc = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_OFD_SETLK, &lock) };
    if rc == 0 {
        return Ok(true);
    }
    would_block(io::Error::last_os_error(), "fcntl(F_OFD_SETLK)", path)
}

fn try_flock(file: &File, path: &Path, mode: LockMode) -> Result<bool> {
    let operation = match mode {
        LockMode::Read => libc::LOCK_SH,
        LockMode::Write => libc::LOCK_EX,
    };
    // SAFETY: flock takes a descriptor and flags; the descriptor is open.
    let rc = unsafe { libc::flock(file.as_raw_fd(), operation | libc::LOCK_NB) };
    if rc == 0 {
        return Ok(true);
    }
    would_block(io::Error::last_os_error(), "flock", path)
}

fn would_block(err: io::Error, op: &'static str, path: &Path) -> Result<bool> {
    match err.raw_os_error() {
        Some(libc::EAGAIN | libc::EACCES | libc::EINTR) => Ok(false),
        _ => Err(MhError::io(op, path, err)),
    }
}

fn unlock_fcntl(file: &File) {
    let lock = whole_file_lock(libc::F_UNLCK);
    // SAFETY: as in `try_fcntl_lock`; unlocking a lock that is not held is a no-op.
    unsafe {
        libc::fcntl(file.as_raw_fd(), libc::F_OFD_SETLK, &lock);
    }
}

fn unlock_all(file: &File) {
    let lock = whole_file_lock(libc::F_UNLCK);
    // SAFETY: as in `try_fcntl_lock`; unlocking a lock that is not held is a no-op.
    unsafe {
        libc::fcntl(file.as_raw_fd(), libc::F_OFD_SETLK, &lock);
        libc::flock(file.as_raw_fd(), libc::LOCK_UN);
    }
}

/// Checks that the locked descriptor is still linked and is the file `path` names now.
fn still_names(file: &File, path: &Path) -> Result<bool> {
    let held = file.metadata().context("fstat", path)?;
    if held.nlink() == 0 {
        return Ok(false);
    }
    match std::fs::metadata(path) {
        Ok(now) => Ok(now.dev() == held.dev() && now.ino() == held.ino()),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(err) => Err(MhError::io("stat", path, err)),
    }
}

fn dot_lock_name(path: &Path) -> String {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    format!("{name}.lock")
}

/// A liblockfile-compatible dot lock: `FILE.lock`, created by linking a unique temporary file
/// so that creation is atomic, and removed when dropped.
#[derive(Debug)]
struct DotLock {
    path: PathBuf,
}

impl DotLock {
    fn acquire(locked: &Path, deadline: Instant, timeout: Duration) -> Result<Self> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let lock_path = locked.with_file_name(dot_lock_name(locked));
        let unique = COUNTER.fetch_add(1, Ordering::Relaxed);
        let temp = locked.with_file_name(format!(".lk{}x{unique}", std::process::id()));
        write_pid_file(&temp)?;
        let result = link_until(&temp, &lock_path, deadline, timeout);
        let _ = std::fs::remove_file(&temp);
        result.map(|()| DotLock { path: lock_path })
    }
}

impl Drop for DotLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn write_pid_file(temp: &Path) -> Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .open(temp)
        .context("open", temp)?;
    writeln!(file, "{}", std::process::id()).context("write", temp)
}

fn link_until(temp: &Path, lock_path: &Path, deadline: Instant, timeout: Duration) -> Result<()> {
    let linked = poll_until(deadline, || {
        loop {
            match std::fs::hard_link(temp, lock_path) {
                Ok(()) => return Ok(true),
                Err(err) if err.kind() == io::ErrorKind::AlreadyExists => {}
                Err(err) => return Err(MhError::io("link", lock_path, err)),
            }
            // A stale lock is removed and the link tried again at once.
            if !dot_lock_is_stale(lock_path) {
                return Ok(false);
            }
            let _ = std::fs::remove_file(lock_path);
        }
    })?;
    match linked {
        true => Ok(()),
        false => Err(MhError::LockTimeout {
            path: lock_path.to_owned(),
            waited: timeout,
        }),
    }
}

/// Returns true when the dot lock is stale: it names a process that no longer exists, or it
/// names no process (nmh writes `0`) and is older than [`DOT_LOCK_STALE_AGE`].
fn dot_lock_is_stale(lock_path: &Path) -> bool {
    let Ok(content) = std::fs::read_to_string(lock_path) else {
        return false;
    };
    match content.trim().parse::<i32>() {
        Ok(pid) if pid > 0 => {
            // SAFETY: kill with signal 0 only checks whether the process exists.
            let rc = unsafe { libc::kill(pid, 0) };
            rc == -1 && io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH)
        }
        _ => std::fs::metadata(lock_path)
            .and_then(|meta| meta.modified())
            .ok()
            .and_then(|modified| modified.elapsed().ok())
            .is_some_and(|age| age > DOT_LOCK_STALE_AGE),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(file_locking: bool, data_locking: DataLocking) -> LockPolicy {
        LockPolicy {
            file_locking,
            data_locking,
            timeout: Duration::from_millis(200),
        }
    }

    #[test]
    fn held_lock_is_seen_by_other_descriptors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".mh_sequences");
        std::fs::write(&path, b"cur: 1\n").unwrap();
        assert!(!is_locked_by_other(&path).unwrap());
        let held = LockedFile::lock(
            &path,
            LockMode::Read,
            &policy(true, DataLocking::Fcntl),
            0o600,
        )
        .unwrap();
        assert!(is_locked_by_other(&path).unwrap());
        drop(held);
        assert!(!is_locked_by_other(&path).unwrap());
    }

    #[test]
    fn write_lock_times_out_while_another_is_held() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".mh_sequences");
        for policy in [
            policy(true, DataLocking::Fcntl),
            policy(false, DataLocking::Fcntl),
        ] {
            let held = LockedFile::lock(&path, LockMode::Write, &policy, 0o600).unwrap();
            let second = LockedFile::lock(&path, LockMode::Write, &policy, 0o600);
            assert!(
                matches!(second, Err(MhError::LockTimeout { .. })),
                "{policy:?}"
            );
            drop(held);
            assert!(LockedFile::lock(&path, LockMode::Write, &policy, 0o600).is_ok());
        }
    }

    #[test]
    fn lock_follows_file_replaced_while_waiting() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".mh_sequences");
        let policy = LockPolicy {
            timeout: Duration::from_secs(5),
            ..policy(true, DataLocking::Fcntl)
        };
        let held = LockedFile::lock(&path, LockMode::Write, &policy, 0o600)
            .unwrap()
            .unwrap();
        std::thread::scope(|scope| {
            let waiter = scope.spawn(|| LockedFile::lock(&path, LockMode::Write, &policy, 0o600));
            std::thread::sleep(Duration::from_millis(100));
            // What nmh does after failing to lock: unlink the file and create a new one.
            std::fs::remove_file(&path).unwrap();
            std::fs::write(&path, b"cur: 1\n").unwrap();
            drop(held);

            let second = waiter.join().unwrap().unwrap().unwrap();
            second.replace_contents(b"cur: 2\n").unwrap();
        });
        assert_eq!(std::fs::read(&path).unwrap(), b"cur: 2\n");
    }

    #[test]
    fn read_lock_on_missing_file_is_none() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".mh_sequences");
        let lock = LockedFile::lock(
            &path,
            LockMode::Read,
            &policy(true, DataLocking::Fcntl),
            0o600,
        );
        assert!(lock.unwrap().is_none());
        assert!(!path.exists());
    }

    #[test]
    fn dot_lock_of_dead_process_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".mh_sequences");
        // PID 0x7fff_fff0 is above Linux's pid_max, so no such process exists.
        std::fs::write(dir.path().join(".mh_sequences.lock"), b"2147483632\n").unwrap();
        let locked = LockedFile::lock(
            &path,
            LockMode::Write,
            &policy(true, DataLocking::Dot),
            0o600,
        )
        .unwrap();
        assert!(dir.path().join(".mh_sequences.lock").exists());
        drop(locked);
        assert!(!dir.path().join(".mh_sequences.lock").exists());
    }
}
