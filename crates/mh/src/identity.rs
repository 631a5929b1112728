//! File identity, which distinguishes one message file from another across renames.

use std::fs::Metadata;
use std::os::unix::fs::MetadataExt;
use std::time::UNIX_EPOCH;

/// The identity of a message file: device and inode, plus size, modification time and (where
/// the file system records it) birth time.
///
/// `rename` keeps all of these, so a message renumbered by `folder -pack` or `sortm` keeps its
/// identity. Inode numbers are reused as soon as a file is deleted, and `inc` or `anno` can
/// rewrite a file in place, so the inode alone never proves a file is the same message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FileIdentity {
    /// Device number.
    pub dev: u64,
    /// Inode number.
    pub ino: u64,
    /// Size in bytes.
    pub size: u64,
    /// Modification time in nanoseconds since the Unix epoch.
    pub mtime_ns: i128,
    /// Birth time in nanoseconds since the Unix epoch, when `statx` reports one.
    pub btime_ns: Option<i128>,
}

impl FileIdentity {
    /// Builds the identity from `stat`/`statx` metadata.
    pub fn from_metadata(meta: &Metadata) -> Self {
        let btime_ns = meta
            .created()
            .ok()
            .and_then(|time| time.duration_since(UNIX_EPOCH).ok())
            .map(|since| since.as_nanos() as i128);
        FileIdentity {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.size(),
            mtime_ns: i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec()),
            btime_ns,
        }
    }

    /// Returns true when both describe the same inode with the same content stamp: same
    /// device, inode, size, modification time and birth time.
    pub fn is_same_message(&self, other: &FileIdentity) -> bool {
        self == other
    }

    /// Returns true when both describe the same inode (same device, inode and birth time),
    /// whatever its content now.
    pub fn is_same_file(&self, other: &FileIdentity) -> bool {
        self.dev == other.dev && self.ino == other.ino && self.btime_ns == other.btime_ns
    }
}

/// A cheap stamp of a directory or small file, for change probes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Stamp {
    /// Device number.
    pub dev: u64,
    /// Inode number.
    pub ino: u64,
    /// Size in bytes.
    pub size: u64,
    /// Modification time in nanoseconds since the Unix epoch.
    pub mtime_ns: i128,
    /// Status change time in nanoseconds since the Unix epoch.
    pub ctime_ns: i128,
}

impl Stamp {
    /// Builds the stamp from `stat` metadata.
    pub fn from_metadata(meta: &Metadata) -> Self {
        Stamp {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.size(),
            mtime_ns: i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec()),
            ctime_ns: i128::from(meta.ctime()) * 1_000_000_000 + i128::from(meta.ctime_nsec()),
        }
    }
}
