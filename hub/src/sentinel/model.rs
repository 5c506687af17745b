//! The `sentinel_pool` ensemble (`models/sentinel_pool/model.onnx`), run with tract as the hub's
//! other models are: served only if its metadata names the type, its `hashward.features` are
//! exactly [`POOL_FEATURES`], its sha256 matches `metadata.json` and its `hashward.selftest`
//! answers agree with tract to 1e-4.
//!
//! Must never run a file whose feature contract or output shapes differ: loading fails instead.

use super::features::POOL_FEATURES;
use crate::models::{read_model, HubModelError};
use std::collections::BTreeMap;
use std::path::Path;
use tract_onnx::prelude::*;

pub const MODEL_TYPE: &str = "sentinel_pool";
/// The detectors, in the order of the `detectors` output.
pub const DETECTORS: [&str; 3] = ["mlp", "knn", "mahalanobis"];
/// The MLP's classes, in the order of the `classes` output.
pub const CLASSES: [&str; 5] = ["quiet", "hijack", "shares", "payout", "site"];

#[derive(Debug, thiserror::Error)]
pub enum SentinelModelError {
    #[error(transparent)]
    Registry(#[from] HubModelError),
    #[error("sentinel_pool: not a usable ONNX file: {0}")]
    Onnx(String),
    #[error("sentinel_pool: contract: {0}")]
    Contract(String),
    #[error("sentinel_pool: self-test input {index} gives {got}, the file says {want}")]
    SelfTest { index: usize, got: f32, want: f32 },
}

/// What the graph answers for one feature row.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ModelOutput {
    /// Mean of the detectors' scores, [0, 1].
    pub score: f32,
    /// Each detector's score, 0.5 at its threshold.
    pub detectors: [f32; 3],
    /// The MLP's class probabilities.
    pub classes: [f32; 5],
}

#[derive(Debug)]
pub struct SentinelModel {
    pub version: String,
    plan: TypedRunnableModel<TypedModel>,
}

impl SentinelModel {
    pub fn load(models_dir: &Path) -> Result<SentinelModel, SentinelModelError> {
        let served = read_model(models_dir, MODEL_TYPE)?;
        let onnx = SentinelModelError::Onnx;
        let contract = SentinelModelError::Contract;
        let proto = tract_onnx::onnx()
            .proto_model_for_read(&mut &served.bytes[..])
            .map_err(|e| onnx(e.to_string()))?;
        let props: BTreeMap<String, String> = proto
            .metadata_props
            .iter()
            .map(|p| (p.key.clone(), p.value.clone()))
            .collect();
        let prop = |k: &str| props.get(k).ok_or_else(|| contract(format!("no {k}")));
        if prop("hashward.model_type")? != MODEL_TYPE {
            return Err(contract(format!(
                "hashward.model_type is {}",
                prop("hashward.model_type")?
            )));
        }
        let names: Vec<String> = serde_json::from_str(prop("hashward.features")?)
            .map_err(|e| contract(format!("hashward.features: {e}")))?;
        if names != POOL_FEATURES {
            return Err(contract(format!(
                "features {names:?}, the hub computes {POOL_FEATURES:?}"
            )));
        }
        let classes: Vec<String> = serde_json::from_str(prop("hashward.classes")?)
            .map_err(|e| contract(format!("hashward.classes: {e}")))?;
        if classes != CLASSES {
            return Err(contract(format!(
                "classes {classes:?}, the hub reads {CLASSES:?}"
            )));
        }
        let plan = tract_onnx::onnx()
            .model_for_proto_model(&proto)
            .and_then(|m| m.with_input_fact(0, f32::fact([1, POOL_FEATURES.len()]).into()))
            .and_then(|m| m.into_optimized())
            .and_then(|m| m.into_runnable())
            .map_err(|e| onnx(format!("{e:#}")))?;
        let model = SentinelModel {
            version: prop("hashward.version")?.clone(),
            plan,
        };
        #[derive(serde::Deserialize)]
        struct Case {
            input: Vec<f32>,
            score: f32,
        }
        let cases: Vec<Case> = serde_json::from_str(prop("hashward.selftest")?)
            .map_err(|e| contract(format!("hashward.selftest: {e}")))?;
        if cases.is_empty() {
            return Err(contract("hashward.selftest is empty".into()));
        }
        for (index, c) in cases.iter().enumerate() {
            let row: [f32; 8] = c
                .input
                .as_slice()
                .try_into()
                .map_err(|_| contract(format!("self-test input {index} is not 8 values")))?;
            let got = model.run(&row).map_err(onnx)?.score;
            if (got - c.score).abs() > 1e-4 {
                return Err(SentinelModelError::SelfTest {
                    index,
                    got,
                    want: c.score,
                });
            }
        }
        Ok(model)
    }

    /// Runs one feature row.
    pub fn run(&self, row: &[f32; 8]) -> Result<ModelOutput, String> {
        let input = Tensor::from_shape(&[1, row.len()], row).map_err(|e| e.to_string())?;
        let out = self
            .plan
            .run(tvec!(input.into_tvalue()))
            .map_err(|e| e.to_string())?;
        let slice = |i: usize, n: usize| -> Result<Vec<f32>, String> {
            let s = out
                .get(i)
                .and_then(|t| t.as_slice::<f32>().ok())
                .ok_or_else(|| format!("no output {i}"))?;
            if s.len() != n || s.iter().any(|v| !v.is_finite()) {
                return Err(format!("output {i}: {} values, expected {n} finite", s.len()));
            }
            Ok(s.to_vec())
        };
        let score = slice(0, 1)?[0];
        let d = slice(1, 3)?;
        let c = slice(2, 5)?;
        Ok(ModelOutput {
            score: score.clamp(0.0, 1.0),
            detectors: [d[0], d[1], d[2]],
            classes: [c[0], c[1], c[2], c[3], c[4]],
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::path::PathBuf;

    pub(crate) fn repo_models() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../models")
    }

    /// Every golden row: tract agrees with the numpy twin to 1e-4 on all three outputs.
    #[test]
    fn tract_matches_python_on_the_golden_vectors() {
        let m = SentinelModel::load(&repo_models()).expect("load");
        assert!(m.version.starts_with("sentinel_pool_v"), "{}", m.version);
        let golden =
            std::fs::read_to_string(repo_models().join(MODEL_TYPE).join("golden.jsonl")).expect("golden");
        let nums = |v: &serde_json::Value| -> Vec<f32> {
            v.as_array()
                .expect("array")
                .iter()
                .map(|x| x.as_f64().expect("number") as f32)
                .collect()
        };
        let mut n = 0;
        for line in golden.lines() {
            let v: serde_json::Value = serde_json::from_str(line).expect("json");
            let row: [f32; 8] = nums(&v["features"]).try_into().expect("8 features");
            let out = m.run(&row).expect("run");
            let want_score = v["score"].as_f64().expect("score") as f32;
            assert!((out.score - want_score).abs() <= 1e-4, "row {n}: score");
            for (got, want) in out.detectors.iter().zip(nums(&v["detectors"])) {
                assert!((got - want).abs() <= 1e-4, "row {n}: detectors {got} vs {want}");
            }
            for (got, want) in out.classes.iter().zip(nums(&v["classes"])) {
                assert!((got - want).abs() <= 1e-4, "row {n}: classes {got} vs {want}");
            }
            n += 1;
        }
        assert!(n >= 20, "{n} golden rows");
    }

    #[test]
    fn a_missing_model_is_an_error_naming_it() {
        let dir = tempfile::tempdir().expect("dir");
        let e = SentinelModel::load(dir.path()).expect_err("none");
        assert!(
            matches!(e, SentinelModelError::Registry(HubModelError::NotFound(_))),
            "{e}"
        );
    }
}
