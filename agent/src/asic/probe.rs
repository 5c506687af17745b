//! `hashward-agent asic probe --url URL [--kind ..] [--password P] --json`: read one miner once
//! and print its normalised telemetry — the operator's first debugging tool.
//!
//! [`probe`] does the work and returns the telemetry; [`print_json`] writes it. The CLI wiring
//! (clap) lives in the agent's `cli.rs`. It must never print a credential, and never change
//! anything on the miner: only read endpoints are used.

use super::client::{AsicClient, AsicKind, AsicSpec, Credentials};
use super::error::ApiError;
use super::normalise::{self, Derived};
use hashward_protocol::AsicTelemetry;
use serde::Serialize;
use std::io::Write;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct ProbeOptions {
    pub url: String,
    pub kind: AsicKind,
    pub credentials: Credentials,
    pub timeout: Duration,
}

impl ProbeOptions {
    pub fn new(url: &str, kind: AsicKind) -> Self {
        ProbeOptions {
            url: url.to_string(),
            kind,
            credentials: Credentials::default(),
            timeout: Duration::from_secs(5),
        }
    }

    pub fn password(mut self, pw: Option<String>) -> Self {
        self.credentials.password = pw;
        self
    }
}

/// What `asic probe --json` prints: the telemetry message, plus values derived from it that the
/// wire format does not carry.
#[derive(Debug, Clone, Serialize)]
pub struct ProbeOutput {
    #[serde(flatten)]
    pub telemetry: AsicTelemetry,
    pub derived: Derived,
}

/// Connects (detecting the API for `auto`), reads config data and one telemetry poll.
pub async fn probe(opts: &ProbeOptions) -> Result<ProbeOutput, ApiError> {
    let spec = AsicSpec::new("probe", &opts.url, opts.kind, opts.credentials.clone())?;
    let mut client = AsicClient::connect(&spec, opts.timeout).await?;
    if let Err(e) = client.refresh_static().await {
        if e.kind().is_silence() || e.kind() == super::error::FailureKind::Auth {
            return Err(e);
        }
        log::warn!("probe: config data not read: {e}");
    }
    let raw = client.read().await?;
    let now = hashward_common::now_ms();
    let telemetry = normalise::to_telemetry(raw, &spec.endpoint.host, &spec.endpoint.host, now);
    let derived = normalise::derived(&telemetry);
    Ok(ProbeOutput { telemetry, derived })
}

/// Pretty JSON, one document, newline-terminated.
pub fn print_json(out: &ProbeOutput, w: &mut dyn Write) -> std::io::Result<()> {
    serde_json::to_writer_pretty(&mut *w, out).map_err(std::io::Error::other)?;
    writeln!(w)
}

/// Probe and print; on error print nothing to `w` and return the error for the CLI to report.
pub async fn run(opts: &ProbeOptions, w: &mut dyn Write) -> Result<(), ApiError> {
    let out = probe(opts).await?;
    print_json(&out, w).map_err(|source| ApiError::Io {
        what: "writing probe output".into(),
        source,
    })
}
