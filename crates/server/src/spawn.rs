//! Starting a worker process: the listener's own binary in worker mode, with a clean
//! environment, the control socket as descriptor 3, a parent-death signal and, when the
//! listener runs as root, the identity of the maildir's owner.

use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};

use nix::unistd::{Gid, Uid, User};

use crate::worker_mode::WorkerArgs;

/// Descriptor number of the control socket in a worker process.
pub const WORKER_CONTROL_FD: i32 = 3;

/// `PATH` given to workers.
const WORKER_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// The Unix identity a worker runs as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub uid: Uid,
    pub gid: Gid,
    /// Supplementary groups, as `initgroups` would set them.
    pub groups: Vec<Gid>,
    pub home: Option<PathBuf>,
    /// Account name, for logs.
    pub name: String,
}

/// Reason no worker can be started for a maildir.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdentityError {
    #[error("maildir {path} cannot be read: {reason}")]
    Maildir { path: PathBuf, reason: String },
    #[error("maildir {path} is owned by root; a worker never runs as root")]
    OwnedByRoot { path: PathBuf },
    #[error("maildir {path} is owned by uid {uid}, which has no passwd entry")]
    UnknownOwner { path: PathBuf, uid: u32 },
    #[error("cannot read the groups of {user}: {reason}")]
    Groups { user: String, reason: String },
}

/// Chooses the identity of the worker for `maildir`: its owner when the listener runs as
/// root and `may_change_identity`, otherwise the listener's own user. The maildir must be
/// a directory either way.
pub fn worker_identity(
    maildir: &Path,
    may_change_identity: bool,
) -> Result<Identity, IdentityError> {
    let metadata = std::fs::metadata(maildir).map_err(|error| IdentityError::Maildir {
        path: maildir.to_owned(),
        reason: error.to_string(),
    })?;
    if !metadata.is_dir() {
        return Err(IdentityError::Maildir {
            path: maildir.to_owned(),
            reason: "not a directory".into(),
        });
    }
    if !may_change_identity || !Uid::effective().is_root() {
        return Ok(own_identity());
    }
    if metadata.uid() == 0 {
        return Err(IdentityError::OwnedByRoot {
            path: maildir.to_owned(),
        });
    }
    let user = User::from_uid(Uid::from_raw(metadata.uid()))
        .ok()
        .flatten()
        .ok_or_else(|| IdentityError::UnknownOwner {
            path: maildir.to_owned(),
            uid: metadata.uid(),
        })?;
    let groups_error = |reason: String| IdentityError::Groups {
        user: user.name.clone(),
        reason,
    };
    let name = CString::new(user.name.clone()).map_err(|error| groups_error(error.to_string()))?;
    let groups = nix::unistd::getgrouplist(&name, user.gid)
        .map_err(|error| groups_error(error.to_string()))?;
    Ok(Identity {
        uid: user.uid,
        gid: user.gid,
        groups,
        home: Some(user.dir),
        name: user.name,
    })
}

fn own_identity() -> Identity {
    let uid = Uid::current();
    let user = User::from_uid(uid).ok().flatten();
    Identity {
        uid,
        gid: Gid::current(),
        groups: Vec::new(),
        home: user
            .as_ref()
            .map(|user| user.dir.clone())
            .or_else(|| std::env::var_os("HOME").map(PathBuf::from)),
        name: user.map_or_else(|| uid.to_string(), |user| user.name),
    }
}

/// Builds the command that starts a worker. `control` is the worker's end of the control
/// socket; it becomes descriptor [`WORKER_CONTROL_FD`] in the child.
pub fn worker_command(
    program: &Path,
    args: &WorkerArgs,
    identity: &Identity,
    control: &OwnedFd,
) -> tokio::process::Command {
    let mut command = std::process::Command::new(program);
    command
        .arg0("asimapd")
        .args(args.to_argv())
        .env_clear()
        .env("PATH", WORKER_PATH)
        .env("USER", &identity.name)
        .env("LOGNAME", &identity.name)
        .env(asimapd_ipc::CONTROL_FD_VAR, WORKER_CONTROL_FD.to_string())
        .current_dir(&args.mail_root)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null());
    if let Some(home) = &identity.home {
        command.env("HOME", home);
    }

    let change_identity = Uid::effective().is_root();
    let (uid, gid) = (identity.uid.as_raw(), identity.gid.as_raw());
    let groups: Vec<libc::gid_t> = identity.groups.iter().map(|gid| gid.as_raw()).collect();
    let control_fd = control.as_raw_fd();
    let parent = std::process::id() as libc::pid_t;
    // SAFETY: the closure runs in the child between fork and exec. It calls only
    // async-signal-safe functions (dup2, fcntl, setgroups, setgid, setuid, prctl, getppid)
    // on values computed before the fork, and it allocates nothing.
    unsafe {
        command.pre_exec(move || {
            place_control_fd(control_fd)?;
            if change_identity {
                check(libc::setgroups(groups.len(), groups.as_ptr()))?;
                check(libc::setgid(gid))?;
                check(libc::setuid(uid))?;
            }
            // Set after the identity change, which clears the parent-death signal.
            check(libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM))?;
            if libc::getppid() != parent {
                // The listener died before the signal was armed.
                libc::_exit(1);
            }
            Ok(())
        });
    }

    tokio::process::Command::from(command)
}

/// Moves the control socket to descriptor 3 without the close-on-exec flag.
///
/// # Safety
/// Only async-signal-safe calls; runs between fork and exec.
unsafe fn place_control_fd(control_fd: i32) -> std::io::Result<()> {
    if control_fd == WORKER_CONTROL_FD {
        // SAFETY: fcntl on a descriptor this process owns.
        let flags = check(unsafe { libc::fcntl(control_fd, libc::F_GETFD) })?;
        // SAFETY: as above.
        check(unsafe { libc::fcntl(control_fd, libc::F_SETFD, flags & !libc::FD_CLOEXEC) })?;
        return Ok(());
    }
    // SAFETY: dup2 onto a fixed number; the new descriptor does not inherit close-on-exec.
    check(unsafe { libc::dup2(control_fd, WORKER_CONTROL_FD) })?;
    Ok(())
}

fn check(result: libc::c_int) -> std::io::Result<libc::c_int> {
    if result == -1 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_maildir_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope");

        let error = worker_identity(&missing, true).unwrap_err();

        assert!(matches!(error, IdentityError::Maildir { .. }), "{error}");
    }

    #[test]
    fn root_owned_maildir_is_refused_when_root() {
        if !Uid::effective().is_root() {
            // Ordinary users run workers as themselves, so ownership is not checked.
            let dir = tempfile::tempdir().unwrap();
            assert_eq!(
                worker_identity(dir.path(), true).unwrap().uid,
                Uid::current()
            );
            return;
        }
        let dir = tempfile::tempdir().unwrap();

        let error = worker_identity(dir.path(), true).unwrap_err();

        assert!(
            matches!(error, IdentityError::OwnedByRoot { .. }),
            "{error}"
        );
    }
}
