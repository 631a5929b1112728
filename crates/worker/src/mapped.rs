//! Read-only memory maps of message files, so FETCH and SEARCH read a large message through
//! the page cache instead of copying it into the heap.

use std::fs::File;
use std::os::fd::AsRawFd;

/// A message file mapped read-only.
// NOTE: if another process truncates the file while it is mapped, reading the cut-off
// pages raises SIGBUS. nmh replaces files (rename, link) rather than truncating them, and
// the store checks the file's identity before handing it out, which narrows but does not
// close that window.
#[derive(Debug)]
pub(crate) struct Mapped {
    pointer: *mut libc::c_void,
    len: usize,
}

// SAFETY: the mapping is read-only and owned by this value; sharing or moving the pointer
// between threads is as safe as sharing a `&[u8]`.
unsafe impl Send for Mapped {}
// SAFETY: see `Send`; no method mutates the mapping.
unsafe impl Sync for Mapped {}

impl Mapped {
    /// Maps the whole of `file`.
    pub(crate) fn map(file: &File) -> std::io::Result<Self> {
        let len = usize::try_from(file.metadata()?.len())
            .map_err(|_| std::io::Error::other("message file larger than the address space"))?;
        if len == 0 {
            return Ok(Mapped {
                pointer: std::ptr::null_mut(),
                len: 0,
            });
        }
        // SAFETY: a fresh private read-only mapping of an open descriptor; the kernel
        // checks the arguments and the result is checked below.
        let pointer = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_PRIVATE,
                file.as_raw_fd(),
                0,
            )
        };
        if pointer == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        Ok(Mapped { pointer, len })
    }

    /// Returns the mapped bytes.
    pub(crate) fn bytes(&self) -> &[u8] {
        if self.len == 0 {
            return &[];
        }
        // SAFETY: `pointer` maps `len` readable bytes until `drop` unmaps them, and the
        // returned slice borrows `self`.
        unsafe { std::slice::from_raw_parts(self.pointer.cast::<u8>(), self.len) }
    }
}

/// The bytes of a message file: a copy read into memory, or a mapping.
#[derive(Debug)]
pub(crate) enum FileBytes {
    /// Read with `read`. A later in-place truncation of the file cannot fault a read of
    /// this copy, as it can a read of a mapping.
    Read(Vec<u8>),
    /// Mapped with `mmap`.
    Mapped(Mapped),
}

impl FileBytes {
    /// Returns the bytes.
    pub(crate) fn bytes(&self) -> &[u8] {
        match self {
            FileBytes::Read(bytes) => bytes,
            FileBytes::Mapped(mapped) => mapped.bytes(),
        }
    }
}

impl Drop for Mapped {
    fn drop(&mut self) {
        if self.len > 0 {
            // SAFETY: unmaps exactly the mapping created in `map`, once.
            unsafe {
                libc::munmap(self.pointer, self.len);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn mapped_file_reads_contents() {
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(b"Subject: hi\n\nbody\n").unwrap();
        let mapped = Mapped::map(&file).unwrap();
        assert_eq!(mapped.bytes(), b"Subject: hi\n\nbody\n");
    }

    #[test]
    fn empty_file_maps_to_empty_slice() {
        let file = tempfile::tempfile().unwrap();
        assert!(Mapped::map(&file).unwrap().bytes().is_empty());
    }
}
