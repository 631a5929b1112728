//! The command table: for each command, the states it is valid in, whether it addresses
//! messages by sequence number, and whether it may expunge. Dispatch and the state check
//! both read it.

use asimapd_proto::{CommandBody, NumberKind};

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

/// One row of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CommandSpec {
    pub(crate) name: &'static str,
    pub(crate) validity: Validity,
    /// True for commands that address messages by sequence number. RFC 3501 §7.4.1 forbids
    /// untagged EXPUNGE while FETCH, STORE or SEARCH by sequence number runs, and this
    /// server extends that to COPY and MOVE by sequence number, so numbers the client sent
    /// keep their meaning until the command ends.
    pub(crate) uses_sequence_numbers: bool,
    /// True for commands that may remove messages.
    pub(crate) may_expunge: bool,
    /// True for commands that address messages (by sequence number or UID). The session
    /// applies the changes other sessions made before such a command runs, so the command
    /// sees the flags and messages as they are when it starts.
    pub(crate) addresses_messages: bool,
}

const fn spec(name: &'static str, validity: Validity) -> CommandSpec {
    CommandSpec {
        name,
        validity,
        uses_sequence_numbers: false,
        may_expunge: false,
        addresses_messages: false,
    }
}

/// Returns the table row of a command.
pub(crate) fn command_spec(body: &CommandBody) -> CommandSpec {
    use CommandBody as C;
    use Validity as V;
    let by_number = |numbers: &NumberKind| *numbers == NumberKind::SequenceNumber;
    match body {
        C::Capability | C::Noop | C::Logout | C::Id(_) => spec(body.name(), V::Any),
        C::StartTls | C::Authenticate { .. } | C::Login { .. } => {
            spec(body.name(), V::NotAuthenticated)
        }
        C::Enable(_)
        | C::Select { .. }
        | C::Examine { .. }
        | C::Create { .. }
        | C::Delete(_)
        | C::Rename { .. }
        | C::Subscribe(_)
        | C::Unsubscribe(_)
        | C::List(_)
        | C::Lsub { .. }
        | C::Namespace
        | C::Status { .. }
        | C::Append { .. }
        | C::Idle => spec(body.name(), V::Authenticated),
        C::Check | C::Unselect => spec(body.name(), V::Selected),
        C::Close => CommandSpec {
            may_expunge: true,
            ..spec(body.name(), V::Selected)
        },
        C::Expunge | C::UidExpunge(_) => CommandSpec {
            may_expunge: true,
            addresses_messages: true,
            ..spec(body.name(), V::Selected)
        },
        C::Fetch { numbers, .. }
        | C::Store {
            numbers,
            arguments: _,
        }
        | C::Search { numbers, .. }
        | C::Copy { numbers, .. } => CommandSpec {
            uses_sequence_numbers: by_number(numbers),
            addresses_messages: true,
            ..spec(body.name(), V::Selected)
        },
        C::Move { numbers, .. } => CommandSpec {
            uses_sequence_numbers: by_number(numbers),
            may_expunge: true,
            addresses_messages: true,
            ..spec(body.name(), V::Selected)
        },
        _ => spec(body.name(), V::Unsupported),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use asimapd_proto::{SequenceSet, StoreArguments, StoreMode};
    use std::num::NonZeroU32;

    fn set() -> SequenceSet {
        SequenceSet::single(NonZeroU32::new(1).unwrap())
    }

    #[test]
    fn store_by_number_uses_sequence_numbers() {
        let store = |numbers| CommandBody::Store {
            numbers,
            arguments: StoreArguments {
                set: set(),
                unchanged_since: None,
                mode: StoreMode::Add,
                is_silent: false,
                flags: Vec::new(),
            },
        };
        assert!(command_spec(&store(NumberKind::SequenceNumber)).uses_sequence_numbers);
        assert!(!command_spec(&store(NumberKind::Uid)).uses_sequence_numbers);
    }

    #[test]
    fn move_may_expunge() {
        let body = CommandBody::Move {
            numbers: NumberKind::Uid,
            set: set(),
            mailbox: asimapd_proto::MailboxName::inbox(),
        };
        let spec = command_spec(&body);
        assert!(spec.may_expunge);
        assert_eq!(spec.validity, Validity::Selected);
    }

    #[test]
    fn message_commands_address_messages() {
        let fetch = CommandBody::Fetch {
            numbers: NumberKind::Uid,
            set: set(),
            items: asimapd_proto::FetchItems::Fast,
            modifiers: Vec::new(),
        };
        assert!(command_spec(&fetch).addresses_messages);
        assert!(command_spec(&CommandBody::Expunge).addresses_messages);
        assert!(!command_spec(&CommandBody::Close).addresses_messages);
        assert!(!command_spec(&CommandBody::Noop).addresses_messages);
    }

    #[test]
    fn login_is_wrong_after_authentication() {
        let body = CommandBody::Login {
            username: "a".into(),
            password: asimapd_proto::Secret::new(b"b".to_vec()),
        };
        assert_eq!(command_spec(&body).validity, Validity::NotAuthenticated);
    }

    #[test]
    fn compress_is_unsupported() {
        assert_eq!(
            command_spec(&CommandBody::Compress(
                asimapd_proto::Atom::new("DEFLATE").unwrap()
            ))
            .validity,
            Validity::Unsupported
        );
    }
}
