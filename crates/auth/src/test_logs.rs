//! Capture of `tracing` output on the current thread, for tests that check what is logged.

use std::io;
use std::process::Command;
use std::sync::{Arc, Mutex};

use tracing::subscriber::DefaultGuard;
use tracing_subscriber::fmt::MakeWriter;

/// Environment variable that marks a child process running one log test alone.
const ALONE_VAR: &str = "ASIMAPD_AUTH_LOG_TEST_ALONE";

/// Returns true in a child process of the test binary that runs only the test `name` (its
/// path inside the crate, such as `authenticator::tests::logs_name_user_but_no_secrets`).
/// Otherwise starts that child, checks that the test passed there, and returns false.
///
/// `tracing` caches each callsite's interest for all threads. A test that logs without a
/// subscriber on another thread can leave a callsite disabled while a capturing test runs,
/// and that test then misses events. Alone in its process, a capturing test receives every event.
pub(crate) fn run_alone(name: &str) -> bool {
    if std::env::var_os(ALONE_VAR).is_some() {
        return true;
    }
    let program = std::env::current_exe().expect("path of the test binary");
    let output = Command::new(program)
        .args([name, "--exact", "--test-threads=1", "--nocapture"])
        .env(ALONE_VAR, "1")
        .output()
        .expect("start the test binary");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{name} failed alone:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("1 passed"),
        "{name} did not run alone:\n{stdout}"
    );
    false
}

/// Log events of the current thread, formatted as text, until dropped.
pub(crate) struct LogCapture {
    buffer: SharedBuffer,
    _guard: DefaultGuard,
}

impl LogCapture {
    pub(crate) fn start() -> Self {
        let buffer = SharedBuffer::default();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(buffer.clone())
            .with_ansi(false)
            .with_max_level(tracing::Level::TRACE)
            .finish();
        let guard = tracing::subscriber::set_default(subscriber);
        Self {
            buffer,
            _guard: guard,
        }
    }

    pub(crate) fn text(&self) -> String {
        let bytes = self.buffer.0.lock().unwrap();
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

#[derive(Clone, Default)]
struct SharedBuffer(Arc<Mutex<Vec<u8>>>);

impl io::Write for SharedBuffer {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for SharedBuffer {
    type Writer = SharedBuffer;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}
