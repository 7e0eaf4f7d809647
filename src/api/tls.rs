//! The rustls configuration of the clients that talk to targets. The system's roots are read
//! once per process, into one verifier that every client without a `ca_file` shares (a daemon
//! has two clients per target; each used to load its own copy of the roots). A `ca_file` gets a
//! verifier of its own with the system's roots plus the file's; `insecure_skip_verify` accepts
//! any certificate but still checks the handshake's signatures.

use super::client::{ClientError, TlsOptions};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use std::path::Path;
use std::sync::{Arc, OnceLock};
use url::Url;

fn provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    PROVIDER
        .get_or_init(|| Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
        .clone()
}

/// The verifier with the system's roots, made on first use and shared.
fn system_verifier() -> Result<Arc<dyn ServerCertVerifier>, ClientError> {
    static SYSTEM: OnceLock<Result<Arc<rustls_platform_verifier::Verifier>, String>> =
        OnceLock::new();
    match SYSTEM.get_or_init(|| {
        rustls_platform_verifier::Verifier::new(provider())
            .map(Arc::new)
            .map_err(|e| e.to_string())
    }) {
        Ok(v) => Ok(v.clone()),
        Err(reason) => Err(ClientError::Tls {
            what: "system roots",
            path: "(platform)".to_string(),
            reason: reason.clone(),
        }),
    }
}

fn tls_error(what: &'static str, path: &Path, reason: impl std::fmt::Display) -> ClientError {
    ClientError::Tls {
        what,
        path: path.display().to_string(),
        reason: reason.to_string(),
    }
}

fn read_certs(
    what: &'static str,
    path: &Path,
) -> Result<Vec<CertificateDer<'static>>, ClientError> {
    let bytes = std::fs::read(path).map_err(|e| tls_error(what, path, e))?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| tls_error(what, path, e))?;
    if certs.is_empty() {
        return Err(tls_error(what, path, "holds no PEM certificate"));
    }
    Ok(certs)
}

/// Accepts any server certificate; handshake signatures are still checked, so the peer holds
/// the key of the certificate it shows.
#[derive(Debug)]
struct AcceptAnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// The rustls client configuration for `tls` (`url` only names the target in the warning of
/// `insecure_skip_verify`).
pub(crate) fn client_config(
    tls: &TlsOptions,
    url: &Url,
) -> Result<rustls::ClientConfig, ClientError> {
    let verifier: Arc<dyn ServerCertVerifier> = if tls.insecure_skip_verify {
        tracing::warn!(
            target_url = %crate::redact::url(url),
            "TLS certificate verification is OFF for this target (insecure_skip_verify): \
             anyone on the path can impersonate it"
        );
        Arc::new(AcceptAnyCertificate(provider()))
    } else if let Some(path) = &tls.ca_file {
        let extra = read_certs("CA file", path)?;
        Arc::new(
            rustls_platform_verifier::Verifier::new_with_extra_roots(extra, provider())
                .map_err(|e| tls_error("CA file", path, e))?,
        )
    } else {
        system_verifier()?
    };
    let builder = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| ClientError::Tls {
            what: "protocol versions",
            path: String::new(),
            reason: e.to_string(),
        })?
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let mut config = match (&tls.cert_file, &tls.key_file) {
        (Some(cert), Some(key)) => {
            let chain = read_certs("certificate file", cert)?;
            let bytes = std::fs::read(key).map_err(|e| tls_error("key file", key, e))?;
            let key_der = PrivateKeyDer::from_pem_slice(&bytes)
                .map_err(|e| tls_error("key file", key, format!("no usable private key ({e})")))?;
            builder
                .with_client_auth_cert(chain, key_der)
                .map_err(|e| tls_error("certificate file", cert, e))?
        }
        (None, None) => builder.with_no_client_auth(),
        _ => return Err(ClientError::TlsPair),
    };
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clients_without_a_ca_file_share_one_verifier() {
        let url = Url::parse("https://example.invalid/").unwrap();
        client_config(&TlsOptions::default(), &url).unwrap();
        client_config(&TlsOptions::default(), &url).unwrap();
        assert!(Arc::ptr_eq(
            &system_verifier().unwrap(),
            &system_verifier().unwrap()
        ));
    }

    #[test]
    fn files_that_are_missing_or_not_pem_are_named() {
        let url = Url::parse("https://example.invalid/").unwrap();
        let missing = TlsOptions {
            ca_file: Some("/nonexistent/ca.pem".into()),
            ..Default::default()
        };
        let e = client_config(&missing, &url).unwrap_err().to_string();
        assert!(e.contains("/nonexistent/ca.pem"), "{e}");
        let dir = tempfile::tempdir().unwrap();
        let junk = dir.path().join("junk.pem");
        std::fs::write(&junk, "not a certificate\n").unwrap();
        let e = client_config(
            &TlsOptions {
                ca_file: Some(junk.clone()),
                ..Default::default()
            },
            &url,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("holds no PEM certificate"), "{e}");
        let e = client_config(
            &TlsOptions {
                cert_file: Some(junk),
                ..Default::default()
            },
            &url,
        )
        .unwrap_err();
        assert!(matches!(e, ClientError::TlsPair), "{e}");
    }
}
