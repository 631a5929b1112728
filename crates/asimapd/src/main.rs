//! `asimapd`: the IMAP server for MH mail folders.

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
    run(&config)
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
    println!(
        "asimapd {}: configuration valid (address {}, port {}, password file {}); \
         not yet serving: the IMAP listener is not built yet",
        env!("CARGO_PKG_VERSION"),
        config.address,
        config.port,
        config.pwfile.display()
    );
    ExitCode::SUCCESS
}
