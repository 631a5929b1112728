//! The SEARCH engine: evaluates search keys against each message. Flags, dates, sizes and
//! header fields come from the index, and only BODY and TEXT read the message files.

mod compiled;
mod message;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};

use asimapd_proto::{SearchKey, SeqNum, SequenceSet, Uid};
use asimapd_store::{FlagSet, Store, StoreError};

use crate::error::CommandError;
use compiled::{Reads, Test};
use message::Message;

/// The data of one message that SEARCH keys are evaluated against.
#[derive(Debug, Clone)]
pub(crate) struct Candidate {
    pub(crate) seq: SeqNum,
    pub(crate) uid: Uid,
    pub(crate) flags: FlagSet,
    pub(crate) is_recent: bool,
}

/// Rejects keys of extensions this server does not advertise.
pub(crate) fn check_keys(keys: &[SearchKey]) -> Result<(), CommandError> {
    for key in keys {
        match key {
            SearchKey::Not(inner) => check_keys(std::slice::from_ref(inner))?,
            SearchKey::Or(left, right) => {
                check_keys(std::slice::from_ref(left))?;
                check_keys(std::slice::from_ref(right))?;
            }
            SearchKey::And(inner) => check_keys(inner)?,
            SearchKey::ModSeq { .. }
            | SearchKey::Older(_)
            | SearchKey::Younger(_)
            | SearchKey::SavedBefore(_)
            | SearchKey::SavedOn(_)
            | SearchKey::SavedSince(_)
            | SearchKey::SaveDateSupported
            | SearchKey::EmailId(_)
            | SearchKey::ThreadId(_) => {
                return Err(CommandError::bad(format!(
                    "SEARCH key {key:?} is not supported"
                )));
            }
            SearchKey::SequenceSet(SequenceSet::Saved) | SearchKey::Uid(SequenceSet::Saved) => {
                return Err(CommandError::bad(
                    "SEARCH with $ (SEARCHRES) is not supported",
                ));
            }
            _ => {}
        }
    }
    Ok(())
}

/// Candidates whose index entries one query reads. The entries of one batch per thread,
/// header blocks included, are in memory at a time.
const INDEX_BATCH: usize = 256;

/// Candidates per batch when the key reads message files. Smaller batches share the files
/// out more evenly between the threads.
const FILE_BATCH: usize = 32;

/// The maximum number of threads one search uses, so that one client cannot take every core of a
/// larger machine. Each thread keeps one batch of entries and one message file in memory at a time.
const MAX_THREADS: usize = 4;

/// Returns the candidates that match `key`, in order. Messages that left the index or whose
/// file vanished (nmh removed them since the last look) do not match keys that need their
/// details or content, and a vanished file makes the search sync the mailbox at the end.
///
/// Keys on flags and numbers are evaluated on the calling thread. Others are evaluated in
/// batches of candidates on up to [`MAX_THREADS`] threads, each of which reads its batch's
/// index entries in one query and, for BODY and TEXT, the message files.
pub(crate) fn search(
    store: &Store,
    folder: &str,
    candidates: &[Candidate],
    largest_uid: Option<Uid>,
    key: &SearchKey,
) -> Result<Vec<Candidate>, StoreError> {
    let largest_seq = SeqNum::new(candidates.len() as u32);
    let test = Test::compile(key, largest_seq, largest_uid);
    let scope = Scope {
        store,
        folder,
        has_missing: AtomicBool::new(false),
    };
    let batch_size = match test.reads() {
        Reads::Flags => {
            return Ok(candidates
                .iter()
                .filter(|candidate| Message::new(&scope, candidate, None).matches(&test))
                .cloned()
                .collect());
        }
        Reads::Index => INDEX_BATCH,
        Reads::Files => FILE_BATCH,
    };

    let batches: Vec<&[Candidate]> = candidates.chunks(batch_size).collect();
    let results = evaluate_in_parallel(&scope, &batches, &test);
    let mut matches = Vec::new();
    for result in results {
        matches.extend(result?);
    }
    if scope.has_missing.load(Ordering::Relaxed) {
        store.sync(folder)?;
    }
    Ok(matches)
}

/// The matches of one batch of candidates.
type BatchResult = Result<Vec<Candidate>, StoreError>;

/// The state that every thread of one search shares.
pub(crate) struct Scope<'a> {
    store: &'a Store,
    folder: &'a str,
    /// Set when a message file was gone or replaced.
    has_missing: AtomicBool,
}

impl Scope<'_> {
    fn note_missing(&self) {
        self.has_missing.store(true, Ordering::Relaxed);
    }
}

/// Evaluates `test` on every batch and returns each batch's matches, in batch order. The
/// threads take the next unclaimed batch until none is left, and all stop taking batches
/// after an error.
fn evaluate_in_parallel(
    scope: &Scope<'_>,
    batches: &[&[Candidate]],
    test: &Test,
) -> Vec<BatchResult> {
    let slots: Vec<Mutex<Option<BatchResult>>> = batches.iter().map(|_| Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let work = || {
        while !failed.load(Ordering::Relaxed) {
            let index = next.fetch_add(1, Ordering::Relaxed);
            let Some(batch) = batches.get(index) else {
                break;
            };
            let result = evaluate_batch(scope, batch, test);
            if result.is_err() {
                failed.store(true, Ordering::Relaxed);
            }
            *lock(&slots[index]) = Some(result);
        }
    };

    let threads = thread_count().min(batches.len());
    std::thread::scope(|threads_scope| {
        for _ in 1..threads {
            threads_scope.spawn(work);
        }
        work();
    });

    // Every batch before a failed one was claimed before it and finished, so the filled
    // slots at the front reach the first error, where the caller stops.
    slots
        .into_iter()
        .map_while(|slot| slot.into_inner().unwrap_or_else(PoisonError::into_inner))
        .collect()
}

/// Returns the number of threads a search may use: the available parallelism, at most
/// [`MAX_THREADS`]. It is read once, because on Linux `available_parallelism` reads the
/// cgroup files each time.
fn thread_count() -> usize {
    static COUNT: OnceLock<usize> = OnceLock::new();
    *COUNT.get_or_init(|| {
        std::thread::available_parallelism()
            .map_or(1, std::num::NonZero::get)
            .clamp(1, MAX_THREADS)
    })
}

fn evaluate_batch(scope: &Scope<'_>, batch: &[Candidate], test: &Test) -> BatchResult {
    let uids: Vec<Uid> = batch.iter().map(|candidate| candidate.uid).collect();
    let entries = scope.store.search_entries(scope.folder, &uids)?;
    let matches = batch
        .iter()
        .zip(&entries)
        .filter(|(candidate, entry)| Message::new(scope, candidate, entry.as_ref()).matches(test))
        .map(|(candidate, _)| candidate.clone())
        .collect();
    Ok(matches)
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use asimapd_mime::Analysis;
    use asimapd_store::header_block;

    #[test]
    fn header_search_text_has_no_bodies() {
        let raw = b"Subject: =?UTF-8?Q?K=C3=B6ln?=\nContent-Type: text/plain\n\nbody text\n";
        let header = header_block(raw);
        let text = Analysis::parse(header).search_text(header);
        assert_eq!(text.header("Subject").next(), Some("Köln"));
        assert!(!text.body_contains("body text"));
    }
}
