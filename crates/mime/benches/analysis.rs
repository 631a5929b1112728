//! Full analysis (part tree, ENVELOPE, BODYSTRUCTURE) over a generated corpus, in MB/s.
//!
//! Run with `cargo bench -p asimapd-mime --bench analysis`.

use asimapd_mime::Analysis;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;

/// Seed and size of the benchmark corpus; changing either changes the recorded numbers.
const SEED: u64 = 0x5eed_2026;
const MESSAGES: usize = 500;

fn full_analysis(c: &mut Criterion) {
    let corpus = asimapd_corpus::generate(SEED, MESSAGES);
    let bytes: usize = corpus.iter().map(Vec::len).sum();
    let mut group = c.benchmark_group("mime");
    group.throughput(Throughput::Bytes(bytes as u64));
    group.bench_function("full_analysis", |b| {
        b.iter(|| {
            let mut out = Vec::with_capacity(4096);
            for message in &corpus {
                let analysis = Analysis::parse(black_box(message));
                out.clear();
                analysis.envelope().write(&mut out);
                analysis.write_body_structure(&mut out, true);
                black_box(&out);
            }
        })
    });
    group.bench_function("parse_only", |b| {
        b.iter(|| {
            for message in &corpus {
                black_box(Analysis::parse(black_box(message)));
            }
        })
    });
    group.finish();
}

criterion_group!(benches, full_analysis);
criterion_main!(benches);
