//! IMAP grammar: streaming command parser, response encoder and protocol types.
//!
//! This crate does no I/O. It implements the syntax of IMAP4rev1 (RFC 3501), IMAP4rev2
//! (RFC 9051) and these extensions: IDLE, ID, ENABLE, NAMESPACE, UNSELECT, UIDPLUS, MOVE,
//! LITERAL+ and LITERAL-, CHILDREN, LIST-EXTENDED, LIST-STATUS, SPECIAL-USE,
//! CREATE-SPECIAL-USE, CONDSTORE, QRESYNC, ESEARCH, SEARCHRES, SORT, THREAD, BINARY,
//! MULTIAPPEND, APPENDLIMIT, STATUS=SIZE, SAVEDATE, OBJECTID, COMPRESS, STARTTLS,
//! AUTHENTICATE with SASL-IR, UTF8=ACCEPT, UNAUTHENTICATE, WITHIN, NOTIFY and QUOTA
//! (GETQUOTA, GETQUOTAROOT).
//!
//! [`CommandParser`] reads commands from a byte stream; [`response`] writes server
//! responses. Parse functions are named after the ABNF rules they implement.

mod append;
mod command;
mod cursor;
mod datetime;
mod encode;
mod error;
mod fetch;
mod flag;
mod framing;
mod grammar;
mod limits;
mod list;
mod mailbox;
pub mod mutf7;
mod notify;
mod parse;
pub mod response;
mod search;
mod select;
mod sequence;
mod sort;
mod status;
pub mod string;
mod types;

pub use append::{AppendData, AppendMessage};
pub use command::{Command, CommandBody, NumberKind, StoreArguments, StoreMode};
pub use datetime::{Date, DateTime};
pub use error::{ErrorKind, ParseError};
pub use fetch::{FetchAttribute, FetchItems, FetchModifier, Partial, Section, SectionText};
pub use flag::Flag;
pub use framing::{AuthenticateResponse, CommandParser, Event, LiteralRequest};
pub use limits::*;
pub use list::{ListArguments, ListReturn, ListSelection};
pub use mailbox::{ListPattern, MailboxName};
pub use notify::{EventGroup, MailboxFilter, Notify, NotifyEvent};
pub use parse::parse_command;
pub use search::{ModSeqEntry, SearchKey, SearchProgram, SearchReturn};
pub use select::{IdParams, QResync, SelectParam, id_fields_text};
pub use sequence::{SeqBound, SeqRange, SequenceSet, SetNumber};
pub use sort::{SortArguments, SortCriterion, SortKey, ThreadAlgorithm, ThreadArguments};
pub use status::StatusItem;
pub use types::{Atom, MAX_MOD_SEQ, ModSeq, Secret, SeqNum, Tag, Uid, UidValidity};
