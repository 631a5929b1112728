use std::process::Command;

use rcgen::{
    CertificateParams, KeyPair, PKCS_ECDSA_P256_SHA256, PKCS_ECDSA_P384_SHA384, PKCS_ED25519,
};

use super::*;

/// Writes a self-signed certificate for localhost and its key; returns both paths.
fn write_pair(
    dir: &Path,
    name: &str,
    algorithm: &'static rcgen::SignatureAlgorithm,
) -> (PathBuf, PathBuf) {
    let key = KeyPair::generate_for(algorithm).unwrap();
    let certificate = CertificateParams::new(vec!["localhost".into()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let cert_path = dir.join(format!("{name}.crt"));
    let key_path = dir.join(format!("{name}.key"));
    std::fs::write(&cert_path, certificate.pem()).unwrap();
    std::fs::write(&key_path, key.serialize_pem()).unwrap();
    (cert_path, key_path)
}

fn first_certificate(store: &CertificateStore) -> Vec<u8> {
    store.current.read().unwrap().cert[0].to_vec()
}

#[test]
fn ecdsa_and_ed25519_keys_load() {
    let dir = tempfile::tempdir().unwrap();
    for (name, algorithm) in [
        ("p256", &PKCS_ECDSA_P256_SHA256),
        ("p384", &PKCS_ECDSA_P384_SHA384),
        ("ed25519", &PKCS_ED25519),
    ] {
        let (cert, key) = write_pair(dir.path(), name, algorithm);
        let loaded = CertificateStore::load(&cert, &key);
        assert!(loaded.is_ok(), "{name}: {:?}", loaded.err());
    }
}

#[test]
fn rsa_key_loads() {
    let Some(openssl) = asimapd_testkit::require_tool("openssl", "openssl") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("rsa.crt"), dir.path().join("rsa.key"));
    let status = Command::new(openssl)
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());

    let loaded = CertificateStore::load(&cert, &key);

    assert!(loaded.is_ok(), "{:?}", loaded.err());
}

#[test]
fn key_of_another_certificate_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, _) = write_pair(dir.path(), "one", &PKCS_ECDSA_P256_SHA256);
    let (_, other_key) = write_pair(dir.path(), "two", &PKCS_ECDSA_P256_SHA256);

    let error = CertificateStore::load(&cert, &other_key)
        .unwrap_err()
        .to_string();

    assert!(error.contains("does not match"), "{error}");
}

#[test]
fn missing_key_file_names_path() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, _) = write_pair(dir.path(), "one", &PKCS_ECDSA_P256_SHA256);
    let missing = dir.path().join("missing.key");

    let error = CertificateStore::load(&cert, &missing)
        .unwrap_err()
        .to_string();

    assert!(error.contains(&missing.display().to_string()), "{error}");
}

#[test]
fn file_without_certificate_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let (_, key) = write_pair(dir.path(), "one", &PKCS_ECDSA_P256_SHA256);

    let error = CertificateStore::load(&key, &key).unwrap_err().to_string();

    assert!(error.contains("no CERTIFICATE block"), "{error}");
}

#[test]
fn changed_files_are_reloaded() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = write_pair(dir.path(), "server", &PKCS_ECDSA_P256_SHA256);
    let store = CertificateStore::load(&cert, &key).unwrap();
    let before = first_certificate(&store);
    assert!(!store.reload_if_changed(), "nothing changed yet");

    write_pair(dir.path(), "server", &PKCS_ED25519);

    assert!(store.reload_if_changed());
    assert_ne!(first_certificate(&store), before);
}

#[test]
fn failed_reload_keeps_previous_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = write_pair(dir.path(), "server", &PKCS_ECDSA_P256_SHA256);
    let store = CertificateStore::load(&cert, &key).unwrap();
    let before = first_certificate(&store);

    std::fs::write(&key, "not a key").unwrap();

    assert!(!store.reload());
    assert_eq!(first_certificate(&store), before);
}
