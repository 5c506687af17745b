//! Incident replay: `hashward-agent infer --model NAME --input FILE.jsonl [--json]` runs recorded
//! normalised telemetry (one sample per line: the bare telemetry JSON, or a record with a
//! `telemetry` field as the hub serves it and golden.jsonl holds it) through a model with fresh
//! per-subject histories and prints score, threat type and severity per sample.
//!
//! A library function over `BufRead`/`Write` so the CLI stays a thin wrapper and tests drive it.
//! Must never: stop at a bad line (it is reported in the output and counted), or touch the
//! agent's live state (its own assessor, its own histories).

use super::assessor::Assessor;
use super::error::{LoadError, ReplayError};
use super::model_type::ModelType;
use super::registry::{load_model_dir, Registry};
use hashward_protocol::{AsicTelemetry, RigTelemetry};
use serde_json::{json, Value};
use std::io::{BufRead, Write};
use std::path::Path;

/// Output format of [`replay`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// One JSON object per input line.
    Json,
    /// One tab-separated line per input line, for a terminal.
    Text,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReplaySummary {
    pub lines: u64,
    pub assessed: u64,
    /// Lines that could not be parsed or assessed (reported in the output).
    pub errors: u64,
    /// Assessments at severity medium or above.
    pub alerts: u64,
}

/// Loads what `model` needs from `models_dir` (sentinel_asic also takes efficiency_asic when
/// it loads) and replays `input` into `out`.
pub fn replay_from_dir(
    models_dir: &Path,
    model: &str,
    input: impl BufRead,
    out: impl Write,
    format: Format,
) -> Result<ReplaySummary, ReplayError> {
    let mt: ModelType = model
        .parse()
        .map_err(|_| ReplayError::UnknownModel(model.to_string()))?;
    let registry = Registry::new();
    registry.install(load_model_dir(models_dir, mt)?);
    if mt == ModelType::SentinelAsic {
        match load_model_dir(models_dir, ModelType::EfficiencyAsic) {
            Ok(m) => {
                registry.install(m);
            }
            Err(e) => log::warn!("replay without efficiency_asic (nominal hashrate used): {e}"),
        }
    }
    replay(&registry, mt, input, out, format)
}

/// Replays `input` through `model` from `registry`. Fails only when the model is not loaded or
/// reading/writing fails; a bad line becomes an `error` line in the output.
pub fn replay(
    registry: &Registry,
    model: ModelType,
    input: impl BufRead,
    mut out: impl Write,
    format: Format,
) -> Result<ReplaySummary, ReplayError> {
    if registry.info(model).is_none() {
        return Err(ReplayError::Load(LoadError::Contract {
            model_type: model,
            reason: "not loaded".into(),
        }));
    }
    let mut engine = Assessor::new(registry.clone());
    let mut summary = ReplaySummary::default();
    for (i, line) in input.lines().enumerate() {
        let line = line.map_err(ReplayError::Read)?;
        if line.trim().is_empty() {
            continue;
        }
        summary.lines += 1;
        let n = i + 1;
        let result = assess_line(&mut engine, model, &line);
        let record = match result {
            Ok(mut v) => {
                summary.assessed += 1;
                if matches!(v["severity"].as_str(), Some("medium" | "high" | "critical")) {
                    summary.alerts += 1;
                }
                v["line"] = json!(n);
                v
            }
            Err(e) => {
                summary.errors += 1;
                json!({ "line": n, "error": e })
            }
        };
        write_record(&mut out, &record, format).map_err(ReplayError::Write)?;
    }
    out.flush().map_err(ReplayError::Write)?;
    Ok(summary)
}

fn telemetry_of(line: &str) -> Result<Value, String> {
    let v: Value = serde_json::from_str(line).map_err(|e| format!("not JSON: {e}"))?;
    Ok(match v.get("telemetry") {
        Some(t) => t.clone(),
        None => v,
    })
}

fn assess_line(engine: &mut Assessor, model: ModelType, line: &str) -> Result<Value, String> {
    let t = telemetry_of(line)?;
    match model {
        ModelType::SentinelRig => {
            let t: RigTelemetry = serde_json::from_value(t).map_err(|e| format!("not rig telemetry: {e}"))?;
            let a = engine.assess_rig(&t).map_err(|e| e.to_string())?;
            serde_json::to_value(&a)
                .map(|v| trim(v, &["inputs", "expected"]))
                .map_err(|e| e.to_string())
        }
        ModelType::SentinelAsic => {
            let t: AsicTelemetry =
                serde_json::from_value(t).map_err(|e| format!("not ASIC telemetry: {e}"))?;
            let a = engine.assess_asic(&t).map_err(|e| e.to_string())?;
            serde_json::to_value(&a)
                .map(|v| trim(v, &["inputs"]))
                .map_err(|e| e.to_string())
        }
        ModelType::EfficiencyAsic => {
            let t: AsicTelemetry =
                serde_json::from_value(t).map_err(|e| format!("not ASIC telemetry: {e}"))?;
            let e = engine.expected(&t).map_err(|e| e.to_string())?;
            // Only the efficiency model predicts power; the nominal fallback does not.
            let predicted = e.power_w.is_some();
            let version = engine
                .registry()
                .info(ModelType::EfficiencyAsic)
                .map(|i| i.version)
                .unwrap_or_default();
            Ok(json!({
                "subject": { "asic": t.miner_id },
                "model_version": version,
                "predicted": predicted,
                "expected_hashrate_ths": e.hashrate_hs.map(|h| h / 1e12),
                "expected_power_w": e.power_w,
                "actual_hashrate_ths": t.hashrate.total.0 / 1e12,
                "actual_power_w": t.power.consumption.map(|w| w.0),
            }))
        }
    }
}

fn trim(mut v: Value, keys: &[&str]) -> Value {
    if let Some(o) = v.as_object_mut() {
        for k in keys {
            o.remove(*k);
        }
    }
    v
}

fn write_record(out: &mut impl Write, v: &Value, format: Format) -> std::io::Result<()> {
    match format {
        Format::Json => writeln!(out, "{v}"),
        Format::Text => {
            let s = |k: &str| match &v[k] {
                Value::String(s) => s.clone(),
                Value::Null => "-".to_string(),
                other => other.to_string(),
            };
            if v.get("error").is_some() {
                writeln!(out, "{}\terror\t{}", s("line"), s("error"))
            } else if v.get("score").is_some() {
                writeln!(
                    out,
                    "{}\t{}\tscore={:.4}\t{}\t{}\t{}",
                    s("line"),
                    s("subject"),
                    v["score"].as_f64().unwrap_or(f64::NAN),
                    s("severity"),
                    s("threat_type"),
                    s("driver"),
                )
            } else {
                writeln!(
                    out,
                    "{}\t{}\texpected {} TH/s {} W\tactual {} TH/s {} W",
                    s("line"),
                    s("subject"),
                    s("expected_hashrate_ths"),
                    s("expected_power_w"),
                    s("actual_hashrate_ths"),
                    s("actual_power_w"),
                )
            }
        }
    }
}
