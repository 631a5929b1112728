//! The command table: for each command, the states it is valid in, whether it addresses
//! messages by sequence number, whether it may expunge, and the handler that runs it. The
//! state check, the rules for untagged responses and dispatch all read this one table.

use std::future::Future;
use std::pin::Pin;

use asimapd_proto::CommandBody;

use crate::commands as run;
use crate::error::CommandError;
use crate::session::{Completion, Session};

/// The states a command is valid in (RFC 9051 §3). A worker session is always
/// authenticated: the listener handles the not-authenticated state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Validity {
    /// Any state.
    Any,
    /// Authenticated or selected.
    Authenticated,
    /// Selected only.
    Selected,
    /// Not authenticated only: always wrong in a worker.
    NotAuthenticated,
    /// A command this server does not implement.
    Unsupported,
}

/// The future a command handler returns.
pub(crate) type HandlerFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Completion, CommandError>> + Send + 'a>>;

/// A command handler: takes the parsed command and queues its untagged responses.
pub(crate) type Handler = fn(&mut Session, CommandBody) -> HandlerFuture<'_>;

/// The way the session runs a command that passed the state check.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Run {
    /// A handler that ends with the command's completion.
    Handler(Handler),
    /// IDLE, which the session runs itself because it reads the client's `DONE`.
    Idle,
    /// No handler: the state check rejects the command before dispatch.
    Rejected,
}

/// One row of the table.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CommandSpec {
    /// The command name as [`CommandBody::name`] returns it (`UID FETCH` for UID FETCH).
    pub(crate) name: &'static str,
    pub(crate) validity: Validity,
    /// True for commands that address messages by sequence number. RFC 3501 §7.4.1 forbids
    /// untagged EXPUNGE while FETCH, STORE or SEARCH by sequence number runs, and this
    /// server extends that to COPY and MOVE by sequence number, so numbers the client sent
    /// keep their meaning until the command ends.
    pub(crate) uses_sequence_numbers: bool,
    /// True for commands that remove messages and send untagged EXPUNGE for them. The
    /// session rejects them with `NO` on a read-only (EXAMINE) mailbox. CLOSE is not one:
    /// on a read-only mailbox it only closes it (RFC 9051 §6.4.1), and its expunge sends
    /// no EXPUNGE responses.
    pub(crate) may_expunge: bool,
    /// True for commands that address messages (by sequence number or UID). The session
    /// applies the changes other sessions made before such a command runs, so the command
    /// sees the flags and messages as they are when it starts.
    pub(crate) addresses_messages: bool,
    pub(crate) run: Run,
}

impl CommandSpec {
    const fn new(name: &'static str, validity: Validity, run: Run) -> Self {
        CommandSpec {
            name,
            validity,
            uses_sequence_numbers: false,
            may_expunge: false,
            addresses_messages: false,
            run,
        }
    }

    /// Creates the row of a command run by `handler`.
    const fn handled(name: &'static str, validity: Validity, handler: Handler) -> Self {
        Self::new(name, validity, Run::Handler(handler))
    }

    /// Creates the row of a command that addresses messages, valid only when selected.
    const fn on_messages(name: &'static str, handler: Handler) -> Self {
        CommandSpec {
            addresses_messages: true,
            ..Self::handled(name, Validity::Selected, handler)
        }
    }

    const fn by_sequence_number(self) -> Self {
        CommandSpec {
            uses_sequence_numbers: true,
            ..self
        }
    }

    const fn expunging(self) -> Self {
        CommandSpec {
            may_expunge: true,
            ..self
        }
    }
}

/// Every command the worker recognises. Commands the parser accepts but that are missing
/// here (COMPRESS, NOTIFY, SORT, ...) get a `BAD` that names them as unsupported.
pub(crate) const COMMANDS: &[CommandSpec] = {
    use CommandSpec as S;
    use Validity::{Any, Authenticated, NotAuthenticated, Selected};
    &[
        S::handled("CAPABILITY", Any, run::capability),
        S::handled("NOOP", Any, run::noop),
        S::handled("LOGOUT", Any, run::logout),
        S::handled("ID", Any, run::id),
        S::new("STARTTLS", NotAuthenticated, Run::Rejected),
        S::new("AUTHENTICATE", NotAuthenticated, Run::Rejected),
        S::new("LOGIN", NotAuthenticated, Run::Rejected),
        S::handled("ENABLE", Authenticated, run::enable),
        S::handled("NAMESPACE", Authenticated, run::namespace),
        S::handled("SELECT", Authenticated, run::select),
        S::handled("EXAMINE", Authenticated, run::examine),
        S::handled("CREATE", Authenticated, run::create),
        S::handled("DELETE", Authenticated, run::delete),
        S::handled("RENAME", Authenticated, run::rename),
        S::handled("SUBSCRIBE", Authenticated, run::subscribe),
        S::handled("UNSUBSCRIBE", Authenticated, run::unsubscribe),
        S::handled("LIST", Authenticated, run::list),
        S::handled("LSUB", Authenticated, run::lsub),
        S::handled("STATUS", Authenticated, run::status),
        S::handled("APPEND", Authenticated, run::append),
        S::new("IDLE", Authenticated, Run::Idle),
        S::handled("CHECK", Selected, run::check),
        S::handled("UNSELECT", Selected, run::unselect),
        S::handled("CLOSE", Selected, run::close),
        S::on_messages("EXPUNGE", run::expunge).expunging(),
        S::on_messages("UID EXPUNGE", run::uid_expunge).expunging(),
        S::on_messages("FETCH", run::fetch).by_sequence_number(),
        S::on_messages("UID FETCH", run::fetch),
        S::on_messages("STORE", run::store).by_sequence_number(),
        S::on_messages("UID STORE", run::store),
        S::on_messages("SEARCH", run::search).by_sequence_number(),
        S::on_messages("UID SEARCH", run::search),
        S::on_messages("COPY", run::copy).by_sequence_number(),
        S::on_messages("UID COPY", run::copy),
        S::on_messages("MOVE", run::move_messages)
            .by_sequence_number()
            .expunging(),
        S::on_messages("UID MOVE", run::move_messages).expunging(),
    ]
};

/// Returns the table row of a command, or an unsupported row for a command missing from
/// the table.
pub(crate) fn command_spec(body: &CommandBody) -> CommandSpec {
    let name = body.name();
    COMMANDS
        .iter()
        .find(|spec| spec.name == name)
        .copied()
        .unwrap_or(CommandSpec::new(name, Validity::Unsupported, Run::Rejected))
}

#[cfg(test)]
mod tests {
    use super::*;
    use asimapd_proto::{Limits, parse_command};

    /// Returns the table row of a command line as the parser reads it.
    fn spec_of(line: &str) -> CommandSpec {
        let command = parse_command(format!("a {line}\r\n").as_bytes(), &Limits::default())
            .unwrap_or_else(|error| panic!("{line:?} does not parse: {error:?}"));
        command_spec(&command.body)
    }

    /// One command line per table row, in table order.
    const SAMPLES: &[&str] = &[
        "CAPABILITY",
        "NOOP",
        "LOGOUT",
        "ID NIL",
        "STARTTLS",
        "AUTHENTICATE PLAIN",
        "LOGIN a b",
        "ENABLE UTF8=ACCEPT",
        "NAMESPACE",
        "SELECT INBOX",
        "EXAMINE INBOX",
        "CREATE a",
        "DELETE a",
        "RENAME a b",
        "SUBSCRIBE a",
        "UNSUBSCRIBE a",
        "LIST \"\" *",
        "LSUB \"\" *",
        "STATUS INBOX (MESSAGES)",
        "APPEND INBOX {1+}\r\nx",
        "IDLE",
        "CHECK",
        "UNSELECT",
        "CLOSE",
        "EXPUNGE",
        "UID EXPUNGE 1",
        "FETCH 1 FLAGS",
        "UID FETCH 1 FLAGS",
        "STORE 1 +FLAGS (\\Seen)",
        "UID STORE 1 +FLAGS (\\Seen)",
        "SEARCH ALL",
        "UID SEARCH ALL",
        "COPY 1 a",
        "UID COPY 1 a",
        "MOVE 1 a",
        "UID MOVE 1 a",
    ];

    #[test]
    fn every_row_is_found_by_its_command() {
        assert_eq!(SAMPLES.len(), COMMANDS.len());
        for (line, row) in SAMPLES.iter().zip(COMMANDS) {
            assert_eq!(spec_of(line).name, row.name, "row for {line:?}");
        }
    }

    #[test]
    fn row_names_are_unique() {
        for (index, row) in COMMANDS.iter().enumerate() {
            let later = &COMMANDS[index + 1..];
            assert!(
                later.iter().all(|other| other.name != row.name),
                "{} appears twice",
                row.name
            );
        }
    }

    #[test]
    fn only_rejected_states_lack_a_handler() {
        for row in COMMANDS {
            let rejected = matches!(row.run, Run::Rejected);
            let invalid_here = matches!(
                row.validity,
                Validity::NotAuthenticated | Validity::Unsupported
            );
            assert_eq!(rejected, invalid_here, "{}", row.name);
        }
    }

    #[test]
    fn store_by_number_uses_sequence_numbers() {
        assert!(spec_of("STORE 1 FLAGS ()").uses_sequence_numbers);
        assert!(!spec_of("UID STORE 1 FLAGS ()").uses_sequence_numbers);
    }

    #[test]
    fn move_may_expunge() {
        let spec = spec_of("UID MOVE 1 a");
        assert!(spec.may_expunge);
        assert_eq!(spec.validity, Validity::Selected);
        assert!(spec_of("MOVE 1 a").uses_sequence_numbers);
    }

    #[test]
    fn close_is_not_expunging() {
        assert!(!spec_of("CLOSE").may_expunge);
        assert!(spec_of("EXPUNGE").may_expunge);
        assert!(spec_of("UID EXPUNGE 1").may_expunge);
    }

    #[test]
    fn message_commands_address_messages() {
        assert!(spec_of("UID FETCH 1 FAST").addresses_messages);
        assert!(spec_of("EXPUNGE").addresses_messages);
        assert!(!spec_of("CLOSE").addresses_messages);
        assert!(!spec_of("NOOP").addresses_messages);
    }

    #[test]
    fn idle_is_run_by_the_session() {
        assert!(matches!(spec_of("IDLE").run, Run::Idle));
    }

    #[test]
    fn login_is_wrong_after_authentication() {
        assert_eq!(spec_of("LOGIN a b").validity, Validity::NotAuthenticated);
    }

    #[test]
    fn compress_is_unsupported() {
        let spec = spec_of("COMPRESS DEFLATE");
        assert_eq!(spec.name, "COMPRESS");
        assert_eq!(spec.validity, Validity::Unsupported);
        assert!(matches!(spec.run, Run::Rejected));
    }
}
