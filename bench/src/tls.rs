//! The TLS material both servers share: one self-signed certificate, and a client
//! configuration that accepts exactly that certificate.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};

/// PEM files of the server certificate and key, and the certificate in DER.
#[derive(Debug, Clone)]
pub struct Certificate {
    pub cert_path: PathBuf,
    pub key_path: PathBuf,
    pub der: Vec<u8>,
}

/// Generates a self-signed certificate for `localhost` and 127.0.0.1 (ECDSA P-256, the rcgen
/// default) and writes `cert.pem` and `key.pem` into `dir`.
pub fn write_self_signed(dir: &Path) -> Result<Certificate> {
    let names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
    let generated =
        rcgen::generate_simple_self_signed(names).context("failed to generate the certificate")?;
    let cert_path = dir.join("cert.pem");
    let key_path = dir.join("key.pem");
    std::fs::write(&cert_path, generated.cert.pem())?;
    std::fs::write(&key_path, generated.key_pair.serialize_pem())?;
    Ok(Certificate {
        cert_path,
        key_path,
        der: generated.cert.der().to_vec(),
    })
}

/// Returns a client configuration (TLS 1.2 and 1.3, ring) that trusts only `certificate`.
pub fn client_config(certificate: &Certificate) -> Result<Arc<ClientConfig>> {
    // The workspace builds rustls with the ring provider only, which has no post-quantum
    // key exchange; rustls marks its constructor deprecated for that.
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = PinnedCertificate {
        der: certificate.der.clone(),
        algorithms: provider.signature_verification_algorithms,
    };
    let config = ClientConfig::builder_with_provider(Arc::clone(&provider) as Arc<CryptoProvider>)
        .with_safe_default_protocol_versions()
        .context("failed to select TLS versions")?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// A verifier that accepts one certificate, byte for byte, and checks handshake signatures
/// against its key.
#[derive(Debug)]
struct PinnedCertificate {
    der: Vec<u8>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for PinnedCertificate {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if end_entity.as_ref() == self.der.as_slice() {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General(
                "the server presented a certificate other than the generated one".into(),
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}
