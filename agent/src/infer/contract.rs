//! The file contract: checks one model file (and its `metadata.json`) against what the agent
//! computes (slot, kind, version format, feature names, window, neutral values, outputs), builds
//! its tract plan and runs the file's own known answers before it may serve.
//!
//! Must never: let the ONNX parser see bytes whose sha256 does not match the metadata, serve a
//! file whose contract or known answers do not check out, or panic on a damaged file.

use super::efficiency_input::EfficiencyFeature;
use super::error::LoadError;
use super::features::{FeatureDef, ASIC_FEATURES, MAX_WINDOW, RIG_FEATURES};
use super::model_type::ModelType;
use super::onnx::OnnxFile;
use super::runtime::{EfficiencyModel, FamilySpec, LoadedModel, ModelInfo, SentinelModel};
use hashward_protocol::ThreatType;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::sync::Arc;

/// A model file larger than this is refused before parsing (ours are ~10 KB).
pub const MAX_MODEL_BYTES: u64 = 16 * 1024 * 1024;
/// tract must reproduce the file's known answers within this (relative above 1).
pub const SELFTEST_TOLERANCE: f32 = 1e-3;

/// The parts of `metadata.json` the agent cross-checks against the file.
#[derive(Debug, Clone, Deserialize)]
pub struct MetadataCheck {
    pub model_type: String,
    pub model_version: String,
    pub sha256: String,
    #[serde(default)]
    pub model_size_bytes: Option<u64>,
    pub features: Vec<MetadataFeature>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct MetadataFeature {
    pub name: String,
    #[serde(default)]
    pub threat_type: Option<ThreatType>,
}

impl MetadataCheck {
    pub fn parse(model_type: ModelType, text: &[u8]) -> Result<MetadataCheck, LoadError> {
        serde_json::from_slice(text).map_err(|e| LoadError::BadMetadata {
            model_type,
            reason: e.to_string(),
        })
    }
}

#[derive(Debug, Deserialize)]
struct SelfTestCase {
    input: Vec<f32>,
    output: Vec<f32>,
}

struct Props {
    map: BTreeMap<String, String>,
    model_type: ModelType,
}

impl Props {
    fn get(&self, key: &'static str) -> Result<&str, LoadError> {
        self.map
            .get(key)
            .map(String::as_str)
            .ok_or(LoadError::MissingProperty {
                model_type: self.model_type,
                key,
            })
    }

    fn json<T: serde::de::DeserializeOwned>(&self, key: &'static str) -> Result<T, LoadError> {
        serde_json::from_str(self.get(key)?).map_err(|e| self.bad(key, e.to_string()))
    }

    fn bad(&self, key: &'static str, reason: impl Into<String>) -> LoadError {
        LoadError::BadProperty {
            model_type: self.model_type,
            key,
            reason: reason.into(),
        }
    }
}

/// `<type>_v<major>.<minor>.<patch>_<YYYYMMDD>_<HHMMSS>`.
fn valid_version(model_type: ModelType, v: &str) -> bool {
    let Some(rest) = v
        .strip_prefix(model_type.as_str())
        .and_then(|r| r.strip_prefix("_v"))
    else {
        return false;
    };
    let parts: Vec<&str> = rest.split('_').collect();
    let [semver, date, time] = parts.as_slice() else {
        return false;
    };
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    let sv: Vec<&str> = semver.split('.').collect();
    sv.len() == 3
        && sv
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 9 && p.bytes().all(|b| b.is_ascii_digit()))
        && digits(date, 8)
        && digits(time, 6)
}

fn catalog(model_type: ModelType) -> &'static [FeatureDef] {
    match model_type {
        ModelType::SentinelRig => &RIG_FEATURES,
        ModelType::SentinelAsic => &ASIC_FEATURES,
        ModelType::EfficiencyAsic => &[],
    }
}

/// Checks and loads one model file for `model_type`, with its `metadata.json` when there is one.
/// Refuses (with the reason) anything the agent cannot serve exactly as it was trained.
pub fn load_model(
    model_type: ModelType,
    bytes: &[u8],
    metadata: Option<&MetadataCheck>,
) -> Result<LoadedModel, LoadError> {
    // tract is not written for hostile input; a panic in it must not take the agent down. This
    // catches it in tests and debug builds only: the release profile aborts on panic. There the
    // guard is that a file is never parsed before its bytes match the sha256 of its
    // metadata.json (below), which an update checks against the signed announcement first: a
    // damaged file is refused unparsed, and only a signed, authentic file reaches tract.
    std::panic::catch_unwind(|| load_model_inner(model_type, bytes, metadata)).unwrap_or_else(|_| {
        Err(LoadError::NotOnnx {
            model_type,
            reason: "the ONNX parser panicked on this file".into(),
        })
    })
}

fn load_model_inner(
    model_type: ModelType,
    bytes: &[u8],
    metadata: Option<&MetadataCheck>,
) -> Result<LoadedModel, LoadError> {
    let mt = model_type;
    if bytes.len() as u64 > MAX_MODEL_BYTES {
        return Err(LoadError::TooLarge {
            model_type: mt,
            size: bytes.len() as u64,
            max: MAX_MODEL_BYTES,
        });
    }
    let contract = |reason: String| LoadError::Contract {
        model_type: mt,
        reason,
    };
    let sha256 = hex::encode(Sha256::digest(bytes));
    if let Some(meta) = metadata {
        // Before the parser sees a byte (see load_model); check_metadata repeats it with the rest.
        if !meta.sha256.eq_ignore_ascii_case(&sha256) {
            return Err(LoadError::MetadataMismatch {
                model_type: mt,
                reason: format!("sha256 {}, file {sha256}", meta.sha256),
            });
        }
    }
    let file = OnnxFile::parse(mt, bytes)?;
    let props = Props {
        map: file.props.clone(),
        model_type: mt,
    };

    let declared = props.get("hashward.model_type")?;
    if declared != mt.as_str() {
        return Err(props.bad(
            "hashward.model_type",
            format!("the file is a {declared:?} model, this slot is {mt}"),
        ));
    }
    let kind = props.get("hashward.kind")?;
    if kind != mt.kind() {
        return Err(props.bad("hashward.kind", format!("{kind:?}, expected {:?}", mt.kind())));
    }
    let version = props.get("hashward.version")?.to_string();
    if !valid_version(mt, &version) {
        return Err(props.bad(
            "hashward.version",
            format!("{version:?} is not {mt}_v<semver>_<YYYYMMDD_HHMMSS>"),
        ));
    }
    let features: Vec<String> = props.json("hashward.features")?;
    if features.is_empty() {
        return Err(contract("the feature list is empty".into()));
    }
    for (i, f) in features.iter().enumerate() {
        if features[..i].contains(f) {
            return Err(contract(format!("feature {f:?} is listed twice")));
        }
    }
    let window: usize = props
        .get("hashward.window")?
        .trim()
        .parse()
        .map_err(|_| props.bad("hashward.window", "not an integer"))?;
    if !(1..=MAX_WINDOW).contains(&window) {
        return Err(contract(format!(
            "window {window} is outside 1..={MAX_WINDOW} samples the agent keeps"
        )));
    }
    let neutral: Vec<f32> = props.json("hashward.neutral")?;
    if neutral.len() != features.len() || neutral.iter().any(|v| !v.is_finite()) {
        return Err(props.bad(
            "hashward.neutral",
            format!(
                "{} values for {} features, all must be finite",
                neutral.len(),
                features.len()
            ),
        ));
    }
    let outputs: Vec<String> = props.json("hashward.outputs")?;
    if outputs != mt.outputs() {
        return Err(contract(format!(
            "outputs {outputs:?}, the agent reads {:?}",
            mt.outputs()
        )));
    }
    let selftest: Vec<SelfTestCase> = props.json("hashward.selftest")?;
    if selftest.is_empty() {
        return Err(props.bad(
            "hashward.selftest",
            "no known answers: the file cannot be checked",
        ));
    }

    if let Some(meta) = metadata {
        check_metadata(mt, meta, &version, &features, &sha256, bytes.len() as u64)?;
    }

    // The agent's side of the contract: every name must be one it computes.
    let graph_outputs: Vec<&str> = file.outputs.iter().map(String::as_str).collect();
    let n_out = match mt {
        ModelType::EfficiencyAsic => 1,
        _ => 2,
    };
    if file.inputs != 1 || graph_outputs.len() != n_out {
        return Err(contract(format!(
            "graph has {} inputs and outputs {graph_outputs:?}; expected 1 input and {n_out} outputs",
            file.inputs
        )));
    }
    let info = ModelInfo {
        model_type: mt,
        version,
        sha256,
        size_bytes: bytes.len() as u64,
        window,
        features: features.clone(),
    };
    // Shapes the agent will read: score [1,1] + contrib [1,F], or expected [1,2].
    let want: Vec<Vec<usize>> = match mt {
        ModelType::EfficiencyAsic => vec![vec![1, 2]],
        _ => vec![vec![1, 1], vec![1, features.len()]],
    };
    let plan = file.build(mt, features.len(), &want)?;

    let loaded = match mt {
        ModelType::SentinelRig | ModelType::SentinelAsic => {
            let cat = catalog(mt);
            let mut inputs = Vec::with_capacity(features.len());
            for f in &features {
                let idx = cat.iter().position(|d| d.name == f).ok_or_else(|| {
                    contract(format!(
                        "feature {f:?} is not one the agent computes for {mt} (it computes {:?})",
                        cat.iter().map(|d| d.name).collect::<Vec<_>>()
                    ))
                })?;
                inputs.push(idx);
            }
            if let Some(meta) = metadata {
                for (mf, &idx) in meta.features.iter().zip(&inputs) {
                    if let Some(t) = mf.threat_type {
                        if t != cat[idx].threat {
                            return Err(LoadError::MetadataMismatch {
                                model_type: mt,
                                reason: format!(
                                    "feature {} names threat {t:?}, the agent names {:?}",
                                    mf.name, cat[idx].threat
                                ),
                            });
                        }
                    }
                }
            }
            LoadedModel::Sentinel(Arc::new(SentinelModel {
                threats: inputs.iter().map(|&i| cat[i].threat).collect(),
                names: inputs.iter().map(|&i| cat[i].name).collect(),
                inputs,
                neutral,
                info,
                plan,
            }))
        }
        ModelType::EfficiencyAsic => {
            let parsed: Vec<EfficiencyFeature> = features
                .iter()
                .map(|f| {
                    EfficiencyFeature::parse(f).ok_or_else(|| {
                        contract(format!("feature {f:?} is not one the agent computes for {mt}"))
                    })
                })
                .collect::<Result<_, _>>()?;
            for required in [
                EfficiencyFeature::FrequencyMhz,
                EfficiencyFeature::VoltageV,
                EfficiencyFeature::ChipTempAvgC,
            ] {
                if !parsed.contains(&required) {
                    return Err(contract(format!("no {required:?} input")));
                }
            }
            let families: BTreeMap<String, FamilySpec> = props.json("hashward.families")?;
            for f in &parsed {
                if let EfficiencyFeature::Family(k) = f {
                    let ok = families.get(k).is_some_and(|s| s.f_nom > 0.0 && s.v_nom > 0.0);
                    if !ok {
                        return Err(
                            props.bad("hashward.families", format!("no stock figures for family {k:?}"))
                        );
                    }
                }
            }
            if !parsed.iter().any(|f| matches!(f, EfficiencyFeature::Family(_))) {
                return Err(contract("no is_<family> input".into()));
            }
            LoadedModel::Efficiency(Arc::new(EfficiencyModel {
                info,
                features: parsed,
                neutral,
                families,
                plan,
            }))
        }
    };
    run_selftest(&loaded, &selftest)?;
    Ok(loaded)
}

fn check_metadata(
    mt: ModelType,
    meta: &MetadataCheck,
    version: &str,
    features: &[String],
    sha256: &str,
    size: u64,
) -> Result<(), LoadError> {
    let mismatch = |reason: String| LoadError::MetadataMismatch {
        model_type: mt,
        reason,
    };
    if meta.model_type != mt.as_str() {
        return Err(mismatch(format!("model_type {:?}, slot {mt}", meta.model_type)));
    }
    if meta.model_version != version {
        return Err(mismatch(format!(
            "model_version {:?}, file {version:?}",
            meta.model_version
        )));
    }
    let names: Vec<&str> = meta.features.iter().map(|f| f.name.as_str()).collect();
    if names != features {
        return Err(mismatch(format!("features {names:?}, file {features:?}")));
    }
    if !meta.sha256.eq_ignore_ascii_case(sha256) {
        return Err(mismatch(format!("sha256 {}, file {sha256}", meta.sha256)));
    }
    if let Some(s) = meta.model_size_bytes {
        if s != size {
            return Err(mismatch(format!("model_size_bytes {s}, file {size}")));
        }
    }
    Ok(())
}

fn run_selftest(model: &LoadedModel, cases: &[SelfTestCase]) -> Result<(), LoadError> {
    let mt = model.info().model_type;
    let n = model.info().features.len();
    for (case, c) in cases.iter().enumerate() {
        let fail = |reason: String| LoadError::SelfTest {
            model_type: mt,
            case,
            reason,
        };
        if c.input.len() != n {
            return Err(fail(format!("{} inputs for {n} features", c.input.len())));
        }
        let got: Vec<f32> = match model {
            LoadedModel::Sentinel(m) => {
                let o = m.run(&c.input).map_err(|e| fail(e.to_string()))?;
                std::iter::once(o.score).chain(o.contrib).collect()
            }
            LoadedModel::Efficiency(m) => {
                let row: Vec<f64> = c.input.iter().map(|v| f64::from(*v)).collect();
                m.predict(&row).map_err(|e| fail(e.to_string()))?.to_vec()
            }
        };
        if got.len() != c.output.len() {
            return Err(fail(format!(
                "{} outputs, the file lists {}",
                got.len(),
                c.output.len()
            )));
        }
        for (j, (g, w)) in got.iter().zip(&c.output).enumerate() {
            let tol = SELFTEST_TOLERANCE * w.abs().max(1.0);
            if (g - w).abs() > tol || !g.is_finite() {
                return Err(fail(format!("output {j}: tract {g}, file {w}")));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_follow_the_registry_format() {
        let mt = ModelType::SentinelRig;
        assert!(valid_version(mt, "sentinel_rig_v1.0.0_20261122_080000"));
        assert!(!valid_version(mt, "sentinel_asic_v1.0.0_20261122_080000"));
        assert!(!valid_version(mt, "sentinel_rig_v1.0_20261122_080000"));
        assert!(!valid_version(mt, "sentinel_rig_v1.0.0_2026112_080000"));
        assert!(!valid_version(mt, "sentinel_rig_v1.0.0_20261122_080000_x"));
    }
}
