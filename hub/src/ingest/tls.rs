//! TLS for the hub's MQTT client (`--broker mqtts://...`): rustls with the ring provider only
//! (no aws-lc-rs, no OpenSSL), trusting just `--ca-file` when given, else the webpki roots.
//!
//! Built once at start-up so a bad CA file stops `serve` with a clear error instead of a hub
//! that retries a doomed handshake forever. Must never fall back to plain TCP.

use std::path::Path;
use std::sync::Arc;

/// A broker TLS setup failure, naming the flag it came from.
#[derive(Debug, thiserror::Error)]
#[error("--ca-file: {0}")]
pub struct TlsError(#[from] hashward_common::tls::TlsError);

/// The client config for an `mqtts://` broker.
pub fn client_config(ca_file: Option<&Path>) -> Result<Arc<rustls::ClientConfig>, TlsError> {
    use hashward_common::tls::{client_config, Trust};
    Ok(client_config(Trust::ca_file_or_public(ca_file))?)
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
