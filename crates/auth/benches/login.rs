//! Cost of one password check at Django's default parameters, and of a login answered from
//! the credential cache.
//!
//! Run with `cargo bench -p asimapd-auth --bench login`.

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};

use asimapd_auth::{
    AuthConfig, AuthOutcome, Authenticator, Password, PasswordFile, PasswordHash, make_password,
    verify_password,
};
use criterion::{Criterion, criterion_group, criterion_main};

const PASSWORD: &str = "correct horse battery staple";

/// A Django 5.2.19 argon2id hash of [`PASSWORD`] at Django's default parameters, taken from
/// `tests/data/django_vectors.json`.
const ARGON2ID_DEFAULT: &str = "argon2$argon2id$v=19$m=102400,t=2,p=8$R0dqcWdtc0ZlUVY0MTVtbkdVMEFCOQ$ifP5tbEPY+RHyNmak9n8a+zELjaK5TKGPvFHKZPQL44";

fn password_checks(c: &mut Criterion) {
    let pbkdf2 = make_password(PASSWORD.as_bytes());
    let argon2 = PasswordHash::new(ARGON2ID_DEFAULT);
    assert_eq!(verify_password(PASSWORD.as_bytes(), &argon2), Ok(true));

    let mut group = c.benchmark_group("verify");
    group.sample_size(10);
    group.bench_function("pbkdf2_sha256_default", |b| {
        b.iter(|| verify_password(black_box(PASSWORD.as_bytes()), &pbkdf2))
    });
    group.bench_function("argon2id_default", |b| {
        b.iter(|| verify_password(black_box(PASSWORD.as_bytes()), &argon2))
    });
    group.finish();
}

fn cached_login(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pwfile");
    let hash = make_password(PASSWORD.as_bytes());
    std::fs::write(&path, format!("alice:{}:Mail\n", hash.as_str())).unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let authenticator = Authenticator::new(PasswordFile::new(&path), AuthConfig::default());
    let password = Password::new(PASSWORD);
    let client = IpAddr::V4(Ipv4Addr::LOCALHOST);

    let first = runtime.block_on(authenticator.authenticate("alice", &password, client));
    assert!(matches!(first, AuthOutcome::Success(_)), "{first:?}");

    c.bench_function("authenticate/cached", |b| {
        b.iter(|| runtime.block_on(authenticator.authenticate("alice", &password, client)))
    });
}

criterion_group!(benches, password_checks, cached_login);
criterion_main!(benches);
