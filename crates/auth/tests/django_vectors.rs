//! Hashes made by Django itself verify with this crate's hashers.
//!
//! `tests/data/django_vectors.json` contains vectors printed by `scripts/django_vectors.py`, and
//! one test runs the script again so the vectors keep matching what Django writes today. The
//! script installs Django from PyPI into a virtual environment kept under the Cargo target
//! folder, so the install happens once.

use std::path::{Path, PathBuf};
use std::process::Command;

use asimapd_auth::{PasswordHash, verify_password};
use serde::Deserialize;

const WRONG_PASSWORD: &[u8] = b"wrong password";

/// Hash forms the vectors must cover, as (algorithm, text the hash starts with).
const REQUIRED_FORMS: &[(&str, &str)] = &[
    ("pbkdf2_sha256", "pbkdf2_sha256$"),
    ("pbkdf2_sha1", "pbkdf2_sha1$"),
    ("argon2", "argon2$argon2id$"),
    ("argon2", "argon2$argon2i$v=19$"),
    ("argon2", "argon2$argon2i$v=16$"),
    ("bcrypt_sha256", "bcrypt_sha256$$2b$"),
    ("bcrypt", "bcrypt$$2b$"),
    ("scrypt", "scrypt$"),
    ("md5", "md5$"),
    ("sha1", "sha1$"),
    ("unsalted_md5", "md5$$"),
    ("unsalted_sha1", "sha1$$"),
];

#[derive(Debug, Deserialize)]
struct Vector {
    algorithm: String,
    password: String,
    hash: String,
    source: String,
}

fn repository_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Checks that each vector's password verifies and, when `check_wrong_password` is set,
/// that a wrong password does not.
fn check_vectors(vectors: &[Vector], check_wrong_password: bool) {
    for vector in vectors {
        let hash = PasswordHash::new(vector.hash.as_str());
        let context = format!(
            "{} from {}: {}",
            vector.algorithm, vector.source, vector.hash
        );

        assert_eq!(hash.algorithm(), vector.algorithm, "{context}");
        assert_eq!(
            verify_password(vector.password.as_bytes(), &hash),
            Ok(true),
            "right password rejected: {context}"
        );
        if check_wrong_password {
            assert_eq!(
                verify_password(WRONG_PASSWORD, &hash),
                Ok(false),
                "wrong password accepted: {context}"
            );
        }
    }
}

fn check_coverage(vectors: &[Vector]) {
    for (algorithm, prefix) in REQUIRED_FORMS {
        let is_covered = vectors
            .iter()
            .any(|vector| vector.algorithm == *algorithm && vector.hash.starts_with(prefix));
        assert!(is_covered, "no {algorithm} vector starting with {prefix:?}");
    }
    let has_bare_md5 = vectors
        .iter()
        .any(|vector| vector.algorithm == "unsalted_md5" && !vector.hash.contains('$'));
    assert!(has_bare_md5, "no bare hex unsalted_md5 vector");
    let has_non_ascii = vectors.iter().any(|vector| !vector.password.is_ascii());
    assert!(has_non_ascii, "no vector with a non-ASCII password");
}

#[test]
fn committed_django_vectors_verify() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/django_vectors.json");
    let text = std::fs::read_to_string(&path).expect("read committed vectors");
    let vectors: Vec<Vector> = serde_json::from_str(&text).expect("parse committed vectors");

    check_coverage(&vectors);
    check_vectors(&vectors, true);
}

#[test]
fn fresh_django_vectors_verify() {
    let Some(python) = asimapd_testkit::require_tool("python3", "python3") else {
        return;
    };
    let script = repository_root().join("scripts/django_vectors.py");
    let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("django");

    let output = Command::new(python)
        .arg(&script)
        .arg("--cache")
        .arg(&cache)
        .arg("generate")
        .output()
        .expect("run scripts/django_vectors.py");

    assert!(
        output.status.success(),
        "scripts/django_vectors.py failed with {}:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let vectors: Vec<Vector> = serde_json::from_slice(&output.stdout).expect("parse fresh vectors");
    check_coverage(&vectors);
    // The committed vectors already cover wrong passwords for every form, and each check of
    // a default-cost hash takes a noticeable fraction of a second.
    check_vectors(&vectors, false);
}
