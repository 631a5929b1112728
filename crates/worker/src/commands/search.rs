//! SEARCH and UID SEARCH (RFC 9051 §6.4.4, RFC 3501 §6.4.4).

use asimapd_proto::response::{Code, Data};
use asimapd_proto::{NumberKind, SearchKey, SearchProgram, SeqNum, Uid};

use crate::error::CommandError;
use crate::search::{Candidate, check_keys, search};
use crate::session::{Completion, Session};

/// Charsets SEARCH accepts; every string is compared as UTF-8.
const CHARSETS: [&str; 2] = ["UTF-8", "US-ASCII"];

pub(super) async fn handle_search(
    session: &mut Session,
    numbers: NumberKind,
    program: SearchProgram,
) -> Result<Completion, CommandError> {
    if program.return_options.is_some() {
        return Err(CommandError::bad(
            "SEARCH RETURN (ESEARCH) is not supported",
        ));
    }
    if let Some(charset) = &program.charset
        && !CHARSETS
            .iter()
            .any(|known| known.eq_ignore_ascii_case(charset))
    {
        let code = Code::BadCharset(CHARSETS.iter().map(|c| (*c).to_owned()).collect());
        return Err(CommandError::no(
            Some(code),
            format!("Charset {charset} is not supported"),
        ));
    }
    check_keys(&program.keys)?;
    let view = session.view_mut()?;
    let candidates: Vec<Candidate> = view
        .messages()
        .iter()
        .enumerate()
        .map(|(index, message)| Candidate {
            seq: SeqNum::new(index as u32 + 1).expect("index + 1 is non-zero"),
            uid: message.uid,
            flags: message.flags.clone(),
            is_recent: view.is_recent(message.uid),
        })
        .collect();
    let largest_uid: Option<Uid> = candidates.last().map(|c| c.uid);
    let folder = view.folder.clone();
    let keys = SearchKey::And(program.keys);
    let matches = session
        .blocking(move |store| search(store, &folder, &candidates, largest_uid, &keys))
        .await?;
    let numbers = matches
        .iter()
        .map(|candidate| match numbers {
            NumberKind::Uid => candidate.uid.get(),
            NumberKind::SequenceNumber => candidate.seq.get(),
        })
        .collect();
    Data::Search {
        numbers,
        modseq: None,
    }
    .encode(&mut session.out, false);
    Ok(Completion::done())
}
