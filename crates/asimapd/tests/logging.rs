//! Logging and tracing of the `asimapd` binary. The tests cover the default stdout format,
//! dictConfig (JSON) and fileConfig (INI) files with rotating file handlers, entries the
//! server skips, files it cannot parse, and passwords kept out of every file it writes. They
//! create Unix users with `useradd`, so they run as root (as CI does).

mod support;

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use nix::fcntl::FcntlArg;

use support::{ImapClient, Launch, Server, Site, UnixUser, files_below, require_root};

/// Line format of the file handlers below, with `|` between fields so that an empty
/// username stays visible.
const PIPE_FORMAT: &str =
    "%(asctime)s|%(levelname)s|%(name)s|%(module)s|%(funcName)s|%(username)s|%(message)s";

/// Logs in as `user` and runs enough commands to fill a few small log files at DEBUG level.
fn busy_session(server: &Server, user: &UnixUser, password: &str) -> ImapClient {
    let mut client = server.connect();
    client.login(&user.name, password);
    let select = client.command("s1", "SELECT INBOX");
    assert!(select.last().unwrap().starts_with("s1 OK"), "{select:?}");
    for index in 0..60 {
        let tag = format!("n{index}");
        let fetch = client.command(&tag, "FETCH 1 (FLAGS BODY.PEEK[HEADER])");
        assert!(fetch.last().unwrap().starts_with(&format!("{tag} OK")));
    }
    client
}

/// Returns the open files of process `pid` that lie below `dir`.
fn open_files_below(pid: u32, dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .filter_map(|entry| std::fs::read_link(entry.ok()?.path()).ok())
        .filter(|target| target.starts_with(dir))
        .collect()
}

/// Returns `path` and its rotated files `path.1`, `path.2`, … that exist.
fn rotated_set(path: &Path) -> Vec<PathBuf> {
    let mut files = vec![path.to_owned()];
    for index in 1.. {
        let backup = PathBuf::from(format!("{}.{index}", path.display()));
        if !backup.exists() {
            break;
        }
        files.push(backup);
    }
    files
}

/// Splits a line written with [`PIPE_FORMAT`] into its seven fields.
fn pipe_fields(line: &str) -> Vec<&str> {
    let fields: Vec<&str> = line.splitn(7, '|').collect();
    assert_eq!(fields.len(), 7, "not in the configured format: {line:?}");
    fields
}

/// Checks that `text` is a date and time laid out as `layout`, where `9` stands for a digit
/// and every other character for itself.
fn assert_time_layout(text: &str, layout: &str) {
    let matches = text.len() == layout.len()
        && text.chars().zip(layout.chars()).all(|(c, l)| match l {
            '9' => c.is_ascii_digit(),
            _ => c == l,
        });
    assert!(matches, "{text:?} is not laid out as {layout:?}");
}

/// Checks the files of a rotating handler: exactly `backups` rotated files next to the
/// current one, each at most `max_bytes` long unless it contains a single record.
fn assert_rotated(path: &Path, max_bytes: u64, backups: usize) -> Vec<String> {
    let files = rotated_set(path);
    assert_eq!(files.len(), backups + 1, "{files:?}");
    let mut lines = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let length = text.len() as u64;
        let count = text.lines().count();
        assert!(
            length <= max_bytes || count == 1,
            "{} has {length} bytes in {count} lines",
            file.display()
        );
        lines.extend(text.lines().map(str::to_owned));
    }
    lines
}

/// Checks that the files below `dir` belong to root, the listener's user, and that only the
/// listener, never `worker`, has any of them open.
fn assert_only_listener_writes(server: &Server, worker: u32, dir: &Path) {
    use std::os::unix::fs::MetadataExt;

    for file in files_below(dir) {
        let owner = std::fs::metadata(&file).unwrap().uid();
        assert_eq!(owner, 0, "{} belongs to uid {owner}", file.display());
    }
    assert!(
        !open_files_below(server.pid(), dir).is_empty(),
        "the listener has its log files open"
    );
    let worker_files = open_files_below(worker, dir);
    assert!(worker_files.is_empty(), "worker has {worker_files:?} open");
}

#[test]
fn default_lines_carry_time_level_user_module() {
    if !require_root() {
        return;
    }
    let site = Site::new();
    let alice = site.add_user("default pw", "default subject");
    let server = site.start(&[]);
    let mut client = busy_session(&server, &alice, "default pw");
    client.command("o1", "LOGOUT");
    drop(client);

    let log = server.wait_for_log("asimap.user_server");
    assert_eq!(server.stop(), Some(0));

    // [%(asctime)s] %(levelname)s %(username)s %(name)s.%(module)s: %(message)s
    let worker_line = log
        .lines()
        .find(|line| line.contains("asimap.user_server"))
        .unwrap();
    let (time, rest) = worker_line
        .strip_prefix('[')
        .and_then(|line| line.split_once("] "))
        .unwrap_or_else(|| panic!("no [time] in {worker_line:?}"));
    assert_time_layout(time, "9999-99-99 99:99:99,999");
    let fields: Vec<&str> = rest.splitn(4, ' ').collect();
    assert_eq!(fields[0], "INFO", "{worker_line}");
    assert_eq!(fields[1], alice.name, "{worker_line}");
    assert!(
        fields[2].starts_with("asimap.user_server."),
        "{worker_line}"
    );
    assert!(fields[2].ends_with(':'), "{worker_line}");
    assert!(!fields[3].is_empty(), "{worker_line}");
    let listening = log
        .lines()
        .find(|line| line.contains("listening for IMAP over TLS"))
        .unwrap();
    assert!(listening.contains("] INFO "), "{listening}");
    assert!(
        !log.contains("] DEBUG "),
        "INFO is the default level:\n{log}"
    );
}

#[test]
fn debug_option_and_variable_log_debug_records() {
    if !require_root() {
        return;
    }
    let site = Site::new();
    let alice = site.add_user("debug pw", "debug subject");
    let launches = [
        Launch {
            args: &["--debug"],
            ..Launch::default()
        },
        Launch {
            env: &[("DEBUG", "1")],
            ..Launch::default()
        },
    ];
    for launch in &launches {
        let server = site.launch(launch);
        let mut client = busy_session(&server, &alice, "debug pw");
        client.command("o1", "LOGOUT");
        drop(client);

        let log = server.wait_for_log("session ended");
        assert_eq!(server.stop(), Some(0));

        let debug_lines: Vec<&str> = log.lines().filter(|l| l.contains("] DEBUG ")).collect();
        assert!(!debug_lines.is_empty(), "{log}");
        let worker_debug = format!("DEBUG {} asimap.user_server.", alice.name);
        assert!(
            debug_lines.iter().any(|line| line.contains(&worker_debug)),
            "workers send DEBUG records too:\n{log}"
        );
    }
}

#[test]
fn dict_config_rotates_files_of_listener() {
    if !require_root() {
        return;
    }
    let site = Site::new();
    let alice = site.add_user("dict pw", "dict subject");
    let logs = site.dir.path().join("logs");
    let main_log = logs.join("asimapd.log");
    let worker_log = logs.join("user_server.json");
    let config = serde_json::json!({
        "version": 1,
        "disable_existing_loggers": false,
        "formatters": {
            "pipes": {"format": PIPE_FORMAT, "datefmt": "%Y-%m-%dT%H:%M:%S"},
            "json": {
                "()": "pythonjsonlogger.jsonlogger.JsonFormatter",
                "format": "%(asctime)s %(levelname)s %(name)s %(username)s %(process)d %(message)s"
            }
        },
        "handlers": {
            "rotating": {
                "class": "logging.handlers.RotatingFileHandler",
                "filename": main_log,
                "maxBytes": 2048,
                "backupCount": 2,
                "formatter": "pipes",
                "level": "DEBUG"
            },
            "workers": {
                "class": "logging.FileHandler",
                "filename": worker_log,
                "formatter": "json",
                "level": "INFO"
            }
        },
        "loggers": {
            "asimap": {"level": "DEBUG", "handlers": ["rotating"], "propagate": false},
            "asimap.user_server": {"handlers": ["workers"], "propagate": true}
        },
        "root": {"level": "WARNING", "handlers": []}
    });
    let config_path = site.dir.path().join("asimapd_log.json");
    std::fs::write(&config_path, config.to_string()).unwrap();
    let log_config = format!("--log-config={}", config_path.display());
    let server = site.launch(&Launch {
        args: &[&log_config],
        port: Some(support::free_port()),
        ..Launch::default()
    });

    let mut client = busy_session(&server, &alice, "dict pw");
    let worker = server.wait_for_workers(1)[0];
    assert_only_listener_writes(&server, worker, &logs);
    client.command("o1", "LOGOUT");
    drop(client);
    let stdout = server.log();
    let stderr = server.errors();
    assert_eq!(server.stop(), Some(0));

    let lines = assert_rotated(&main_log, 2048, 2);
    for line in &lines {
        let fields = pipe_fields(line);
        assert_time_layout(fields[0], "9999-99-99T99:99:99");
        assert!(fields[2].starts_with("asimap."), "{line}");
    }
    let worker_lines: Vec<Vec<&str>> = lines
        .iter()
        .map(|line| pipe_fields(line))
        .filter(|fields| fields[2].starts_with("asimap.user_server"))
        .collect();
    assert!(!worker_lines.is_empty(), "{lines:#?}");
    assert!(worker_lines.iter().all(|fields| fields[5] == alice.name));
    assert!(worker_lines.iter().any(|fields| fields[1] == "DEBUG"));

    let records: Vec<serde_json::Value> = std::fs::read_to_string(&worker_log)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert!(!records.is_empty());
    for record in &records {
        assert_eq!(record["username"], alice.name.as_str(), "{record}");
        assert_eq!(record["process"], worker, "{record}");
        assert_ne!(record["levelname"], "DEBUG", "{record}");
        assert!(record["asctime"].is_string(), "{record}");
        assert!(record["message"].is_string(), "{record}");
        let name = record["name"].as_str().unwrap();
        assert!(name.starts_with("asimap.user_server"), "{record}");
    }
    assert!(
        !stdout.contains("asimap."),
        "nothing reaches stdout:\n{stdout}"
    );
    assert!(stderr.is_empty(), "{stderr}");
}

#[test]
fn ini_config_from_variable_rotates_and_routes_traces() {
    if !require_root() {
        return;
    }
    let site = Site::new();
    let alice = site.add_user("ini pw", "ini subject");
    let logs = site.dir.path().join("logs");
    let main_log = logs.join("asimapd.log");
    let trace_log = logs.join("trace.log");
    let config = format!(
        "[loggers]\nkeys=root,asimap,trace\n\n\
         [handlers]\nkeys=rotating,tracefile\n\n\
         [formatters]\nkeys=pipes,json\n\n\
         [logger_root]\nlevel=WARNING\nhandlers=\n\n\
         [logger_asimap]\nlevel=DEBUG\nhandlers=rotating\nqualname=asimap\npropagate=0\n\n\
         [logger_trace]\nlevel=INFO\nhandlers=tracefile\nqualname=asimap.trace\npropagate=0\n\n\
         [handler_rotating]\nclass=handlers.RotatingFileHandler\nlevel=DEBUG\nformatter=pipes\n\
         args=('{main}', 'a', 1500, 3)\n\n\
         [handler_tracefile]\nclass=FileHandler\nformatter=json\nargs=('{trace}',)\n\n\
         [formatter_pipes]\nformat={PIPE_FORMAT}\ndatefmt=%Y-%m-%d %H:%M:%S\n\n\
         [formatter_json]\nclass=pythonjsonlogger.jsonlogger.JsonFormatter\nformat=%(message)s\n",
        main = main_log.display(),
        trace = trace_log.display(),
    );
    let config_path = site.dir.path().join("asimapd_log.cfg");
    std::fs::write(&config_path, config).unwrap();
    let server = site.launch(&Launch {
        args: &["--trace"],
        env: &[("LOG_CONFIG", config_path.to_str().unwrap())],
        port: Some(support::free_port()),
        ..Launch::default()
    });

    let mut client = busy_session(&server, &alice, "ini pw");
    let worker = server.wait_for_workers(1)[0];
    assert_only_listener_writes(&server, worker, &logs);
    client.command("o1", "LOGOUT");
    drop(client);
    let stderr = server.errors();
    assert_eq!(server.stop(), Some(0));

    let lines = assert_rotated(&main_log, 1500, 3);
    for line in &lines {
        let fields = pipe_fields(line);
        assert_time_layout(fields[0], "9999-99-99 99:99:99");
        assert!(fields[2].starts_with("asimap."), "{line}");
        assert_ne!(fields[2], "asimap.trace", "trace records stay apart");
    }
    let traces: Vec<serde_json::Value> = std::fs::read_to_string(&trace_log)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(traces[0]["trace_format"], "1.0", "{traces:#?}");
    let received = traces
        .iter()
        .find(|record| record["data"] == "s1 SELECT INBOX")
        .unwrap_or_else(|| panic!("{traces:#?}"));
    assert_eq!(received["msg_type"], "RECEIVED");
    assert!(
        received["remote"]
            .as_str()
            .unwrap()
            .starts_with("127.0.0.1:")
    );
    assert!(
        std::fs::read_dir(site.trace_dir()).map_or(true, |mut dir| dir.next().is_none()),
        "a configured asimap.trace logger replaces the per-user files"
    );
    assert!(stderr.is_empty(), "{stderr}");
}

#[test]
fn unsupported_entries_are_reported_once_by_name() {
    if !require_root() {
        return;
    }
    let site = Site::new();
    let alice = site.add_user("skip pw", "skip subject");
    let config = serde_json::json!({
        "version": 1,
        "filters": {"quiet": {"name": "asimap.mbox"}},
        "formatters": {"plain": {"format": "%(levelname)s %(username)s %(name)s: %(message)s"}},
        "handlers": {
            "console": {"class": "logging.StreamHandler", "stream": "ext://sys.stdout", "formatter": "plain"},
            "syslog": {"class": "logging.handlers.SysLogHandler", "address": "/dev/log"}
        },
        "loggers": {"asimap": {"level": "INFO", "filters": ["quiet"]}},
        "root": {"level": "INFO", "handlers": ["console", "syslog"]}
    });
    let config_path = site.dir.path().join("asimapd_log.json");
    std::fs::write(&config_path, config.to_string()).unwrap();
    let server = site.start(&[&format!("--log-config={}", config_path.display())]);
    let mut client = server.connect();
    client.login(&alice.name, "skip pw");
    client.command("o1", "LOGOUT");
    drop(client);
    server.wait_for_log(&format!("INFO {} asimap.user_server", alice.name));
    let skipped = [
        "top-level entry \"filters\"",
        "handler \"syslog\"",
        "SysLogHandler",
        "filters of logger \"asimap\"",
    ];
    for name in skipped {
        server.wait_for_error(name);
    }
    let stderr = server.errors();
    assert_eq!(server.stop(), Some(0));

    let path = config_path.display().to_string();
    for name in skipped {
        let reports: Vec<&str> = stderr.lines().filter(|l| l.contains(name)).collect();
        assert_eq!(reports.len(), 1, "{name} once in:\n{stderr}");
        assert!(reports[0].contains(&path), "{}", reports[0]);
    }
    let mentions = stderr.lines().filter(|l| l.contains("syslog")).count();
    assert_eq!(
        mentions, 1,
        "the skipped handler is not reported again:\n{stderr}"
    );
}

#[test]
fn unparsable_config_falls_back_to_default() {
    if !require_root() {
        return;
    }
    let site = Site::new();
    let broken = [
        ("asimapd_log.json", "{\"version\": 1, \"handlers\": "),
        ("asimapd_log.cfg", "[loggers]\nkeys=root\n"),
    ];
    for (name, text) in broken {
        let config_path = site.dir.path().join(name);
        std::fs::write(&config_path, text).unwrap();

        let server = site.start(&[&format!("--log-config={}", config_path.display())]);
        let stdout = server.wait_for_log("listening for IMAP over TLS");
        let stderr = server.wait_for_error(&config_path.display().to_string());
        assert_eq!(server.stop(), Some(0));

        let report = stderr
            .lines()
            .find(|line| line.contains(&config_path.display().to_string()))
            .unwrap_or_else(|| panic!("{name} is not named in:\n{stderr}"));
        assert!(report.starts_with("asimapd: "), "{report}");
        assert!(
            report.ends_with("using the default configuration"),
            "{report}"
        );
        let listening = stdout
            .lines()
            .find(|line| line.contains("listening for IMAP over TLS"))
            .unwrap();
        assert!(listening.starts_with('['), "default format: {listening}");
        assert!(listening.contains("] INFO "), "default format: {listening}");
    }
}

#[test]
fn password_is_in_no_file_server_wrote() {
    use base64::Engine;

    if !require_root() {
        return;
    }
    let site = Site::new();
    let password = "Pl41n-s3cret-pw";
    let wrong = "Wr0ng-gu3ss-pw";
    let alice = site.add_user(password, "secret subject");
    let logs = site.dir.path().join("logs");
    let config = serde_json::json!({
        "version": 1,
        "formatters": {"pipes": {"format": PIPE_FORMAT}},
        "handlers": {
            "console": {"class": "logging.StreamHandler", "stream": "ext://sys.stdout", "formatter": "pipes"},
            "file": {"class": "logging.FileHandler", "filename": logs.join("all.log"), "formatter": "pipes"}
        },
        "root": {"level": "DEBUG", "handlers": ["console", "file"]}
    });
    let config_path = site.dir.path().join("asimapd_log.json");
    std::fs::write(&config_path, config.to_string()).unwrap();
    let server = site.start(&[
        "--debug",
        "--trace",
        &format!("--log-config={}", config_path.display()),
    ]);
    let encode = |text: String| base64::engine::general_purpose::STANDARD.encode(text);
    let plain = encode(format!("\0{}\0{password}", alice.name));
    let wrong_plain = encode(format!("\0{}\0{wrong}", alice.name));

    // Every way a password crosses the wire: LOGIN with a quoted string and a literal,
    // AUTHENTICATE PLAIN with an initial response and after a continuation, and LOGIN and
    // AUTHENTICATE again inside the session, where the worker rejects them.
    let mut first = server.connect();
    first.command("a1", &format!("LOGIN {} \"{wrong}\"", alice.name));
    first.command("a2", &format!("AUTHENTICATE PLAIN {wrong_plain}"));
    first.send(&format!("a3 LOGIN {} {{{}}}", alice.name, password.len()));
    assert!(first.line().starts_with('+'));
    first.send(password);
    let literal_login = first.until_tagged("a3");
    assert!(
        literal_login.last().unwrap().starts_with("a3 OK"),
        "{literal_login:?}"
    );
    let again = first.command("a4", &format!("LOGIN {} \"{password}\"", alice.name));
    assert!(!again.last().unwrap().starts_with("a4 OK"), "{again:?}");
    first.send(&format!("a5 LOGIN {} {{{}+}}", alice.name, password.len()));
    first.send(password);
    let literal_again = first.until_tagged("a5");
    assert!(
        !literal_again.last().unwrap().starts_with("a5 OK"),
        "{literal_again:?}"
    );
    let authenticate_again = first.command("a6", &format!("AUTHENTICATE PLAIN {plain}"));
    assert!(
        !authenticate_again.last().unwrap().starts_with("a6 OK"),
        "{authenticate_again:?}"
    );
    first.command("s1", "SELECT INBOX");
    let mut second = server.connect();
    second.send("b1 AUTHENTICATE PLAIN");
    assert!(second.line().starts_with('+'));
    second.send(&plain);
    let continued = second.until_tagged("b1");
    assert!(
        continued.last().unwrap().starts_with("b1 OK"),
        "{continued:?}"
    );
    let mut third = server.connect();
    let initial = third.command("c1", &format!("AUTHENTICATE PLAIN {plain}"));
    assert!(initial.last().unwrap().starts_with("c1 OK"), "{initial:?}");
    for client in [&mut first, &mut second, &mut third] {
        client.command("z1", "LOGOUT");
    }
    drop((first, second, third));
    server.wait_for_log("session ended");
    let stdout = server.log();
    let stderr = server.errors();
    assert_eq!(server.stop(), Some(0));

    let files = files_below(site.dir.path());
    let trace = site
        .trace_dir()
        .join(format!("{}-asimapd.trace", alice.name));
    assert!(files.contains(&trace), "{files:#?}");
    assert!(files.contains(&logs.join("all.log")), "{files:#?}");
    assert!(files.iter().any(|file| file.starts_with(&alice.maildir)));
    let secrets = [password, wrong, plain.as_str(), wrong_plain.as_str()];
    for file in &files {
        let content = std::fs::read(file).unwrap();
        for secret in secrets {
            let found = content
                .windows(secret.len())
                .any(|window| window == secret.as_bytes());
            assert!(!found, "{secret} is in {}", file.display());
        }
    }
    for secret in secrets {
        assert!(!stdout.contains(secret), "{secret} is on stdout");
        assert!(!stderr.contains(secret), "{secret} is on stderr");
    }
}

/// Pipe capacity for the log stream tests: the smallest Linux allows (one page), so a few
/// dozen records fill it.
const SMALL_PIPE: usize = 4096;

/// Starts the server with stdout and stderr on the write end of a fresh pipe of
/// [`SMALL_PIPE`] bytes, reads the pipe until the server reports its address, and returns
/// the server and the read end.
fn start_on_pipe(site: &Site, extra_args: &[&str]) -> (std::process::Child, SocketAddr, File) {
    let (read_end, write_end) = nix::unistd::pipe().unwrap();
    let size = nix::fcntl::fcntl(&write_end, FcntlArg::F_SETPIPE_SZ(SMALL_PIPE as i32)).unwrap();
    assert_eq!(size as usize, SMALL_PIPE);
    let stderr_end = write_end.try_clone().unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_asimapd"))
        .current_dir(site.dir.path())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .arg("--address=127.0.0.1")
        .arg("--port=0")
        .arg(format!("--cert={}", site.pki.cert.display()))
        .arg(format!("--key={}", site.pki.key.display()))
        .arg(format!("--pwfile={}", site.pwfile.display()))
        .arg(format!("--trace-dir={}", site.trace_dir().display()))
        .args(extra_args)
        .stdin(Stdio::null())
        .stdout(Stdio::from(write_end))
        .stderr(Stdio::from(stderr_end))
        .spawn()
        .unwrap();
    let mut reader = BufReader::new(File::from(read_end));
    let marker = "listening for IMAP over TLS on ";
    let address = loop {
        let mut line = String::new();
        let read = reader.read_line(&mut line).unwrap();
        assert!(read > 0, "the server closed its stdout before listening");
        if let Some((_, address)) = line.trim_end().split_once(marker) {
            break address.parse::<SocketAddr>().unwrap();
        }
    };
    assert!(
        reader.buffer().is_empty(),
        "records after the listening line were read ahead"
    );
    (child, address, reader.into_inner())
}

/// Sends SIGTERM and waits up to `limit` for the exit status; kills the server and fails
/// the test when it does not exit in time.
fn terminate_within(mut child: std::process::Child, limit: Duration) -> ExitStatus {
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the server ignored SIGTERM for {limit:?} and was killed");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Opens `count` TCP connections that fail the TLS handshake; at DEBUG level each one logs
/// a few records.
fn failed_handshakes(address: SocketAddr, count: usize) {
    for _ in 0..count {
        let mut stream = TcpStream::connect(address).unwrap();
        // Short, so that a server blocked on its log pipe fails the test in seconds.
        stream
            .set_read_timeout(Some(Duration::from_secs(2)))
            .unwrap();
        stream.write_all(b"not a TLS client hello\r\n").unwrap();
        let mut rest = Vec::new();
        let _ = stream.read_to_end(&mut rest);
    }
}

#[test]
fn closed_log_pipe_keeps_sigterm_prompt() {
    let site = Site::new();
    let (child, address, read_end) = start_on_pipe(&site, &["--debug"]);
    drop(read_end);

    // Every record from now on meets a closed pipe (EPIPE).
    failed_handshakes(address, 20);
    let status = terminate_within(child, Duration::from_secs(5));
    assert_eq!(status.code(), Some(0), "{status}");
}

#[test]
fn full_log_pipe_keeps_serving_and_sigterm() {
    let site = Site::new();
    let (child, address, mut read_end) = start_on_pipe(&site, &["--debug"]);

    // Nobody reads the pipe, so it fills up and a blocking write to it would never return.
    failed_handshakes(address, 100);
    let served = tls_greeting(&site, address);
    assert!(served.starts_with("* OK "), "{served}");
    let status = terminate_within(child, Duration::from_secs(5));
    assert_eq!(status.code(), Some(0), "{status}");

    let mut buffered = Vec::new();
    read_end.read_to_end(&mut buffered).unwrap();
    assert!(
        buffered.len() > SMALL_PIPE - 512,
        "the pipe held only {} bytes, so it never filled",
        buffered.len()
    );
}

/// Connects over TLS and returns the greeting line.
fn tls_greeting(site: &Site, address: SocketAddr) -> String {
    let tcp = TcpStream::connect(address).unwrap();
    tcp.set_read_timeout(Some(support::TIMEOUT)).unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let config = support::client_config(&site.pki);
    let connection = rustls::ClientConnection::new(config, name).unwrap();
    let mut stream = BufReader::new(rustls::StreamOwned::new(connection, tcp));
    let mut greeting = String::new();
    stream.read_line(&mut greeting).unwrap();
    greeting
}
