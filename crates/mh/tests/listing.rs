//! Listing a large folder reads the directory in one pass and stats no message file,
//! checked by tracing the `scenario_hook` example's `list` action with strace.

mod common;

use std::path::PathBuf;
use std::process::Command;

use asimapd_testkit::require_tool;
use common::setup;

/// Messages in the large folder. The syscalls per listing do not depend on the count beyond
/// the number of `getdents64` batches, so ten thousand keeps the test quick.
const LARGE_FOLDER: usize = 10_000;

/// Returns the `scenario_hook` example, which `cargo test` builds next to the test binaries.
fn hook_binary() -> PathBuf {
    let test_binary = std::env::current_exe().expect("test binary path");
    let profile_dir = test_binary
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target dir");
    let hook = profile_dir.join("examples").join("scenario_hook");
    assert!(
        hook.is_file(),
        "{} not built: run cargo test, which builds examples",
        hook.display()
    );
    hook
}

#[test]
fn large_listing_stats_no_message_file() {
    let Some(env) = setup("") else { return };
    let Some(strace) = require_tool("strace", "strace") else {
        return;
    };
    env.home.create_folder("big");
    let dir = env.home.folder_path("big");
    for number in 1..=LARGE_FOLDER {
        std::fs::File::create(dir.join(number.to_string())).expect("create message file");
    }
    let trace = env.home.home().join("list.trace");

    let output = Command::new(strace)
        .arg("-f")
        .arg("-o")
        .arg(&trace)
        .args(["-e", "trace=%stat,%file,getdents64"])
        .arg(hook_binary())
        .args(["list", "big"])
        .env("HOME", env.home.home())
        .env_remove("MH")
        .output()
        .expect("run strace");
    assert!(output.status.success(), "strace failed: {output:?}");
    let expected = format!("{LARGE_FOLDER} messages");
    assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), expected);

    let trace = std::fs::read_to_string(&trace).expect("read trace");
    let big = format!("{}", dir.display());
    let directory_opens = trace
        .lines()
        .filter(|line| line.contains("openat(") && line.contains(&format!("\"{big}\"")))
        .count();
    assert_eq!(directory_opens, 1, "folder directory opened once:\n{trace}");
    let stats_inside: Vec<&str> = trace
        .lines()
        .filter(|line| line.contains("stat") && line.contains(&format!("\"{big}/")))
        .collect();
    assert!(
        stats_inside.is_empty(),
        "files in the folder stat'ed: {stats_inside:?}"
    );
}
