//! Reading messages for FETCH: the index rows and cached analysis of many UIDs in one query,
//! and a check that each message's file is still the indexed one.

use std::collections::HashMap;
use std::fs::File;

use asimapd_mh::{FileIdentity, Folder};
use asimapd_proto::Uid;
use rayon::prelude::*;

use crate::error::Result;
use crate::index::{MessageDetails, MessageRow};
use crate::store::Store;

/// UID sets whose span (highest minus lowest UID, plus one) is at most this many times
/// their size are read with one range query. Sparser sets are read one UID at a time, so a
/// request for two far-apart UIDs does not read every row between them.
const MAX_RANGE_SPAN_FACTOR: usize = 4;

/// A message read for FETCH.
#[derive(Debug)]
pub struct FetchedMessage<T> {
    /// The cached analysis, without the header block (`header` is `None`).
    pub details: MessageDetails,
    /// The value that the caller's `load` returned for the open message file, when the
    /// caller requested the file.
    pub content: Option<T>,
}

impl Store {
    /// Reads the cached analysis of the messages `uids` of mailbox `name`, and opens the
    /// file of each message for which `needs_file` returns true and passes it to `load`.
    /// Returns one entry per UID, in the order given.
    ///
    /// An entry is `None` when the index no longer has the UID, or when its file is gone or
    /// is no longer the indexed file (nmh replaced or rewrote it). Each file is checked:
    /// with `fstat` when it is opened, else with `stat`. When any file failed the check,
    /// the mailbox is brought up to date once before this returns, as
    /// [`Store::open_message`] does for one message.
    ///
    /// Files are checked and loaded in parallel, and each file is closed when `load`
    /// returns, so a batch keeps no more descriptors open than there are threads.
    pub fn read_messages<T: Send>(
        &self,
        name: &str,
        uids: &[Uid],
        needs_file: impl Fn(&MessageDetails) -> bool + Sync,
        load: impl Fn(File) -> T + Sync,
    ) -> Result<Vec<Option<FetchedMessage<T>>>> {
        let indexed = self.rows_with_details(name, uids)?;
        let folder = self.inner.root.folder(name)?;
        let checked: Vec<Checked<T>> = indexed
            .into_par_iter()
            .map(|entry| {
                let Some((row, details)) = entry else {
                    return Checked::NotIndexed;
                };
                match open_if_indexed(&folder, &row, needs_file(&details)) {
                    Some(file) => Checked::Found(FetchedMessage {
                        details,
                        content: file.map(&load),
                    }),
                    None => Checked::FileChanged,
                }
            })
            .collect();

        if checked.iter().any(|c| matches!(c, Checked::FileChanged)) {
            self.sync(name)?;
        }
        Ok(checked
            .into_iter()
            .map(|c| match c {
                Checked::Found(message) => Some(message),
                Checked::NotIndexed | Checked::FileChanged => None,
            })
            .collect())
    }

    /// Returns the index row and cached analysis of each UID, in the order given.
    fn rows_with_details(
        &self,
        name: &str,
        uids: &[Uid],
    ) -> Result<Vec<Option<(MessageRow, MessageDetails)>>> {
        let row = self.mailbox_row(name)?;
        let (Some(&lowest), Some(&highest)) = (uids.iter().min(), uids.iter().max()) else {
            return Ok(Vec::new());
        };
        let span = (highest.get() - lowest.get()) as usize + 1;
        let index = self.index()?;
        if span > uids.len().saturating_mul(MAX_RANGE_SPAN_FACTOR) {
            return index.read(|index| {
                uids.iter()
                    .map(|&uid| index.message_with_details(row.id, uid))
                    .collect()
            });
        }
        let found: HashMap<Uid, (MessageRow, MessageDetails)> = index
            .messages_with_details(row.id, lowest, highest)?
            .into_iter()
            .map(|(message, details)| (message.uid, (message, details)))
            .collect();
        Ok(uids.iter().map(|uid| found.get(uid).cloned()).collect())
    }
}

/// The outcome of checking one requested UID.
enum Checked<T> {
    Found(FetchedMessage<T>),
    /// The index has no row for the UID, because it was expunged.
    NotIndexed,
    /// The file is gone or is not the indexed file any more.
    FileChanged,
}

/// Opens (when `is_needed`) or stats the file of `row` and checks that it is the indexed file.
/// Returns `None` when it is gone or was replaced, and `Some(None)` when it is intact but
/// was not opened.
fn open_if_indexed(folder: &Folder, row: &MessageRow, is_needed: bool) -> Option<Option<File>> {
    let (file, identity): (Option<File>, FileIdentity) = if is_needed {
        let (file, identity) = folder.open_message(row.number).ok()?;
        (Some(file), identity)
    } else {
        (None, folder.identity(row.number).ok()?)
    };
    (identity == row.identity).then_some(file)
}
