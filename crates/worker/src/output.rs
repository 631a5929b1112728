//! The client-bound half of a connection, shared by the session and its input reader.

use std::sync::Arc;

use tokio::io::AsyncWriteExt;
use tokio::net::unix::OwnedWriteHalf;
use tokio::sync::{Mutex, MutexGuard};

/// The socket's write half. Every write takes the lock for a whole response (or a whole
/// FETCH response), so a continuation request sent by the reader never splits a response.
#[derive(Debug, Clone)]
pub(crate) struct Output {
    stream: Arc<Mutex<OwnedWriteHalf>>,
}

impl Output {
    pub(crate) fn new(stream: OwnedWriteHalf) -> Self {
        Output {
            stream: Arc::new(Mutex::new(stream)),
        }
    }

    /// Writes `bytes` as one unit.
    pub(crate) async fn write(&self, bytes: &[u8]) -> std::io::Result<()> {
        if bytes.is_empty() {
            return Ok(());
        }
        self.stream.lock().await.write_all(bytes).await
    }

    /// Locks the stream for a response written in several pieces.
    pub(crate) async fn lock(&self) -> MutexGuard<'_, OwnedWriteHalf> {
        self.stream.lock().await
    }

    /// Shuts the write direction down, so the client sees the end of the stream.
    pub(crate) async fn close(&self) {
        let _ = self.stream.lock().await.shutdown().await;
    }
}
