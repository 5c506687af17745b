//! The one rustls client config, for the agent's and hub's MQTT links and the Stratum client:
//! ring is the only crypto provider (no aws-lc-rs, no OpenSSL), so cross builds need no C
//! toolchain beyond ring's own.
//!
//! Must never widen a private CA to the public roots: a CA file given means only that CA.

use rustls::pki_types::{pem::PemObject, CertificateDer};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Whom the client trusts.
#[derive(Debug, Clone, Copy)]
pub enum Trust<'a> {
    /// The public webpki roots.
    Public,
    /// Only the PEM certificate(s) in this file (a private fleet CA).
    CaFile(&'a Path),
    /// The public roots plus these DER certificates (a pool with its own CA).
    PublicAnd(&'a [Vec<u8>]),
}

impl<'a> Trust<'a> {
    /// `CaFile` when a file is given, else `Public`.
    pub fn ca_file_or_public(ca_file: Option<&'a Path>) -> Trust<'a> {
        ca_file.map_or(Trust::Public, Trust::CaFile)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("CA file {path}: {why}")]
    CaFile { path: PathBuf, why: String },
    #[error("CA file {0}: no PEM certificate in it")]
    NoCerts(PathBuf),
    #[error("CA file {path}: certificate not usable as a trust anchor: {source}")]
    BadCert { path: PathBuf, source: rustls::Error },
    #[error("extra root certificate not usable as a trust anchor: {0}")]
    BadExtraRoot(rustls::Error),
    #[error("TLS setup: {0}")]
    Rustls(#[from] rustls::Error),
}

/// A client config (no client certificate) trusting `trust`.
pub fn client_config(trust: Trust<'_>) -> Result<Arc<rustls::ClientConfig>, TlsError> {
    let mut roots = rustls::RootCertStore::empty();
    match trust {
        Trust::Public => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        Trust::PublicAnd(extra) => {
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            for der in extra {
                roots
                    .add(CertificateDer::from(der.clone()))
                    .map_err(TlsError::BadExtraRoot)?;
            }
        }
        Trust::CaFile(path) => {
            let fail = |why: String| TlsError::CaFile {
                path: path.to_path_buf(),
                why,
            };
            // Read first so a missing file says "No such file", not a PEM parse error.
            let pem = std::fs::read(path).map_err(|e| fail(e.to_string()))?;
            let mut found = 0usize;
            for cert in CertificateDer::pem_slice_iter(&pem) {
                let cert = cert.map_err(|e| fail(format!("bad PEM: {e}")))?;
                roots.add(cert).map_err(|source| TlsError::BadCert {
                    path: path.to_path_buf(),
                    source,
                })?;
                found += 1;
            }
            if found == 0 {
                return Err(TlsError::NoCerts(path.to_path_buf()));
            }
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_ca_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let missing = dir.path().join("nope.pem");
        let e = client_config(Trust::CaFile(&missing))
            .expect_err("missing")
            .to_string();
        assert!(e.contains("nope.pem") && e.contains("No such file"), "{e}");
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "hello").expect("write");
        let e = client_config(Trust::CaFile(&empty))
            .expect_err("empty")
            .to_string();
        assert!(e.contains("no PEM certificate"), "{e}");
        let garbage = dir.path().join("garbage.pem");
        std::fs::write(
            &garbage,
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        )
        .expect("write");
        let e = client_config(Trust::CaFile(&garbage))
            .expect_err("garbage")
            .to_string();
        assert!(e.contains("garbage.pem"), "{e}");
        let e = client_config(Trust::PublicAnd(&[vec![1, 2, 3]]))
            .expect_err("bad der")
            .to_string();
        assert!(e.contains("extra root"), "{e}");
        client_config(Trust::Public).expect("public roots");
        client_config(Trust::ca_file_or_public(None)).expect("public roots");
    }
}
