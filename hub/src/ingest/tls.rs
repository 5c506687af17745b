//! TLS for the hub's MQTT client (`--broker mqtts://...`): rustls with the ring provider only
//! (no aws-lc-rs, no OpenSSL), trusting just `--ca-file` when given, else the webpki roots.
//!
//! Built once at start-up so a bad CA file stops `serve` with a clear error instead of a hub
//! that retries a doomed handshake forever. Must never fall back to plain TCP.

use rustls::pki_types::{pem::PemObject, CertificateDer};
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("--ca-file {path}: {why}")]
    CaFile { path: PathBuf, why: String },
    #[error("--ca-file {0}: holds no PEM certificate")]
    Empty(PathBuf),
    #[error("TLS setup: {0}")]
    Rustls(#[from] rustls::Error),
}

/// The client config for an `mqtts://` broker.
pub fn client_config(ca_file: Option<&Path>) -> Result<Arc<rustls::ClientConfig>, TlsError> {
    let mut roots = rustls::RootCertStore::empty();
    if let Some(path) = ca_file {
        let fail = |why: String| TlsError::CaFile {
            path: path.to_path_buf(),
            why,
        };
        let pem = std::fs::read(path).map_err(|e| fail(e.to_string()))?;
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&pem)
            .collect::<Result<_, _>>()
            .map_err(|e| fail(format!("bad PEM: {e}")))?;
        if certs.is_empty() {
            return Err(TlsError::Empty(path.to_path_buf()));
        }
        for c in certs {
            roots
                .add(c)
                .map_err(|e| fail(format!("unusable CA certificate: {e}")))?;
        }
    } else {
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    }
    let ring = Arc::new(rustls::crypto::ring::default_provider());
    Ok(Arc::new(
        rustls::ClientConfig::builder_with_provider(ring)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_ca_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let missing = dir.path().join("nope.pem");
        let e = client_config(Some(&missing)).expect_err("missing").to_string();
        assert!(e.contains("nope.pem"), "{e}");
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "hello").expect("write");
        let e = client_config(Some(&empty)).expect_err("empty").to_string();
        assert!(e.contains("no PEM certificate"), "{e}");
        client_config(None).expect("public roots");
    }
}
