//! Cost of the folder operations the store runs most: listing a large folder, the change
//! probe, parsing a large `.mh_sequences`, and one locked flag update.
//!
//! Run with `cargo bench -p asimapd-mh --bench folder`.

use std::hint::black_box;

use asimapd_mh::{MailRoot, MessageNumber, NumberSet, SequenceChange, SequenceName, SequencesFile};
use criterion::{Criterion, criterion_group, criterion_main};

/// Messages in the large folder.
const LARGE_FOLDER: u32 = 100_000;

fn large_folder() -> (tempfile::TempDir, MailRoot) {
    let dir = tempfile::tempdir().expect("temporary mail root");
    let folder = dir.path().join("big");
    std::fs::create_dir(&folder).expect("create folder");
    for number in 1..=LARGE_FOLDER {
        std::fs::File::create(folder.join(number.to_string())).expect("create message");
    }
    let root = MailRoot::open(dir.path(), None, true).expect("open mail root");
    (dir, root)
}

/// Returns a sequences file like nmh writes for a busy folder: every other message unseen
/// (one line of 50,000 numbers), plus a few short sequences.
fn busy_sequences() -> Vec<u8> {
    let unseen: Vec<String> = (1..=LARGE_FOLDER)
        .step_by(2)
        .map(|n| n.to_string())
        .collect();
    format!(
        "cur: 7\nunseen: {}\nflagged: 3 9-12 400\nreplied: 1-5000\n",
        unseen.join(" ")
    )
    .into_bytes()
}

fn listing(c: &mut Criterion) {
    let (_dir, root) = large_folder();
    let folder = root.folder("big").expect("folder name");
    let mut group = c.benchmark_group("folder");
    group.sample_size(20);
    group.bench_function("list_100k", |b| {
        b.iter(|| black_box(folder.list().unwrap()))
    });
    group.bench_function("probe", |b| b.iter(|| black_box(folder.probe().unwrap())));
    group.bench_function("snapshot_100k", |b| {
        b.iter(|| black_box(folder.snapshot().unwrap()))
    });
    group.finish();
}

fn sequences(c: &mut Criterion) {
    let bytes = busy_sequences();
    let flagged = SequenceName::new("flagged").expect("sequence name");
    let one: NumberSet = [MessageNumber::new(20).expect("number")]
        .into_iter()
        .collect();
    let change = SequenceChange::add(flagged, one);

    let mut group = c.benchmark_group("sequences");
    group.bench_function("parse_busy", |b| {
        b.iter(|| black_box(SequencesFile::parse(black_box(&bytes))))
    });
    group.bench_function("apply_and_render_busy", |b| {
        b.iter(|| {
            let mut file = SequencesFile::parse(&bytes);
            file.apply(std::slice::from_ref(&change));
            black_box(file.to_bytes())
        })
    });

    let dir = tempfile::tempdir().expect("temporary mail root");
    std::fs::create_dir(dir.path().join("flags")).expect("create folder");
    std::fs::write(dir.path().join("flags/.mh_sequences"), &bytes).expect("write sequences");
    let root = MailRoot::open(dir.path(), None, true).expect("open mail root");
    let folder = root.folder("flags").expect("folder name");
    let toggles = [
        change.clone(),
        SequenceChange::remove(
            change.name.clone(),
            [MessageNumber::new(20).unwrap()].into_iter().collect(),
        ),
    ];
    let mut index = 0;
    group.bench_function("locked_update_busy", |b| {
        b.iter(|| {
            index = (index + 1) % 2;
            folder
                .update_sequences(std::slice::from_ref(&toggles[index]))
                .unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, listing, sequences);
criterion_main!(benches);
