//! The command grammar: `command` of RFC 9051 §9, dispatched on the command name.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::append::parse_append_messages;
use crate::command::{Command, CommandBody, NumberKind, StoreArguments, StoreMode};
use crate::cursor::{Cursor, UpperKeyword};
use crate::error::{ErrorKind, ParseError};
use crate::fetch::{parse_fetch_items, parse_fetch_modifiers};
use crate::flag::Flag;
use crate::grammar::{parse_flag, parse_flag_list, parse_mod_seq_valzer, parse_sequence_set};
use crate::limits::Limits;
use crate::list::{parse_list, parse_lsub};
use crate::notify::parse_notify;
use crate::search::parse_search_program;
use crate::select::parse_select_params;
use crate::select::{parse_atom, parse_create_params, parse_enable, parse_id_params};
use crate::sort::{parse_sort, parse_thread};
use crate::status::parse_status_att_list;
use crate::types::{Secret, Tag, is_tag_char};

/// Parses one complete command, CRLF included, whose literals are all in `input`.
pub fn parse_command(input: &[u8], limits: &Limits) -> Result<Command, ParseError> {
    parse_command_with_externals(input, &[], limits)
}

/// Parses one complete command; `externals` contains the offsets of literal payloads that the
/// session streamed elsewhere.
pub(crate) fn parse_command_with_externals(
    input: &[u8],
    externals: &[usize],
    limits: &Limits,
) -> Result<Command, ParseError> {
    let mut c = Cursor::new(input, externals, limits);
    let tag = parse_tag(&mut c).map_err(|kind| kind.with_tag(None))?;
    let parse_rest = |c: &mut Cursor<'_>| -> Result<CommandBody, ErrorKind> {
        c.sp()?;
        let body = parse_command_body(c)?;
        c.finish()?;
        Ok(body)
    };
    match parse_rest(&mut c) {
        Ok(body) => Ok(Command { tag, body }),
        Err(kind) => Err(kind.with_tag(Some(tag))),
    }
}

/// Reads the tag at the start of a command, if it has a valid one followed by SP.
pub(crate) fn peek_tag(input: &[u8]) -> Option<Tag> {
    let len = input.iter().take_while(|&&b| is_tag_char(b)).count();
    if len == 0 || input.get(len) != Some(&b' ') {
        return None;
    }
    Tag::new(String::from_utf8_lossy(&input[..len])).ok()
}

fn parse_tag(c: &mut Cursor<'_>) -> Result<Tag, ErrorKind> {
    let text = c.take_while(is_tag_char);
    if text.is_empty() {
        return Err(ErrorKind::InvalidTag);
    }
    Tag::new(String::from_utf8_lossy(text))
}

// One arm per command name keeps the whole command table in view, which makes this match
// longer than the usual function.
// NOTE: commands of extensions the server does not plan to advertise (SETQUOTA, METADATA,
// CATENATE, ESORT) are rejected as unknown commands.
fn parse_command_body(c: &mut Cursor<'_>) -> Result<CommandBody, ErrorKind> {
    use CommandBody as C;
    let word = c.atom()?;
    let name = UpperKeyword::new(word);
    let numbers = NumberKind::SequenceNumber;
    let body = match name.as_bytes() {
        b"CAPABILITY" => C::Capability,
        b"NOOP" => C::Noop,
        b"LOGOUT" => C::Logout,
        b"ID" => C::Id(after_sp(c, parse_id_params)?),
        b"STARTTLS" => C::StartTls,
        b"AUTHENTICATE" => parse_authenticate(c)?,
        b"LOGIN" => parse_login(c)?,
        b"ENABLE" => C::Enable(parse_enable(c)?),
        b"SELECT" => {
            let (mailbox, params) = parse_select(c)?;
            C::Select { mailbox, params }
        }
        b"EXAMINE" => {
            let (mailbox, params) = parse_select(c)?;
            C::Examine { mailbox, params }
        }
        b"CREATE" => parse_create(c)?,
        b"DELETE" => C::Delete(after_sp(c, |c| c.mailbox())?),
        b"RENAME" => {
            let from = after_sp(c, |c| c.mailbox())?;
            let to = after_sp(c, |c| c.mailbox())?;
            C::Rename { from, to }
        }
        b"SUBSCRIBE" => C::Subscribe(after_sp(c, |c| c.mailbox())?),
        b"UNSUBSCRIBE" => C::Unsubscribe(after_sp(c, |c| c.mailbox())?),
        b"LIST" => C::List(after_sp(c, parse_list)?),
        b"LSUB" => {
            let (reference, pattern) = after_sp(c, parse_lsub)?;
            C::Lsub { reference, pattern }
        }
        b"NAMESPACE" => C::Namespace,
        b"STATUS" => {
            let mailbox = after_sp(c, |c| c.mailbox())?;
            let items = after_sp(c, parse_status_att_list)?;
            C::Status { mailbox, items }
        }
        b"APPEND" => {
            let mailbox = after_sp(c, |c| c.mailbox())?;
            let messages = parse_append_messages(c)?;
            C::Append { mailbox, messages }
        }
        b"IDLE" => C::Idle,
        b"GETQUOTA" => C::GetQuota(after_sp(c, |c| c.astring_utf8())?),
        b"GETQUOTAROOT" => C::GetQuotaRoot(after_sp(c, |c| c.mailbox())?),
        b"NOTIFY" => C::Notify(after_sp(c, parse_notify)?),
        b"COMPRESS" => C::Compress(after_sp(c, parse_atom)?),
        b"UNAUTHENTICATE" => C::Unauthenticate,
        b"CHECK" => C::Check,
        b"CLOSE" => C::Close,
        b"UNSELECT" => C::Unselect,
        b"EXPUNGE" => C::Expunge,
        b"UID" => {
            c.sp()?;
            parse_uid_command(c)?
        }
        _ => return parse_message_command(c, word, numbers),
    };
    Ok(body)
}

fn unknown_command(name: &[u8]) -> ErrorKind {
    ErrorKind::UnknownCommand {
        name: String::from_utf8_lossy(name).into_owned(),
    }
}

/// Parses `SP item`.
fn after_sp<'a, T>(
    c: &mut Cursor<'a>,
    item: impl FnOnce(&mut Cursor<'a>) -> Result<T, ErrorKind>,
) -> Result<T, ErrorKind> {
    c.sp()?;
    item(c)
}

fn parse_uid_command(c: &mut Cursor<'_>) -> Result<CommandBody, ErrorKind> {
    let word = c.atom()?;
    if word.eq_ignore_ascii_case(b"EXPUNGE") {
        return Ok(CommandBody::UidExpunge(after_sp(c, parse_sequence_set)?));
    }
    parse_message_command(c, word, NumberKind::Uid)
}

/// Parses the commands that exist both with and without the UID prefix.
fn parse_message_command(
    c: &mut Cursor<'_>,
    word: &[u8],
    numbers: NumberKind,
) -> Result<CommandBody, ErrorKind> {
    use CommandBody as C;
    let name = UpperKeyword::new(word);
    let body = match name.as_bytes() {
        b"SEARCH" => C::Search {
            numbers,
            program: parse_search_program(c)?,
        },
        b"FETCH" => parse_fetch(c, numbers)?,
        b"STORE" => C::Store {
            numbers,
            arguments: after_sp(c, parse_store)?,
        },
        b"COPY" | b"MOVE" => {
            let set = after_sp(c, parse_sequence_set)?;
            let mailbox = after_sp(c, |c| c.mailbox())?;
            if name.as_bytes() == b"COPY" {
                C::Copy {
                    numbers,
                    set,
                    mailbox,
                }
            } else {
                C::Move {
                    numbers,
                    set,
                    mailbox,
                }
            }
        }
        b"SORT" => C::Sort {
            numbers,
            arguments: after_sp(c, parse_sort)?,
        },
        b"THREAD" => C::Thread {
            numbers,
            arguments: after_sp(c, parse_thread)?,
        },
        _ => return Err(unknown_command(word)),
    };
    Ok(body)
}

fn parse_fetch(c: &mut Cursor<'_>, numbers: NumberKind) -> Result<CommandBody, ErrorKind> {
    let set = after_sp(c, parse_sequence_set)?;
    let items = after_sp(c, parse_fetch_items)?;
    let modifiers = if c.eat(b' ') {
        parse_fetch_modifiers(c)?
    } else {
        Vec::new()
    };
    Ok(CommandBody::Fetch {
        numbers,
        set,
        items,
        modifiers,
    })
}

/// Parses `sequence-set [store-modifiers] SP store-att-flags`.
fn parse_store(c: &mut Cursor<'_>) -> Result<StoreArguments, ErrorKind> {
    let set = parse_sequence_set(c)?;
    c.sp()?;
    let unchanged_since = if c.peek() == Some(b'(') {
        let values = c.paren_list(false, |c| {
            c.keyword("UNCHANGEDSINCE")?;
            c.sp()?;
            parse_mod_seq_valzer(c)
        })?;
        c.sp()?;
        values.last().copied()
    } else {
        None
    };
    let mode = if c.eat(b'+') {
        StoreMode::Add
    } else if c.eat(b'-') {
        StoreMode::Remove
    } else {
        StoreMode::Replace
    };
    let is_silent = if c.eat_keyword("FLAGS.SILENT") {
        true
    } else {
        c.keyword("FLAGS")?;
        false
    };
    c.sp()?;
    let flags = parse_store_flags(c)?;
    Ok(StoreArguments {
        set,
        unchanged_since,
        mode,
        is_silent,
        flags,
    })
}

/// Parses `flag-list / (flag *(SP flag))`.
fn parse_store_flags(c: &mut Cursor<'_>) -> Result<Vec<Flag>, ErrorKind> {
    if c.peek() == Some(b'(') {
        return parse_flag_list(c);
    }
    let mut flags = vec![parse_flag(c)?];
    while c.eat(b' ') {
        flags.push(parse_flag(c)?);
    }
    Ok(flags)
}

fn parse_select(
    c: &mut Cursor<'_>,
) -> Result<(crate::MailboxName, Vec<crate::SelectParam>), ErrorKind> {
    let mailbox = after_sp(c, |c| c.mailbox())?;
    let params = if c.eat(b' ') {
        parse_select_params(c)?
    } else {
        Vec::new()
    };
    Ok((mailbox, params))
}

fn parse_create(c: &mut Cursor<'_>) -> Result<CommandBody, ErrorKind> {
    let mailbox = after_sp(c, |c| c.mailbox())?;
    let special_use = if c.eat(b' ') {
        parse_create_params(c)?
    } else {
        Vec::new()
    };
    Ok(CommandBody::Create {
        mailbox,
        special_use,
    })
}

fn parse_login(c: &mut Cursor<'_>) -> Result<CommandBody, ErrorKind> {
    let username = after_sp(c, |c| c.astring_utf8())?;
    let password = after_sp(c, |c| c.astring())?;
    Ok(CommandBody::Login {
        username,
        password: Secret::new(password.into_owned()),
    })
}

/// Parses `SP auth-type [SP (base64 / "=")]` (RFC 4959 §7).
fn parse_authenticate(c: &mut Cursor<'_>) -> Result<CommandBody, ErrorKind> {
    let mechanism = after_sp(c, parse_atom)?;
    let initial_response = if c.eat(b' ') {
        let encoded =
            c.take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='));
        Some(decode_sasl_response(encoded).ok_or(ErrorKind::InvalidBase64)?)
    } else {
        None
    };
    Ok(CommandBody::Authenticate {
        mechanism,
        initial_response,
    })
}

/// Decodes a SASL response: base64, or `=` for an empty one (RFC 4959 §3).
pub(crate) fn decode_sasl_response(encoded: &[u8]) -> Option<Secret> {
    if encoded == b"=" {
        return Some(Secret::new(Vec::new()));
    }
    if encoded.is_empty() {
        return None;
    }
    STANDARD.decode(encoded).ok().map(Secret::new)
}
