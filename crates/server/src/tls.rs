//! TLS with rustls: the certificate chain and private key from PEM files, swapped in while
//! connections stay open when the files change or on SIGHUP.

use std::fs::File;
use std::io::BufReader;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tracing::{error, info};

use crate::error::ServerError;

/// The certificate chain and key in use, read again when their files change.
#[derive(Debug)]
pub struct CertificateStore {
    cert_path: PathBuf,
    key_path: PathBuf,
    current: RwLock<Arc<CertifiedKey>>,
    /// Identity of the two files as last loaded, to notice a change cheaply.
    loaded: Mutex<(FileStamp, FileStamp)>,
}

/// Device, inode, size and modification time: a file replaced by rename, rewritten in
/// place or touched gets a different stamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct FileStamp {
    device: u64,
    inode: u64,
    size: u64,
    mtime: (i64, i64),
}

impl FileStamp {
    fn of(path: &Path) -> Option<FileStamp> {
        let metadata = std::fs::metadata(path).ok()?;
        Some(FileStamp {
            device: metadata.dev(),
            inode: metadata.ino(),
            size: metadata.size(),
            mtime: (metadata.mtime(), metadata.mtime_nsec()),
        })
    }
}

impl CertificateStore {
    /// Loads the certificate chain and key. Fails when either file cannot be read, contains no
    /// usable item, or the key does not belong to the first certificate.
    pub fn load(cert_path: &Path, key_path: &Path) -> Result<CertificateStore, ServerError> {
        let stamps = (
            FileStamp::of(cert_path).unwrap_or_default(),
            FileStamp::of(key_path).unwrap_or_default(),
        );
        let key = load_certified_key(cert_path, key_path)?;
        Ok(CertificateStore {
            cert_path: cert_path.to_owned(),
            key_path: key_path.to_owned(),
            current: RwLock::new(Arc::new(key)),
            loaded: Mutex::new(stamps),
        })
    }

    /// Reads both files again if either changed since the last load. On failure the
    /// previous certificate stays in use and the error is logged. Returns true when a new
    /// certificate was installed.
    pub fn reload_if_changed(&self) -> bool {
        let stamps = (
            FileStamp::of(&self.cert_path).unwrap_or_default(),
            FileStamp::of(&self.key_path).unwrap_or_default(),
        );
        let mut loaded = self.loaded.lock().unwrap_or_else(|p| p.into_inner());
        if *loaded == stamps {
            return false;
        }
        *loaded = stamps;
        drop(loaded);
        self.reload()
    }

    /// Reads both files again. On failure the previous certificate stays in use and the
    /// error is logged. Returns true when a new certificate was installed.
    pub fn reload(&self) -> bool {
        match load_certified_key(&self.cert_path, &self.key_path) {
            Ok(key) => {
                *self.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(key);
                info!(cert = %self.cert_path.display(), "TLS certificate loaded");
                true
            }
            Err(error) => {
                error!(%error, "TLS certificate reload failed ({error}); the previous certificate stays in use");
                false
            }
        }
    }

    /// Builds the rustls configuration (TLS 1.2 and 1.3, no client certificates) that
    /// always presents this store's current certificate.
    pub fn server_config(self: &Arc<Self>) -> Result<Arc<rustls::ServerConfig>, ServerError> {
        // The workspace builds rustls with the ring provider only, which has no
        // post-quantum key exchange; rustls marks its constructor deprecated for that.
        #[allow(deprecated)]
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(|error| ServerError::Tls {
                path: self.cert_path.clone(),
                reason: error.to_string(),
            })?
            .with_no_client_auth()
            .with_cert_resolver(Arc::clone(self) as Arc<dyn ResolvesServerCert>);
        Ok(Arc::new(config))
    }
}

impl ResolvesServerCert for CertificateStore {
    fn resolve(&self, _client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(Arc::clone(
            &self.current.read().unwrap_or_else(|p| p.into_inner()),
        ))
    }
}

fn load_certified_key(cert_path: &Path, key_path: &Path) -> Result<CertifiedKey, ServerError> {
    let chain = read_chain(cert_path)?;
    let key = read_key(key_path)?;
    let invalid = |path: &Path, reason: String| ServerError::Tls {
        path: path.to_owned(),
        reason,
    };
    let signing_key = rustls::crypto::ring::sign::any_supported_type(&key).map_err(|error| {
        invalid(
            key_path,
            format!(
                "unsupported private key (RSA, ECDSA P-256/P-384 or Ed25519 expected): {error}"
            ),
        )
    })?;
    let certified = CertifiedKey::new(chain, signing_key);
    certified.keys_match().map_err(|error| {
        invalid(
            key_path,
            format!(
                "the key does not match the certificate in {}: {error}",
                cert_path.display()
            ),
        )
    })?;
    Ok(certified)
}

fn open(path: &Path) -> Result<BufReader<File>, ServerError> {
    File::open(path)
        .map(BufReader::new)
        .map_err(|source| ServerError::ReadFile {
            path: path.to_owned(),
            source,
        })
}

fn read_chain(path: &Path) -> Result<Vec<CertificateDer<'static>>, ServerError> {
    let chain = rustls_pemfile::certs(&mut open(path)?)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| ServerError::Tls {
            path: path.to_owned(),
            reason: format!("invalid PEM: {error}"),
        })?;
    if chain.is_empty() {
        return Err(ServerError::Tls {
            path: path.to_owned(),
            reason: "no CERTIFICATE block found".into(),
        });
    }
    Ok(chain)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, ServerError> {
    let key = rustls_pemfile::private_key(&mut open(path)?).map_err(|error| ServerError::Tls {
        path: path.to_owned(),
        reason: format!("invalid PEM: {error}"),
    })?;
    key.ok_or_else(|| ServerError::Tls {
        path: path.to_owned(),
        reason: "no PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY block found".into(),
    })
}

#[cfg(test)]
#[path = "tls_tests.rs"]
mod tests;
