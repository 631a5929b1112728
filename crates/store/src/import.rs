//! Reading the Python asimap's `asimap.db`, so that clients keep their caches.
//!
//! The Python server kept one row per mailbox in its `mailboxes` table (schema after its
//! migration 6). A row holds the UIDVALIDITY (`uid_vv`), UIDNEXT (`next_uid`), the
//! subscription and the attributes. The UIDs and the message numbers they belong to are two
//! parallel compact range lists (`uids` and `msg_keys`, such as `1-3,6-7,10`). Its `sequences` table mirrored MH sequences,
//! plus `Seen` and `Recent`, which it invented. Only `Recent` is used here: messages in it
//! stay `\Recent` for the first session of the new server. Flags come from `.mh_sequences`.

use std::path::Path;

use asimapd_mh::MessageNumber;
use asimapd_proto::{Uid, UidValidity};
use rusqlite::{Connection, OpenFlags, OptionalExtension};

use crate::error::{Result, StoreError};

/// Name of the Python asimap's database in the mail root.
pub const ASIMAP_DB_FILE: &str = "asimap.db";

/// The maximum length of a range list from `asimap.db`, in expanded entries, so that a damaged
/// row like `1-4294967295` cannot exhaust memory. MH folders hold at most 9,999,999 messages.
pub const MAX_IMPORTED_UIDS: usize = 10_000_000;

/// Special-use attributes (RFC 6154 §2) recognised in the Python server's `attributes`.
const SPECIAL_USE: [&str; 7] = [
    "\\All",
    "\\Archive",
    "\\Drafts",
    "\\Flagged",
    "\\Junk",
    "\\Sent",
    "\\Trash",
];

/// One mailbox read from `asimap.db`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportedMailbox {
    /// The mailbox (folder) name.
    pub name: String,
    /// Its UIDVALIDITY.
    pub uid_validity: UidValidity,
    /// Its UIDNEXT, at least one above the highest UID listed.
    pub uid_next: u32,
    /// The message numbers and their UIDs, in UID order.
    pub messages: Vec<(MessageNumber, Uid)>,
    /// True when the user was subscribed.
    pub subscribed: bool,
    /// The special-use attribute, if the Python server recorded one.
    pub special_use: Option<String>,
    /// The lowest UID in the Python server's `Recent` sequence, if any.
    pub first_recent: Option<Uid>,
}

/// A mailbox row that could not be imported, for the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SkippedMailbox {
    /// The mailbox name.
    pub name: String,
    /// The reason it was skipped. The mailbox is indexed from scratch instead.
    pub reason: String,
}

/// Everything read from `asimap.db`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Imported {
    /// Mailboxes imported.
    pub mailboxes: Vec<ImportedMailbox>,
    /// Mailboxes whose rows were unusable.
    pub skipped: Vec<SkippedMailbox>,
}

/// Reads `asimap.db` at `path`, read-only.
pub fn read_asimap_db(path: &Path) -> Result<Imported> {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|err| import_error(path, err.to_string()))?;
    let mut statement = conn
        .prepare(
            "SELECT id, name, uid_vv, next_uid, uids, msg_keys, subscribed, attributes \
             FROM mailboxes ORDER BY name",
        )
        .map_err(|err| import_error(path, err.to_string()))?;
    let rows = statement
        .query_map([], |row| {
            Ok(RawMailbox {
                id: row.get(0)?,
                name: row.get(1)?,
                uid_vv: row.get(2)?,
                next_uid: row.get(3)?,
                uids: row.get::<_, Option<String>>(4)?.unwrap_or_default(),
                msg_keys: row.get::<_, Option<String>>(5)?.unwrap_or_default(),
                subscribed: row.get::<_, Option<i64>>(6)?.unwrap_or(0) != 0,
                attributes: row.get::<_, Option<String>>(7)?.unwrap_or_default(),
            })
        })
        .map_err(|err| import_error(path, err.to_string()))?;

    let mut imported = Imported::default();
    for raw in rows {
        let raw = raw.map_err(|err| import_error(path, err.to_string()))?;
        if raw.name.is_empty() {
            continue;
        }
        let recent = recent_keys(&conn, raw.id).map_err(|err| import_error(path, err))?;
        match convert(&raw, &recent) {
            Ok(mailbox) => imported.mailboxes.push(mailbox),
            Err(reason) => imported.skipped.push(SkippedMailbox {
                name: raw.name,
                reason,
            }),
        }
    }
    Ok(imported)
}

/// Expands a compact range list (`1-3,6-7,10`) as the Python server wrote it. Empty text
/// is an empty list.
pub fn expand_ranges(text: &str) -> std::result::Result<Vec<u32>, String> {
    let mut values = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (low, high) = match part.split_once('-') {
            Some((low, high)) => (parse_number(low)?, parse_number(high)?),
            None => {
                let value = parse_number(part)?;
                (value, value)
            }
        };
        if low > high {
            return Err(format!("range {part:?} runs backwards"));
        }
        if values.len() + (high - low) as usize + 1 > MAX_IMPORTED_UIDS {
            return Err(format!("more than {MAX_IMPORTED_UIDS} entries"));
        }
        values.extend(low..=high);
    }
    Ok(values)
}

struct RawMailbox {
    id: i64,
    name: String,
    uid_vv: Option<i64>,
    next_uid: Option<i64>,
    uids: String,
    msg_keys: String,
    subscribed: bool,
    attributes: String,
}

fn convert(raw: &RawMailbox, recent_keys: &[u32]) -> std::result::Result<ImportedMailbox, String> {
    let uid_validity = raw
        .uid_vv
        .and_then(|v| u32::try_from(v).ok())
        .and_then(UidValidity::new)
        .ok_or_else(|| format!("invalid uid_vv {:?}", raw.uid_vv))?;
    let uids = expand_ranges(&raw.uids).map_err(|e| format!("uids: {e}"))?;
    let keys = expand_ranges(&raw.msg_keys).map_err(|e| format!("msg_keys: {e}"))?;
    if uids.len() != keys.len() {
        return Err(format!(
            "{} UIDs for {} message keys",
            uids.len(),
            keys.len()
        ));
    }
    if !uids.is_sorted_by(|a, b| a < b) {
        return Err("UIDs are not strictly ascending".to_owned());
    }
    let mut messages = Vec::with_capacity(uids.len());
    for (&key, &uid) in keys.iter().zip(&uids) {
        let number = MessageNumber::new(key).ok_or_else(|| format!("invalid message key {key}"))?;
        let uid = Uid::new(uid).ok_or_else(|| "UID 0".to_owned())?;
        messages.push((number, uid));
    }
    let highest = uids.last().map_or(0, |&uid| u64::from(uid));
    let next_uid = raw.next_uid.unwrap_or(1).max(1) as u64;
    let uid_next = u32::try_from(next_uid.max(highest + 1))
        .map_err(|_| format!("next_uid {next_uid} exceeds 32 bits"))?;
    let first_recent = messages
        .iter()
        .filter(|(number, _)| recent_keys.contains(&number.get()))
        .map(|(_, uid)| *uid)
        .min();
    Ok(ImportedMailbox {
        name: raw.name.clone(),
        uid_validity,
        uid_next,
        messages,
        subscribed: raw.subscribed,
        special_use: special_use(&raw.attributes),
        first_recent,
    })
}

fn special_use(attributes: &str) -> Option<String> {
    attributes
        .split(',')
        .map(str::trim)
        .find_map(|attribute| {
            SPECIAL_USE
                .iter()
                .find(|known| known.eq_ignore_ascii_case(attribute))
        })
        .map(|known| (*known).to_owned())
}

fn recent_keys(conn: &Connection, mailbox_id: i64) -> std::result::Result<Vec<u32>, String> {
    let text: Option<String> = conn
        .query_row(
            "SELECT sequence FROM sequences WHERE mailbox_id = ?1 AND name = 'Recent'",
            [mailbox_id],
            |row| row.get(0),
        )
        .optional()
        .map_err(|err| err.to_string())?;
    expand_ranges(&text.unwrap_or_default())
}

fn parse_number(text: &str) -> std::result::Result<u32, String> {
    text.trim()
        .parse()
        .map_err(|_| format!("invalid number {text:?}"))
}

fn import_error(path: &Path, reason: String) -> StoreError {
    StoreError::Import {
        path: path.to_owned(),
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_expand_like_python() {
        assert_eq!(
            expand_ranges("1-3,6-7,10").unwrap(),
            vec![1, 2, 3, 6, 7, 10]
        );
        assert_eq!(expand_ranges("").unwrap(), Vec::<u32>::new());
        assert_eq!(expand_ranges("5").unwrap(), vec![5]);
    }

    #[test]
    fn bad_ranges_are_errors() {
        assert!(expand_ranges("3-1").is_err());
        assert!(expand_ranges("a").is_err());
        assert!(expand_ranges("1-4294967295").is_err());
    }

    #[test]
    fn special_use_is_found_among_attributes() {
        assert_eq!(
            special_use("\\HasNoChildren,\\Sent"),
            Some("\\Sent".to_owned())
        );
        assert_eq!(special_use("\\HasNoChildren,\\Unmarked"), None);
    }

    fn raw(uids: &str, keys: &str) -> RawMailbox {
        RawMailbox {
            id: 1,
            name: "inbox".into(),
            uid_vv: Some(3),
            next_uid: Some(4),
            uids: uids.into(),
            msg_keys: keys.into(),
            subscribed: true,
            attributes: String::new(),
        }
    }

    #[test]
    fn mismatched_lists_are_skipped() {
        assert!(convert(&raw("1-3", "1-2"), &[]).is_err());
    }

    #[test]
    fn uid_next_covers_listed_uids() {
        let mailbox = convert(&raw("1-2,9", "1-3"), &[3]).unwrap();
        assert_eq!(mailbox.uid_next, 10);
        assert_eq!(mailbox.first_recent, Uid::new(9));
    }
}
