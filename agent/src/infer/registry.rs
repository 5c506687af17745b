//! The models the agent serves: loading a models directory (each slot's `model.onnx` with its
//! `metadata.json`, falling back to the pair an update replaced) and holding the active set so
//! an update can swap one model atomically.
//!
//! Must never leave a slot empty because a replacement was refused (the previous model keeps
//! serving), or load a model file without its metadata.

use super::contract::{load_model, MetadataCheck, MAX_MODEL_BYTES};
use super::error::LoadError;
use super::model_type::ModelType;
use super::runtime::{EfficiencyModel, LoadedModel, ModelInfo, SentinelModel};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

/// The model file inside a model's folder.
pub const MODEL_FILE: &str = "model.onnx";
/// The file an update replaced; loaded when the current one is refused.
pub const PREVIOUS_MODEL_FILE: &str = "model.onnx.prev";
pub const METADATA_FILE: &str = "metadata.json";
pub const PREVIOUS_METADATA_FILE: &str = "metadata.json.prev";

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
                // The caller logs them: only it knows whether a missing model matters.
                Err(e) => errors.push(e),
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
