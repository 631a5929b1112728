//! The benchmark corpus and its two on-disk forms: an MH tree for asimapd and a Maildir for
//! Dovecot.
//!
//! Messages start from `asimapd_corpus::message` and get two additions the benchmark needs:
//! threads (a `References` chain to earlier messages of the same thread) and a long size
//! tail (a forwarded copy inside `multipart/mixed` with a large base64 attachment). Both
//! trees are hard links to one pool of files, so both servers read the same bytes with the
//! same modification time, which both use as INTERNALDATE.

use std::fs::{self, File, FileTimes};
use std::os::unix::fs::chown;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result};
use asimapd_corpus::Rng;
use base64::Engine as _;

/// Modification time of message 0; message `i` is `i` seconds later (2026-01-01T00:00:00Z).
const FIRST_INTERNALDATE: u64 = 1_767_225_600;
/// One message in this many starts a new thread; the others reply to the previous one.
const THREAD_START_ODDS: u64 = 4;
/// One message in this many gets an attachment of 64 KiB to 1 MiB.
const LARGE_ODDS: u64 = 40;
/// One message in this many gets an attachment of 1 MiB to 10 MiB.
const HUGE_ODDS: u64 = 2_000;
/// One message in this many is not seen (`unseen` in MH, no `S` in the Maildir name).
const UNSEEN_ODDS: usize = 10;
/// One message in this many is flagged.
const FLAGGED_ODDS: usize = 50;

/// A message of the benchmark corpus.
#[derive(Debug, Clone)]
pub struct Message {
    /// The bytes with LF line ends and no mbox `From ` line.
    pub raw: Vec<u8>,
    /// The Message-ID with its angle brackets.
    pub message_id: String,
}

/// Generates message `index` of the corpus of `seed`.
pub fn message(seed: u64, index: usize, previous_id: Option<&str>) -> Message {
    let base = normalize(&asimapd_corpus::message(seed, index));
    let mut rng = Rng::new(seed.rotate_left(17) ^ index as u64);
    let message_id =
        header_value(&base, "Message-ID").unwrap_or_else(|| format!("<bench.{index}@example.org>"));
    let mut raw = Vec::with_capacity(base.len() + 128);
    if let Some(parent) = previous_id.filter(|_| !rng.chance(THREAD_START_ODDS)) {
        raw.extend_from_slice(format!("In-Reply-To: {parent}\nReferences: {parent}\n").as_bytes());
    }
    raw.extend_from_slice(&base);
    let attachment = if rng.chance(HUGE_ODDS) {
        Some(log_uniform(&mut rng, 1 << 20, 10 << 20))
    } else if rng.chance(LARGE_ODDS) {
        Some(log_uniform(&mut rng, 64 << 10, 1 << 20))
    } else {
        None
    };
    if let Some(size) = attachment {
        raw = forward_with_attachment(&mut rng, &raw, &message_id, size);
    }
    Message { raw, message_id }
}

/// Generates `count` messages in memory; message `i` replies to message `i - 1` unless it starts a
/// thread.
#[cfg(test)]
pub fn generate(seed: u64, count: usize) -> Vec<Message> {
    let mut messages: Vec<Message> = Vec::with_capacity(count);
    for index in 0..count {
        let previous = messages.last().map(|m| m.message_id.as_str());
        let message = message(seed, index, previous);
        messages.push(message);
    }
    messages
}

/// Strips an mbox `From ` line and turns CRLF into LF, as MH stores mail.
fn normalize(raw: &[u8]) -> Vec<u8> {
    let body = match raw.strip_prefix(b"From ") {
        Some(rest) => rest
            .iter()
            .position(|&b| b == b'\n')
            .map_or(&raw[raw.len()..], |end| &rest[end + 1..]),
        None => raw,
    };
    let mut out = Vec::with_capacity(body.len());
    for (index, &byte) in body.iter().enumerate() {
        if byte == b'\r' && body.get(index + 1) == Some(&b'\n') {
            continue;
        }
        out.push(byte);
    }
    out
}

/// Returns the value of the first header field `name` of the top header, trimmed.
fn header_value(raw: &[u8], name: &str) -> Option<String> {
    let text = String::from_utf8_lossy(raw);
    text.lines()
        .take_while(|line| !line.is_empty())
        .find_map(|line| {
            let (field, value) = line.split_once(':')?;
            field
                .eq_ignore_ascii_case(name)
                .then(|| value.trim().to_owned())
        })
}

fn log_uniform(rng: &mut Rng, low: usize, high: usize) -> usize {
    let fraction = rng.below(1 << 20) as f64 / f64::from(1 << 20);
    let (low, high) = (low as f64, high as f64);
    (low * (high / low).powf(fraction)) as usize
}

/// Wraps `inner` as a forwarded `message/rfc822` part next to a base64 attachment of
/// `attachment_size` random bytes.
fn forward_with_attachment(
    rng: &mut Rng,
    inner: &[u8],
    inner_id: &str,
    attachment_size: usize,
) -> Vec<u8> {
    let boundary = format!("bench-{}", rng.token(16));
    let id = inner_id.trim_matches(['<', '>']);
    let mut out = format!(
        "From: Archive <archive@example.org>\nTo: user@example.org\nSubject: Fwd: archive {id}\n\
         Date: Thu, 01 Jan 2026 00:00:00 +0000\nMessage-ID: <fwd.{id}>\nReferences: {inner_id}\n\
         MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"{boundary}\"\n\n\
         --{boundary}\nContent-Type: text/plain; charset=utf-8\n\nForwarded with the archive attached.\n\
         --{boundary}\nContent-Type: message/rfc822\n\n"
    )
    .into_bytes();
    out.extend_from_slice(inner);
    out.extend_from_slice(
        format!(
            "\n--{boundary}\nContent-Type: application/octet-stream; name=\"archive.bin\"\n\
             Content-Disposition: attachment; filename=\"archive.bin\"\n\
             Content-Transfer-Encoding: base64\n\n"
        )
        .as_bytes(),
    );
    let encoded = base64::engine::general_purpose::STANDARD.encode(rng.bytes(attachment_size));
    for line in encoded.as_bytes().chunks(76) {
        out.extend_from_slice(line);
        out.push(b'\n');
    }
    out.extend_from_slice(format!("--{boundary}--\n").as_bytes());
    out
}

/// Whether message `index` carries `\Seen`.
pub fn is_seen(index: usize) -> bool {
    index % UNSEEN_ODDS != UNSEEN_ODDS - 1
}

/// Whether message `index` carries `\Flagged`.
pub fn is_flagged(index: usize) -> bool {
    index.is_multiple_of(FLAGGED_ODDS)
}

/// A pool of message files, one per corpus message, that folders link to.
#[derive(Debug)]
pub struct Pool {
    dir: PathBuf,
    count: usize,
    owner: Owner,
    message_ids: Vec<String>,
}

/// The uid and gid that own every file and directory of the trees.
#[derive(Debug, Clone, Copy)]
pub struct Owner {
    pub uid: u32,
    pub gid: u32,
}

impl Pool {
    /// Generates `count` messages of the corpus of `seed` and writes them as files
    /// `0..count` under `dir`, with increasing modification times, owned by `owner`. Only the
    /// Message-IDs stay in memory, so the corpus may be larger than the memory.
    pub fn generate(dir: &Path, seed: u64, count: usize, owner: Owner) -> Result<Pool> {
        fs::create_dir_all(dir).with_context(|| format!("failed to create {}", dir.display()))?;
        let mut message_ids: Vec<String> = Vec::with_capacity(count);
        for index in 0..count {
            let message = message(seed, index, message_ids.last().map(String::as_str));
            let path = dir.join(index.to_string());
            fs::write(&path, &message.raw)
                .with_context(|| format!("failed to write {}", path.display()))?;
            let file = File::options().write(true).open(&path)?;
            file.set_times(FileTimes::new().set_modified(internaldate(index)))?;
            chown(&path, Some(owner.uid), Some(owner.gid))?;
            message_ids.push(message.message_id);
        }
        Ok(Pool {
            dir: dir.to_owned(),
            count,
            owner,
            message_ids,
        })
    }

    /// Returns the Message-ID of message `index`.
    pub fn message_id(&self, index: usize) -> Option<&str> {
        self.message_ids.get(index).map(String::as_str)
    }

    /// Reads message `index` back from its file.
    pub fn read(&self, index: usize) -> Result<Vec<u8>> {
        let path = self.file(index);
        fs::read(&path).with_context(|| format!("failed to read {}", path.display()))
    }

    fn file(&self, index: usize) -> PathBuf {
        self.dir.join(index.to_string())
    }

    /// Creates MH folder `folder` under `mh_root` with messages `0..count` as files `1..=count`
    /// and a `.mh_sequences` with the `unseen` and `flagged` sequences.
    pub fn link_mh_folder(&self, mh_root: &Path, folder: &str, count: usize) -> Result<()> {
        let dir = mh_root.join(folder);
        self.create_dir(&dir)?;
        for index in 0..count.min(self.count) {
            link(&self.file(index), &dir.join((index + 1).to_string()))?;
        }
        let sequences = mh_sequences(count.min(self.count));
        if !sequences.is_empty() {
            let path = dir.join(".mh_sequences");
            fs::write(&path, sequences)?;
            chown(&path, Some(self.owner.uid), Some(self.owner.gid))?;
        }
        Ok(())
    }

    /// Creates Maildir folder `dir` (with `cur`, `new` and `tmp`) holding messages
    /// `0..count` in `cur`, with names that sort in corpus order and carry the flags.
    pub fn link_maildir(&self, dir: &Path, count: usize) -> Result<()> {
        for sub in ["", "cur", "new", "tmp"] {
            self.create_dir(&dir.join(sub))?;
        }
        for index in 0..count.min(self.count) {
            let mut flags = String::new();
            if is_flagged(index) {
                flags.push('F');
            }
            if is_seen(index) {
                flags.push('S');
            }
            let seconds = FIRST_INTERNALDATE + index as u64;
            let name = format!("{seconds}.M{index:07}P1.bench:2,{flags}");
            link(&self.file(index), &dir.join("cur").join(name))?;
        }
        Ok(())
    }

    /// Creates a directory owned by the pool's owner.
    pub fn create_dir(&self, dir: &Path) -> Result<()> {
        fs::create_dir_all(dir).with_context(|| format!("failed to create {}", dir.display()))?;
        chown(dir, Some(self.owner.uid), Some(self.owner.gid))
            .with_context(|| format!("failed to change the owner of {}", dir.display()))
    }
}

/// Returns the INTERNALDATE (file modification time) of message `index`.
pub fn internaldate(index: usize) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(FIRST_INTERNALDATE + index as u64)
}

fn link(from: &Path, to: &Path) -> Result<()> {
    fs::hard_link(from, to)
        .with_context(|| format!("failed to link {} to {}", from.display(), to.display()))
}

/// Returns the `.mh_sequences` text for messages `1..=count`, ranges compressed as nmh
/// writes them.
pub fn mh_sequences(count: usize) -> String {
    let mut text = String::new();
    for (name, member) in [
        ("unseen", (|index| !is_seen(index)) as fn(usize) -> bool),
        ("flagged", is_flagged),
    ] {
        let numbers: Vec<usize> = (0..count).filter(|&i| member(i)).map(|i| i + 1).collect();
        if !numbers.is_empty() {
            text.push_str(&format!("{name}: {}\n", ranges(&numbers)));
        }
    }
    text
}

/// Formats sorted numbers as nmh does: runs of consecutive numbers as `first-last`.
fn ranges(numbers: &[usize]) -> String {
    let mut parts = Vec::new();
    let mut index = 0;
    while index < numbers.len() {
        let start = numbers[index];
        let mut end = start;
        while index + 1 < numbers.len() && numbers[index + 1] == end + 1 {
            index += 1;
            end = numbers[index];
        }
        parts.push(if start == end {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
        index += 1;
    }
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generate_is_deterministic() {
        let first = generate(7, 50);
        let second = generate(7, 50);
        for (a, b) in first.iter().zip(&second) {
            assert_eq!(a.raw, b.raw);
        }
    }

    #[test]
    fn messages_have_lf_ends_and_no_from_line() {
        for message in generate(11, 200) {
            assert!(!message.raw.starts_with(b"From "));
            assert!(!message.raw.windows(2).any(|pair| pair == b"\r\n"));
        }
    }

    #[test]
    fn replies_reference_previous_message() {
        let messages = generate(3, 100);
        let replies = messages
            .windows(2)
            .filter(|pair| {
                let reference = format!("In-Reply-To: {}\n", pair[0].message_id);
                pair[1].raw.starts_with(reference.as_bytes())
            })
            .count();
        assert!(replies > 50, "only {replies} of 99 messages reply");
    }

    #[test]
    fn sizes_have_a_long_tail() {
        let messages = generate(5, 2_000);
        let large = messages.iter().filter(|m| m.raw.len() > 64 << 10).count();
        let max = messages.iter().map(|m| m.raw.len()).max().unwrap();
        assert!(large >= 20, "only {large} messages above 64 KiB");
        assert!(max < 15 << 20, "largest message has {max} bytes");
    }

    #[test]
    fn ranges_compress_runs() {
        assert_eq!(ranges(&[1, 2, 3, 5, 7, 8]), "1-3 5 7-8");
        assert_eq!(ranges(&[]), "");
    }

    #[test]
    fn mh_sequences_match_flags() {
        assert_eq!(mh_sequences(21), "unseen: 10 20\nflagged: 1\n");
    }

    #[test]
    fn pool_links_same_files_into_both_trees() {
        let dir = tempfile::tempdir().unwrap();
        let owner = current_owner();
        let messages = generate(9, 12);
        let pool = Pool::generate(&dir.path().join("pool"), 9, 12, owner).unwrap();
        assert_eq!(pool.message_id(11), Some(messages[11].message_id.as_str()));
        pool.link_mh_folder(&dir.path().join("Mail"), "inbox", 12)
            .unwrap();
        pool.link_maildir(&dir.path().join("Maildir"), 12).unwrap();

        let mh = fs::read(dir.path().join("Mail/inbox/12")).unwrap();
        assert_eq!(mh, messages[11].raw);
        let mut names: Vec<String> = fs::read_dir(dir.path().join("Maildir/cur"))
            .unwrap()
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names.len(), 12);
        assert!(names[0].ends_with(":2,FS"), "{}", names[0]);
        assert!(names[9].ends_with(":2,"), "{}", names[9]);
        let maildir = fs::read(dir.path().join("Maildir/cur").join(&names[11])).unwrap();
        assert_eq!(maildir, mh);
        let mtime = fs::metadata(dir.path().join("Mail/inbox/3"))
            .unwrap()
            .modified()
            .unwrap();
        assert_eq!(mtime, internaldate(2));
    }

    /// Returns the owner of a new file, so chown to it succeeds without privileges.
    fn current_owner() -> Owner {
        use std::os::unix::fs::MetadataExt;
        let file = tempfile::NamedTempFile::new().unwrap();
        let metadata = file.as_file().metadata().unwrap();
        Owner {
            uid: metadata.uid(),
            gid: metadata.gid(),
        }
    }
}
