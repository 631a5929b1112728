//! Freed heap memory goes back to the kernel. Runs alone in its own test process, so the
//! resident size it reads is its own.

use asimapd_worker::release_free_memory;

/// Bytes of this process in memory, from `/proc/self/statm`.
fn resident_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    // SAFETY: sysconf only reads a configuration value.
    let page_size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as u64;
    pages * page_size
}

#[test]
fn memory_freed_by_another_thread_is_released() {
    const CHUNK: usize = 4096;
    const CHUNKS: usize = 64 * 1024;
    let total = (CHUNK * CHUNKS) as u64;
    // Small allocations come from the thread's arena, not from mmap, like the index rows
    // and message views of a large SELECT. A small block kept alive after every 256 chunks
    // holds the freed chunks inside the heap, as the allocations that outlive a command
    // do, so the allocator cannot give them back by shrinking the heap from its end.
    let pins = std::thread::spawn(|| {
        let mut chunks = Vec::with_capacity(CHUNKS);
        let mut pins = Vec::new();
        for i in 0..CHUNKS {
            chunks.push(vec![i as u8; CHUNK]);
            if i % 256 == 255 {
                pins.push(Box::new(i as u64));
            }
        }
        drop(chunks);
        pins
    })
    .join()
    .unwrap();
    let before = resident_bytes();
    release_free_memory();
    let after = resident_bytes();
    assert_eq!(pins.len(), CHUNKS / 256);
    assert!(
        before.saturating_sub(after) >= total / 2,
        "resident size went from {before} to {after} bytes after freeing {total}"
    );
}
