//! The agent's inference service: seeds the models directory from the bundled models, loads
//! them, runs the worker thread and the updater, and hands outcomes to the main loop.
//!
//! Must never: block the caller (samples are queued with `try_send`, updates run on a blocking
//! thread), or stop the agent because a model is missing or refused (it says so and carries on).

use super::update::{Updater, UpdaterConfig};
use super::worker::{self, InferHandle, Outcome, Sample, WorkerConfig};
use super::{Assessor, ModelType, Registry};
use crate::config::InferenceConfig;
use crate::infer::LoadError;
use ed25519_dalek::VerifyingKey;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

pub struct InferService {
    pub handle: InferHandle,
    pub registry: Registry,
    pub models_dir: PathBuf,
    updater: Option<Arc<Updater>>,
}

/// Copies each model type missing from `dir` from `bundled` (the package's read-only copy), so
/// updates can replace them under the state directory.
fn seed(dir: &Path, bundled: &Path) {
    for mt in ModelType::ALL {
        let name = mt.to_string();
        let (to, from) = (dir.join(&name), bundled.join(&name));
        if to.join("model.onnx").is_file() || !from.join("model.onnx").is_file() {
            continue;
        }
        let copied = std::fs::create_dir_all(&to).and_then(|_| {
            for f in ["model.onnx", "metadata.json"] {
                std::fs::copy(from.join(f), to.join(f))?;
            }
            Ok(())
        });
        match copied {
            Ok(()) => log::info!("inference: {name} installed from {}", bundled.display()),
            Err(e) => log::warn!("inference: copying {name} from {}: {e}", bundled.display()),
        }
    }
}

impl InferService {
    /// Starts inference; `None` when it is disabled or no model loaded (logged).
    pub fn start(
        cfg: &InferenceConfig,
        data_dir: &Path,
        hub_key: Option<VerifyingKey>,
    ) -> Option<(InferService, mpsc::Receiver<Outcome>)> {
        if !cfg.enabled {
            log::info!("inference: disabled");
            return None;
        }
        if !super::onnx::BUILT_IN {
            log::error!("inference: enabled in the config but this agent was built without it (cargo feature `infer`); anomaly detection is off");
            return None;
        }
        let dir = cfg.models_dir.clone().unwrap_or_else(|| data_dir.join("models"));
        if let Err(e) = std::fs::create_dir_all(&dir) {
            log::error!("inference: {}: {e}; anomaly detection is off", dir.display());
            return None;
        }
        seed(&dir, &cfg.bundled_models_dir);
        let (registry, errors) = Registry::load_dir(&dir);
        let active = registry.active_versions();
        // A model that is not installed is an optional part left out, not a fault: when none
        // is, that is one warning saying how to enable them. A model that is there and does
        // not load is an error.
        let missing = |e: &LoadError| matches!(e, LoadError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound);
        for e in &errors {
            if !missing(e) {
                log::error!("inference: {e}");
            } else if !active.is_empty() {
                log::info!("inference: not installed: {e}");
            }
        }
        if active.is_empty() {
            log::warn!(
                "inference: no model installed in {} or {}; anomaly detection is off. To enable it, \
                 install the models (the package puts them in {}), point [inference] \
                 bundled_models_dir or models_dir at them, or set [inference] enabled = false",
                dir.display(),
                cfg.bundled_models_dir.display(),
                crate::infer::config::InferenceConfig::default()
                    .bundled_models_dir
                    .display()
            );
            return None;
        }
        for (mt, v) in &active {
            log::info!("inference: {mt} {v} loaded");
        }
        let (tx, rx) = mpsc::channel(256);
        // Every outcome goes to the main loop: each carries the sample's score for telemetry.
        // The loop drains far faster than samples come (one per interval per subject); if it
        // is ever 256 behind, an alert-less score is the thing to lose, and the log says so.
        let sink = move |o: Outcome| {
            if let Err(mpsc::error::TrySendError::Full(o)) = tx.try_send(o) {
                if o.alert.is_some() || o.assessment.directive.is_some() {
                    log::error!("inference: main loop 256 outcomes behind; an alert was dropped");
                } else {
                    log::warn!("inference: main loop 256 outcomes behind; a score was dropped");
                }
            }
        };
        let (handle, _thread) =
            match worker::spawn(Assessor::new(registry.clone()), WorkerConfig::default(), sink) {
                Ok(h) => h,
                Err(e) => {
                    log::error!("inference: starting the worker thread: {e}");
                    return None;
                }
            };
        let updater = match (&cfg.hub_url, hub_key) {
            (Some(url), Some(key)) => Some(Arc::new(Updater::new(
                UpdaterConfig {
                    models_dir: dir.clone(),
                    hub_url: url.clone(),
                    hub_key: key,
                    timeout: Duration::from_secs(60),
                },
                registry.clone(),
            ))),
            _ => None,
        };
        Some((
            InferService {
                handle,
                registry,
                models_dir: dir,
                updater,
            },
            rx,
        ))
    }

    pub fn submit(&self, sample: Sample, ts_ms: u64) {
        self.handle.submit_at(sample, ts_ms);
    }

    /// Handles a `fleet/models` announcement off the async threads; the ack's outcome.
    pub async fn update(&self, payload: Vec<u8>) -> hashward_protocol::AckOutcome {
        use hashward_protocol::AckOutcome;
        let Some(updater) = self.updater.clone() else {
            return AckOutcome::Rejected(
                "model updates need [inference] hub_url and [fleet] hub_public_key".into(),
            );
        };
        match tokio::task::spawn_blocking(move || updater.handle(&payload)).await {
            Ok(Ok(report)) => {
                log::info!("inference: model announcement {} handled", report.version);
                AckOutcome::Report(serde_json::to_string(&report).unwrap_or_default())
            }
            Ok(Err(e)) => AckOutcome::Rejected(e.to_string()),
            Err(e) => AckOutcome::Rejected(format!("update task failed: {e}")),
        }
    }
}
