//! The difficulty forecast model (`models/hub/difficulty_forecast/`, trained by
//! models/train/difficulty.py) loaded and run with tract: `[1, 2]` features in, `[1, 6]`
//! cumulative log-changes out (Bitcoin h = 1..3, then Litecoin), with the residual quantiles
//! of its metadata for the 80 % interval.
//!
//! Must never run a file that does not declare the features this code computes: the ONNX
//! `features` property and metadata.json must both match `hashward_econ::forecast::difficulty::FEATURES`.

use hashward_econ::forecast::difficulty::{self, EpochForecast, FEATURES, HORIZONS};
use hashward_econ::history::RetargetRow;
use hashward_econ::Coin;
use std::path::{Path, PathBuf};
use tract_onnx::prelude::*;

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("reading {0}: {1}")]
    Io(PathBuf, std::io::Error),
    #[error("{path}: {reason}")]
    Invalid { path: PathBuf, reason: String },
    #[error("the model has no forecast for {0} (it covers bitcoin and litecoin)")]
    Coin(Coin),
    #[error("the retarget table has {0} rows; the forecast needs at least 13")]
    TooShort(usize),
    #[error("running the model: {0}")]
    Run(String),
}

pub struct DifficultyModel {
    pub version: String,
    coins: Vec<Coin>,
    /// Per coin (same order), per horizon: (q10, q90) of the out-of-sample residuals.
    quantiles: Vec<[[f64; 2]; HORIZONS]>,
    plan: TypedRunnableModel<TypedModel>,
}

#[derive(serde::Deserialize)]
struct Metadata {
    model_version: String,
    features: Vec<String>,
    coins: Vec<String>,
    residual_q10_q90: std::collections::BTreeMap<String, Vec<[f64; 2]>>,
}

impl DifficultyModel {
    pub fn load(dir: &Path) -> Result<DifficultyModel, ModelError> {
        let read = |name: &str| {
            let p = dir.join(name);
            std::fs::read(&p).map_err(|e| ModelError::Io(p, e))
        };
        let invalid = |name: &str, reason: String| ModelError::Invalid {
            path: dir.join(name),
            reason,
        };
        let meta: Metadata = serde_json::from_slice(&read("metadata.json")?)
            .map_err(|e| invalid("metadata.json", e.to_string()))?;
        if meta.features != FEATURES {
            return Err(invalid(
                "metadata.json",
                format!("features {:?}, this hub computes {:?}", meta.features, FEATURES),
            ));
        }
        let mut coins = Vec::new();
        let mut quantiles = Vec::new();
        for name in &meta.coins {
            let coin: Coin = name
                .parse()
                .map_err(|e| invalid("metadata.json", format!("{e}")))?;
            let q = meta
                .residual_q10_q90
                .get(name)
                .filter(|q| q.len() == HORIZONS)
                .ok_or_else(|| {
                    invalid(
                        "metadata.json",
                        format!("residual_q10_q90 of {name}: need {HORIZONS}"),
                    )
                })?;
            coins.push(coin);
            quantiles.push([q[0], q[1], q[2]]);
        }
        let bytes = read("model.onnx")?;
        let onnx = |e: TractError| invalid("model.onnx", format!("{e:#}"));
        let proto = tract_onnx::onnx()
            .proto_model_for_read(&mut &bytes[..])
            .map_err(onnx)?;
        let declared = proto
            .metadata_props
            .iter()
            .find(|p| p.key == "features")
            .map(|p| p.value.clone());
        let parsed: Option<Vec<String>> = declared.as_deref().and_then(|d| serde_json::from_str(d).ok());
        if parsed
            .as_deref()
            .map(|p| p.iter().map(String::as_str).eq(FEATURES))
            != Some(true)
        {
            return Err(invalid(
                "model.onnx",
                format!("features property {declared:?}, expected {FEATURES:?}"),
            ));
        }
        let outputs = HORIZONS * coins.len();
        let plan = tract_onnx::onnx()
            .model_for_proto_model(&proto)
            .and_then(|m| m.with_input_fact(0, f32::fact([1, FEATURES.len()]).into()))
            .and_then(|m| m.into_optimized())
            .map_err(onnx)?;
        let fact = plan.output_fact(0).map_err(onnx)?;
        if fact.shape.as_concrete() != Some(&[1, outputs][..]) {
            return Err(invalid(
                "model.onnx",
                format!("output {fact:?}, expected [1, {outputs}]"),
            ));
        }
        Ok(DifficultyModel {
            version: meta.model_version,
            coins,
            quantiles,
            plan: plan.into_runnable().map_err(onnx)?,
        })
    }

    /// The model's raw outputs for one feature row (all coins, all horizons).
    pub fn run(&self, features: [f64; 2]) -> Result<Vec<f32>, ModelError> {
        let row: Vec<f32> = features.iter().map(|&f| f as f32).collect();
        let input = Tensor::from_shape(&[1, row.len()], &row).map_err(|e| ModelError::Run(e.to_string()))?;
        let out = self
            .plan
            .run(tvec!(input.into_tvalue()))
            .map_err(|e| ModelError::Run(e.to_string()))?;
        let first = out.first().ok_or_else(|| ModelError::Run("no output".into()))?;
        first
            .as_slice::<f32>()
            .map(<[f32]>::to_vec)
            .map_err(|e| ModelError::Run(e.to_string()))
    }

    /// The next `epochs` retargets of `coin` after the table's last row.
    pub fn forecast(
        &self,
        coin: Coin,
        rows: &[RetargetRow],
        epochs: usize,
    ) -> Result<Vec<EpochForecast>, ModelError> {
        let i = self
            .coins
            .iter()
            .position(|c| *c == coin)
            .ok_or(ModelError::Coin(coin))?;
        let f = difficulty::features(rows).ok_or(ModelError::TooShort(rows.len()))?;
        let last = rows.last().ok_or(ModelError::TooShort(0))?;
        let out = self.run(f)?;
        let c = &out[i * HORIZONS..(i + 1) * HORIZONS];
        let change = [f64::from(c[0]), f64::from(c[1]), f64::from(c[2])];
        Ok(difficulty::project(coin, last, change, self.quantiles[i], epochs))
    }

    /// Expected difficulty growth per day over the next 3 epochs (for the earnings forecast).
    pub fn growth_per_day(&self, coin: Coin, rows: &[RetargetRow]) -> Result<f64, ModelError> {
        let p = self.forecast(coin, rows, HORIZONS)?;
        let last = rows.last().ok_or(ModelError::TooShort(0))?;
        let days = (HORIZONS as u64 * 2016 * coin.block_spacing_s()) as f64 / 86_400.0;
        Ok((p[HORIZONS - 1].difficulty / last.difficulty).ln() / days)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model_dir() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../models/hub/difficulty_forecast")
    }

    /// Parity with Python: the golden vectors' features through tract give the outputs
    /// difficulty.py computed (float32), within 1e-4.
    #[test]
    fn tract_matches_python_on_the_golden_vectors() {
        let m = DifficultyModel::load(&model_dir()).expect("model");
        let golden = std::fs::read_to_string(model_dir().join("golden.jsonl")).expect("golden");
        let mut n = 0;
        for line in golden.lines() {
            let g: serde_json::Value = serde_json::from_str(line).expect("json");
            let f: Vec<f64> = serde_json::from_value(g["features"].clone()).expect("features");
            let want: Vec<f64> = serde_json::from_value(g["log_change"].clone()).expect("out");
            let got = m.run([f[0], f[1]]).expect("run");
            assert_eq!(got.len(), want.len());
            for (a, b) in got.iter().zip(&want) {
                assert!((f64::from(*a) - b).abs() < 1e-4, "{got:?} vs {want:?}");
            }
            n += 1;
        }
        assert!(n >= 6, "{n}");
    }

    /// The Rust features from the real table equal Python's (skipped without ../shared/data).
    #[test]
    fn features_match_python_on_the_real_tables() {
        let golden = std::fs::read_to_string(model_dir().join("golden.jsonl")).expect("golden");
        for line in golden.lines() {
            let g: serde_json::Value = serde_json::from_str(line).expect("json");
            let file = match g["coin"].as_str() {
                Some("bitcoin") => "btc_retargets.csv",
                _ => "ltc_retargets.csv",
            };
            let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../../shared/data")
                .join(file);
            let Ok(text) = std::fs::read_to_string(&path) else {
                eprintln!("SKIPPED: {} absent", path.display());
                return;
            };
            let rows = hashward_econ::history::parse_retargets(&text).expect("table");
            let used = g["rows_used"].as_u64().expect("rows") as usize;
            let f = difficulty::features(&rows[..used]).expect("features");
            let want: Vec<f64> = serde_json::from_value(g["features"].clone()).expect("features");
            assert!(
                (f[0] - want[0]).abs() < 1e-12 && (f[1] - want[1]).abs() < 1e-12,
                "{f:?} {want:?}"
            );
        }
    }

    #[test]
    fn a_model_for_other_features_is_refused() {
        let dir = tempfile::tempdir().expect("dir");
        for f in ["model.onnx", "metadata.json"] {
            std::fs::copy(model_dir().join(f), dir.path().join(f)).expect("copy");
        }
        let meta = std::fs::read_to_string(dir.path().join("metadata.json")).expect("meta");
        std::fs::write(
            dir.path().join("metadata.json"),
            meta.replacen("\"m12\"", "\"m6\"", 1),
        )
        .expect("w");
        let e = DifficultyModel::load(dir.path())
            .err()
            .expect("refused")
            .to_string();
        assert!(e.contains("features"), "{e}");
        assert!(DifficultyModel::load(Path::new("/nonexistent")).is_err());
    }
}
