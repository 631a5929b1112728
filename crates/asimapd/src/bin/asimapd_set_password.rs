//! `asimapd_set_password`: creates or updates an account in the asimapd password file.
//!
//! Usage: `asimapd_set_password [--pwfile=<pwfile>] [--prompt] <username> [<password>]
//! [<maildir>]`. The password file is `--pwfile`, else the `PWFILE` environment variable,
//! else `/opt/asimap/pwfile`. A `.env` file in the working directory is loaded first, and
//! variables already set in the environment win over it.

use std::io::{self, BufRead};
use std::path::PathBuf;
use std::process::ExitCode;

use asimapd_auth::{
    AccountChange, AuthError, PasswordHash, make_password, make_unusable_password, set_account,
};
use clap::Parser;
use clap::error::ErrorKind;

const PROGRAM: &str = "asimapd_set_password";
const PWFILE_VAR: &str = "PWFILE";
const DEFAULT_PWFILE: &str = "/opt/asimap/pwfile";
const DOTENV_FILE: &str = ".env";
/// Password argument that reads the password from standard input.
const STDIN_PASSWORD: &str = "-";
/// Maximum number of entry pairs `--prompt` reads before giving up on a mismatch.
const PROMPT_ATTEMPTS: usize = 3;

/// Exit status for a runtime failure: the password file or the password cannot be read or
/// written.
const EXIT_FAILURE: u8 = 1;
/// Exit status for a usage error: invalid arguments, environment or `.env` file.
const EXIT_USAGE: u8 = 2;

/// Command-line arguments as parsed, before the environment is consulted.
#[derive(Debug, Parser)]
#[command(
    name = PROGRAM,
    version,
    about = "Create or update an account in the asimapd password file.",
    long_about = "Create or update an account in the asimapd password file.\n\n\
        A new account needs <MAILDIR>. For an existing account the password hash is replaced, \
        and the maildir too when given. Without <PASSWORD> and without --prompt the password \
        is set unusable, which disables the account. New hashes are Django pbkdf2_sha256 with \
        1,000,000 iterations. The file is replaced atomically, keeping comments, line order, \
        relative maildirs and its mode.",
    after_help = "Exit status: 0 on success, 1 when the password file or the password cannot \
        be read or written, 2 on a usage error."
)]
struct Cli {
    /// Password file to edit [env: PWFILE] [default: /opt/asimap/pwfile]
    #[arg(long, value_name = "PWFILE")]
    pwfile: Option<PathBuf>,

    /// Read the password twice from the terminal, without echo; the second positional
    /// argument is then the maildir
    #[arg(long)]
    prompt: bool,

    /// User name
    username: String,

    /// New password, or "-" to read one line from standard input. Other local users can see
    /// command-line arguments, so prefer --prompt or "-"
    password: Option<String>,

    /// Mail folder of the user, relative to the password file's folder unless absolute;
    /// required for a new account
    maildir: Option<String>,
}

/// Failure of one run, printed as one line after the program name.
#[derive(Debug)]
enum CliError {
    Usage(String),
    Failure(String),
}

impl CliError {
    fn exit_code(&self) -> ExitCode {
        match self {
            Self::Usage(_) => ExitCode::from(EXIT_USAGE),
            Self::Failure(_) => ExitCode::from(EXIT_FAILURE),
        }
    }

    fn message(&self) -> &str {
        match self {
            Self::Usage(message) | Self::Failure(message) => message,
        }
    }
}

impl From<AuthError> for CliError {
    fn from(error: AuthError) -> Self {
        match error {
            AuthError::MaildirRequired { .. } | AuthError::InvalidField { .. } => {
                Self::Usage(error.to_string())
            }
            _ => Self::Failure(error.to_string()),
        }
    }
}

/// Settings resolved from the arguments, the environment and the defaults.
struct Request {
    pwfile: PathBuf,
    username: String,
    password: PasswordSource,
    maildir: Option<String>,
}

enum PasswordSource {
    Argument(String),
    Stdin,
    Prompt,
    Unusable,
}

fn main() -> ExitCode {
    match run() {
        Ok(report) => {
            println!("{report}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("{PROGRAM}: {}", error.message());
            error.exit_code()
        }
    }
}

fn run() -> Result<String, CliError> {
    load_dotenv()?;
    let request = resolve(parse_arguments()?)?;

    let password_hash = match read_password(&request.password)? {
        Some(password) => make_password(password.as_bytes()),
        None => make_unusable_password(),
    };
    let change = set_account(
        &request.pwfile,
        &request.username,
        &password_hash,
        request.maildir.as_deref(),
    )?;

    Ok(report(&request, change, &password_hash))
}

/// Loads `.env` from the working directory; variables already set are not overridden.
fn load_dotenv() -> Result<(), CliError> {
    match dotenvy::from_path(DOTENV_FILE) {
        Ok(()) => Ok(()),
        Err(error) if error.not_found() => Ok(()),
        Err(error) => Err(CliError::Usage(format!(
            "invalid {DOTENV_FILE} file in the working directory: {}; fix or remove it",
            describe_dotenv_error(&error)
        ))),
    }
}

/// Describes a `.env` error on one line, without the offending line, which may contain a
/// secret.
fn describe_dotenv_error(error: &dotenvy::Error) -> String {
    match error {
        dotenvy::Error::LineParse(_, offset) => format!("syntax error at character {offset}"),
        other => other.to_string().replace('\n', " "),
    }
}

fn parse_arguments() -> Result<Cli, CliError> {
    match Cli::try_parse() {
        Ok(cli) => Ok(cli),
        Err(error)
            if matches!(
                error.kind(),
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion
            ) =>
        {
            error.exit()
        }
        Err(error) => {
            // clap renders the error, tips and usage as paragraphs; the first paragraph is
            // the error, sometimes over several lines, and it is joined into one.
            let rendered = error.to_string();
            let summary = rendered.split("\n\n").next().unwrap_or_default();
            let summary = summary.strip_prefix("error: ").unwrap_or(summary);
            let message = summary.split_whitespace().collect::<Vec<_>>().join(" ");
            Err(CliError::Usage(format!(
                "{message}; run '{PROGRAM} --help' for usage"
            )))
        }
    }
}

fn resolve(cli: Cli) -> Result<Request, CliError> {
    let pwfile = cli
        .pwfile
        .or_else(pwfile_from_env)
        .unwrap_or_else(|| DEFAULT_PWFILE.into());

    let (password, maildir) = match (cli.prompt, cli.password, cli.maildir) {
        (true, _, Some(_)) => {
            return Err(CliError::Usage(
                "--prompt takes no password argument: give only <username> [<maildir>]".into(),
            ));
        }
        (true, maildir, None) => (PasswordSource::Prompt, maildir),
        (false, None, _) => (PasswordSource::Unusable, None),
        (false, Some(password), maildir) if password == STDIN_PASSWORD => {
            (PasswordSource::Stdin, maildir)
        }
        (false, Some(password), maildir) => (PasswordSource::Argument(password), maildir),
    };

    Ok(Request {
        pwfile,
        username: cli.username,
        password,
        maildir,
    })
}

/// Returns `PWFILE` from the environment; an empty value counts as unset.
fn pwfile_from_env() -> Option<PathBuf> {
    std::env::var_os(PWFILE_VAR)
        .filter(|value| !value.is_empty())
        .map(PathBuf::from)
}

/// Returns the new password, or `None` for an unusable one.
fn read_password(source: &PasswordSource) -> Result<Option<String>, CliError> {
    let password = match source {
        PasswordSource::Unusable => return Ok(None),
        PasswordSource::Argument(password) => password.clone(),
        PasswordSource::Stdin => read_stdin_password()?,
        PasswordSource::Prompt => prompt_password()?,
    };
    if password.is_empty() {
        return Err(CliError::Usage(
            "empty password: give a password, or none to disable the account".into(),
        ));
    }
    Ok(Some(password))
}

fn read_stdin_password() -> Result<String, CliError> {
    let mut line = String::new();
    let read = io::stdin().lock().read_line(&mut line).map_err(|error| {
        CliError::Failure(format!(
            "failed to read the password from standard input: {error}"
        ))
    })?;
    if read == 0 {
        return Err(CliError::Failure(
            "no password on standard input: write it as one line".into(),
        ));
    }
    let password = line.strip_suffix('\n').unwrap_or(&line);
    Ok(password.strip_suffix('\r').unwrap_or(password).to_owned())
}

fn prompt_password() -> Result<String, CliError> {
    let terminal_error = |error: io::Error| {
        CliError::Failure(format!(
            "failed to read the password from the terminal: {error}; \
             use '-' to read it from standard input instead"
        ))
    };
    for _ in 0..PROMPT_ATTEMPTS {
        let first = rpassword::prompt_password("New password: ").map_err(terminal_error)?;
        let second = rpassword::prompt_password("Repeat password: ").map_err(terminal_error)?;
        if first == second {
            return Ok(first);
        }
        eprintln!("{PROGRAM}: the passwords differ, try again");
    }
    Err(CliError::Failure(format!(
        "the passwords differed {PROMPT_ATTEMPTS} times; nothing was changed"
    )))
}

fn report(request: &Request, change: AccountChange, password_hash: &PasswordHash) -> String {
    let action = match change {
        AccountChange::Created => "created",
        AccountChange::Updated => "updated",
    };
    let disabled = if password_hash.is_usable() {
        ""
    } else {
        " with an unusable password (account disabled)"
    };
    format!(
        "{action} user {} in {}{disabled}",
        request.username,
        request.pwfile.display()
    )
}
