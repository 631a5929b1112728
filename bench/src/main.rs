//! Benchmark driver: serves one generated corpus from asimapd (as an MH tree) and from
//! Dovecot (as a Maildir), runs every workload against both in alternation, and prints the
//! medians and the ratio asimapd/Dovecot as a Markdown table.

mod client;
mod corpus;
mod report;
mod servers;
mod stats;
mod tls;
mod workloads;

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Parser;

use corpus::{Owner, Pool};
use report::{MemoryRow, Row};
use servers::{AsimapdSetup, DovecotSetup, Server};
use workloads::{Bench, Delivery, Target};

/// Uid and gid that own the mail on both sides (`nobody`/`nogroup` on Debian). Dovecot
/// serves mail only as an unprivileged user, and asimapd's worker takes the owner of the
/// mail root.
const MAIL_OWNER: Owner = Owner {
    uid: 65534,
    gid: 65534,
};
/// File in the work directory that marks it as this tool's, so a rerun may delete it.
const WORK_MARKER: &str = ".asimapd-bench";
const USER: &str = "bench";
const PASSWORD: &str = "secret";
/// Time given to servers after opening idle connections, before memory is read.
const IDLE_SETTLE: Duration = Duration::from_secs(3);
/// The name `--only` matches to run the memory readings of idle connections.
const MEMORY_WORKLOAD: &str = "memory of idle connections";

#[derive(Debug, Parser)]
#[command(about = "Run the same IMAP workloads against asimapd and Dovecot and compare them.")]
struct Args {
    /// Messages in INBOX and in each folder of the first-open workload
    #[arg(long, default_value_t = 10_000)]
    messages: usize,
    /// Messages in each folder of the large first-open workload; 0 skips it
    #[arg(long, default_value_t = 100_000)]
    large_messages: usize,
    /// Runs of each workload against each server
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// Runs of the first and second open of the large folders; defaults to --runs
    #[arg(long)]
    large_runs: Option<usize>,
    /// Run only the workloads whose name contains one of these texts (case-insensitive,
    /// comma-separated); the idle-connection memory readings are named "memory of idle
    /// connections"
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Seed of the generated corpus
    #[arg(long, default_value_t = 0x5eed_2026)]
    seed: u64,
    /// Directory for the corpus, configurations and logs; deleted first if an earlier run
    /// made it
    #[arg(long, default_value = "/tmp/asimapd-bench")]
    work_dir: PathBuf,
    /// The asimapd executable
    #[arg(long, default_value = "target/release/asimapd")]
    asimapd: PathBuf,
    /// The Dovecot executable
    #[arg(long, default_value = "/usr/sbin/dovecot")]
    dovecot: PathBuf,
    /// The nmh `inc` executable
    #[arg(long, default_value = "/usr/bin/mh/inc")]
    inc: PathBuf,
    /// Servers to run: both, dovecot or asimapd
    #[arg(long, default_value = "both")]
    servers: String,
    /// Numbers of idle logged-in connections at which memory is read, comma-separated
    #[arg(long, default_value = "100,1000", value_delimiter = ',')]
    idle_connections: Vec<usize>,
}

fn main() {
    let args = Args::parse();
    match run(&args) {
        Ok(markdown) => print!("{markdown}"),
        Err(error) => {
            eprintln!("asimapd-bench: {error:#}");
            std::process::exit(1);
        }
    }
}

fn run(args: &Args) -> Result<String> {
    if args.runs == 0 || args.large_runs == Some(0) || args.messages < workloads::BATCH + 20 {
        bail!(
            "--runs and --large-runs must be at least 1 and --messages at least {}",
            workloads::BATCH + 20
        );
    }
    let (want_dovecot, want_asimapd) = match args.servers.as_str() {
        "both" => (true, true),
        "dovecot" => (true, false),
        "asimapd" => (false, true),
        other => bail!("invalid --servers {other:?}: use both, dovecot or asimapd"),
    };
    // Resolved before the servers start in their own directories, where a relative path
    // would name another file.
    let asimapd = if want_asimapd {
        Some(args.asimapd.canonicalize().with_context(|| {
            format!(
                "cannot find the asimapd executable {}: build it with `cargo build --release \
                 -p asimapd` in the repository root, or pass --asimapd PATH",
                args.asimapd.display()
            )
        })?)
    } else {
        None
    };
    raise_file_limit()?;
    let work = prepare_work_dir(&args.work_dir)?;
    let certificate = tls::write_self_signed(&work)?;
    let started = Instant::now();
    let bench = build_corpus(args, &work, tls::client_config(&certificate)?)?;
    eprintln!("corpus ready in {:.1?}", started.elapsed());

    let mut servers: Vec<(Server, Target)> = Vec::new();
    if want_dovecot {
        servers.push(launch_dovecot(args, &work, &certificate)?);
    }
    if let Some(program) = &asimapd {
        servers.push(launch_asimapd(args, program, &work, &certificate)?);
    }
    for (server, target) in &servers {
        prime(&bench, target)
            .with_context(|| format!("failed to open INBOX on {}", server.name))?;
    }
    let rows = run_workloads(args, &bench, &servers, &work);
    let mut markdown = report::environment(args.seed, &servers_tls(&bench, &servers));
    markdown.push_str(&report::table(&rows));
    if is_selected(&args.only, MEMORY_WORKLOAD) {
        let memory = measure_memory(args, &bench, &servers);
        markdown.push_str(&report::memory_table(&memory));
    }
    fs::write(work.join("results.md"), &markdown)?;
    for (mut server, _) in servers {
        server.stop();
    }
    Ok(markdown)
}

fn raise_file_limit() -> Result<()> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write the struct passed to them.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            bail!("getrlimit failed: {}", std::io::Error::last_os_error());
        }
        limit.rlim_cur = limit.rlim_max;
        if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
            bail!("setrlimit failed: {}", std::io::Error::last_os_error());
        }
    }
    Ok(())
}

fn prepare_work_dir(dir: &Path) -> Result<PathBuf> {
    if dir.exists() {
        if !dir.join(WORK_MARKER).exists() {
            bail!(
                "{} exists and was not made by this tool; choose another --work-dir",
                dir.display()
            );
        }
        fs::remove_dir_all(dir).with_context(|| format!("failed to delete {}", dir.display()))?;
    }
    fs::create_dir_all(dir)?;
    fs::write(dir.join(WORK_MARKER), "")?;
    std::os::unix::fs::chown(dir, Some(MAIL_OWNER.uid), Some(MAIL_OWNER.gid))?;
    fs::set_permissions(dir, std::os::unix::fs::PermissionsExt::from_mode(0o755))?;
    Ok(dir.canonicalize()?)
}

/// Names of the empty folders the workloads write into.
const EMPTY_FOLDERS: &[&str] = &["copied", "moved", "appended", "idle"];

fn build_corpus(
    args: &Args,
    work: &Path,
    config: std::sync::Arc<rustls::ClientConfig>,
) -> Result<Bench> {
    let total = args.messages.max(args.large_messages);
    eprintln!("writing {total} messages");
    let pool = Pool::generate(&work.join("pool"), args.seed, total, MAIL_OWNER)?;
    let mh_root = work.join("Mail");
    let maildir = work.join("Maildir");
    pool.create_dir(&mh_root)?;
    pool.link_mh_folder(&mh_root, "inbox", args.messages)?;
    pool.link_maildir(&maildir, args.messages)?;
    for run in 1..=args.runs {
        pool.link_mh_folder(&mh_root, &format!("cold{run}"), args.messages)?;
        pool.link_maildir(&maildir.join(format!(".cold{run}")), args.messages)?;
    }
    if args.large_messages > 0 {
        let large_runs = large_runs(args);
        for run in 1..=large_runs {
            eprintln!("linking large folder {run} of {large_runs}");
            pool.link_mh_folder(&mh_root, &format!("big{run}"), args.large_messages)?;
            pool.link_maildir(&maildir.join(format!(".big{run}")), args.large_messages)?;
        }
    }
    for folder in EMPTY_FOLDERS {
        pool.link_mh_folder(&mh_root, folder, 0)?;
        pool.link_maildir(&maildir.join(format!(".{folder}")), 0)?;
    }
    pool.create_dir(&work.join("home"))?;
    fs::write(
        work.join("home/.mh_profile"),
        format!("Path: {}\n", mh_root.display()),
    )?;
    std::os::unix::fs::chown(
        work.join("home/.mh_profile"),
        Some(MAIL_OWNER.uid),
        Some(MAIL_OWNER.gid),
    )?;
    Ok(Bench {
        config,
        user: USER.to_owned(),
        password: PASSWORD.to_owned(),
        count: args.messages,
        large_count: args.large_messages,
        large_runs: large_runs(args),
        pool,
        owner: MAIL_OWNER,
    })
}

fn large_runs(args: &Args) -> usize {
    args.large_runs.unwrap_or(args.runs)
}

fn launch_dovecot(
    args: &Args,
    work: &Path,
    certificate: &tls::Certificate,
) -> Result<(Server, Target)> {
    let root = work.join("dovecot");
    let maildir = work.join("Maildir");
    let home = work.join("home");
    let server = servers::start_dovecot(&DovecotSetup {
        program: &args.dovecot,
        root: &root,
        maildir: &maildir,
        home: &home,
        certificate,
        mail_uid: MAIL_OWNER.uid,
        mail_gid: MAIL_OWNER.gid,
        user: USER,
        password: PASSWORD,
    })?;
    eprintln!("Dovecot: pid {}, port {}", server.pid(), server.port);
    let target = Target {
        name: "Dovecot",
        port: server.port,
        delivery: Delivery::Maildir {
            folder: maildir.join(".idle"),
        },
    };
    Ok((server, target))
}

fn launch_asimapd(
    args: &Args,
    program: &Path,
    work: &Path,
    certificate: &tls::Certificate,
) -> Result<(Server, Target)> {
    let root = work.join("asimapd");
    let mh_root = work.join("Mail");
    let server = servers::start_asimapd(&AsimapdSetup {
        program,
        root: &root,
        mh_root: &mh_root,
        certificate,
        user: USER,
        password: PASSWORD,
    })?;
    eprintln!("asimapd: pid {}, port {}", server.pid(), server.port);
    let scratch = work.join("home");
    let target = Target {
        name: "asimapd",
        port: server.port,
        delivery: Delivery::NmhInc {
            inc: args.inc.clone(),
            profile: scratch.join(".mh_profile"),
            home: scratch.clone(),
            scratch,
        },
    };
    Ok((server, target))
}

/// Opens INBOX once, untimed, so both servers have indexed it before the INBOX workloads.
fn prime(bench: &Bench, target: &Target) -> Result<()> {
    let mut client = bench.login(target)?;
    client.command("SELECT INBOX")?.ok("SELECT")?;
    client.command("FETCH 1:* (UID FLAGS)")?.ok("FETCH")?;
    client.command("LOGOUT")?;
    Ok(())
}

fn servers_tls(bench: &Bench, servers: &[(Server, Target)]) -> Vec<(String, String)> {
    servers
        .iter()
        .map(|(server, target)| {
            let summary = bench
                .login(target)
                .map_or_else(|error| format!("failed: {error:#}"), |c| c.tls_summary());
            (server.name.to_owned(), summary)
        })
        .collect()
}

/// Runs each workload `runs` times per server, alternating which server goes first. The
/// table so far is written to `results-partial.md` in `work` after each workload, so a run
/// that is stopped early still leaves its numbers.
fn run_workloads(
    args: &Args,
    bench: &Bench,
    servers: &[(Server, Target)],
    work: &Path,
) -> Vec<Row> {
    let mut rows = Vec::new();
    for workload in workloads::all(bench) {
        if !is_selected(&args.only, &workload.name) {
            continue;
        }
        let mut row = Row::new(&workload);
        for run in 1..=workload.runs.unwrap_or(args.runs) {
            let mut order: Vec<&(Server, Target)> = servers.iter().collect();
            if run % 2 == 0 {
                order.reverse();
            }
            for (_, target) in order {
                if let Some(load) = report::load_average() {
                    row.record_load(load);
                }
                let result = (workload.run)(bench, target, run);
                match &result {
                    Ok(measurement) => eprintln!(
                        "{} | {} | run {run}: {:.1?} {}",
                        workload.name, target.name, measurement.elapsed, measurement.note
                    ),
                    Err(error) => eprintln!(
                        "{} | {} | run {run}: failed: {error:#}",
                        workload.name, target.name
                    ),
                }
                row.record(target.name, result);
            }
        }
        rows.push(row);
        let partial = work.join("results-partial.md");
        if let Err(error) = fs::write(&partial, report::table(&rows)) {
            eprintln!("failed to write {}: {error}", partial.display());
        }
    }
    rows
}

/// True when `--only` is empty or one of its texts is part of `name`, ignoring case.
fn is_selected(only: &[String], name: &str) -> bool {
    let name = name.to_lowercase();
    only.is_empty() || only.iter().any(|text| name.contains(&text.to_lowercase()))
}

/// Opens idle logged-in connections up to each requested count and reads the memory of
/// each server's process tree.
fn measure_memory(args: &Args, bench: &Bench, servers: &[(Server, Target)]) -> Vec<MemoryRow> {
    let mut rows = Vec::new();
    for (server, target) in servers {
        // The sessions of the workloads are still ending: Dovecot's `imap` processes exit,
        // and asimapd's worker gives the memory they freed back to the kernel.
        std::thread::sleep(IDLE_SETTLE);
        let baseline = servers::tree_memory(server.pid());
        let mut row = MemoryRow::new(server.name, baseline);
        let mut connections = Vec::new();
        for &wanted in &args.idle_connections {
            let mut failure = None;
            while connections.len() < wanted {
                match bench.login(target) {
                    Ok(client) => connections.push(client),
                    Err(error) => {
                        failure = Some(format!("{error:#}"));
                        break;
                    }
                }
            }
            std::thread::sleep(IDLE_SETTLE);
            let memory = servers::tree_memory(server.pid());
            eprintln!(
                "{}: {} idle connections, RSS {} KiB, PSS {} KiB in {} processes",
                server.name,
                connections.len(),
                memory.rss_kib,
                memory.pss_kib,
                memory.processes
            );
            row.record(wanted, connections.len(), memory, failure);
        }
        drop(connections);
        rows.push(row);
    }
    rows
}
