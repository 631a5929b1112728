//! Locating the `asimapd` and `asimapd_set_password` programs of this workspace.
//!
//! Cargo builds another package's binaries only when that package is part of the build, so
//! `cargo test -p asimapd-e2e` alone would not build them. The first call builds them with the
//! same cargo and profile as the running test, which takes well under a second when they are
//! up to date, and then takes them from the target directory.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use crate::error::E2eError;

/// Paths of the workspace's programs.
#[derive(Debug, Clone)]
pub struct Binaries {
    /// The server.
    pub asimapd: PathBuf,
    /// The password file editor.
    pub set_password: PathBuf,
}

/// Builds (if needed) and returns the workspace's programs.
///
/// # Panics
/// When cargo cannot build them; the message contains cargo's output.
pub fn binaries() -> &'static Binaries {
    static BINARIES: OnceLock<Binaries> = OnceLock::new();
    BINARIES.get_or_init(|| build().unwrap_or_else(|error| panic!("{error}")))
}

fn build() -> Result<Binaries, E2eError> {
    // Test executables live in <target>/<profile>/deps/.
    let exe = std::env::current_exe()?;
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .ok_or_else(|| E2eError::Program {
            program: "cargo".into(),
            message: format!("no target directory above {}", exe.display()),
        })?
        .to_path_buf();
    let target_dir = profile_dir.parent().map(PathBuf::from).unwrap_or_default();
    let profile = profile_dir
        .file_name()
        .and_then(|name| name.to_str())
        .unwrap_or("debug")
        .to_string();

    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .args(["build", "--quiet", "-p", "asimapd", "--bins"])
        .arg("--target-dir")
        .arg(&target_dir)
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    if profile != "debug" {
        command.args(["--profile", &profile_name(&profile)]);
    }
    let output = command.output()?;
    if !output.status.success() {
        return Err(E2eError::Program {
            program: "cargo build -p asimapd".into(),
            message: String::from_utf8_lossy(&output.stderr).into_owned(),
        });
    }
    Ok(Binaries {
        asimapd: profile_dir.join("asimapd"),
        set_password: profile_dir.join("asimapd_set_password"),
    })
}

/// Maps a profile's output folder name to the profile name cargo accepts.
fn profile_name(folder: &str) -> String {
    match folder {
        "debug" => "dev".into(),
        other => other.into(),
    }
}
