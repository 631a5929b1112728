//! `asimapd_set_password` run as a program against password files in temporary folders.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use asimapd_auth::{PasswordHash, verify_password};

const PROGRAM: &str = env!("CARGO_BIN_EXE_asimapd_set_password");

struct Folder {
    dir: tempfile::TempDir,
}

impl Folder {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn pwfile(&self) -> PathBuf {
        self.dir.path().join("pwfile")
    }

    fn write_pwfile(&self, contents: &str) {
        std::fs::write(self.pwfile(), contents).unwrap();
    }

    fn read_pwfile(&self) -> String {
        std::fs::read_to_string(self.pwfile()).unwrap()
    }

    /// Returns a command run in this folder with `PWFILE` unset.
    fn command(&self) -> Command {
        let mut command = Command::new(PROGRAM);
        command.current_dir(self.dir.path()).env_remove("PWFILE");
        command
    }

    fn run(&self, args: &[&str]) -> Output {
        let pwfile = format!("--pwfile={}", self.pwfile().display());
        self.command().arg(pwfile).args(args).output().unwrap()
    }

    fn run_with_stdin(&self, args: &[&str], stdin: &str) -> Output {
        let pwfile = format!("--pwfile={}", self.pwfile().display());
        let mut child = self
            .command()
            .arg(pwfile)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    }
}

/// Returns the hash stored for `user`, panicking with the file contents when it is missing.
fn hash_of(contents: &str, user: &str) -> PasswordHash {
    let prefix = format!("{user}:");
    let line = contents
        .lines()
        .find(|line| line.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no line for {user} in:\n{contents}"));
    PasswordHash::new(line.split(':').nth(1).unwrap())
}

fn assert_success(output: &Output) {
    assert!(
        output.status.success(),
        "exit status {}, stderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Checks the exit status and that stderr is one line starting with the program name.
fn assert_error(output: &Output, code: i32) -> String {
    let stderr = String::from_utf8(output.stderr.clone()).unwrap();
    assert_eq!(output.status.code(), Some(code), "stderr: {stderr}");
    assert!(stderr.starts_with("asimapd_set_password: "), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    stderr
}

#[test]
fn new_user_gets_django_default_hash() {
    let folder = Folder::new();

    let output = folder.run(&["alice", "s3cret", "Mail/alice"]);

    assert_success(&output);
    let contents = folder.read_pwfile();
    let hash = hash_of(&contents, "alice");
    let fields: Vec<&str> = hash.as_str().split('$').collect();
    assert_eq!(fields[0], "pbkdf2_sha256");
    assert_eq!(fields[1], "1000000");
    assert_eq!(fields[2].len(), 22);
    assert!(fields[2].bytes().all(|byte| byte.is_ascii_alphanumeric()));
    assert!(contents.ends_with(":Mail/alice\n"), "{contents}");
    assert_eq!(verify_password(b"s3cret", &hash), Ok(true));
    assert_eq!(verify_password(b"wrong", &hash), Ok(false));
}

#[test]
fn missing_pwfile_is_created_private() {
    let folder = Folder::new();

    assert_success(&folder.run(&["alice", "s3cret", "Mail"]));

    let mode = std::fs::metadata(folder.pwfile())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn update_keeps_comments_order_maildirs_and_mode() {
    let folder = Folder::new();
    folder.write_pwfile(
        "# accounts\nbob:!x:/var/mail/bob\n\nalice:!old:Mail/alice\ncarol:!y:carol\n",
    );
    std::fs::set_permissions(folder.pwfile(), std::fs::Permissions::from_mode(0o640)).unwrap();

    let output = folder.run(&["alice", "n3w"]);

    assert_success(&output);
    let contents = folder.read_pwfile();
    let lines: Vec<&str> = contents.lines().collect();
    assert_eq!(lines[0], "# accounts");
    assert_eq!(lines[1], "bob:!x:/var/mail/bob");
    assert_eq!(lines[2], "");
    assert!(lines[3].starts_with("alice:pbkdf2_sha256$"), "{contents}");
    assert!(lines[3].ends_with(":Mail/alice"), "{contents}");
    assert_eq!(lines[4], "carol:!y:carol");
    assert_eq!(lines.len(), 5);
    assert_eq!(
        verify_password(b"n3w", &hash_of(&contents, "alice")),
        Ok(true)
    );
    let mode = std::fs::metadata(folder.pwfile())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o640);
}

#[test]
fn update_replaces_maildir_when_given() {
    let folder = Folder::new();
    folder.write_pwfile("alice:!old:Mail/alice\n");

    assert_success(&folder.run(&["alice", "n3w", "Other"]));

    assert!(folder.read_pwfile().ends_with(":Other\n"));
}

#[test]
fn no_password_disables_account() {
    let folder = Folder::new();
    folder.write_pwfile("alice:!old:Mail\n");

    let output = folder.run(&["alice"]);

    assert_success(&output);
    let hash = hash_of(&folder.read_pwfile(), "alice");
    assert!(hash.as_str().starts_with('!'));
    assert_eq!(hash.as_str().len(), 41);
    assert!(!hash.is_usable());
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(stdout.contains("account disabled"), "{stdout}");
}

#[test]
fn dash_reads_password_from_stdin() {
    let folder = Folder::new();

    let output = folder.run_with_stdin(&["alice", "-", "Mail"], "from stdin\r\nignored\n");

    assert_success(&output);
    let hash = hash_of(&folder.read_pwfile(), "alice");
    assert_eq!(verify_password(b"from stdin", &hash), Ok(true));
}

#[test]
fn empty_stdin_is_error() {
    let folder = Folder::new();

    let output = folder.run_with_stdin(&["alice", "-", "Mail"], "");

    let stderr = assert_error(&output, 1);
    assert!(stderr.contains("no password on standard input"), "{stderr}");
    assert!(!folder.pwfile().exists());
}

#[test]
fn empty_password_is_usage_error() {
    let folder = Folder::new();

    let output = folder.run_with_stdin(&["alice", "-", "Mail"], "\n");

    let stderr = assert_error(&output, 2);
    assert!(stderr.contains("empty password"), "{stderr}");
}

#[test]
fn new_user_without_maildir_is_usage_error() {
    let folder = Folder::new();
    folder.write_pwfile("# empty\n");

    let output = folder.run(&["alice", "s3cret"]);

    let stderr = assert_error(&output, 2);
    assert!(stderr.contains("alice"), "{stderr}");
    assert!(stderr.contains("maildir is required"), "{stderr}");
    assert_eq!(folder.read_pwfile(), "# empty\n");
}

#[test]
fn colon_in_user_name_is_usage_error() {
    let folder = Folder::new();

    let output = folder.run(&["al:ice", "s3cret", "Mail"]);

    let stderr = assert_error(&output, 2);
    assert!(stderr.contains("al:ice"), "{stderr}");
}

#[test]
fn unwritable_pwfile_is_runtime_error() {
    let folder = Folder::new();
    let missing_dir = folder.dir.path().join("missing/pwfile");

    let output = folder
        .command()
        .arg("--pwfile")
        .arg(&missing_dir)
        .args(["alice", "s3cret", "Mail"])
        .output()
        .unwrap();

    let stderr = assert_error(&output, 1);
    assert!(
        stderr.contains(&missing_dir.display().to_string()),
        "{stderr}"
    );
}

#[test]
fn unknown_option_is_usage_error() {
    let folder = Folder::new();

    let output = folder.run(&["--bogus", "alice"]);

    let stderr = assert_error(&output, 2);
    assert!(stderr.contains("--bogus"), "{stderr}");
    assert!(stderr.contains("--help"), "{stderr}");
}

#[test]
fn missing_user_name_is_usage_error() {
    let folder = Folder::new();

    let output = folder.run(&[]);

    let stderr = assert_error(&output, 2);
    assert!(stderr.contains("<USERNAME>"), "{stderr}");
}

#[test]
fn prompt_with_three_positionals_is_usage_error() {
    let folder = Folder::new();

    let output = folder.run(&["--prompt", "alice", "pw", "Mail"]);

    assert_error(&output, 2);
}

#[test]
fn pwfile_env_var_is_used() {
    let folder = Folder::new();

    let output = folder
        .command()
        .env("PWFILE", folder.pwfile())
        .args(["alice", "s3cret", "Mail"])
        .output()
        .unwrap();

    assert_success(&output);
    assert!(folder.read_pwfile().starts_with("alice:"));
}

#[test]
fn option_beats_env_var() {
    let folder = Folder::new();
    let other = folder.dir.path().join("other");

    let output = folder
        .command()
        .env("PWFILE", &other)
        .arg(format!("--pwfile={}", folder.pwfile().display()))
        .args(["alice", "s3cret", "Mail"])
        .output()
        .unwrap();

    assert_success(&output);
    assert!(folder.pwfile().exists());
    assert!(!other.exists());
}

#[test]
fn dotenv_sets_pwfile_and_env_wins() {
    let folder = Folder::new();
    let from_dotenv = folder.dir.path().join("from-dotenv");
    let from_env = folder.dir.path().join("from-env");
    std::fs::write(
        folder.dir.path().join(".env"),
        format!("PWFILE={}\n", from_dotenv.display()),
    )
    .unwrap();

    assert_success(
        &folder
            .command()
            .args(["alice", "pw1", "Mail"])
            .output()
            .unwrap(),
    );
    assert!(from_dotenv.exists());

    let output = folder
        .command()
        .env("PWFILE", &from_env)
        .args(["bob", "pw2", "Mail"])
        .output()
        .unwrap();
    assert_success(&output);
    assert!(from_env.exists());
    assert!(
        !std::fs::read_to_string(&from_dotenv)
            .unwrap()
            .contains("bob")
    );
}

#[test]
fn invalid_dotenv_is_usage_error() {
    let folder = Folder::new();
    std::fs::write(folder.dir.path().join(".env"), "PWFILE='unterminated\n").unwrap();

    let output = folder.run(&["alice", "s3cret", "Mail"]);

    let stderr = assert_error(&output, 2);
    assert!(stderr.contains(".env"), "{stderr}");
}

#[test]
fn help_names_default_and_exit_codes() {
    let output = Command::new(PROGRAM).arg("--help").output().unwrap();

    assert_success(&output);
    let help = String::from_utf8(output.stdout).unwrap();
    assert!(help.contains("/opt/asimap/pwfile"), "{help}");
    assert!(help.contains("PWFILE"), "{help}");
    assert!(help.contains("Exit status"), "{help}");
}

#[test]
fn version_prints_version() {
    let output = Command::new(PROGRAM).arg("--version").output().unwrap();

    assert_success(&output);
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert_eq!(
        stdout.trim(),
        format!("asimapd_set_password {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn prompt_reads_password_twice_from_terminal() {
    let Some(script) = asimapd_testkit::require_tool("script", "bsdutils") else {
        return;
    };
    let folder = Folder::new();
    // script(1) runs the command on a new pseudo-terminal and copies its own standard input
    // there, so the program reads both entries from a real terminal.
    let command_line = format!(
        "{PROGRAM} --pwfile={} --prompt alice Mail",
        folder.pwfile().display()
    );
    let mut child = Command::new(script)
        .args([
            "--quiet",
            "--return",
            "--command",
            &command_line,
            "/dev/null",
        ])
        .current_dir(folder.dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"typed pw\ntyped pw\n")
        .unwrap();
    let output = child.wait_with_output().unwrap();

    assert_success(&output);
    let hash = hash_of(&folder.read_pwfile(), "alice");
    assert_eq!(verify_password(b"typed pw", &hash), Ok(true));
}

#[test]
fn prompt_gives_up_after_three_mismatches() {
    let Some(script) = asimapd_testkit::require_tool("script", "bsdutils") else {
        return;
    };
    let folder = Folder::new();
    let command_line = format!(
        "{PROGRAM} --pwfile={} --prompt alice Mail",
        folder.pwfile().display()
    );
    let mut child = Command::new(script)
        .args([
            "--quiet",
            "--return",
            "--command",
            &command_line,
            "/dev/null",
        ])
        .current_dir(folder.dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"a\nb\nc\nd\ne\nf\n")
        .unwrap();
    let output = child.wait_with_output().unwrap();

    // script(1) merges the program's stdout and stderr into its own stdout.
    let terminal = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{terminal}");
    assert!(terminal.contains("differed 3 times"), "{terminal}");
    assert!(!folder.pwfile().exists());
}

#[test]
fn prompt_without_terminal_is_runtime_error() {
    let Some(setsid) = asimapd_testkit::require_tool("setsid", "util-linux") else {
        return;
    };
    let folder = Folder::new();

    // setsid(1) starts the program in a new session, which has no controlling terminal.
    let output = Command::new(setsid)
        .arg("--wait")
        .arg(PROGRAM)
        .arg(format!("--pwfile={}", folder.pwfile().display()))
        .args(["--prompt", "alice", "Mail"])
        .current_dir(folder.dir.path())
        .env_remove("PWFILE")
        .stdin(Stdio::null())
        .output()
        .unwrap();

    let stderr = assert_error(&output, 1);
    assert!(
        stderr.contains("use '-' to read it from standard input"),
        "{stderr}"
    );
}

#[test]
fn readers_never_see_partial_file() {
    let folder = Folder::new();
    let mut contents = String::from("# many accounts\n");
    for index in 0..2000 {
        contents.push_str(&format!("user{index}:!hash{index}:Mail/user{index}\n"));
    }
    folder.write_pwfile(&contents);
    let pwfile = folder.pwfile();

    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        let reader = scope.spawn(|| read_until_stopped(&pwfile, &stop));
        for round in 0..20 {
            let user = format!("user{}", round * 97);
            assert_success(&folder.run(&[&user]));
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let reads = reader.join().unwrap();
        assert!(reads > 0);
    });
}

/// Reads the file until `stop` is set, checking each read is complete; returns the count.
fn read_until_stopped(path: &Path, stop: &std::sync::atomic::AtomicBool) -> usize {
    let mut reads = 0;
    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        let contents = std::fs::read_to_string(path).unwrap();
        assert!(contents.starts_with("# many accounts\n"));
        assert!(
            contents.ends_with(":Mail/user1999\n"),
            "partial read of {} bytes",
            contents.len()
        );
        assert_eq!(contents.lines().count(), 2001);
        reads += 1;
    }
    reads
}

#[test]
fn django_accepts_written_hashes() {
    let Some(python) = asimapd_testkit::require_tool("python3", "python3") else {
        return;
    };
    let folder = Folder::new();
    let password = "p\u{e4}ssw\u{f6}rd \u{2603}";
    assert_success(&folder.run(&["alice", password, "Mail"]));
    assert_success(&folder.run(&["disabled", "x", "Mail"]));
    assert_success(&folder.run(&["disabled"]));
    let contents = folder.read_pwfile();

    let pairs = serde_json::json!([
        {"password": password, "hash": hash_of(&contents, "alice").as_str()},
        {"password": "wrong", "hash": hash_of(&contents, "alice").as_str()},
        {"password": "", "hash": hash_of(&contents, "disabled").as_str()},
    ]);
    let results = django_check_password(&python, &pairs);

    assert_eq!(results, serde_json::json!([true, false, false]));
}

/// Runs Django's `check_password` on each pair through `scripts/django_vectors.py check`.
fn django_check_password(python: &Path, pairs: &serde_json::Value) -> serde_json::Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/django_vectors.py");
    let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("django");
    let mut child = Command::new(python)
        .arg(script)
        .arg("--cache")
        .arg(cache)
        .arg("check")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(pairs.to_string().as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();

    assert!(
        output.status.success(),
        "scripts/django_vectors.py check failed with {}:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}
