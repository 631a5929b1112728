//! The workloads, each run against one server and timed on the client.

use std::fs;
use std::os::unix::fs::chown;
use std::os::unix::process::CommandExt as _;
use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use asimapd_corpus::Rng;
use rustls::ClientConfig;

use crate::client::{Client, to_crlf};
use crate::corpus::{Owner, Pool};

/// The items fetched on open, as a desktop client asks for them.
pub const OPEN_FETCH_ITEMS: &str = "(UID FLAGS RFC822.SIZE INTERNALDATE ENVELOPE BODYSTRUCTURE)";
/// Messages in the body fetch, COPY, MOVE, APPEND and EXPUNGE workloads.
pub const BATCH: usize = 1_000;
/// Operations each concurrent client runs in the mixed workload.
pub const MIXED_OPERATIONS: usize = 20;
/// Time a client waits for the EXISTS that follows a delivery during IDLE.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// Time the IDLE client gets to settle before the delivery, so the server has started
/// watching the folder.
const IDLE_SETTLE: Duration = Duration::from_millis(300);
/// Word searched for in bodies; the corpus uses it in some messages only.
pub const BODY_WORD: &str = "quarterly";
/// Text searched for in From; the corpus derives some addresses from this first name.
pub const FROM_TEXT: &str = "grace";

/// How a new message reaches a server's `idle` folder.
#[derive(Debug, Clone)]
pub enum Delivery {
    /// nmh `inc` from an mbox file into the MH folder, run as the mail owner.
    NmhInc {
        inc: PathBuf,
        profile: PathBuf,
        home: PathBuf,
        scratch: PathBuf,
    },
    /// A file written to `tmp/` and renamed into `new/`, as Maildir delivery agents do.
    Maildir { folder: PathBuf },
}

/// One server as the workloads see it.
#[derive(Debug, Clone)]
pub struct Target {
    pub name: &'static str,
    pub port: u16,
    pub delivery: Delivery,
}

/// What the workloads share: the client configuration, the account and the corpus.
#[derive(Debug)]
pub struct Bench {
    pub config: Arc<ClientConfig>,
    pub user: String,
    pub password: String,
    /// Messages in INBOX and in each `coldN` folder.
    pub count: usize,
    /// Messages in each `bigN` folder; 0 when the large folders were not built.
    pub large_count: usize,
    /// Runs of the workloads on the `bigN` folders, which may be fewer than the others
    /// because each cold open of a large folder takes minutes.
    pub large_runs: usize,
    pub pool: Pool,
    pub owner: Owner,
}

impl Bench {
    /// Connects to `target` and logs in.
    pub fn login(&self, target: &Target) -> Result<Client> {
        Client::login(target.port, &self.config, &self.user, &self.password)
    }

    fn login_select(&self, target: &Target, mailbox: &str) -> Result<Client> {
        let mut client = self.login(target)?;
        client.command(&format!("SELECT {mailbox}"))?.ok("SELECT")?;
        Ok(client)
    }
}

/// One timed run of a workload.
#[derive(Debug, Clone, Default)]
pub struct Measurement {
    pub elapsed: Duration,
    /// Bytes received, for throughput.
    pub bytes: u64,
    /// Operations completed, for rates.
    pub operations: u64,
    pub errors: u64,
    /// Facts worth printing, such as the number of search hits.
    pub note: String,
}

impl Measurement {
    fn timed(elapsed: Duration) -> Measurement {
        Measurement {
            elapsed,
            ..Measurement::default()
        }
    }
}

/// What the report prints for a workload besides its time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    Time,
    MegabytesPerSecond,
    OperationsPerSecond,
}

type RunFn = Box<dyn Fn(&Bench, &Target, usize) -> Result<Measurement> + Send + Sync>;

/// A named workload with its target ratio asimapd/Dovecot.
pub struct Workload {
    pub name: String,
    pub metric: Metric,
    pub max_ratio: f64,
    /// Runs per server when this workload has its own count; `None` uses `--runs`.
    pub runs: Option<usize>,
    pub run: RunFn,
}

impl std::fmt::Debug for Workload {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Workload")
            .field("name", &self.name)
            .finish()
    }
}

fn workload(
    name: impl Into<String>,
    metric: Metric,
    max_ratio: f64,
    run: impl Fn(&Bench, &Target, usize) -> Result<Measurement> + Send + Sync + 'static,
) -> Workload {
    Workload {
        name: name.into(),
        metric,
        max_ratio,
        runs: None,
        run: Box::new(run),
    }
}

/// Returns every timed workload in the order they run; `run` numbers start at 1.
pub fn all(bench: &Bench) -> Vec<Workload> {
    let mut list = vec![
        workload(
            format!("first open of {} messages (cold)", bench.count),
            Metric::Time,
            1.5,
            |bench, target, run| open_folder(bench, target, &format!("cold{run}"), bench.count),
        ),
        workload(
            format!("second open of {} messages (warm)", bench.count),
            Metric::Time,
            1.0,
            |bench, target, run| open_folder(bench, target, &format!("cold{run}"), bench.count),
        ),
    ];
    if bench.large_count > 0 {
        let large = [
            workload(
                format!("first open of {} messages (cold)", bench.large_count),
                Metric::Time,
                1.5,
                |bench, target, run| {
                    open_folder(bench, target, &format!("big{run}"), bench.large_count)
                },
            ),
            workload(
                format!("second open of {} messages (warm)", bench.large_count),
                Metric::Time,
                1.0,
                |bench, target, run| {
                    open_folder(bench, target, &format!("big{run}"), bench.large_count)
                },
            ),
        ];
        list.extend(large.map(|workload| Workload {
            runs: Some(bench.large_runs),
            ..workload
        }));
    }
    list.extend([
        workload(
            format!("UID FETCH BODY.PEEK[] of {BATCH} messages"),
            Metric::MegabytesPerSecond,
            1.0,
            |bench, target, _| fetch_bodies(bench, target),
        ),
        workload(
            format!("SEARCH FROM over {} messages", bench.count),
            Metric::Time,
            1.0,
            |bench, target, _| search(bench, target, &format!("FROM \"{FROM_TEXT}\"")),
        ),
        workload(
            format!("SEARCH HEADER Message-ID over {} messages", bench.count),
            Metric::Time,
            1.0,
            |bench, target, _| {
                let id = bench
                    .pool
                    .message_id(bench.count / 2)
                    .context("the corpus has no middle message")?;
                search(bench, target, &format!("HEADER Message-ID \"{id}\""))
            },
        ),
        workload(
            format!("SEARCH BODY over {} messages", bench.count),
            Metric::Time,
            1.0,
            |bench, target, _| search(bench, target, &format!("BODY \"{BODY_WORD}\"")),
        ),
        workload(
            format!("STORE +FLAGS on {} messages", bench.count),
            Metric::Time,
            1.0,
            |bench, target, _| store_flags(bench, target),
        ),
        workload(
            format!("COPY of {BATCH} messages"),
            Metric::Time,
            1.0,
            |bench, target, _| copy(bench, target),
        ),
        workload(
            format!("MOVE of {BATCH} messages"),
            Metric::Time,
            1.0,
            |bench, target, _| move_messages(bench, target),
        ),
        workload(
            format!("APPEND of {BATCH} messages"),
            Metric::Time,
            1.0,
            |bench, target, _| append(bench, target),
        ),
        workload(
            format!("EXPUNGE of {BATCH} messages"),
            Metric::Time,
            1.0,
            |bench, target, _| expunge(bench, target),
        ),
        workload(
            "delivery to EXISTS during IDLE",
            Metric::Time,
            1.0,
            |bench, target, _| idle_latency(bench, target),
        ),
        workload(
            "50 concurrent clients, mixed commands",
            Metric::OperationsPerSecond,
            1.0,
            |bench, target, run| mixed(bench, target, run, 50),
        ),
    ]);
    list
}

/// SELECT and FETCH of every message's summary, checking that every message came back.
fn open_folder(
    bench: &Bench,
    target: &Target,
    folder: &str,
    expected: usize,
) -> Result<Measurement> {
    let mut client = bench.login(target)?;
    let start = Instant::now();
    client.command(&format!("SELECT {folder}"))?.ok("SELECT")?;
    let fetched = client
        .command(&format!("FETCH 1:* {OPEN_FETCH_ITEMS}"))?
        .ok("FETCH")?;
    let elapsed = start.elapsed();
    let count = fetched.count("FETCH");
    if count != expected {
        bail!("FETCH returned {count} messages of {expected} in {folder}");
    }
    logout(client);
    Ok(Measurement::timed(elapsed))
}

fn fetch_bodies(bench: &Bench, target: &Target) -> Result<Measurement> {
    let mut client = bench.login_select(target, "INBOX")?;
    let uids = client
        .command(&format!("FETCH 1:{BATCH} (UID)"))?
        .ok("FETCH UID")?;
    let uid_set = uid_set(&uids.untagged);
    let before = client.bytes_read;
    let start = Instant::now();
    let fetched = client
        .command(&format!("UID FETCH {uid_set} BODY.PEEK[]"))?
        .ok("UID FETCH")?;
    let elapsed = start.elapsed();
    let count = fetched.count("FETCH");
    if count != BATCH {
        bail!("UID FETCH returned {count} messages of {BATCH}");
    }
    let bytes = client.bytes_read - before;
    logout(client);
    Ok(Measurement {
        elapsed,
        bytes,
        ..Measurement::default()
    })
}

/// Builds a UID set from `* n FETCH (UID u)` responses.
fn uid_set(responses: &[Vec<u8>]) -> String {
    let uids: Vec<&str> = responses
        .iter()
        .filter_map(|line| {
            let text = std::str::from_utf8(line).ok()?;
            let after = &text[text.find("UID ")? + 4..];
            after.split([')', ' ']).next()
        })
        .collect();
    uids.join(",")
}

fn search(bench: &Bench, target: &Target, criteria: &str) -> Result<Measurement> {
    let mut client = bench.login_select(target, "INBOX")?;
    let start = Instant::now();
    let response = client
        .command(&format!("SEARCH {criteria}"))?
        .ok("SEARCH")?;
    let elapsed = start.elapsed();
    logout(client);
    Ok(Measurement {
        note: format!("{} hits", response.search_hits()),
        ..Measurement::timed(elapsed)
    })
}

fn store_flags(bench: &Bench, target: &Target) -> Result<Measurement> {
    let mut client = bench.login_select(target, "INBOX")?;
    let start = Instant::now();
    let stored = client
        .command("STORE 1:* +FLAGS (\\Flagged)")?
        .ok("STORE +FLAGS")?;
    let elapsed = start.elapsed();
    let note = format!("{} FETCH responses", stored.count("FETCH"));
    client
        .command("STORE 1:* -FLAGS.SILENT (\\Flagged)")?
        .ok("STORE -FLAGS")?;
    logout(client);
    Ok(Measurement {
        note,
        ..Measurement::timed(elapsed)
    })
}

fn copy(bench: &Bench, target: &Target) -> Result<Measurement> {
    let mut client = bench.login_select(target, "INBOX")?;
    let start = Instant::now();
    client
        .command(&format!("COPY 1:{BATCH} copied"))?
        .ok("COPY")?;
    let elapsed = start.elapsed();
    empty_folder(&mut client, "copied", BATCH)?;
    logout(client);
    Ok(Measurement::timed(elapsed))
}

/// Selects `folder`, checks that it contains `expected` messages, and expunges them all.
fn empty_folder(client: &mut Client, folder: &str, expected: usize) -> Result<()> {
    let selected = client.command(&format!("SELECT {folder}"))?.ok("SELECT")?;
    let exists = exists_count(&selected.untagged);
    if exists != Some(expected) {
        bail!("folder {folder} contains {exists:?} messages, expected {expected}");
    }
    client
        .command("STORE 1:* +FLAGS.SILENT (\\Deleted)")?
        .ok("STORE \\Deleted")?;
    client.command("EXPUNGE")?.ok("EXPUNGE")?;
    Ok(())
}

fn exists_count(untagged: &[Vec<u8>]) -> Option<usize> {
    untagged.iter().rev().find_map(|line| {
        let text = std::str::from_utf8(line).ok()?.trim_end();
        let number = text.strip_prefix("* ")?.strip_suffix(" EXISTS")?;
        number.parse().ok()
    })
}

fn move_messages(bench: &Bench, target: &Target) -> Result<Measurement> {
    let mut client = bench.login_select(target, "INBOX")?;
    let start = Instant::now();
    client
        .command(&format!("MOVE 1:{BATCH} moved"))?
        .ok("MOVE")?;
    let elapsed = start.elapsed();
    let selected = client.command("SELECT moved")?.ok("SELECT")?;
    let exists = exists_count(&selected.untagged);
    if exists != Some(BATCH) {
        bail!("folder moved contains {exists:?} messages, expected {BATCH}");
    }
    client.command("MOVE 1:* INBOX")?.ok("MOVE back")?;
    logout(client);
    Ok(Measurement::timed(elapsed))
}

fn append(bench: &Bench, target: &Target) -> Result<Measurement> {
    let messages: Vec<Vec<u8>> = (0..BATCH)
        .map(|index| bench.pool.read(index).map(|raw| to_crlf(&raw)))
        .collect::<Result<_>>()?;
    let mut client = bench.login(target)?;
    let start = Instant::now();
    for message in &messages {
        client.append("appended", message)?.ok("APPEND")?;
    }
    let elapsed = start.elapsed();
    logout(client);
    Ok(Measurement::timed(elapsed))
}

/// Expunges the first messages of `appended`, which the APPEND runs filled.
fn expunge(bench: &Bench, target: &Target) -> Result<Measurement> {
    let mut client = bench.login_select(target, "appended")?;
    client
        .command(&format!("STORE 1:{BATCH} +FLAGS.SILENT (\\Deleted)"))?
        .ok("STORE \\Deleted")?;
    let start = Instant::now();
    let expunged = client.command("EXPUNGE")?.ok("EXPUNGE")?;
    let elapsed = start.elapsed();
    let count = expunged.count("EXPUNGE");
    if count != BATCH {
        bail!("EXPUNGE removed {count} messages, expected {BATCH}");
    }
    logout(client);
    Ok(Measurement::timed(elapsed))
}

/// Time from the end of a delivery to the EXISTS an IDLE client receives. The clock starts
/// when `inc` has exited or the Maildir rename is done, because that is when the message
/// is in the folder.
fn idle_latency(bench: &Bench, target: &Target) -> Result<Measurement> {
    let mut client = bench.login_select(target, "idle")?;
    client.set_read_timeout(IDLE_TIMEOUT)?;
    let tag = client.start_idle()?;
    let waiter = std::thread::spawn(move || {
        let result = client.wait_for_exists();
        (client, result, Instant::now())
    });
    std::thread::sleep(IDLE_SETTLE);
    let message = bench.pool.read(0)?;
    // Timed from the start of the delivery: asimapd can report a file that `inc` closed
    // before `inc` itself has exited.
    let delivering = Instant::now();
    deliver(&target.delivery, &message, bench.owner)?;
    let (mut client, result, arrived) = waiter
        .join()
        .map_err(|_| anyhow::anyhow!("the IDLE reader panicked"))?;
    result.context("no EXISTS during IDLE")?;
    client.finish_idle(&tag)?.ok("IDLE")?;
    logout(client);
    Ok(Measurement::timed(
        arrived.saturating_duration_since(delivering),
    ))
}

fn deliver(delivery: &Delivery, message: &[u8], owner: Owner) -> Result<()> {
    match delivery {
        Delivery::NmhInc {
            inc,
            profile,
            home,
            scratch,
        } => {
            let mbox = scratch.join("delivery.mbox");
            let mut data = b"From bench@example.org Thu Jan  1 00:00:00 2026\n".to_vec();
            data.extend_from_slice(message);
            data.extend_from_slice(b"\n");
            fs::write(&mbox, data)?;
            chown(&mbox, Some(owner.uid), Some(owner.gid))?;
            let output = Command::new(inc)
                .args(["+idle", "-file"])
                .arg(&mbox)
                .args(["-notruncate", "-silent"])
                .env("MH", profile)
                .env("HOME", home)
                .uid(owner.uid)
                .gid(owner.gid)
                .output()
                .with_context(|| format!("failed to run {}", inc.display()))?;
            if !output.status.success() {
                bail!(
                    "inc failed with {}: {}",
                    output.status,
                    String::from_utf8_lossy(&output.stderr)
                );
            }
            Ok(())
        }
        Delivery::Maildir { folder } => {
            let seconds = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)?
                .as_secs();
            let name = format!(
                "{seconds}.M{}P{}.bench",
                next_delivery(),
                std::process::id()
            );
            let temporary = folder.join("tmp").join(&name);
            fs::write(&temporary, message)?;
            chown(&temporary, Some(owner.uid), Some(owner.gid))?;
            fs::rename(&temporary, folder.join("new").join(&name))?;
            Ok(())
        }
    }
}

/// Returns a new number for a unique Maildir file name.
fn next_delivery() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    COUNTER.fetch_add(1, Ordering::Relaxed)
}

/// `clients` connections log in and select INBOX; after a barrier each runs
/// [`MIXED_OPERATIONS`] commands drawn from a seeded mix. Time runs from the barrier until
/// the last client is done.
fn mixed(bench: &Bench, target: &Target, run: usize, clients: usize) -> Result<Measurement> {
    let mut connections = Vec::with_capacity(clients);
    for _ in 0..clients {
        connections.push(bench.login_select(target, "INBOX")?);
    }
    let barrier = Arc::new(Barrier::new(clients + 1));
    let count = bench.count;
    let handles: Vec<_> = connections
        .into_iter()
        .enumerate()
        .map(|(index, client)| {
            let barrier = Arc::clone(&barrier);
            let seed = (run as u64) << 32 | index as u64;
            std::thread::spawn(move || {
                barrier.wait();
                run_mixed_client(client, seed, count)
            })
        })
        .collect();
    barrier.wait();
    let start = Instant::now();
    let mut total = Measurement::default();
    for handle in handles {
        let (operations, errors) = handle
            .join()
            .map_err(|_| anyhow::anyhow!("a mixed-workload client panicked"))?;
        total.operations += operations;
        total.errors += errors;
    }
    total.elapsed = start.elapsed();
    total.note = format!("{} errors", total.errors);
    Ok(total)
}

/// Runs the mixed commands on one connection; returns operations done and errors seen.
fn run_mixed_client(mut client: Client, seed: u64, count: usize) -> (u64, u64) {
    let mut rng = Rng::new(seed);
    let (mut operations, mut errors) = (0, 0);
    for _ in 0..MIXED_OPERATIONS {
        let message = rng.below(count.saturating_sub(20).max(1) as u64) + 1;
        let command = match rng.below(5) {
            0 => format!("FETCH {message}:{} (FLAGS ENVELOPE)", message + 19),
            1 => format!("FETCH {message} BODY.PEEK[]"),
            2 => format!("SEARCH FROM \"{FROM_TEXT}\""),
            3 => format!("STORE {message} +FLAGS (\\Seen)"),
            _ => "NOOP".to_owned(),
        };
        match client.command(&command) {
            Ok(response) if response.status == crate::client::Status::Ok => operations += 1,
            Ok(_) => errors += 1,
            Err(_) => return (operations, errors + 1),
        }
    }
    logout(client);
    (operations, errors)
}

/// Sends LOGOUT and ignores the outcome: the connection is done either way.
fn logout(mut client: Client) {
    let _ = client.command("LOGOUT");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uid_set_lists_fetched_uids() {
        let responses = vec![
            b"* 1 FETCH (UID 7)\r\n".to_vec(),
            b"* 2 FETCH (FLAGS () UID 9 RFC822.SIZE 3)\r\n".to_vec(),
        ];
        assert_eq!(uid_set(&responses), "7,9");
    }

    #[test]
    fn exists_count_takes_last() {
        let responses = vec![
            b"* 3 EXISTS\r\n".to_vec(),
            b"* 0 RECENT\r\n".to_vec(),
            b"* 5 EXISTS\r\n".to_vec(),
        ];
        assert_eq!(exists_count(&responses), Some(5));
    }
}
