//! Giving heap memory that the worker freed back to the kernel.
//!
//! glibc's allocator keeps freed memory in the arena of the thread that used it and returns
//! it to the kernel only in some cases, so a burst of allocations stays in the worker's
//! resident size after it is freed. Opening a folder of 100,000 messages allocates the
//! index rows and the session's view of every message. After the session ended, about
//! 250 MiB of it stayed resident until `malloc_trim` was called. The worker calls it when a
//! session ends and every [`MEMORY_TRIM_INTERVAL`].

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

/// How often the worker returns freed heap memory to the kernel. A call that finds
/// nothing to return costs microseconds.
pub const MEMORY_TRIM_INTERVAL: Duration = Duration::from_secs(5);

/// Returns the free memory of every allocator arena to the kernel where whole pages are
/// free. Does nothing with an allocator other than glibc's.
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim takes the allocator's own locks and only releases free pages.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Calls [`release_free_memory`] on a blocking thread every [`MEMORY_TRIM_INTERVAL`] and
/// whenever `now` is notified, until the task is dropped. Notifications that arrive while a
/// call runs lead to one more call.
pub(crate) async fn release_periodically(now: Arc<Notify>) {
    let mut interval = tokio::time::interval(MEMORY_TRIM_INTERVAL);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = interval.tick() => {}
            () = now.notified() => {}
        }
        let _ = tokio::task::spawn_blocking(release_free_memory).await;
    }
}
