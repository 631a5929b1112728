//! The `asimapd` configuration: command-line options, environment variables and defaults.
//!
//! The option names, variable names and defaults are those of the Python asimapd, so a site
//! can keep its command lines and `.env` files. A command-line option beats its environment
//! variable, which beats the default. Raw values are kept apart from the validated
//! [`Config`] so that every error can name the option or variable that carried the value.

use std::ffi::OsString;
use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Parser;

/// Default listening address: every IPv4 interface.
pub const DEFAULT_ADDRESS: &str = "0.0.0.0";
/// Default IMAP port (implicit TLS).
pub const DEFAULT_PORT: u16 = 993;
/// Default PEM certificate chain.
pub const DEFAULT_CERT: &str = "/opt/asimap/ssl/cert.pem";
/// Default PEM private key.
pub const DEFAULT_KEY: &str = "/opt/asimap/ssl/key.pem";
/// Default folder for protocol trace files.
pub const DEFAULT_TRACE_DIR: &str = "/opt/asimap/traces/";
/// Default password file.
pub const DEFAULT_PWFILE: &str = "/opt/asimap/pwfile";
/// Default POP3 port (implicit TLS).
pub const DEFAULT_POP3_PORT: u16 = 995;
/// Default time allowed for the TLS handshake, in seconds.
pub const DEFAULT_TLS_HANDSHAKE_TIMEOUT_SECS: u64 =
    asimapd_server::DEFAULT_TLS_HANDSHAKE_TIMEOUT.as_secs();
/// Default time from connecting until login has to succeed, in seconds.
pub const DEFAULT_LOGIN_TIMEOUT_SECS: u64 = asimapd_server::DEFAULT_LOGIN_TIMEOUT.as_secs();
/// Default maximum number of open connections from one client address.
pub const DEFAULT_MAX_CONNECTIONS_PER_ADDRESS: usize =
    asimapd_server::DEFAULT_MAX_CONNECTIONS_PER_ADDRESS;
/// Default time a worker stays after its user's last connection closed, in seconds.
pub const DEFAULT_WORKER_LINGER_SECS: u64 = asimapd_worker::DEFAULT_LINGER.as_secs();
/// Default interval between `* OK` keepalives sent to a client in IDLE, in seconds.
pub const DEFAULT_IDLE_KEEPALIVE_SECS: u64 = asimapd_worker::DEFAULT_IDLE_KEEPALIVE.as_secs();
/// Longest IDLE keepalive interval, in seconds. It stays below the 30-minute inactivity
/// autologout of RFC 9051, so an idling client hears from the server before any timer that
/// long ends its connection.
pub const MAX_IDLE_KEEPALIVE_SECS: u64 = 29 * 60;

/// Exit status for a configuration or usage error (also what clap uses for usage errors).
pub const EXIT_CONFIG: u8 = 2;
/// Exit status for a failure after the configuration was accepted.
pub const EXIT_RUNTIME: u8 = 1;

const BOOL_TRUE: [&str; 4] = ["1", "true", "yes", "on"];
const BOOL_FALSE: [&str; 4] = ["0", "false", "no", "off"];

const AFTER_HELP: &str = "\
Every option can also be set by the environment variable named in brackets; a command-line
option beats its variable, which beats the default. A `.env` file in the working directory is
read first; variables already set in the environment win over it. Boolean variables accept
1, true, yes, on and 0, false, no, off, in any case.

Signals: SIGTERM or SIGINT stops the server after every session got BYE and every worker
finished its command in flight; SIGHUP reloads the certificate, key and password file; SIGUSR1
switches protocol tracing on or off.

Exit status: 0 after a clean shutdown, 1 when the server fails after starting (for example the
address cannot be bound), 2 for an invalid option, variable or missing file.";

/// Raw command-line arguments, before validation.
#[derive(Debug, Default, Parser)]
#[command(
    name = "asimapd",
    version,
    about = "IMAP server for MH mail folders, safe alongside running nmh commands.",
    after_help = AFTER_HELP
)]
pub struct Args {
    /// Address to listen on, IPv4 or IPv6 [env: ADDRESS] [default: 0.0.0.0]
    #[arg(long, value_name = "ADDRESS")]
    pub address: Option<String>,

    /// TCP port for IMAP over implicit TLS; 0 lets the system pick a free port
    /// [env: PORT] [default: 993]
    #[arg(long, value_name = "PORT")]
    pub port: Option<String>,

    /// PEM file with the TLS certificate chain [env: SSL_CERT] [default: /opt/asimap/ssl/cert.pem]
    #[arg(long, value_name = "FILE")]
    pub cert: Option<String>,

    /// PEM file with the TLS private key [env: SSL_KEY] [default: /opt/asimap/ssl/key.pem]
    #[arg(long, value_name = "FILE")]
    pub key: Option<String>,

    /// Record every command and response after login in per-user trace files
    /// [env: TRACE] [default: off]
    #[arg(long)]
    pub trace: bool,

    /// Folder for trace files, `<user>-asimapd.trace` [env: TRACE_DIR]
    /// [default: /opt/asimap/traces/]
    #[arg(long, value_name = "DIR")]
    pub trace_dir: Option<String>,

    /// Log at DEBUG level instead of INFO [env: DEBUG] [default: off]
    #[arg(long)]
    pub debug: bool,

    /// Logging configuration file: JSON in Python's dictConfig shape, or INI in fileConfig
    /// shape [env: LOG_CONFIG] [default: asimapd_log.json or asimapd_log.cfg, searched in
    /// /opt/asimap, /etc, /usr/local/etc and /opt/local/etc; else log to stdout]
    #[arg(long, value_name = "FILE")]
    pub log_config: Option<String>,

    /// Password file, one `user:django_password_hash:maildir` per line [env: PWFILE]
    /// [default: /opt/asimap/pwfile]
    #[arg(long, value_name = "FILE")]
    pub pwfile: Option<String>,

    /// Also serve POP3 over implicit TLS [env: ENABLE_POP3] [default: off]
    #[arg(long)]
    pub enable_pop3: bool,

    /// TCP port for POP3 over implicit TLS [env: POP3_PORT] [default: 995]
    #[arg(long, value_name = "PORT")]
    pub pop3_port: Option<String>,

    /// Take nmh-compatible locks on `.mh_sequences` while changing it, for sites where nmh
    /// commands change the same folders [env: ENABLE_MH_FILE_LOCKING] [default: off]
    #[arg(long)]
    pub enable_mh_file_locking: bool,

    /// Also listen on this cleartext TCP port, which offers STARTTLS and refuses login
    /// until TLS is on [env: STARTTLS_PORT] [default: off]
    #[arg(long, value_name = "PORT")]
    pub starttls_port: Option<String>,

    /// Seconds a client has to finish the TLS handshake [env: TLS_HANDSHAKE_TIMEOUT]
    /// [default: 30]
    #[arg(long, value_name = "SECONDS")]
    pub tls_handshake_timeout: Option<String>,

    /// Seconds from connecting until login has to succeed [env: LOGIN_TIMEOUT]
    /// [default: 120]
    #[arg(long, value_name = "SECONDS")]
    pub login_timeout: Option<String>,

    /// Maximum open connections from one client address [env: MAX_CONNECTIONS_PER_ADDRESS]
    /// [default: 50]
    #[arg(long, value_name = "COUNT")]
    pub max_connections_per_address: Option<String>,

    /// Seconds a user's worker process stays after the user's last connection closed
    /// [env: WORKER_LINGER] [default: 1800]
    #[arg(long, value_name = "SECONDS")]
    pub worker_linger: Option<String>,

    /// Seconds between `* OK` keepalive lines sent to a client in IDLE, at most 1740
    /// [env: IDLE_KEEPALIVE] [default: 300]
    #[arg(long, value_name = "SECONDS")]
    pub idle_keepalive: Option<String>,
}

/// The validated configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub address: IpAddr,
    pub port: u16,
    pub cert: PathBuf,
    pub key: PathBuf,
    pub trace: bool,
    pub trace_dir: PathBuf,
    pub debug: bool,
    /// `None` means: search the standard places, then fall back to stdout.
    pub log_config: Option<PathBuf>,
    pub pwfile: PathBuf,
    pub enable_pop3: bool,
    pub pop3_port: u16,
    pub mh_file_locking: bool,
    /// Cleartext port with STARTTLS; `None` keeps it closed.
    pub starttls_port: Option<u16>,
    pub tls_handshake_timeout: Duration,
    pub login_timeout: Duration,
    pub max_connections_per_address: usize,
    pub worker_linger: Duration,
    pub idle_keepalive: Duration,
}

/// Origin of a rejected value: error messages name the option or the variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    CommandLine(&'static str),
    Environment(&'static str),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::CommandLine(option) => write!(f, "{option}"),
            Origin::Environment(variable) => write!(f, "environment variable {variable}"),
        }
    }
}

/// A configuration that cannot be used. Each message fits on one line and names the fix.
#[derive(Debug)]
#[non_exhaustive]
pub enum ConfigError {
    /// A value that does not parse. `expected` describes the accepted form.
    InvalidValue {
        origin: Origin,
        value: String,
        expected: String,
    },
    /// A file the server needs at start-up cannot be opened.
    UnreadableFile {
        what: &'static str,
        path: PathBuf,
        hint: &'static str,
        error: std::io::Error,
    },
    /// The `.env` file exists but cannot be read or parsed.
    DotEnv { message: String },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::InvalidValue {
                origin,
                value,
                expected,
            } => {
                write!(
                    f,
                    "invalid value {value:?} for {origin}: expected {expected}"
                )
            }
            ConfigError::UnreadableFile {
                what,
                path,
                hint,
                error,
            } => {
                write!(f, "cannot read {what} {}: {error}; {hint}", path.display())
            }
            ConfigError::DotEnv { message } => write!(f, "cannot load .env: {message}"),
        }
    }
}

impl std::error::Error for ConfigError {}

/// One setting's names, for lookups and messages.
struct Setting {
    option: &'static str,
    variable: &'static str,
}

const ADDRESS: Setting = Setting {
    option: "--address",
    variable: "ADDRESS",
};
const PORT: Setting = Setting {
    option: "--port",
    variable: "PORT",
};
const CERT: Setting = Setting {
    option: "--cert",
    variable: "SSL_CERT",
};
const KEY: Setting = Setting {
    option: "--key",
    variable: "SSL_KEY",
};
const TRACE: Setting = Setting {
    option: "--trace",
    variable: "TRACE",
};
const TRACE_DIR: Setting = Setting {
    option: "--trace-dir",
    variable: "TRACE_DIR",
};
const DEBUG: Setting = Setting {
    option: "--debug",
    variable: "DEBUG",
};
const LOG_CONFIG: Setting = Setting {
    option: "--log-config",
    variable: "LOG_CONFIG",
};
const PWFILE: Setting = Setting {
    option: "--pwfile",
    variable: "PWFILE",
};
const ENABLE_POP3: Setting = Setting {
    option: "--enable-pop3",
    variable: "ENABLE_POP3",
};
const POP3_PORT: Setting = Setting {
    option: "--pop3-port",
    variable: "POP3_PORT",
};
const MH_FILE_LOCKING: Setting = Setting {
    option: "--enable-mh-file-locking",
    variable: "ENABLE_MH_FILE_LOCKING",
};
const STARTTLS_PORT: Setting = Setting {
    option: "--starttls-port",
    variable: "STARTTLS_PORT",
};
const TLS_HANDSHAKE_TIMEOUT: Setting = Setting {
    option: "--tls-handshake-timeout",
    variable: "TLS_HANDSHAKE_TIMEOUT",
};
const LOGIN_TIMEOUT: Setting = Setting {
    option: "--login-timeout",
    variable: "LOGIN_TIMEOUT",
};
const MAX_CONNECTIONS_PER_ADDRESS: Setting = Setting {
    option: "--max-connections-per-address",
    variable: "MAX_CONNECTIONS_PER_ADDRESS",
};
const WORKER_LINGER: Setting = Setting {
    option: "--worker-linger",
    variable: "WORKER_LINGER",
};
const IDLE_KEEPALIVE: Setting = Setting {
    option: "--idle-keepalive",
    variable: "IDLE_KEEPALIVE",
};

/// Source of environment variables, so tests can resolve without touching the process
/// environment.
pub trait Environment {
    /// Returns the variable's value, `None` when unset.
    fn var(&self, name: &str) -> Option<OsString>;
}

/// The real process environment.
#[derive(Debug, Clone, Copy)]
pub struct ProcessEnvironment;

impl Environment for ProcessEnvironment {
    fn var(&self, name: &str) -> Option<OsString> {
        std::env::var_os(name)
    }
}

impl<F: Fn(&str) -> Option<OsString>> Environment for F {
    fn var(&self, name: &str) -> Option<OsString> {
        self(name)
    }
}

impl Config {
    /// Resolves the configuration from parsed arguments and the environment, option before
    /// variable before default. Files are not opened here; see [`Config::check_files`].
    pub fn resolve(args: &Args, env: &impl Environment) -> Result<Config, ConfigError> {
        let resolver = Resolver { env };
        Ok(Config {
            address: resolver.address(&args.address)?,
            port: resolver.port(&PORT, &args.port, DEFAULT_PORT)?,
            cert: resolver
                .path(&CERT, &args.cert)?
                .unwrap_or_else(|| DEFAULT_CERT.into()),
            key: resolver
                .path(&KEY, &args.key)?
                .unwrap_or_else(|| DEFAULT_KEY.into()),
            trace: resolver.flag(&TRACE, args.trace)?,
            trace_dir: resolver
                .path(&TRACE_DIR, &args.trace_dir)?
                .unwrap_or_else(|| DEFAULT_TRACE_DIR.into()),
            debug: resolver.flag(&DEBUG, args.debug)?,
            log_config: resolver.path(&LOG_CONFIG, &args.log_config)?,
            pwfile: resolver
                .path(&PWFILE, &args.pwfile)?
                .unwrap_or_else(|| DEFAULT_PWFILE.into()),
            enable_pop3: resolver.flag(&ENABLE_POP3, args.enable_pop3)?,
            pop3_port: resolver.port(&POP3_PORT, &args.pop3_port, DEFAULT_POP3_PORT)?,
            mh_file_locking: resolver.flag(&MH_FILE_LOCKING, args.enable_mh_file_locking)?,
            starttls_port: resolver.optional_port(&STARTTLS_PORT, &args.starttls_port)?,
            tls_handshake_timeout: resolver.seconds(
                &TLS_HANDSHAKE_TIMEOUT,
                &args.tls_handshake_timeout,
                DEFAULT_TLS_HANDSHAKE_TIMEOUT_SECS,
            )?,
            login_timeout: resolver.seconds(
                &LOGIN_TIMEOUT,
                &args.login_timeout,
                DEFAULT_LOGIN_TIMEOUT_SECS,
            )?,
            max_connections_per_address: resolver.count(
                &MAX_CONNECTIONS_PER_ADDRESS,
                &args.max_connections_per_address,
                DEFAULT_MAX_CONNECTIONS_PER_ADDRESS,
            )?,
            worker_linger: resolver.seconds(
                &WORKER_LINGER,
                &args.worker_linger,
                DEFAULT_WORKER_LINGER_SECS,
            )?,
            idle_keepalive: resolver.seconds_at_most(
                &IDLE_KEEPALIVE,
                &args.idle_keepalive,
                DEFAULT_IDLE_KEEPALIVE_SECS,
                MAX_IDLE_KEEPALIVE_SECS,
            )?,
        })
    }

    /// Checks that the certificate and key files can be opened, before anything is bound.
    pub fn check_files(&self) -> Result<(), ConfigError> {
        check_readable(
            "certificate file",
            &self.cert,
            "set --cert or SSL_CERT to a PEM certificate chain",
        )?;
        check_readable(
            "private key file",
            &self.key,
            "set --key or SSL_KEY to a PEM private key",
        )
    }
}

/// Loads `.env` from the working directory, if present, without overriding variables that
/// are already set.
pub fn load_dotenv() -> Result<(), ConfigError> {
    match dotenvy::dotenv() {
        Ok(_) => Ok(()),
        Err(error) if error.not_found() => Ok(()),
        Err(error) => Err(ConfigError::DotEnv {
            message: error.to_string(),
        }),
    }
}

fn check_readable(what: &'static str, path: &Path, hint: &'static str) -> Result<(), ConfigError> {
    let result = std::fs::File::open(path).and_then(|file| {
        if file.metadata()?.is_dir() {
            Err(std::io::Error::new(
                std::io::ErrorKind::IsADirectory,
                "is a directory",
            ))
        } else {
            Ok(())
        }
    });
    result.map_err(|error| ConfigError::UnreadableFile {
        what,
        path: path.to_owned(),
        hint,
        error,
    })
}

struct Resolver<'a, E> {
    env: &'a E,
}

impl<E: Environment> Resolver<'_, E> {
    /// Returns the raw value and its origin: the option if given, else a set variable.
    fn raw(
        &self,
        setting: &Setting,
        option: &Option<String>,
    ) -> Result<Option<(String, Origin)>, ConfigError> {
        if let Some(value) = option {
            return Ok(Some((value.clone(), Origin::CommandLine(setting.option))));
        }
        let origin = Origin::Environment(setting.variable);
        match self.env.var(setting.variable) {
            None => Ok(None),
            Some(value) => match value.into_string() {
                Ok(value) => Ok(Some((value, origin))),
                Err(value) => Err(ConfigError::InvalidValue {
                    origin,
                    value: value.to_string_lossy().into_owned(),
                    expected: "valid UTF-8 text".into(),
                }),
            },
        }
    }

    fn address(&self, option: &Option<String>) -> Result<IpAddr, ConfigError> {
        let Some((value, origin)) = self.raw(&ADDRESS, option)? else {
            return Ok(DEFAULT_ADDRESS.parse().expect("default address is valid"));
        };
        value.trim().parse().map_err(|_| ConfigError::InvalidValue {
            origin,
            value,
            expected: "an IPv4 or IPv6 address such as 0.0.0.0, 127.0.0.1 or ::".into(),
        })
    }

    fn port(
        &self,
        setting: &Setting,
        option: &Option<String>,
        default: u16,
    ) -> Result<u16, ConfigError> {
        let Some((value, origin)) = self.raw(setting, option)? else {
            return Ok(default);
        };
        value.trim().parse().map_err(|_| ConfigError::InvalidValue {
            origin,
            value,
            expected: "a port number from 0 to 65535 (0 picks a free port)".into(),
        })
    }

    fn optional_port(
        &self,
        setting: &Setting,
        option: &Option<String>,
    ) -> Result<Option<u16>, ConfigError> {
        let Some((value, origin)) = self.raw(setting, option)? else {
            return Ok(None);
        };
        value
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| ConfigError::InvalidValue {
                origin,
                value,
                expected: "a port number from 0 to 65535 (0 picks a free port)".into(),
            })
    }

    /// Parses a whole number of seconds, at least 1.
    fn seconds(
        &self,
        setting: &Setting,
        option: &Option<String>,
        default: u64,
    ) -> Result<Duration, ConfigError> {
        let Some((value, origin)) = self.raw(setting, option)? else {
            return Ok(Duration::from_secs(default));
        };
        match value.trim().parse::<u64>() {
            Ok(seconds) if seconds > 0 => Ok(Duration::from_secs(seconds)),
            _ => Err(ConfigError::InvalidValue {
                origin,
                value,
                expected: "a whole number of seconds, at least 1".into(),
            }),
        }
    }

    /// Parses a whole number of seconds from 1 to `max`.
    fn seconds_at_most(
        &self,
        setting: &Setting,
        option: &Option<String>,
        default: u64,
        max: u64,
    ) -> Result<Duration, ConfigError> {
        let Some((value, origin)) = self.raw(setting, option)? else {
            return Ok(Duration::from_secs(default));
        };
        match value.trim().parse::<u64>() {
            Ok(seconds) if (1..=max).contains(&seconds) => Ok(Duration::from_secs(seconds)),
            _ => Err(ConfigError::InvalidValue {
                origin,
                value,
                expected: format!("a whole number of seconds from 1 to {max}"),
            }),
        }
    }

    /// Parses a count of at least 1.
    fn count(
        &self,
        setting: &Setting,
        option: &Option<String>,
        default: usize,
    ) -> Result<usize, ConfigError> {
        let Some((value, origin)) = self.raw(setting, option)? else {
            return Ok(default);
        };
        match value.trim().parse::<usize>() {
            Ok(count) if count > 0 => Ok(count),
            _ => Err(ConfigError::InvalidValue {
                origin,
                value,
                expected: "a whole number, at least 1".into(),
            }),
        }
    }

    fn path(
        &self,
        setting: &Setting,
        option: &Option<String>,
    ) -> Result<Option<PathBuf>, ConfigError> {
        let Some((value, origin)) = self.raw(setting, option)? else {
            return Ok(None);
        };
        if value.trim().is_empty() {
            return Err(ConfigError::InvalidValue {
                origin,
                value,
                expected: "a non-empty path".into(),
            });
        }
        Ok(Some(PathBuf::from(value)))
    }

    /// A flag given on the command line is on; otherwise its variable decides.
    fn flag(&self, setting: &Setting, given: bool) -> Result<bool, ConfigError> {
        if given {
            return Ok(true);
        }
        let Some((value, origin)) = self.raw(setting, &None)? else {
            return Ok(false);
        };
        parse_bool(&value).ok_or_else(|| ConfigError::InvalidValue {
            origin,
            value,
            expected: format!(
                "one of {} (on) or {} (off), in any case",
                BOOL_TRUE.join(", "),
                BOOL_FALSE.join(", ")
            ),
        })
    }
}

/// Parses a boolean environment value; `None` for anything outside the accepted words.
pub fn parse_bool(value: &str) -> Option<bool> {
    let value = value.trim();
    if BOOL_TRUE
        .iter()
        .any(|word| value.eq_ignore_ascii_case(word))
    {
        Some(true)
    } else if BOOL_FALSE
        .iter()
        .any(|word| value.eq_ignore_ascii_case(word))
    {
        Some(false)
    } else {
        None
    }
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
