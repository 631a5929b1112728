//! `asimapd`: the IMAP server for MH mail folders.

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;

use asimapd::config::{self, Args, Config, EXIT_CONFIG, EXIT_RUNTIME, ProcessEnvironment};
use asimapd_logging::LogConfig;
use asimapd_logging::forward::{RecordRouter, install_listener, lowest_level};
use asimapd_logging::trace::TraceSink;
use asimapd_server::worker_mode;
use asimapd_server::{
    ConnectionLimits, DEFAULT_CERTIFICATE_CHECK_INTERVAL, DEFAULT_THROTTLE_DELAY, Server,
    ServerConfig, ServerError, WorkerLaunch, WorkerSettings,
};

/// The program workers are started from: this same executable.
const SELF_EXE: &str = "/proc/self/exe";

/// Maximum wait at exit for log records still queued for stdout and stderr. A reader that
/// stopped reading a pipe must not keep the server from exiting.
const LOG_FLUSH_TIMEOUT: Duration = Duration::from_secs(2);

fn main() -> ExitCode {
    if worker_mode::is_worker_invocation() {
        return worker_mode::run_worker();
    }
    if let Err(error) = config::load_dotenv() {
        return fail(&error);
    }
    let args = Args::parse();
    let config = match Config::resolve(&args, &ProcessEnvironment) {
        Ok(config) => config,
        Err(error) => return fail(&error),
    };
    if let Err(error) = config.check_files() {
        return fail(&error);
    }
    let (log_config, records) = setup_logging(&config);
    let status = run(&config, &log_config, records);
    asimapd_logging::handler::flush_standard_streams(LOG_FLUSH_TIMEOUT);
    status
}

/// Installs the log configuration file named by `--log-config`, or the first one found in the
/// standard folders, or the default (stdout). Problems with the file are reported on stderr
/// once each; logging then goes on without the entries concerned.
fn setup_logging(config: &Config) -> (LogConfig, RecordRouter) {
    let search_dirs: Vec<&Path> = asimapd_logging::config::SEARCH_DIRS
        .iter()
        .map(Path::new)
        .collect();
    let (log_config, mut problems) =
        asimapd_logging::load_config(config.log_config.as_deref(), &search_dirs, config.debug);
    let (records, install_problems) = install_listener(&log_config);
    problems.extend(install_problems);
    for problem in problems {
        eprintln!("asimapd: {problem}");
    }
    (log_config, records)
}

/// Prints a configuration error as one line on stderr and returns the configuration exit
/// status.
fn fail(error: &config::ConfigError) -> ExitCode {
    eprintln!("asimapd: {error}");
    ExitCode::from(EXIT_CONFIG)
}

fn run(config: &Config, log_config: &LogConfig, records: RecordRouter) -> ExitCode {
    let traces = Arc::new(TraceSink::new(
        &config.trace_dir,
        config.trace,
        log_config,
        Some(records.clone()),
    ));
    records.set_traces(Arc::clone(&traces));
    let server_config = server_config(config, log_config, records, traces);
    tracing::info!(
        "asimapd {} starting: address {}, port {}, password file {}",
        env!("CARGO_PKG_VERSION"),
        config.address,
        config.port,
        config.pwfile.display()
    );
    if config.enable_pop3 {
        // NOTE: the listener does not speak POP3 yet, so the POP3 port stays closed.
        tracing::warn!(
            port = config.pop3_port,
            "POP3 is not supported yet; --enable-pop3 is ignored"
        );
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("asimapd: failed to start the async runtime: {error}");
            return ExitCode::from(EXIT_RUNTIME);
        }
    };
    match runtime.block_on(serve(server_config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "server stopped");
            // Not eprintln!, which panics when stderr is a closed pipe.
            let _ = writeln!(std::io::stderr(), "asimapd: {error}");
            match error {
                ServerError::Tls { .. } | ServerError::ReadFile { .. } => {
                    ExitCode::from(EXIT_CONFIG)
                }
                _ => ExitCode::from(EXIT_RUNTIME),
            }
        }
    }
}

async fn serve(server_config: ServerConfig) -> Result<(), ServerError> {
    let server = Server::bind(server_config).await?;
    // Handlers first, so that a SIGTERM sent after the "listening" record is never lost.
    let signals = asimapd_server::install_signal_handlers(server.handle())?;
    tracing::info!(
        address = %server.imap_address(),
        "listening for IMAP over TLS on {}",
        server.imap_address()
    );
    if let Some(address) = server.starttls_address() {
        tracing::info!(%address, "listening for IMAP with STARTTLS on {address}");
    }
    let result = server.run().await;
    signals.abort();
    result
}

fn server_config(
    config: &Config,
    log_config: &LogConfig,
    records: RecordRouter,
    traces: Arc<TraceSink>,
) -> ServerConfig {
    ServerConfig {
        imap_address: SocketAddr::new(config.address, config.port),
        starttls_address: config
            .starttls_port
            .map(|port| SocketAddr::new(config.address, port)),
        cert: config.cert.clone(),
        key: config.key.clone(),
        pwfile: config.pwfile.clone(),
        limits: ConnectionLimits {
            tls_handshake_timeout: config.tls_handshake_timeout,
            login_timeout: config.login_timeout,
            max_connections_per_address: config.max_connections_per_address,
            throttle_delay: DEFAULT_THROTTLE_DELAY,
        },
        workers: WorkerSettings {
            launch: WorkerLaunch::Process {
                program: PathBuf::from(SELF_EXE),
            },
            linger: config.worker_linger,
            idle_keepalive: config.idle_keepalive,
            mh_file_locking: config.mh_file_locking,
            log_level: lowest_level(log_config),
        },
        certificate_check_interval: DEFAULT_CERTIFICATE_CHECK_INTERVAL,
        records: Some(records),
        traces: Some(traces),
    }
}
