//! The hub's scorers (`alert_scorer`, `cluster_scorer`): ONNX files from the models directory,
//! run with tract like the agent's models. A file is served only if its metadata names the
//! expected type, its `hashward.features` are exactly the features the batch computes, its
//! sha256 matches `metadata.json` and its `hashward.selftest` answers agree with tract to 1e-4.
//!
//! Must never score with a model whose feature contract differs: the batch fails instead.

use crate::models::{read_model, HubModelError};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;
use tract_onnx::prelude::*;

#[derive(Debug, thiserror::Error)]
pub enum ScorerError {
    #[error(transparent)]
    Registry(#[from] HubModelError),
    #[error("{model}: not a usable ONNX file: {reason}")]
    Onnx { model: String, reason: String },
    #[error("{model}: contract: {reason}")]
    Contract { model: String, reason: String },
    #[error("{model}: self-test input {index} gives {got}, the file says {want}")]
    SelfTest {
        model: String,
        index: usize,
        got: f32,
        want: f32,
    },
}

/// A loaded, checked scorer.
#[derive(Debug)]
pub struct Scorer {
    pub model_type: String,
    pub version: String,
    plan: TypedRunnableModel<TypedModel>,
    n_features: usize,
}

/// One row's score and how long tract took for it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scored {
    pub score: f32,
    pub latency_ms: f64,
}

impl Scorer {
    pub fn load(models_dir: &Path, model_type: &str, features: &[&str]) -> Result<Scorer, ScorerError> {
        let served = read_model(models_dir, model_type)?;
        let model = model_type.to_string();
        let onnx = |reason: String| ScorerError::Onnx {
            model: model.clone(),
            reason,
        };
        let contract = |reason: String| ScorerError::Contract {
            model: model.clone(),
            reason,
        };
        let proto = tract_onnx::onnx()
            .proto_model_for_read(&mut &served.bytes[..])
            .map_err(|e| onnx(e.to_string()))?;
        let props: BTreeMap<String, String> = proto
            .metadata_props
            .iter()
            .map(|p| (p.key.clone(), p.value.clone()))
            .collect();
        let prop = |k: &str| props.get(k).ok_or_else(|| contract(format!("no {k}")));
        if prop("hashward.model_type")? != model_type {
            return Err(contract(format!(
                "hashward.model_type is {}",
                prop("hashward.model_type")?
            )));
        }
        let version = prop("hashward.version")?.clone();
        let names: Vec<String> = serde_json::from_str(prop("hashward.features")?)
            .map_err(|e| contract(format!("hashward.features: {e}")))?;
        if names != features {
            return Err(contract(format!(
                "features {names:?}, the hub computes {features:?}"
            )));
        }
        let plan = tract_onnx::onnx()
            .model_for_proto_model(&proto)
            .and_then(|m| m.with_input_fact(0, f32::fact([1, features.len()]).into()))
            .and_then(|m| m.into_optimized())
            .and_then(|m| m.into_runnable())
            .map_err(|e| onnx(format!("{e:#}")))?;
        let scorer = Scorer {
            model_type: model.clone(),
            version,
            plan,
            n_features: features.len(),
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
            let got = scorer.score(&c.input).map_err(onnx)?.score;
            if (got - c.score).abs() > 1e-4 {
                return Err(ScorerError::SelfTest {
                    model: scorer.model_type.clone(),
                    index,
                    got,
                    want: c.score,
                });
            }
        }
        Ok(scorer)
    }

    /// Scores one feature row.
    pub fn score(&self, row: &[f32]) -> Result<Scored, String> {
        if row.len() != self.n_features {
            return Err(format!("{} features, expected {}", row.len(), self.n_features));
        }
        let start = Instant::now();
        let input = Tensor::from_shape(&[1, row.len()], row).map_err(|e| e.to_string())?;
        let out = self
            .plan
            .run(tvec!(input.into_tvalue()))
            .map_err(|e| e.to_string())?;
        let score = out
            .first()
            .and_then(|t| t.as_slice::<f32>().ok())
            .and_then(|s| s.first().copied())
            .ok_or("no score output")?;
        if !score.is_finite() {
            return Err(format!("score {score} is not finite"));
        }
        Ok(Scored {
            score: score.clamp(0.0, 1.0),
            latency_ms: start.elapsed().as_secs_f64() * 1000.0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scores::cluster::CLUSTER_FEATURES;
    use crate::scores::features::ALERT_FEATURES;
    use std::path::PathBuf;

    fn repo_models() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../models")
    }

    /// Every golden row of the committed models: tract agrees with the numpy twin to 1e-4.
    #[test]
    fn tract_matches_python_on_the_golden_vectors() {
        for (mt, features) in [
            ("alert_scorer", &ALERT_FEATURES[..]),
            ("cluster_scorer", &CLUSTER_FEATURES[..]),
        ] {
            let s = Scorer::load(&repo_models(), mt, features).expect(mt);
            assert!(s.version.starts_with(&format!("{mt}_v")), "{}", s.version);
            let golden =
                std::fs::read_to_string(repo_models().join(mt).join("golden.jsonl")).expect("golden");
            let mut n = 0;
            for line in golden.lines() {
                let v: serde_json::Value = serde_json::from_str(line).expect("json");
                let row: Vec<f32> = v["features"]
                    .as_array()
                    .expect("features")
                    .iter()
                    .map(|x| x.as_f64().expect("number") as f32)
                    .collect();
                let want = v["score"].as_f64().expect("score") as f32;
                let got = s.score(&row).expect("score").score;
                assert!(
                    (got - want).abs() <= 1e-4,
                    "{mt} row {n}: tract {got}, python {want}"
                );
                n += 1;
            }
            assert!(n >= 10, "{mt}: {n} golden rows");
        }
    }

    #[test]
    fn a_feature_contract_mismatch_or_a_missing_model_is_refused() {
        let mut wrong = ALERT_FEATURES;
        wrong.swap(0, 1);
        let e = Scorer::load(&repo_models(), "alert_scorer", &wrong).expect_err("swapped");
        assert!(matches!(e, ScorerError::Contract { .. }), "{e}");
        let e = Scorer::load(&repo_models(), "alert_ranker", &ALERT_FEATURES).expect_err("none");
        assert!(
            matches!(e, ScorerError::Registry(HubModelError::NotFound(_))),
            "{e}"
        );
    }
}
