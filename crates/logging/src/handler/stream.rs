//! Standard output and standard error for handlers. One thread per stream writes the
//! records, so a slow, full or closed pipe never blocks the thread that logs (often one of
//! the async runtime's threads). Records that do not fit in the queue are dropped.

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Maximum lines queued for one stream. A record logged while the queue is full is dropped.
pub const MAX_QUEUED_LINES: usize = 10_000;

/// A standard stream of the process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StandardStream {
    Stdout,
    Stderr,
}

/// The queue of one stream and the state its writer thread shares with the loggers.
#[derive(Debug)]
struct StreamWriter {
    sender: SyncSender<String>,
    shared: Arc<Shared>,
}

#[derive(Debug, Default)]
struct Shared {
    /// Lines queued and not yet written.
    pending: Mutex<usize>,
    /// Signalled when `pending` drops to zero.
    drained: Condvar,
    /// Set after a write failed (a closed pipe, for example). Later records are dropped.
    failed: AtomicBool,
}

static STDOUT: OnceLock<StreamWriter> = OnceLock::new();
static STDERR: OnceLock<StreamWriter> = OnceLock::new();

impl StandardStream {
    fn writer(self) -> &'static StreamWriter {
        let (cell, name) = match self {
            StandardStream::Stdout => (&STDOUT, "asimapd-stdout"),
            StandardStream::Stderr => (&STDERR, "asimapd-stderr"),
        };
        cell.get_or_init(|| StreamWriter::spawn(self, name))
    }
}

impl StreamWriter {
    fn spawn(stream: StandardStream, name: &str) -> StreamWriter {
        let (sender, receiver) = sync_channel::<String>(MAX_QUEUED_LINES);
        let shared = Arc::new(Shared::default());
        let thread_shared = Arc::clone(&shared);
        let spawned = std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                for line in receiver {
                    if !thread_shared.failed.load(Ordering::Relaxed) {
                        let result = match stream {
                            StandardStream::Stdout => {
                                io::stdout().lock().write_all(line.as_bytes())
                            }
                            StandardStream::Stderr => {
                                io::stderr().lock().write_all(line.as_bytes())
                            }
                        };
                        if result.is_err() {
                            thread_shared.failed.store(true, Ordering::Relaxed);
                        }
                    }
                    let mut pending = thread_shared
                        .pending
                        .lock()
                        .unwrap_or_else(|p| p.into_inner());
                    *pending -= 1;
                    if *pending == 0 {
                        thread_shared.drained.notify_all();
                    }
                }
            });
        if spawned.is_err() {
            // Without a writer thread every record of this stream is dropped.
            shared.failed.store(true, Ordering::Relaxed);
        }
        StreamWriter { sender, shared }
    }
}

/// Queues `line` for `stream`. Fails without blocking when an earlier write to the stream
/// failed (a closed pipe, for example) or when [`MAX_QUEUED_LINES`] lines are waiting.
pub(crate) fn send(stream: StandardStream, line: String) -> io::Result<()> {
    let writer = stream.writer();
    if writer.shared.failed.load(Ordering::Relaxed) {
        return Err(io::Error::new(
            io::ErrorKind::BrokenPipe,
            "writing to the stream failed earlier; record dropped",
        ));
    }
    let mut pending = writer
        .shared
        .pending
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    match writer.sender.try_send(line) {
        Ok(()) => {
            *pending += 1;
            Ok(())
        }
        Err(TrySendError::Full(_)) => Err(io::Error::new(
            io::ErrorKind::WouldBlock,
            format!("{MAX_QUEUED_LINES} lines are waiting to be written; record dropped"),
        )),
        Err(TrySendError::Disconnected(_)) => Err(io::Error::new(
            io::ErrorKind::BrokenPipe,
            "the stream's writer thread stopped; record dropped",
        )),
    }
}

/// Waits until the lines queued for stdout and stderr are written, or until `timeout`
/// passes. Programs call it before they exit, because the writer threads end with the
/// process.
pub fn flush_standard_streams(timeout: Duration) {
    let deadline = Instant::now() + timeout;
    for cell in [&STDOUT, &STDERR] {
        let Some(writer) = cell.get() else {
            continue;
        };
        let mut pending = writer
            .shared
            .pending
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        while *pending > 0 && !writer.shared.failed.load(Ordering::Relaxed) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            pending = match writer.shared.drained.wait_timeout(pending, left) {
                Ok((guard, _)) => guard,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
    }
}
