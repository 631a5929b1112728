//! The cached header block of each message, so SEARCH keys on header fields read the index
//! instead of the message files.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};

use asimapd_mh::{FileIdentity, MessageNumber};
use asimapd_proto::Uid;

use crate::error::{Result, StoreError};
use crate::index::MessageDetails;
use crate::store::Store;

/// The largest header block the index caches, in bytes, so that a message with a huge
/// header cannot bloat the index. SEARCH reads larger header blocks from the message file
/// each time.
pub const MAX_CACHED_HEADER: usize = 256 * 1024;

/// Returns the message's header block up to and including the blank line that ends it, or
/// the whole message when it has no body.
pub fn header_block(raw: &[u8]) -> &[u8] {
    let mut start = 0;
    while let Some(offset) = raw[start..].iter().position(|&b| b == b'\n') {
        let next = start + offset + 1;
        let line = &raw[start..next];
        if line == b"\n" || line == b"\r\n" {
            return &raw[..next];
        }
        start = next;
    }
    raw
}

/// Returns the header block of `raw` to cache, or `None` when it is over
/// [`MAX_CACHED_HEADER`].
pub(crate) fn cacheable_header(raw: &[u8]) -> Option<Vec<u8>> {
    let header = header_block(raw);
    (header.len() <= MAX_CACHED_HEADER).then(|| header.to_vec())
}

/// Reads the header block from the start of a message file. Returns `None` when reading
/// fails or the block is over [`MAX_CACHED_HEADER`], and reads at most one byte more.
fn read_header(file: File) -> Option<Vec<u8>> {
    let mut reader = BufReader::new(file.take(MAX_CACHED_HEADER as u64 + 1));
    let mut header = Vec::new();
    loop {
        let start = header.len();
        let read = reader.read_until(b'\n', &mut header).ok()?;
        let line = &header[start..];
        if read == 0 || line == b"\n" || line == b"\r\n" {
            break;
        }
    }
    (header.len() <= MAX_CACHED_HEADER).then_some(header)
}

/// The index data that SEARCH reads of one message: where its file is and its cached
/// analysis.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SearchEntry {
    /// UID.
    pub uid: Uid,
    /// The file's number when it was last indexed.
    pub number: MessageNumber,
    /// The file's identity when it was indexed.
    pub identity: FileIdentity,
    /// The cached analysis, header block included.
    pub details: MessageDetails,
}

impl Store {
    /// Returns the cached analysis of the messages `uids` of mailbox `name`, in the order
    /// given, with `None` for a UID the index no longer has. See
    /// [`Store::search_entries`].
    pub fn search_details(&self, name: &str, uids: &[Uid]) -> Result<Vec<Option<MessageDetails>>> {
        let entries = self.search_entries(name, uids)?;
        Ok(entries
            .into_iter()
            .map(|entry| entry.map(|entry| entry.details))
            .collect())
    }

    /// Returns the index entries of the messages `uids` of mailbox `name`, in the order
    /// given, with `None` for a UID the index no longer has. SEARCH uses it so that keys on
    /// flags, dates, sizes and header fields open no message file. The entries come from
    /// one query over the range of `uids`, so a short, dense list of UIDs is cheapest.
    ///
    /// Rows indexed before the index cached header blocks get theirs here: the block is
    /// read from the message file once and stored. A file that is gone or was replaced
    /// since it was indexed is left for the next sync, and its `header` stays `None`.
    pub fn search_entries(&self, name: &str, uids: &[Uid]) -> Result<Vec<Option<SearchEntry>>> {
        let (Some(&first), Some(&last)) = (uids.iter().min(), uids.iter().max()) else {
            return Ok(Vec::new());
        };
        let row = self.mailbox_row(name)?;
        let indexed = self.index()?.indexed_range(row.id, first, last)?;
        let indexed_uids: Vec<Uid> = indexed.iter().map(|(uid, ..)| *uid).collect();
        let mut indexed: Vec<Option<_>> = indexed.into_iter().map(Some).collect();
        let is_ascending = uids.windows(2).all(|pair| pair[0] < pair[1]);
        let mut found: Vec<Option<SearchEntry>> = uids
            .iter()
            .map(|uid| {
                let position = indexed_uids.binary_search(uid).ok()?;
                // Each UID of an ascending list is looked up once, so its row can move.
                let (uid, number, identity, details) = if is_ascending {
                    indexed[position].take()?
                } else {
                    indexed[position].clone()?
                };
                Some(SearchEntry {
                    uid,
                    number,
                    identity,
                    details,
                })
            })
            .collect();
        if found
            .iter()
            .flatten()
            .all(|entry| entry.details.header.is_some())
        {
            return Ok(found);
        }

        let folder = self.inner.root.folder(name)?;
        let mut filled = Vec::new();
        for (position, entry) in found.iter().enumerate() {
            let Some(entry) = entry
                .as_ref()
                .filter(|entry| entry.details.header.is_none())
            else {
                continue;
            };
            let Ok((file, identity)) = folder.open_message(entry.number) else {
                continue;
            };
            if identity != entry.identity {
                continue;
            }
            if let Some(header) = read_header(file) {
                filled.push((position, entry.uid, header));
            }
        }
        self.writer().write(|writer| {
            for (_, uid, header) in &filled {
                writer.set_header(row.id, *uid, header)?;
            }
            Ok(())
        })?;
        for (position, _, header) in filled {
            if let Some(entry) = &mut found[position] {
                entry.details.header = Some(header);
            }
        }
        Ok(found)
    }

    /// Opens the file of a message that [`Store::search_entries`] returned, without a
    /// query. A file that is gone or is no longer the one indexed (nmh removed, renumbered
    /// or replaced it since) is [`StoreError::MessageNotFound`], and the caller syncs the
    /// mailbox to notice the change.
    pub fn open_entry(&self, name: &str, entry: &SearchEntry) -> Result<File> {
        let missing = || StoreError::MessageNotFound {
            mailbox: name.to_owned(),
            uid: entry.uid.get(),
        };
        let folder = self.inner.root.folder(name)?;
        match folder.open_message(entry.number) {
            Ok((file, identity)) if identity == entry.identity => Ok(file),
            _ => Err(missing()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn header_block_ends_at_blank_line() {
        assert_eq!(header_block(b"A: 1\nB: 2\n\nbody\n"), b"A: 1\nB: 2\n\n");
        assert_eq!(header_block(b"A: 1\r\n\r\nbody"), b"A: 1\r\n\r\n");
        assert_eq!(header_block(b"A: 1\nB: 2\n"), b"A: 1\nB: 2\n");
        assert_eq!(header_block(b"\nbody"), b"\n");
        assert_eq!(header_block(b""), b"");
    }

    #[test]
    fn oversized_header_is_not_cached() {
        let mut raw = vec![b'X'; MAX_CACHED_HEADER];
        raw.extend_from_slice(b"\n\nbody\n");
        assert_eq!(cacheable_header(&raw), None);
        assert_eq!(
            cacheable_header(b"A: 1\n\nbody\n"),
            Some(b"A: 1\n\n".to_vec())
        );
    }

    fn file_with(contents: &[u8]) -> File {
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(contents).unwrap();
        std::io::Seek::rewind(&mut file).unwrap();
        file
    }

    #[test]
    fn read_header_stops_at_blank_line() {
        let header = read_header(file_with(b"A: 1\r\nB: 2\r\n\r\nbody\r\n"));
        assert_eq!(header, Some(b"A: 1\r\nB: 2\r\n\r\n".to_vec()));
        let header = read_header(file_with(b"A: 1\nno body"));
        assert_eq!(header, Some(b"A: 1\nno body".to_vec()));
    }

    #[test]
    fn read_header_rejects_oversized_block() {
        let mut raw = b"A: ".to_vec();
        raw.extend(std::iter::repeat_n(b'x', MAX_CACHED_HEADER));
        raw.extend_from_slice(b"\n\nbody\n");
        assert_eq!(read_header(file_with(&raw)), None);
    }
}
