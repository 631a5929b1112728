//! Test support shared by the asimapd crates.
//!
//! Tests that need an external program (nmh, Dovecot, a mail client, Python) call
//! [`require_tool`]. A missing program fails the test, so CI can never pass by skipping it.
//! A developer without the program may set `ASIMAPD_SKIP_MISSING_TOOLS=1` to skip such tests
//! locally; `.ci/run` never sets it.

pub mod nmh;

use std::path::{Path, PathBuf};

/// Environment variable that turns a missing external tool into a skipped test.
pub const SKIP_MISSING_TOOLS_VAR: &str = "ASIMAPD_SKIP_MISSING_TOOLS";

/// Directories searched for programs besides `PATH`: nmh installs its commands in
/// `/usr/bin/mh` on Debian, and Dovecot's binaries live in `/usr/sbin`.
const EXTRA_DIRS: &[&str] = &["/usr/bin/mh", "/usr/sbin", "/usr/lib/dovecot"];

/// Finds `program` on `PATH` or in the extra tool directories.
pub fn find_tool(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(EXTRA_DIRS.iter().map(PathBuf::from))
        .map(|dir| dir.join(program))
        .find(|candidate| is_executable(candidate))
}

/// Returns the path of `program`, or `None` when it is missing and the developer opted into
/// skipping (the caller then returns early from the test).
///
/// # Panics
/// When the program is missing and skipping was not requested; the message names the Debian
/// package to install.
pub fn require_tool(program: &str, debian_package: &str) -> Option<PathBuf> {
    if let Some(found) = find_tool(program) {
        return Some(found);
    }
    if std::env::var(SKIP_MISSING_TOOLS_VAR).is_ok_and(|value| value == "1") {
        eprintln!("skipped: `{program}` not found (install the Debian package {debian_package})");
        return None;
    }
    panic!(
        "`{program}` not found: install the Debian package {debian_package} \
         (apt-get install -y {debian_package}), or set {SKIP_MISSING_TOOLS_VAR}=1 to skip"
    );
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}
