//! Benchmark driver: runs the same workloads against asimapd and Dovecot.

fn main() {
    eprintln!("asimapd-bench: no workloads yet");
    std::process::exit(1);
}
