//! Parsers of untagged data and FETCH responses.

use super::Response;
use crate::cursor::Cursor;
use crate::error::ErrorKind;
use crate::grammar::{parse_flag, parse_mod_seq, parse_sequence_set};
use crate::response::StatusValue;
use crate::response::{Data, ListItem, MailboxListing, NamespaceEntry};
use crate::select::parse_id_params;
use crate::status::parse_status_att;
use crate::types::{Atom, SeqNum};

/// Parses the rest of an untagged response after `* `.
pub(super) fn parse_untagged(c: &mut Cursor<'_>) -> Result<Response, ErrorKind> {
    if c.peek().is_some_and(|b| b.is_ascii_digit()) {
        return parse_numbered(c);
    }
    let name = c.atom()?.to_ascii_uppercase();
    let data = match name.as_slice() {
        b"CAPABILITY" => Data::Capability(super::parse_atoms(c)?),
        b"ENABLED" => Data::Enabled(super::parse_atoms(c)?),
        b"LIST" => Data::List(parse_listing(c)?),
        b"LSUB" => Data::Lsub(parse_listing(c)?),
        b"STATUS" => parse_status(c)?,
        b"SEARCH" | b"SORT" => {
            let (numbers, modseq) = parse_number_list(c)?;
            if name == b"SEARCH" {
                Data::Search { numbers, modseq }
            } else {
                Data::Sort { numbers, modseq }
            }
        }
        b"ESEARCH" => parse_esearch(c)?,
        b"FLAGS" => {
            c.sp()?;
            Data::Flags(c.paren_list(true, parse_flag)?)
        }
        b"VANISHED" => {
            c.sp()?;
            let is_earlier = c.rest().starts_with(b"(EARLIER) ");
            if is_earlier {
                c.take_while(|b| b != b' ');
                c.sp()?;
            }
            let uids = parse_sequence_set(c)?;
            Data::Vanished { is_earlier, uids }
        }
        b"ID" => {
            c.sp()?;
            Data::Id(parse_id_params(c)?)
        }
        b"NAMESPACE" => parse_namespace(c)?,
        b"QUOTA" => parse_quota(c)?,
        b"QUOTAROOT" => {
            c.sp()?;
            let mailbox = c.mailbox()?;
            let mut roots = Vec::new();
            while c.eat(b' ') {
                roots.push(c.astring_utf8()?);
            }
            Data::QuotaRoot { mailbox, roots }
        }
        _ => return Err(c.expected("response data")),
    };
    Ok(Response::Data(data))
}

fn parse_numbered(c: &mut Cursor<'_>) -> Result<Response, ErrorKind> {
    let number = c.number()?;
    c.sp()?;
    let seq = || {
        SeqNum::new(number).ok_or(ErrorKind::InvalidNumber {
            text: number.to_string(),
        })
    };
    let name = c.atom()?.to_ascii_uppercase();
    let data = match name.as_slice() {
        b"EXISTS" => Data::Exists(number),
        b"RECENT" => Data::Recent(number),
        b"EXPUNGE" => Data::Expunge(seq()?),
        b"FETCH" => {
            c.sp()?;
            let values = c.paren_list(false, super::fetch::parse_fetch_value)?;
            return Ok(Response::Fetch {
                seq: seq()?,
                values,
            });
        }
        _ => return Err(c.expected("EXISTS, RECENT, EXPUNGE or FETCH")),
    };
    Ok(Response::Data(data))
}

fn parse_listing(c: &mut Cursor<'_>) -> Result<MailboxListing, ErrorKind> {
    c.sp()?;
    let attributes = c.paren_list(true, |c| {
        let has_backslash = c.eat(b'\\');
        let name = c.atom_string()?;
        Ok(if has_backslash {
            format!("\\{name}")
        } else {
            name
        })
    })?;
    c.sp()?;
    let delimiter = parse_delimiter(c)?;
    c.sp()?;
    let name = c.mailbox()?;
    let extended = if c.eat(b' ') {
        c.paren_list(false, parse_list_item)?
    } else {
        Vec::new()
    };
    Ok(MailboxListing {
        attributes,
        delimiter,
        name,
        extended,
    })
}

fn parse_delimiter(c: &mut Cursor<'_>) -> Result<Option<char>, ErrorKind> {
    if c.eat_keyword("NIL") {
        return Ok(None);
    }
    let text = String::from_utf8(c.quoted()?.into_owned()).map_err(|_| ErrorKind::InvalidUtf8)?;
    let mut chars = text.chars();
    match (chars.next(), chars.next()) {
        (Some(delimiter), None) => Ok(Some(delimiter)),
        _ => Err(c.expected("one-character delimiter")),
    }
}

fn parse_list_item(c: &mut Cursor<'_>) -> Result<ListItem, ErrorKind> {
    let name = c.astring_utf8()?.to_ascii_uppercase();
    c.sp()?;
    match name.as_str() {
        "CHILDINFO" => Ok(ListItem::ChildInfo(
            c.paren_list(false, |c| c.string_utf8())?,
        )),
        "OLDNAME" => {
            let mut names = c.paren_list(false, |c| c.mailbox())?;
            names
                .pop()
                .map(ListItem::OldName)
                .ok_or_else(|| c.expected("old name"))
        }
        _ => Err(c.expected("CHILDINFO or OLDNAME")),
    }
}

fn parse_status(c: &mut Cursor<'_>) -> Result<Data, ErrorKind> {
    c.sp()?;
    let mailbox = c.mailbox()?;
    c.sp()?;
    let values = c.paren_list(true, |c| {
        if c.eat_keyword("MAILBOXID") {
            c.sp()?;
            c.expect(b'(', "(")?;
            let id = c.atom_string()?;
            c.expect(b')', ")")?;
            return Ok(StatusValue::MailboxId(id));
        }
        let item = parse_status_att(c)?;
        c.sp()?;
        if c.eat_keyword("NIL") {
            return Ok(StatusValue::NoAppendLimit);
        }
        Ok(StatusValue::Number(item, c.number64()?))
    })?;
    Ok(Data::Status { mailbox, values })
}

fn parse_number_list(c: &mut Cursor<'_>) -> Result<(Vec<u32>, Option<crate::ModSeq>), ErrorKind> {
    let mut numbers = Vec::new();
    while c.eat(b' ') {
        if c.eat(b'(') {
            c.keyword("MODSEQ")?;
            c.sp()?;
            let modseq = parse_mod_seq(c)?;
            c.expect(b')', ")")?;
            return Ok((numbers, Some(modseq)));
        }
        numbers.push(c.nz_number()?.get());
    }
    Ok((numbers, None))
}

fn parse_esearch(c: &mut Cursor<'_>) -> Result<Data, ErrorKind> {
    let mut tag = None;
    let mut is_uid = false;
    let (mut min, mut max, mut all, mut count, mut modseq) = (None, None, None, None, None);
    if c.rest().starts_with(b" (") {
        c.sp()?;
        c.expect(b'(', "(")?;
        c.keyword("TAG")?;
        c.sp()?;
        let text = c.string_utf8()?;
        tag = Some(crate::Tag::new(text)?);
        c.expect(b')', ")")?;
    }
    while c.eat(b' ') {
        let name = c.atom()?.to_ascii_uppercase();
        if name == b"UID" {
            is_uid = true;
            continue;
        }
        c.sp()?;
        match name.as_slice() {
            b"MIN" => min = Some(c.nz_number()?.get()),
            b"MAX" => max = Some(c.nz_number()?.get()),
            b"ALL" => all = Some(parse_sequence_set(c)?),
            b"COUNT" => count = Some(c.number()?),
            b"MODSEQ" => modseq = Some(parse_mod_seq(c)?),
            _ => return Err(c.expected("ESEARCH return data")),
        }
    }
    Ok(Data::ESearch {
        tag,
        is_uid,
        min,
        max,
        all,
        count,
        modseq,
    })
}

fn parse_namespace(c: &mut Cursor<'_>) -> Result<Data, ErrorKind> {
    let mut lists = Vec::new();
    for _ in 0..3 {
        c.sp()?;
        if c.eat_keyword("NIL") {
            lists.push(Vec::new());
            continue;
        }
        // `"(" 1*namespace-descr ")"`: the entries follow each other without SP.
        c.expect(b'(', "(")?;
        let mut entries = vec![parse_namespace_descr(c)?];
        while c.peek() == Some(b'(') {
            entries.push(parse_namespace_descr(c)?);
        }
        c.expect(b')', ")")?;
        lists.push(entries);
    }
    let shared = lists.pop().unwrap_or_default();
    let other_users = lists.pop().unwrap_or_default();
    let personal = lists.pop().unwrap_or_default();
    Ok(Data::Namespace {
        personal,
        other_users,
        shared,
    })
}

fn parse_namespace_descr(c: &mut Cursor<'_>) -> Result<NamespaceEntry, ErrorKind> {
    c.expect(b'(', "(")?;
    let wire = c.string()?;
    let prefix = crate::MailboxName::from_wire(&wire, c.utf8_accept)?;
    c.sp()?;
    let delimiter = parse_delimiter(c)?;
    c.expect(b')', ")")?;
    Ok(NamespaceEntry {
        prefix: prefix.as_str().to_owned(),
        delimiter,
    })
}

fn parse_quota(c: &mut Cursor<'_>) -> Result<Data, ErrorKind> {
    c.sp()?;
    let root = c.astring_utf8()?;
    c.sp()?;
    let resources = c.paren_list(true, |c| {
        let name = Atom::new(c.atom_string()?)?;
        c.sp()?;
        let usage = c.number64()?;
        c.sp()?;
        let limit = c.number64()?;
        Ok((name, usage, limit))
    })?;
    Ok(Data::Quota { root, resources })
}
