//! The models the agent serves: loading a models directory (or one file), checking each file's
//! contract against what the agent can compute, building optimised tract plans, running the
//! file's own self-test, and holding the active set so an update can swap one atomically.
//!
//! Must never: serve a file whose feature list, window, neutral values, outputs or known answers
//! do not check out, or whose `metadata.json` disagrees with it; panic on a damaged file; leave
//! a slot empty because a replacement was refused (the previous model keeps serving).

use super::error::{InferError, LoadError};
use super::features::{EfficiencyFeature, FeatureDef, ASIC_FEATURES, MAX_WINDOW, RIG_FEATURES};
use super::onnx::{OnnxFile, Plan};
use hashward_protocol::ThreatType;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, RwLock};

/// A model file larger than this is refused before parsing (ours are ~10 KB).
pub const MAX_MODEL_BYTES: u64 = 16 * 1024 * 1024;
/// tract must reproduce the file's known answers within this (relative above 1).
pub const SELFTEST_TOLERANCE: f32 = 1e-3;

/// The model file inside a model's folder.
pub const MODEL_FILE: &str = "model.onnx";
/// The file an update replaced; loaded when the current one is refused.
pub const PREVIOUS_MODEL_FILE: &str = "model.onnx.prev";
pub const METADATA_FILE: &str = "metadata.json";
pub const PREVIOUS_METADATA_FILE: &str = "metadata.json.prev";

/// A registry slot; the folder name under the models directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelType {
    SentinelRig,
    SentinelAsic,
    EfficiencyAsic,
}

impl ModelType {
    pub const ALL: [ModelType; 3] = [
        ModelType::SentinelRig,
        ModelType::SentinelAsic,
        ModelType::EfficiencyAsic,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ModelType::SentinelRig => "sentinel_rig",
            ModelType::SentinelAsic => "sentinel_asic",
            ModelType::EfficiencyAsic => "efficiency_asic",
        }
    }

    /// `hashward.kind` a file in this slot must declare.
    fn kind(self) -> &'static str {
        match self {
            ModelType::SentinelRig | ModelType::SentinelAsic => "sentinel",
            ModelType::EfficiencyAsic => "efficiency",
        }
    }

    fn outputs(self) -> &'static [&'static str] {
        match self {
            ModelType::SentinelRig | ModelType::SentinelAsic => &["score", "contrib"],
            ModelType::EfficiencyAsic => &["hashrate_ths", "power_w"],
        }
    }
}

impl fmt::Display for ModelType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ModelType {
    type Err = String;
    fn from_str(s: &str) -> Result<ModelType, String> {
        ModelType::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| s.to_string())
    }
}

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
    inputs: Vec<usize>,
    neutral: Vec<f32>,
    threats: Vec<ThreatType>,
    names: Vec<&'static str>,
    plan: Plan,
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
    plan: Plan,
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

// ------------------------------------------------------------------------------------------
// Loading one file
// ------------------------------------------------------------------------------------------

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

/// Loads `<dir>/<model_type>/model.onnx` with its `metadata.json`; when that pair is refused
/// and an update left a previous pair, loads that instead (a crash mid-swap, or a file damaged
/// on disk, must not leave the agent without a model). The error is the current file's.
pub fn load_model_dir(dir: &Path, model_type: ModelType) -> Result<LoadedModel, LoadError> {
    let folder = dir.join(model_type.as_str());
    match load_pair(&folder, model_type, MODEL_FILE, METADATA_FILE) {
        Ok(m) => Ok(m),
        Err(e) => {
            if folder.join(PREVIOUS_MODEL_FILE).exists() {
                match load_pair(&folder, model_type, PREVIOUS_MODEL_FILE, PREVIOUS_METADATA_FILE) {
                    Ok(m) => {
                        log::warn!(
                            "{model_type}: current model refused ({e}); serving the previous one, {}",
                            m.info().version
                        );
                        return Ok(m);
                    }
                    Err(prev) => log::warn!("{model_type}: previous model refused too: {prev}"),
                }
            }
            Err(e)
        }
    }
}

fn read_capped(path: &Path, model_type: ModelType) -> Result<Vec<u8>, LoadError> {
    let io = |source| LoadError::Io {
        path: path.to_path_buf(),
        source,
    };
    let len = std::fs::metadata(path).map_err(io)?.len();
    if len > MAX_MODEL_BYTES {
        return Err(LoadError::TooLarge {
            model_type,
            size: len,
            max: MAX_MODEL_BYTES,
        });
    }
    std::fs::read(path).map_err(io)
}

fn load_pair(
    folder: &Path,
    model_type: ModelType,
    model_file: &str,
    metadata_file: &str,
) -> Result<LoadedModel, LoadError> {
    let bytes = read_capped(&folder.join(model_file), model_type)?;
    let meta_path: PathBuf = folder.join(metadata_file);
    let meta = match std::fs::read(&meta_path) {
        Ok(text) => MetadataCheck::parse(model_type, &text)?,
        // Its sha256 is what keeps a damaged file away from the parser (see load_model).
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(LoadError::BadMetadata {
                model_type,
                reason: format!(
                    "{} is missing; a model file is never loaded without it",
                    meta_path.display()
                ),
            })
        }
        Err(source) => {
            return Err(LoadError::Io {
                path: meta_path,
                source,
            })
        }
    };
    load_model(model_type, &bytes, Some(&meta))
}

// ------------------------------------------------------------------------------------------
// The active set
// ------------------------------------------------------------------------------------------

#[derive(Debug, Default)]
struct Slots {
    sentinel_rig: Option<Arc<SentinelModel>>,
    sentinel_asic: Option<Arc<SentinelModel>>,
    efficiency_asic: Option<Arc<EfficiencyModel>>,
}

/// The active models, shared between the inference thread and the updater. Cloning shares.
/// A swap replaces one `Arc`: a sample already running finishes on the model it started with.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    slots: Arc<RwLock<Slots>>,
}

impl Registry {
    pub fn new() -> Registry {
        Registry::default()
    }

    /// Loads every model type from `dir`; a refused or absent model leaves its slot empty and
    /// is reported (the agent runs without it: no inference is better than wrong inference).
    pub fn load_dir(dir: &Path) -> (Registry, Vec<LoadError>) {
        let reg = Registry::new();
        let mut errors = Vec::new();
        for mt in ModelType::ALL {
            match load_model_dir(dir, mt) {
                Ok(m) => {
                    log::info!("{mt}: serving {}", m.info().version);
                    reg.install(m);
                }
                Err(e) => {
                    log::error!("{e}");
                    errors.push(e);
                }
            }
        }
        (reg, errors)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Slots> {
        // A poisoned lock only means a panic elsewhere while swapping an Arc: the data is whole.
        self.slots.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Puts a loaded model in its slot; returns the version it replaced.
    pub fn install(&self, model: LoadedModel) -> Option<String> {
        let mut s = self.slots.write().unwrap_or_else(|e| e.into_inner());
        let mt = model.info().model_type;
        match (mt, model) {
            (ModelType::SentinelRig, LoadedModel::Sentinel(m)) => {
                s.sentinel_rig.replace(m).map(|o| o.info.version.clone())
            }
            (ModelType::SentinelAsic, LoadedModel::Sentinel(m)) => {
                s.sentinel_asic.replace(m).map(|o| o.info.version.clone())
            }
            (ModelType::EfficiencyAsic, LoadedModel::Efficiency(m)) => {
                s.efficiency_asic.replace(m).map(|o| o.info.version.clone())
            }
            // load_model never builds these pairs; refusing keeps the slot as it was.
            (mt, _) => {
                log::error!("{mt}: model of the wrong kind not installed");
                None
            }
        }
    }

    pub fn sentinel(&self, model_type: ModelType) -> Option<Arc<SentinelModel>> {
        let s = self.read();
        match model_type {
            ModelType::SentinelRig => s.sentinel_rig.clone(),
            ModelType::SentinelAsic => s.sentinel_asic.clone(),
            ModelType::EfficiencyAsic => None,
        }
    }

    pub fn efficiency(&self) -> Option<Arc<EfficiencyModel>> {
        self.read().efficiency_asic.clone()
    }

    pub fn info(&self, model_type: ModelType) -> Option<ModelInfo> {
        match model_type {
            ModelType::EfficiencyAsic => self.efficiency().map(|m| m.info.clone()),
            mt => self.sentinel(mt).map(|m| m.info.clone()),
        }
    }

    /// Active version per model type (what the agent reports).
    pub fn active_versions(&self) -> BTreeMap<ModelType, String> {
        ModelType::ALL
            .into_iter()
            .filter_map(|mt| self.info(mt).map(|i| (mt, i.version)))
            .collect()
    }
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

    #[test]
    fn model_types_round_trip() {
        for mt in ModelType::ALL {
            assert_eq!(mt.as_str().parse::<ModelType>(), Ok(mt));
        }
        assert!("sentinel".parse::<ModelType>().is_err());
    }
}
