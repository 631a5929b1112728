//! A certificate authority and a server certificate for `localhost` and 127.0.0.1, written
//! as PEM files so that every client can verify the server instead of skipping the check.

use std::path::{Path, PathBuf};

use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair, SanType};

use crate::error::E2eError;

/// PEM files of a test certificate authority and of the server certificate it signed.
#[derive(Debug, Clone)]
pub struct Pki {
    /// The CA certificate that clients trust.
    pub ca_cert: PathBuf,
    /// The server certificate chain.
    pub cert: PathBuf,
    /// The server's private key.
    pub key: PathBuf,
    ca_der: Vec<u8>,
}

impl Pki {
    /// Creates the CA and the server certificate in `dir`.
    pub fn create(dir: &Path) -> Result<Pki, E2eError> {
        let ca_key = KeyPair::generate()?;
        let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "asimapd test CA");
        let ca = ca_params.self_signed(&ca_key)?;

        let key = KeyPair::generate()?;
        let mut params = CertificateParams::new(vec!["localhost".to_string()])?;
        params
            .subject_alt_names
            .push(SanType::IpAddress(std::net::Ipv4Addr::LOCALHOST.into()));
        let cert = params.signed_by(&key, &ca, &ca_key)?;

        let pki = Pki {
            ca_cert: dir.join("ca.pem"),
            cert: dir.join("cert.pem"),
            key: dir.join("key.pem"),
            ca_der: ca.der().to_vec(),
        };
        write(&pki.ca_cert, ca.pem().as_bytes())?;
        write(&pki.cert, cert.pem().as_bytes())?;
        write(&pki.key, key.serialize_pem().as_bytes())?;
        Ok(pki)
    }

    /// Returns the CA certificate in DER form.
    pub fn ca_der(&self) -> &[u8] {
        &self.ca_der
    }
}

fn write(path: &Path, contents: &[u8]) -> Result<(), E2eError> {
    std::fs::write(path, contents).map_err(|source| E2eError::File {
        path: path.to_path_buf(),
        source,
    })
}
