//! `asimapd`: the IMAP server for MH mail folders.

use std::path::Path;
use std::process::ExitCode;

use clap::Parser;

use asimapd::config::{self, Args, Config, EXIT_CONFIG, ProcessEnvironment};

fn main() -> ExitCode {
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
    setup_logging(&config);
    run(&config)
}

/// Installs the log configuration file named by `--log-config`, or the first one found in the
/// standard folders, or the default (stdout). Problems with the file are reported on stderr
/// once each; logging then goes on without the entries concerned.
fn setup_logging(config: &Config) {
    let search_dirs: Vec<&Path> = asimapd_logging::config::SEARCH_DIRS
        .iter()
        .map(Path::new)
        .collect();
    let (log_config, mut problems) =
        asimapd_logging::load_config(config.log_config.as_deref(), &search_dirs, config.debug);
    problems.extend(asimapd_logging::install(&log_config));
    for problem in problems {
        eprintln!("asimapd: {problem}");
    }
}

/// Prints a configuration error as one line on stderr and returns the configuration exit
/// status.
fn fail(error: &config::ConfigError) -> ExitCode {
    eprintln!("asimapd: {error}");
    ExitCode::from(EXIT_CONFIG)
}

fn run(config: &Config) -> ExitCode {
    // NOTE: the TLS listener and the per-user workers are not part of this build yet, so the
    // program stops after validating its configuration.
    tracing::info!(
        "asimapd {}: configuration valid (address {}, port {}, password file {}); \
         not yet serving: the IMAP listener is not built yet",
        env!("CARGO_PKG_VERSION"),
        config.address,
        config.port,
        config.pwfile.display()
    );
    ExitCode::SUCCESS
}
