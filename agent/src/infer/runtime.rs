//! The loaded models as they run: a sentinel (raw features in, score and per-feature
//! contributions out) and the efficiency model (settings in, hashrate and wall power out), each
//! over an optimised tract plan.
//!
//! Must never return a non-finite number as a result (that is an error) or panic on a row of
//! the wrong length. Only [`super::contract`] builds these, after the file checked out.

use super::efficiency_input::EfficiencyFeature;
use super::error::InferError;
use super::model_type::ModelType;
use super::onnx::Plan;
use hashward_protocol::ThreatType;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

/// What identifies a loaded file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModelInfo {
    pub model_type: ModelType,
    /// `<type>_v<semver>_<YYYYMMDD_HHMMSS>`, from the file itself.
    pub version: String,
    /// sha256 of the file's bytes, hex.
    pub sha256: String,
    pub size_bytes: u64,
    /// Samples of history the features look at.
    pub window: usize,
    /// Feature names in input order.
    pub features: Vec<String>,
}

/// A loaded sentinel: raw features in, score in [0, 1] and per-feature contributions out.
#[derive(Debug)]
pub struct SentinelModel {
    pub info: ModelInfo,
    /// For each model input, its index in the agent's catalog for this slot.
    pub(super) inputs: Vec<usize>,
    pub(super) neutral: Vec<f32>,
    pub(super) threats: Vec<ThreatType>,
    pub(super) names: Vec<&'static str>,
    pub(super) plan: Plan,
}

/// One sentinel evaluation.
#[derive(Debug, Clone, PartialEq)]
pub struct SentinelOutput {
    pub score: f32,
    /// Each input's share of the error, in the model's input order.
    pub contrib: Vec<f32>,
}

impl SentinelOutput {
    /// Index of the largest contribution (the first on a tie, as numpy's argmax).
    pub fn driver(&self) -> usize {
        let mut best = 0;
        for (i, c) in self.contrib.iter().enumerate() {
            if *c > self.contrib[best] {
                best = i;
            }
        }
        best
    }
}

impl SentinelModel {
    /// The model's input row from a raw catalog-ordered feature array: missing -> neutral.
    pub fn input_row(&self, raw: &[Option<f64>]) -> Vec<f32> {
        self.inputs
            .iter()
            .zip(&self.neutral)
            .map(|(&i, &n)| match raw.get(i).copied().flatten() {
                Some(v) => v as f32,
                None => n,
            })
            .collect()
    }

    pub fn run(&self, row: &[f32]) -> Result<SentinelOutput, InferError> {
        let mt = self.info.model_type;
        let out = run_plan(&self.plan, mt, row)?;
        let score = out
            .first()
            .and_then(|t| t.first().copied())
            .ok_or_else(|| run_err(mt, "no score output"))?;
        let contrib = out
            .get(1)
            .cloned()
            .ok_or_else(|| run_err(mt, "no contrib output"))?;
        if !score.is_finite() || contrib.iter().any(|c| !c.is_finite()) {
            return Err(InferError::NonFinite { model_type: mt });
        }
        Ok(SentinelOutput { score, contrib })
    }

    /// Threat named by the model input at `idx` (the driver).
    pub fn threat(&self, idx: usize) -> ThreatType {
        self.threats.get(idx).copied().unwrap_or(ThreatType::Unknown)
    }

    /// Feature name of the model input at `idx`.
    pub fn feature_name(&self, idx: usize) -> &'static str {
        self.names.get(idx).copied().unwrap_or("unknown")
    }
}

/// Stock figures of one miner family (from the file's `hashward.families`).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct FamilySpec {
    #[serde(default)]
    pub display: String,
    pub f_nom: f64,
    pub v_nom: f64,
    #[serde(default)]
    pub ths_nom: f64,
    #[serde(default)]
    pub watts_nom: f64,
}

/// A loaded efficiency model: settings in, expected hashrate (TH/s) and wall power (W) out.
#[derive(Debug)]
pub struct EfficiencyModel {
    pub info: ModelInfo,
    pub features: Vec<EfficiencyFeature>,
    pub neutral: Vec<f32>,
    pub families: BTreeMap<String, FamilySpec>,
    pub(super) plan: Plan,
}

impl EfficiencyModel {
    /// `[hashrate TH/s, power W]` for one input row (model order).
    pub fn predict(&self, row: &[f64]) -> Result<[f32; 2], InferError> {
        let mt = self.info.model_type;
        let row32: Vec<f32> = row.iter().map(|v| *v as f32).collect();
        let out = run_plan(&self.plan, mt, &row32)?;
        match out.first().map(Vec::as_slice) {
            Some([h, p]) if h.is_finite() && p.is_finite() => Ok([*h, *p]),
            Some([_, _]) => Err(InferError::NonFinite { model_type: mt }),
            _ => Err(run_err(mt, "expected output is not [1, 2]")),
        }
    }
}

/// Either kind of loaded model.
#[derive(Debug, Clone)]
pub enum LoadedModel {
    Sentinel(Arc<SentinelModel>),
    Efficiency(Arc<EfficiencyModel>),
}

impl LoadedModel {
    pub fn info(&self) -> &ModelInfo {
        match self {
            LoadedModel::Sentinel(m) => &m.info,
            LoadedModel::Efficiency(m) => &m.info,
        }
    }
}

fn run_err(model_type: ModelType, reason: impl Into<String>) -> InferError {
    InferError::Run {
        model_type,
        reason: reason.into(),
    }
}

fn run_plan(plan: &Plan, mt: ModelType, row: &[f32]) -> Result<Vec<Vec<f32>>, InferError> {
    plan.run(row).map_err(|e| run_err(mt, e))
}
