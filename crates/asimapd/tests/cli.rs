//! The `asimapd` binary's command line, run as a real process with a controlled environment.

use std::path::Path;
use std::process::{Command, Output};

/// Runs asimapd in `dir` with only the given environment variables (plus PATH).
fn asimapd(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_asimapd"));
    command.current_dir(dir).args(args).env_clear();
    if let Some(path) = std::env::var_os("PATH") {
        command.env("PATH", path);
    }
    command
        .envs(env.iter().copied())
        .output()
        .expect("asimapd runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Writes placeholder certificate and key files; only their readability is checked before
/// the listener starts.
fn tls_files(dir: &Path) -> (String, String) {
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    std::fs::write(&cert, "certificate").unwrap();
    std::fs::write(&key, "key").unwrap();
    (cert.display().to_string(), key.display().to_string())
}

#[test]
fn help_lists_every_option_variable_and_default() {
    let dir = tempfile::tempdir().unwrap();
    let output = asimapd(dir.path(), &["--help"], &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    // Help is wrapped to the terminal width, so compare with whitespace runs folded.
    let help = stdout(&output)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let expected = [
        ("--address", "ADDRESS", "0.0.0.0"),
        ("--port", "PORT", "993"),
        ("--cert", "SSL_CERT", "/opt/asimap/ssl/cert.pem"),
        ("--key", "SSL_KEY", "/opt/asimap/ssl/key.pem"),
        ("--trace", "TRACE", "off"),
        ("--trace-dir", "TRACE_DIR", "/opt/asimap/traces/"),
        ("--debug", "DEBUG", "off"),
        ("--log-config", "LOG_CONFIG", "asimapd_log.json"),
        ("--pwfile", "PWFILE", "/opt/asimap/pwfile"),
        ("--enable-pop3", "ENABLE_POP3", "off"),
        ("--pop3-port", "POP3_PORT", "995"),
        ("--enable-mh-file-locking", "ENABLE_MH_FILE_LOCKING", "off"),
    ];
    for (option, variable, default) in expected {
        assert!(help.contains(option), "help lacks {option}:\n{help}");
        assert!(
            help.contains(&format!("[env: {variable}]")),
            "help lacks {variable}:\n{help}"
        );
        assert!(
            help.contains(default),
            "help lacks default {default}:\n{help}"
        );
    }
    assert!(
        help.contains("Exit status"),
        "help lacks exit codes:\n{help}"
    );
}

#[test]
fn short_help_runs() {
    let dir = tempfile::tempdir().unwrap();
    let output = asimapd(dir.path(), &["-h"], &[]);
    assert!(output.status.success());
    assert!(stdout(&output).contains("--pwfile"));
}

#[test]
fn version_prints_name_and_version() {
    let dir = tempfile::tempdir().unwrap();
    let output = asimapd(dir.path(), &["--version"], &[]);
    assert!(output.status.success());
    assert_eq!(
        stdout(&output).trim(),
        format!("asimapd {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn missing_certificate_exits_with_config_status() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.pem");
    let output = asimapd(dir.path(), &[&format!("--cert={}", missing.display())], &[]);
    assert_eq!(output.status.code(), Some(2));
    let message = stderr(&output);
    assert_eq!(message.lines().count(), 1, "one line: {message}");
    assert!(message.starts_with("asimapd: "), "{message}");
    assert!(
        message.contains(&missing.display().to_string()),
        "{message}"
    );
    assert!(message.contains("--cert or SSL_CERT"), "{message}");
}

#[test]
fn default_certificate_path_is_checked() {
    if Path::new("/opt/asimap/ssl/cert.pem").exists() {
        return; // an installed server's certificate is there; nothing is missing
    }
    let dir = tempfile::tempdir().unwrap();
    let output = asimapd(dir.path(), &[], &[]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("/opt/asimap/ssl/cert.pem"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn invalid_port_exits_before_checking_files() {
    let dir = tempfile::tempdir().unwrap();
    let output = asimapd(dir.path(), &["--port", "65536"], &[]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        stderr(&output).trim_end(),
        "asimapd: invalid value \"65536\" for --port: expected a port number from 0 to 65535 \
         (0 picks a free port)"
    );
}

#[test]
fn invalid_boolean_variable_exits_with_config_status() {
    let dir = tempfile::tempdir().unwrap();
    let output = asimapd(dir.path(), &[], &[("TRACE", "sometimes")]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("environment variable TRACE"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn unknown_option_exits_with_config_status() {
    let dir = tempfile::tempdir().unwrap();
    let output = asimapd(dir.path(), &["--no-such-option"], &[]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("--no-such-option"));
}

#[test]
fn valid_configuration_reports_settings() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = tls_files(dir.path());
    let output = asimapd(
        dir.path(),
        &["--port=1993"],
        &[("SSL_CERT", &cert), ("SSL_KEY", &key)],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stdout(&output).contains("port 1993"), "{}", stdout(&output));
}

#[test]
fn dotenv_file_sets_variables() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = tls_files(dir.path());
    let dotenv = format!("PORT=2993\nSSL_CERT={cert}\nSSL_KEY={key}\n");
    std::fs::write(dir.path().join(".env"), dotenv).unwrap();
    let output = asimapd(dir.path(), &[], &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stdout(&output).contains("port 2993"), "{}", stdout(&output));
}

#[test]
fn environment_beats_dotenv_file() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = tls_files(dir.path());
    std::fs::write(
        dir.path().join(".env"),
        format!("PORT=2993\nSSL_CERT={cert}\nSSL_KEY={key}\n"),
    )
    .unwrap();
    let output = asimapd(dir.path(), &[], &[("PORT", "3993")]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stdout(&output).contains("port 3993"), "{}", stdout(&output));
}

#[test]
fn dotenv_invalid_value_names_variable() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(".env"), "DEBUG=perhaps\n").unwrap();
    let output = asimapd(dir.path(), &[], &[]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("environment variable DEBUG"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn log_config_file_receives_startup_record() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = tls_files(dir.path());
    let log = dir.path().join("asimapd.log");
    let log_config = dir.path().join("log.json");
    let document = format!(
        r#"{{"version": 1,
            "formatters": {{"f": {{"format": "%(levelname)s %(name)s %(message)s"}}}},
            "handlers": {{"file": {{"class": "logging.FileHandler", "filename": "{}", "formatter": "f"}}}},
            "loggers": {{"asimap": {{"level": "INFO", "handlers": ["file"]}}}}}}"#,
        log.display()
    );
    std::fs::write(&log_config, document).unwrap();
    let output = asimapd(
        dir.path(),
        &[
            &format!("--log-config={}", log_config.display()),
            "--port=4993",
        ],
        &[("SSL_CERT", &cert), ("SSL_KEY", &key)],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let written = std::fs::read_to_string(&log).unwrap();
    assert!(
        written.starts_with("INFO asimap.asimapd asimapd "),
        "{written}"
    );
    assert!(written.contains("port 4993"), "{written}");
    assert!(
        stdout(&output).is_empty(),
        "nothing goes to stdout: {}",
        stdout(&output)
    );
}

#[test]
fn missing_log_config_is_reported_and_default_used() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = tls_files(dir.path());
    let missing = dir.path().join("missing.json");
    let output = asimapd(
        dir.path(),
        &[&format!("--log-config={}", missing.display())],
        &[("SSL_CERT", &cert), ("SSL_KEY", &key)],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stderr(&output).contains(&missing.display().to_string()),
        "{}",
        stderr(&output)
    );
    assert!(
        stdout(&output).contains("configuration valid"),
        "{}",
        stdout(&output)
    );
}
