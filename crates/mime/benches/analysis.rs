//! Full analysis (part tree, ENVELOPE, BODYSTRUCTURE) over a generated corpus, in MB/s, and
//! the same for single messages of growing size, to show that analysis is linear.
//!
//! Run with `cargo bench -p asimapd-mime --bench analysis`.

use asimapd_mime::Analysis;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;

/// Seed and size of the benchmark corpus; changing either changes the recorded numbers.
const SEED: u64 = 0x5eed_2026;
const MESSAGES: usize = 500;

fn analyse(message: &[u8], out: &mut Vec<u8>) {
    let analysis = Analysis::parse(black_box(message));
    out.clear();
    analysis.envelope().write(out);
    analysis.write_body_structure(out, true);
    black_box(&out);
}

fn corpus(c: &mut Criterion) {
    let corpus = asimapd_corpus::generate(SEED, MESSAGES);
    let bytes: usize = corpus.iter().map(Vec::len).sum();
    let mut group = c.benchmark_group("mime_corpus");
    group.throughput(Throughput::Bytes(bytes as u64));
    group.bench_function("full_analysis", |b| {
        let mut out = Vec::with_capacity(4096);
        b.iter(|| {
            for message in &corpus {
                analyse(message, &mut out);
            }
        })
    });
    group.finish();
}

/// Builds one multipart message of about `size` bytes from corpus messages (starting at
/// message `first`) forwarded as `message/rfc822` parts.
fn large_message(size: usize, first: usize) -> Vec<u8> {
    let mut raw =
        b"From: a@example.com\nSubject: large\nContent-Type: multipart/mixed; boundary=big\n\n"
            .to_vec();
    let mut index = first;
    while raw.len() < size {
        raw.extend_from_slice(b"--big\nContent-Type: message/rfc822\n\n");
        let message = asimapd_corpus::message(SEED, index);
        let start = if message.starts_with(b"From ") {
            message
                .iter()
                .position(|&b| b == b'\n')
                .map_or(0, |i| i + 1)
        } else {
            0
        };
        raw.extend_from_slice(&message[start..]);
        raw.extend_from_slice(b"\n");
        index += 1;
    }
    raw.extend_from_slice(b"--big--\n");
    raw
}

fn scaling(c: &mut Criterion) {
    let mut group = c.benchmark_group("mime_scaling");
    group.sample_size(10);
    for megabytes in [1usize, 4, 16] {
        let message = large_message(megabytes << 20, 0);
        group.throughput(Throughput::Bytes(message.len() as u64));
        group.bench_with_input(
            BenchmarkId::new("full_analysis_mb", megabytes),
            &message,
            |b, message| {
                let mut out = Vec::with_capacity(1 << 16);
                b.iter(|| analyse(message, &mut out))
            },
        );
    }
    // Sixteen different 1 MiB messages hold as many bytes as the 16 MiB message. When both
    // run at the same rate, a lower rate at 16 MiB than at 1 MiB comes from data that no
    // longer fits the caches, not from the size of one message.
    let messages: Vec<Vec<u8>> = (0..16)
        .map(|index| large_message(1 << 20, index * 500))
        .collect();
    let bytes: usize = messages.iter().map(Vec::len).sum();
    group.throughput(Throughput::Bytes(bytes as u64));
    group.bench_function("sixteen_different_1mb", |b| {
        let mut out = Vec::with_capacity(1 << 16);
        b.iter(|| {
            for message in &messages {
                analyse(message, &mut out);
            }
        })
    });
    group.finish();
}

criterion_group!(benches, corpus, scaling);
criterion_main!(benches);
