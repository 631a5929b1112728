use std::collections::HashMap;

use super::*;

/// Resolves `argv` (without the program name) against the given environment.
fn resolve(argv: &[&str], env: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let args = Args::try_parse_from(std::iter::once("asimapd").chain(argv.iter().copied()))
        .expect("arguments parse");
    let env: HashMap<String, OsString> = env
        .iter()
        .map(|(name, value)| (name.to_string(), OsString::from(value)))
        .collect();
    Config::resolve(&args, &|name: &str| env.get(name).cloned())
}

fn config(argv: &[&str], env: &[(&str, &str)]) -> Config {
    resolve(argv, env).expect("configuration resolves")
}

fn error(argv: &[&str], env: &[(&str, &str)]) -> String {
    resolve(argv, env)
        .expect_err("configuration is rejected")
        .to_string()
}

#[test]
fn defaults_match_python_server() {
    let config = config(&[], &[]);
    assert_eq!(config.address, "0.0.0.0".parse::<IpAddr>().unwrap());
    assert_eq!(config.port, 993);
    assert_eq!(config.cert, PathBuf::from("/opt/asimap/ssl/cert.pem"));
    assert_eq!(config.key, PathBuf::from("/opt/asimap/ssl/key.pem"));
    assert!(!config.trace);
    assert_eq!(config.trace_dir, PathBuf::from("/opt/asimap/traces/"));
    assert!(!config.debug);
    assert_eq!(config.log_config, None);
    assert_eq!(config.pwfile, PathBuf::from("/opt/asimap/pwfile"));
    assert!(!config.enable_pop3);
    assert_eq!(config.pop3_port, 995);
    assert!(!config.mh_file_locking);
}

#[test]
fn listener_defaults_are_documented_constants() {
    let config = config(&[], &[]);
    assert_eq!(config.starttls_port, None);
    assert_eq!(config.tls_handshake_timeout, Duration::from_secs(30));
    assert_eq!(config.login_timeout, Duration::from_secs(120));
    assert_eq!(config.max_connections_per_address, 50);
    assert_eq!(config.worker_linger, Duration::from_secs(1800));
    assert_eq!(config.idle_keepalive, Duration::from_secs(300));
}

/// Each valued setting: option, variable, a value and how it reads back.
const VALUED: &[(&str, &str, &str)] = &[
    ("--address", "ADDRESS", "127.0.0.1"),
    ("--port", "PORT", "1143"),
    ("--cert", "SSL_CERT", "/tmp/c.pem"),
    ("--key", "SSL_KEY", "/tmp/k.pem"),
    ("--trace-dir", "TRACE_DIR", "/tmp/traces"),
    ("--log-config", "LOG_CONFIG", "/tmp/log.json"),
    ("--pwfile", "PWFILE", "/tmp/pwfile"),
    ("--pop3-port", "POP3_PORT", "1995"),
    ("--starttls-port", "STARTTLS_PORT", "1143"),
    ("--tls-handshake-timeout", "TLS_HANDSHAKE_TIMEOUT", "7"),
    ("--login-timeout", "LOGIN_TIMEOUT", "9"),
    (
        "--max-connections-per-address",
        "MAX_CONNECTIONS_PER_ADDRESS",
        "3",
    ),
    ("--worker-linger", "WORKER_LINGER", "60"),
    ("--idle-keepalive", "IDLE_KEEPALIVE", "45"),
];

fn valued(config: &Config, option: &str) -> String {
    match option {
        "--address" => config.address.to_string(),
        "--port" => config.port.to_string(),
        "--cert" => config.cert.display().to_string(),
        "--key" => config.key.display().to_string(),
        "--trace-dir" => config.trace_dir.display().to_string(),
        "--log-config" => config
            .log_config
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
        "--pwfile" => config.pwfile.display().to_string(),
        "--pop3-port" => config.pop3_port.to_string(),
        "--starttls-port" => config
            .starttls_port
            .map(|port| port.to_string())
            .unwrap_or_default(),
        "--tls-handshake-timeout" => config.tls_handshake_timeout.as_secs().to_string(),
        "--login-timeout" => config.login_timeout.as_secs().to_string(),
        "--max-connections-per-address" => config.max_connections_per_address.to_string(),
        "--worker-linger" => config.worker_linger.as_secs().to_string(),
        "--idle-keepalive" => config.idle_keepalive.as_secs().to_string(),
        other => panic!("no setting {other}"),
    }
}

#[test]
fn valued_settings_read_environment() {
    for (option, variable, value) in VALUED {
        let config = config(&[], &[(variable, value)]);
        assert_eq!(valued(&config, option), *value, "{variable}");
    }
}

#[test]
fn valued_settings_read_option_with_equals_sign() {
    for (option, _, value) in VALUED {
        let config = config(&[&format!("{option}={value}")], &[]);
        assert_eq!(valued(&config, option), *value, "{option}=");
    }
}

#[test]
fn valued_settings_read_option_with_separate_value() {
    for (option, _, value) in VALUED {
        let config = config(&[option, value], &[]);
        assert_eq!(valued(&config, option), *value, "{option} VALUE");
    }
}

#[test]
fn option_beats_environment() {
    let from_env = [
        ("--port", "PORT", "2000"),
        ("--pwfile", "PWFILE", "/env/pwfile"),
    ];
    for (option, variable, env_value) in from_env {
        let option_value = if option == "--port" {
            "3000"
        } else {
            "/cli/pwfile"
        };
        let config = config(
            &[&format!("{option}={option_value}")],
            &[(variable, env_value)],
        );
        assert_eq!(
            valued(&config, option),
            option_value,
            "{option} over {variable}"
        );
    }
}

/// Each boolean setting: option, variable, and how it reads back.
const FLAGS: &[(&str, &str)] = &[
    ("--trace", "TRACE"),
    ("--debug", "DEBUG"),
    ("--enable-pop3", "ENABLE_POP3"),
    ("--enable-mh-file-locking", "ENABLE_MH_FILE_LOCKING"),
];

fn flag(config: &Config, option: &str) -> bool {
    match option {
        "--trace" => config.trace,
        "--debug" => config.debug,
        "--enable-pop3" => config.enable_pop3,
        "--enable-mh-file-locking" => config.mh_file_locking,
        other => panic!("no flag {other}"),
    }
}

#[test]
fn flags_turn_on_from_option() {
    for (option, _) in FLAGS {
        assert!(flag(&config(&[option], &[]), option), "{option}");
    }
}

#[test]
fn flags_accept_every_boolean_word_in_any_case() {
    let words = [
        ("1", true),
        ("true", true),
        ("TRUE", true),
        ("Yes", true),
        ("on", true),
        ("ON", true),
        ("0", false),
        ("false", false),
        ("False", false),
        ("no", false),
        ("NO", false),
        ("off", false),
    ];
    for (option, variable) in FLAGS {
        for (word, expected) in words {
            assert_eq!(
                flag(&config(&[], &[(variable, word)]), option),
                expected,
                "{variable}={word}"
            );
        }
    }
}

#[test]
fn debug_zero_means_off() {
    assert!(!config(&[], &[("DEBUG", "0")]).debug);
}

#[test]
fn flag_option_beats_false_environment() {
    for (option, variable) in FLAGS {
        assert!(
            flag(&config(&[option], &[(variable, "off")]), option),
            "{option} over {variable}=off"
        );
    }
}

#[test]
fn invalid_boolean_names_variable_and_accepted_words() {
    for (_, variable) in FLAGS {
        let message = error(&[], &[(variable, "maybe")]);
        assert_eq!(
            message,
            format!(
                "invalid value \"maybe\" for environment variable {variable}: expected one of \
                 1, true, yes, on (on) or 0, false, no, off (off), in any case"
            )
        );
    }
}

#[test]
fn invalid_port_names_option_and_range() {
    for (option, value) in [
        ("--port", "70000"),
        ("--port", "-1"),
        ("--pop3-port", "pop3"),
    ] {
        let message = error(&[&format!("{option}={value}")], &[]);
        assert_eq!(
            message,
            format!(
                "invalid value {value:?} for {option}: expected a port number from 0 to 65535 \
                 (0 picks a free port)"
            )
        );
    }
}

#[test]
fn invalid_port_in_environment_names_variable() {
    let message = error(&[], &[("PORT", "99999")]);
    assert!(
        message.starts_with("invalid value \"99999\" for environment variable PORT:"),
        "{message}"
    );
}

#[test]
fn invalid_address_names_option_and_form() {
    let message = error(&["--address", "not-an-address"], &[]);
    assert_eq!(
        message,
        "invalid value \"not-an-address\" for --address: expected an IPv4 or IPv6 address \
         such as 0.0.0.0, 127.0.0.1 or ::"
    );
    let message = error(&[], &[("ADDRESS", "300.1.1.1")]);
    assert!(
        message.contains("for environment variable ADDRESS"),
        "{message}"
    );
}

#[test]
fn ipv6_address_is_accepted() {
    assert_eq!(
        config(&["--address=::1"], &[]).address,
        "::1".parse::<IpAddr>().unwrap()
    );
}

#[test]
fn empty_path_is_rejected() {
    let message = error(&[], &[("PWFILE", "")]);
    assert_eq!(
        message,
        "invalid value \"\" for environment variable PWFILE: expected a non-empty path"
    );
}

#[test]
fn missing_certificate_names_path_and_settings() {
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("missing-cert.pem");
    let key = dir.path().join("key.pem");
    std::fs::write(&key, "key").unwrap();
    let config = config(
        &[
            &format!("--cert={}", cert.display()),
            &format!("--key={}", key.display()),
        ],
        &[],
    );
    let message = config
        .check_files()
        .expect_err("missing certificate")
        .to_string();
    assert!(message.contains(&cert.display().to_string()), "{message}");
    assert!(message.contains("--cert or SSL_CERT"), "{message}");
}

#[test]
fn missing_key_names_path_and_settings() {
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("cert.pem");
    std::fs::write(&cert, "cert").unwrap();
    let key = dir.path().join("missing-key.pem");
    let config = config(
        &[
            &format!("--cert={}", cert.display()),
            &format!("--key={}", key.display()),
        ],
        &[],
    );
    let message = config.check_files().expect_err("missing key").to_string();
    assert!(message.contains(&key.display().to_string()), "{message}");
    assert!(message.contains("--key or SSL_KEY"), "{message}");
}

#[test]
fn certificate_directory_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(&[&format!("--cert={}", dir.path().display())], &[]);
    let message = config.check_files().expect_err("directory").to_string();
    assert!(message.contains("is a directory"), "{message}");
}

#[test]
fn durations_reject_zero_and_text() {
    for (option, value) in [
        ("--tls-handshake-timeout", "0"),
        ("--login-timeout", "soon"),
        ("--worker-linger", "-5"),
    ] {
        let message = error(&[&format!("{option}={value}")], &[]);
        assert_eq!(
            message,
            format!(
                "invalid value {value:?} for {option}: expected a whole number of seconds, \
                 at least 1"
            )
        );
    }
}

#[test]
fn idle_keepalive_rejects_zero_and_beyond_limit() {
    for value in ["0", "1741", "often"] {
        let message = error(&[], &[("IDLE_KEEPALIVE", value)]);
        assert_eq!(
            message,
            format!(
                "invalid value {value:?} for environment variable IDLE_KEEPALIVE: expected a \
                 whole number of seconds from 1 to 1740"
            )
        );
    }
    let config = config(&["--idle-keepalive=1740"], &[]);
    assert_eq!(config.idle_keepalive, Duration::from_secs(1740));
}

#[test]
fn connection_limit_rejects_zero() {
    let message = error(&[], &[("MAX_CONNECTIONS_PER_ADDRESS", "0")]);
    assert_eq!(
        message,
        "invalid value \"0\" for environment variable MAX_CONNECTIONS_PER_ADDRESS: expected a \
         whole number, at least 1"
    );
}

#[test]
fn invalid_starttls_port_names_variable() {
    let message = error(&[], &[("STARTTLS_PORT", "imap")]);
    assert!(
        message.starts_with("invalid value \"imap\" for environment variable STARTTLS_PORT:"),
        "{message}"
    );
}
