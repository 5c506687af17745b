//! The assessment of one telemetry sample: features -> sentinel -> score, threat type, severity
//! and recommended action (docs/ARCHITECTURE.md#thresholds-alerts), and the directive the agent
//! must carry out (a critical overheat pauses mining: the circuit breaker). Also the ASIC
//! power-target advice from the efficiency model (docs/ARCHITECTURE.md#thresholds-inference).
//!
//! The assessor is synchronous and owns the per-subject histories; it runs on the inference
//! thread ([`super::worker`]), never on the link's or the miner's. Must never: panic on a
//! sample, act on a score it could not compute, or let one subject's history grow unbounded.

use super::efficiency_input::{asic_hottest_chip, asic_settings, efficiency_input, nominal_expected};
use super::error::InferError;
use super::features::{AsicFeatures, AsicWindow, Expected, RigFeatures, RigWindow};
use super::model_type::ModelType;
use super::registry::Registry;
use super::runtime::{EfficiencyModel, SentinelModel};
use hashward_protocol::{Alert, AsicTelemetry, RecommendedAction, RigTelemetry, Score, Severity, ThreatType};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::Arc;

/// How long the circuit breaker pauses mining (docs/ARCHITECTURE.md#safety).
pub const CIRCUIT_BREAKER_S: u64 = 300;
/// ASIC histories kept at most; a rig polls a handful, so more means ids churn (renames).
pub const MAX_ASIC_SUBJECTS: usize = 256;

/// What an assessment is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Subject {
    /// The host and its CPU miner.
    Rig,
    /// One ASIC, by its miner id.
    Asic(String),
}

impl Subject {
    /// `rig` or the miner id, as [`Alert::subject`] carries it.
    pub fn as_alert_subject(&self) -> &str {
        match self {
            Subject::Rig => "rig",
            Subject::Asic(id) => id,
        }
    }
}

/// Something the agent must do because of an assessment (as opposed to report).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Directive {
    /// Circuit breaker: stop hashing on `subject` for `duration_s` (critical overheat only).
    PauseMining {
        subject: Subject,
        threat: ThreatType,
        duration_s: u64,
    },
}

/// The result of one sample through a sentinel.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Assessment {
    pub subject: Subject,
    pub model_type: ModelType,
    pub model_version: String,
    /// Anomaly score in [0, 1].
    pub score: f32,
    pub severity: Severity,
    pub threat_type: ThreatType,
    /// The feature that drives the score (names the threat).
    pub driver: &'static str,
    pub action: RecommendedAction,
    pub directive: Option<Directive>,
    /// The model input actually used (neutral values filled in), model order.
    pub inputs: Vec<f32>,
    /// ASIC only: what the efficiency model (or nominal hashrate) expected.
    pub expected: Option<Expected>,
}

impl Assessment {
    /// Severity medium or above (score > 0.5, the models' alert threshold) is an alert; low is
    /// only logged (action `log`, docs/ARCHITECTURE.md#thresholds-alerts).
    pub fn is_alert(&self) -> bool {
        self.severity >= Severity::Medium
    }

    /// The `{site}/{rig}/score` body for this assessment of the sample taken at `sample_ts_ms`.
    pub fn to_score(&self, sample_ts_ms: u64) -> Score {
        Score {
            subject: self.subject.as_alert_subject().to_string(),
            score: self.score,
            threat_type: self.threat_type,
            severity: self.severity,
            model_version: self.model_version.clone(),
            sample_ts_ms,
        }
    }

    /// The `{site}/{rig}/alert` body for this assessment.
    pub fn to_alert(&self) -> Alert {
        Alert {
            subject: self.subject.as_alert_subject().to_string(),
            score: self.score,
            threat_type: self.threat_type,
            severity: self.severity,
            action: self.action.clone(),
            model_version: self.model_version.clone(),
            message: format!(
                "{} on {}: score {:.3} ({}), driven by {}",
                threat_label(self.threat_type),
                self.subject.as_alert_subject(),
                self.score,
                severity_label(self.severity),
                self.driver
            ),
        }
    }
}

fn threat_label(t: ThreatType) -> &'static str {
    match t {
        ThreatType::Overheat => "overheat",
        ThreatType::FanFailure => "fan failure",
        ThreatType::BoardLoss => "hashboard loss",
        ThreatType::HashrateDrop => "hashrate drop",
        ThreatType::RejectionSurge => "share rejection surge",
        ThreatType::PoolChange => "pool or wallet changed",
        ThreatType::PowerAnomaly => "power anomaly",
        ThreatType::Unknown => "anomaly",
    }
}

fn severity_label(s: Severity) -> &'static str {
    match s {
        Severity::Low => "low",
        Severity::Medium => "medium",
        Severity::High => "high",
        Severity::Critical => "critical",
    }
}

/// The action per severity (docs/ARCHITECTURE.md#thresholds-alerts). Only a critical overheat
/// executes by itself (the circuit breaker pauses mining); everything else is for the operator,
/// because pausing a rig for a pool change or a slow fan would cost money without protecting the
/// hardware.
pub fn recommended_action(severity: Severity, threat: ThreatType) -> RecommendedAction {
    let (action, description, auto) = match severity {
        Severity::Critical if threat == ThreatType::Overheat => (
            "circuit_breaker",
            format!("Pause mining for {CIRCUIT_BREAKER_S} s to protect the hardware"),
            true,
        ),
        Severity::Critical => (
            "circuit_breaker",
            format!(
                "Critical {}: stop the affected miner and investigate now",
                threat_label(threat)
            ),
            false,
        ),
        Severity::High => (
            "rate_limit",
            format!(
                "High {}: reduce load or frequency and investigate",
                threat_label(threat)
            ),
            false,
        ),
        Severity::Medium => (
            "alert",
            format!("Investigate the {}", threat_label(threat)),
            false,
        ),
        Severity::Low => ("log", "Log for later analysis".to_string(), false),
    };
    RecommendedAction {
        action: action.to_string(),
        description,
        auto_execute: auto,
    }
}

// The advice is a wire record the hub stores (docs/ARCHITECTURE.md#thresholds-inference).
pub use hashward_protocol::{OperatingPoint, PowerAdvice, PowerSuggestion, RiskLevel};

/// Minimum efficiency gain worth a suggestion: below it, noise and the model's ~2 % error win.
pub const MIN_ADVICE_GAIN_PCT: f64 = 3.0;
/// Preset scales (x nominal frequency) the advice considers: inside the model's training range
/// (0.7..1.3) with a margin, so it never extrapolates.
const ADVICE_SCALES: [f64; 9] = [0.75, 0.8, 0.85, 0.9, 0.95, 1.0, 1.05, 1.1, 1.15];

/// Per-subject histories plus the active models: one sample in, one assessment out.
#[derive(Debug)]
pub struct Assessor {
    registry: Registry,
    rig: RigWindow,
    asics: HashMap<String, AsicWindow>,
}

impl Assessor {
    pub fn new(registry: Registry) -> Assessor {
        Assessor {
            registry,
            rig: RigWindow::new(),
            asics: HashMap::new(),
        }
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    fn sentinel(&self, mt: ModelType) -> Result<Arc<SentinelModel>, InferError> {
        self.registry.sentinel(mt).ok_or(InferError::NoModel(mt))
    }

    /// Features of a rig sample; the history advances even without a model so that one
    /// installed later starts with a full window.
    pub fn rig_features(&mut self, t: &RigTelemetry, window: usize) -> RigFeatures {
        self.rig.push(t, window)
    }

    /// Assesses a rig sample with `sentinel_rig`.
    pub fn assess_rig(&mut self, t: &RigTelemetry) -> Result<Assessment, InferError> {
        let model = self.sentinel(ModelType::SentinelRig);
        let window = model.as_ref().map_or(1, |m| m.info.window);
        let raw = self.rig.push(t, window);
        let model = model?;
        assess(&model, Subject::Rig, &raw, None)
    }

    /// What the efficiency model (else the nominal hashrate) expects of this ASIC sample.
    pub fn expected(&self, t: &AsicTelemetry) -> Result<Expected, InferError> {
        match self.registry.efficiency() {
            Some(eff) => expected_with(&eff, t),
            None => Ok(nominal_expected(t)),
        }
    }

    /// Assesses an ASIC sample with `sentinel_asic` (fed by `efficiency_asic`).
    pub fn assess_asic(&mut self, t: &AsicTelemetry) -> Result<Assessment, InferError> {
        let model = self.sentinel(ModelType::SentinelAsic);
        let window = model.as_ref().map_or(1, |m| m.info.window);
        // An efficiency failure degrades to the nominal expectation rather than losing the sample.
        let expected = self.expected(t).unwrap_or_else(|e| {
            log::warn!("{e}; using nominal hashrate for {}", t.miner_id);
            nominal_expected(t)
        });
        let raw = self.asic_window(&t.miner_id).push(t, window, expected);
        let model = model?;
        assess(&model, Subject::Asic(t.miner_id.clone()), &raw, Some(expected))
    }

    /// Features of an ASIC sample (advances the history like [`Assessor::assess_asic`]).
    pub fn asic_features(&mut self, t: &AsicTelemetry, window: usize, expected: Expected) -> AsicFeatures {
        self.asic_window(&t.miner_id).push(t, window, expected)
    }

    fn asic_window(&mut self, id: &str) -> &mut AsicWindow {
        if !self.asics.contains_key(id) && self.asics.len() >= MAX_ASIC_SUBJECTS {
            // Bounded memory: forget the histories (a few samples of features lost) rather
            // than grow with every id a misconfigured poller invents.
            log::warn!("more than {MAX_ASIC_SUBJECTS} ASIC ids seen; histories reset");
            self.asics.clear();
        }
        self.asics.entry(id.to_string()).or_default()
    }

    /// Power-target advice for one ASIC; `Ok(None)` when the miner cannot be predicted
    /// (unknown family, missing settings) or no efficiency model is loaded.
    pub fn advise_asic(&self, t: &AsicTelemetry) -> Result<Option<PowerAdvice>, InferError> {
        let Some(eff) = self.registry.efficiency() else {
            return Ok(None);
        };
        advise_with(&eff, t)
    }
}

fn expected_with(eff: &EfficiencyModel, t: &AsicTelemetry) -> Result<Expected, InferError> {
    match efficiency_input(t, &eff.features, &eff.neutral) {
        Some(row) => {
            let [ths, w] = eff.predict(&row)?;
            Ok(Expected {
                hashrate_hs: Some(f64::from(ths) * 1e12),
                power_w: Some(f64::from(w)),
            })
        }
        None => Ok(nominal_expected(t)),
    }
}

fn assess(
    model: &SentinelModel,
    subject: Subject,
    raw: &[Option<f64>],
    expected: Option<Expected>,
) -> Result<Assessment, InferError> {
    let inputs = model.input_row(raw);
    let out = model.run(&inputs)?;
    let driver = out.driver();
    let threat_type = model.threat(driver);
    let severity = Severity::from_score(out.score);
    let directive = (severity == Severity::Critical && threat_type == ThreatType::Overheat).then(|| {
        Directive::PauseMining {
            subject: subject.clone(),
            threat: threat_type,
            duration_s: CIRCUIT_BREAKER_S,
        }
    });
    Ok(Assessment {
        subject,
        model_type: model.info.model_type,
        model_version: model.info.version.clone(),
        score: out.score,
        severity,
        threat_type,
        driver: model.feature_name(driver),
        action: recommended_action(severity, threat_type),
        directive,
        inputs,
        expected,
    })
}

fn advise_with(eff: &EfficiencyModel, t: &AsicTelemetry) -> Result<Option<PowerAdvice>, InferError> {
    let (Some(family), Some(freq), Some(volt)) = asic_settings(t) else {
        return Ok(None);
    };
    let Some(spec) = eff.families.get(&family) else {
        return Ok(None);
    };
    let Some(row) = efficiency_input(t, &eff.features, &eff.neutral) else {
        return Ok(None);
    };
    let point = |f: f64, v: f64| -> Result<Option<OperatingPoint>, InferError> {
        let row: Vec<f64> = eff
            .features
            .iter()
            .zip(&row)
            .map(|(feat, x)| match feat {
                super::efficiency_input::EfficiencyFeature::FrequencyMhz => f,
                super::efficiency_input::EfficiencyFeature::VoltageV => v,
                _ => *x,
            })
            .collect();
        let [ths, w] = eff.predict(&row)?;
        let (ths, w) = (f64::from(ths), f64::from(w));
        Ok((ths > 0.0 && w > 0.0).then(|| OperatingPoint {
            frequency_mhz: f,
            voltage_v: v,
            expected_ths: ths,
            expected_w: w,
            j_per_th: w / ths,
        }))
    };
    let Some(current) = point(freq, volt)? else {
        return Ok(None);
    };
    let mut best: Option<OperatingPoint> = None;
    for scale in ADVICE_SCALES {
        // The stock preset curve (voltage ~ 0.72 + 0.28 x frequency scale, sim.py's
        // preset_voltage): suggestions are presets a firmware offers, not arbitrary pairs.
        let f = spec.f_nom * scale;
        let v = spec.v_nom * (0.72 + 0.28 * scale);
        if let Some(p) = point(f, v)? {
            if best.is_none_or(|b| p.j_per_th < b.j_per_th) {
                best = Some(p);
            }
        }
    }
    let suggestion = best.and_then(|target| {
        let improvement_pct = (current.j_per_th - target.j_per_th) / current.j_per_th * 100.0;
        (improvement_pct >= MIN_ADVICE_GAIN_PCT).then(|| {
            let hot = asic_hottest_chip(t).unwrap_or(f64::INFINITY);
            // Risk grows with overclocking and with a chip already near its limit (80 C is
            // where the fan controller runs out of range); unknown temperature = worst.
            let risk_level = if hot > 80.0 || target.frequency_mhz > spec.f_nom * 1.1 {
                RiskLevel::High
            } else if hot > 70.0 || target.frequency_mhz > current.frequency_mhz {
                RiskLevel::Medium
            } else {
                RiskLevel::Low
            };
            PowerSuggestion {
                target,
                improvement_pct,
                hashrate_change_ths: target.expected_ths - current.expected_ths,
                power_savings_w: current.expected_w - target.expected_w,
                risk_level,
            }
        })
    });
    Ok(Some(PowerAdvice {
        asic_id: t.miner_id.clone(),
        model_version: eff.info.version.clone(),
        current,
        suggestion,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_critical_overheat_executes_by_itself() {
        for s in [
            Severity::Low,
            Severity::Medium,
            Severity::High,
            Severity::Critical,
        ] {
            for t in [
                ThreatType::Overheat,
                ThreatType::FanFailure,
                ThreatType::PoolChange,
            ] {
                let a = recommended_action(s, t);
                assert_eq!(
                    a.auto_execute,
                    s == Severity::Critical && t == ThreatType::Overheat,
                    "{s:?} {t:?}"
                );
            }
        }
        assert_eq!(
            recommended_action(Severity::High, ThreatType::BoardLoss).action,
            "rate_limit"
        );
    }
}
