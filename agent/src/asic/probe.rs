//! `hashward-agent asic probe --url URL [--kind ..] [--password P] --json`: read one miner once
//! and print its normalised telemetry — the operator's first debugging tool.
//!
//! [`probe`] does the work and returns the telemetry; [`print_json`] writes it for machines,
//! [`print_summary`] for a person. The CLI wiring
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

/// A few lines for a person: identity, hashrate, temperatures, power, pool and errors.
pub fn print_summary(out: &ProbeOutput, w: &mut dyn Write) -> std::io::Result<()> {
    let t = &out.telemetry;
    let or_unknown = |o: Option<String>| o.unwrap_or_else(|| "unknown".into());
    writeln!(
        w,
        "{} ({:?} API): {} firmware {}, {}",
        t.ip_address,
        t.api,
        or_unknown(t.model.clone()),
        or_unknown(t.firmware_version.clone()),
        t.status.mining_status
    )?;
    let pct = out
        .derived
        .pct_of_nominal
        .map(|p| format!(" ({p:.0}% of nominal)"))
        .unwrap_or_default();
    writeln!(
        w,
        "hashrate: {}{pct}; boards ok: {} of {}",
        t.hashrate.total, out.derived.boards_ok, out.derived.boards_total
    )?;
    let c = |v: Option<hashward_protocol::Celsius>| {
        v.map(|v| format!("{:.1} °C", v.0))
            .unwrap_or_else(|| "unknown".into())
    };
    writeln!(
        w,
        "chips: max {}, mean {}",
        c(t.temperature.max_chip),
        c(t.temperature.avg_chip)
    )?;
    let power = t
        .power
        .consumption
        .map(|p| format!("{:.0} W", p.0))
        .unwrap_or_else(|| "unknown".into());
    let eff = t
        .power
        .efficiency_j_th
        .map(|e| format!(", {e:.1} J/TH"))
        .unwrap_or_default();
    writeln!(w, "power: {power}{eff}")?;
    match &t.pool {
        Some(p) => writeln!(w, "pool: {} as {} ({})", p.url, p.user, p.status)?,
        None => writeln!(w, "pool: none")?,
    }
    for e in &t.status.errors {
        writeln!(w, "{}: {} ({})", e.severity, e.message, e.code)?;
    }
    Ok(())
}

/// Probe and print (JSON when `json`, else a summary); on error print nothing to `w` and
/// return the error for the CLI to report.
pub async fn run(opts: &ProbeOptions, json: bool, w: &mut dyn Write) -> Result<(), ApiError> {
    let out = probe(opts).await?;
    let printed = if json {
        print_json(&out, w)
    } else {
        print_summary(&out, w)
    };
    printed.map_err(|source| ApiError::Io {
        what: "writing probe output".into(),
        source,
    })
}
