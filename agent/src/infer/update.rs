//! Model updates from the hub: a signed `fleet/models` announcement names versions and sha256s;
//! the agent downloads each changed model with ureq, checks size and sha256, test-loads it
//! (contract, tract plan, self-test), swaps the file atomically keeping the previous one, puts
//! it in the registry and reports the active versions.
//!
//! Runs on its own thread or a blocking task (ureq is blocking), never on the link's runtime.
//! Must never: act on an unsigned, wrongly signed, older or non-fleet announcement; install a
//! file whose sha256, size or version differs from the announcement or that fails test-load;
//! leave the models directory without a loadable model or the registry without the old one.

use super::contract::{load_model, MetadataCheck, MAX_MODEL_BYTES};
use super::error::UpdateError;
use super::model_type::ModelType;
use super::registry::{Registry, METADATA_FILE, MODEL_FILE, PREVIOUS_METADATA_FILE, PREVIOUS_MODEL_FILE};
use ed25519_dalek::VerifyingKey;
use hashward_protocol::models::{AnnouncedModel, ModelAnnouncement};
use hashward_protocol::signed::{PayloadKind, Scope, SignedMessage};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The last accepted announcement (replay protection), in the models directory.
pub const ANNOUNCEMENT_FILE: &str = "announcement.json";
/// metadata.json larger than this is refused (ours are ~10 KB).
const MAX_METADATA_BYTES: u64 = 1024 * 1024;

#[derive(Debug, Clone)]
pub struct UpdaterConfig {
    /// The agent's models directory (same layout as `models/`).
    pub models_dir: PathBuf,
    /// The hub's HTTP base, e.g. `http://hub.local:8080`; announced paths are relative to it.
    pub hub_url: String,
    /// The hub's public key, pinned at install.
    pub hub_key: VerifyingKey,
    /// Whole-request timeout per download.
    pub timeout: Duration,
}

/// What happened to one announced model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelOutcome {
    /// Downloaded, verified, test-loaded and now serving.
    Installed { from: Option<String>, to: String },
    /// That version is already serving.
    AlreadyActive(String),
    /// Refused; the previous model keeps serving. The reason is for the operator.
    Refused(String),
    /// A model type this agent does not run.
    Skipped,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModelUpdate {
    pub model_type: String,
    pub version: String,
    pub outcome: ModelOutcome,
}

/// The answer to one announcement (ack it with this, and report `active`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UpdateReport {
    /// The announcement's signed version.
    pub version: u64,
    pub models: Vec<ModelUpdate>,
    /// Active version per model type after the update.
    pub active: BTreeMap<ModelType, String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Accepted {
    version: u64,
    /// sha256 of the signed message: the same version may come again (retained message on
    /// reconnect) and is re-processed, which retries a download that failed; a different
    /// message under the same version is a replay.
    digest: String,
}

/// Applies model announcements to a models directory and a [`Registry`].
#[derive(Debug)]
pub struct Updater {
    cfg: UpdaterConfig,
    registry: Registry,
    http: ureq::Agent,
}

impl Updater {
    pub fn new(cfg: UpdaterConfig, registry: Registry) -> Updater {
        let http: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(cfg.timeout))
            .http_status_as_error(true)
            .build()
            .into();
        Updater { cfg, registry, http }
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Handles one `fleet/models` MQTT payload (a postcard-encoded `SignedMessage`). An `Err`
    /// rejects the whole announcement; per-model refusals are in the report. Either way every
    /// model that served before still serves unless it was replaced by a verified one.
    pub fn handle(&self, payload: &[u8]) -> Result<UpdateReport, UpdateError> {
        let msg: SignedMessage =
            postcard::from_bytes(payload).map_err(|e| UpdateError::NotSigned(e.to_string()))?;
        msg.verify(&self.cfg.hub_key)
            .map_err(|e| UpdateError::BadSignature(e.to_string()))?;
        let c = &msg.content;
        if c.kind != PayloadKind::ModelAnnouncement {
            return Err(UpdateError::WrongKind(c.kind));
        }
        if c.scope != Scope::Fleet {
            return Err(UpdateError::WrongScope(c.scope.to_string()));
        }
        let digest = hex::encode(Sha256::digest(payload));
        let accepted = self.accepted();
        if c.version < accepted.version || (c.version == accepted.version && accepted.digest != digest) {
            return Err(UpdateError::Replay {
                version: c.version,
                accepted: accepted.version,
            });
        }
        let ann = ModelAnnouncement::from_payload(&c.payload)
            .map_err(|e| UpdateError::BadPayload(e.to_string()))?;
        let mut models = Vec::with_capacity(ann.models.len());
        for m in &ann.models {
            let outcome = match m.model_type.parse::<ModelType>() {
                Err(_) => ModelOutcome::Skipped,
                Ok(mt) => self.install_one(mt, m).unwrap_or_else(|e| {
                    log::warn!("model update refused: {e}");
                    ModelOutcome::Refused(e.to_string())
                }),
            };
            models.push(ModelUpdate {
                model_type: m.model_type.clone(),
                version: m.model_version.clone(),
                outcome,
            });
        }
        self.save_accepted(&Accepted {
            version: c.version,
            digest,
        })?;
        Ok(UpdateReport {
            version: c.version,
            models,
            active: self.registry.active_versions(),
        })
    }

    fn accepted(&self) -> Accepted {
        let path = self.cfg.models_dir.join(ANNOUNCEMENT_FILE);
        match std::fs::read(&path) {
            Ok(b) => serde_json::from_slice(&b).unwrap_or_else(|e| {
                // A damaged record must not block updates forever; signatures still guard.
                log::warn!(
                    "{}: unreadable ({e}); accepting any newer announcement",
                    path.display()
                );
                Accepted::default()
            }),
            Err(_) => Accepted::default(),
        }
    }

    fn save_accepted(&self, a: &Accepted) -> Result<(), UpdateError> {
        let bytes = serde_json::to_vec_pretty(a).map_err(|e| UpdateError::Io {
            path: self.cfg.models_dir.join(ANNOUNCEMENT_FILE),
            source: std::io::Error::other(e),
        })?;
        write_atomic(&self.cfg.models_dir, ANNOUNCEMENT_FILE, &bytes, None)
    }

    fn url(&self, mt: ModelType, path: &str) -> Result<String, UpdateError> {
        // Only paths on the pinned hub: a signed announcement still cannot send the agent
        // to fetch from elsewhere.
        if !path.starts_with('/') || path.starts_with("//") {
            return Err(UpdateError::BadPayload(format!(
                "{mt}: {path:?} is not a path on the hub"
            )));
        }
        Ok(format!("{}{path}", self.cfg.hub_url.trim_end_matches('/')))
    }

    fn fetch(&self, mt: ModelType, url: &str, limit: u64) -> Result<Vec<u8>, UpdateError> {
        let fail = |reason: String| UpdateError::Download {
            model_type: mt,
            url: url.to_string(),
            reason,
        };
        let mut resp = self.http.get(url).call().map_err(|e| fail(e.to_string()))?;
        resp.body_mut()
            .with_config()
            .limit(limit)
            .read_to_vec()
            .map_err(|e| fail(e.to_string()))
    }

    fn install_one(&self, mt: ModelType, m: &AnnouncedModel) -> Result<ModelOutcome, UpdateError> {
        if let Some(info) = self.registry.info(mt) {
            if info.version == m.model_version && info.sha256.eq_ignore_ascii_case(&m.sha256) {
                return Ok(ModelOutcome::AlreadyActive(info.version));
            }
        }
        if m.size_bytes > MAX_MODEL_BYTES {
            return Err(UpdateError::BadPayload(format!(
                "{mt}: announced size {} exceeds {MAX_MODEL_BYTES}",
                m.size_bytes
            )));
        }
        let model_url = self.url(mt, &m.download_url)?;
        let meta_url = self.url(mt, &m.metadata_url)?;
        let bytes = self.fetch(mt, &model_url, MAX_MODEL_BYTES)?;
        let got = hex::encode(Sha256::digest(&bytes));
        if !got.eq_ignore_ascii_case(&m.sha256) || bytes.len() as u64 != m.size_bytes {
            return Err(UpdateError::Sha256 {
                model_type: mt,
                expected: format!("{} ({} bytes)", m.sha256, m.size_bytes),
                got: format!("{got} ({} bytes)", bytes.len()),
            });
        }
        let meta_bytes = self.fetch(mt, &meta_url, MAX_METADATA_BYTES)?;
        let meta = MetadataCheck::parse(mt, &meta_bytes)?;
        let loaded = load_model(mt, &bytes, Some(&meta))?;
        if loaded.info().version != m.model_version {
            return Err(UpdateError::VersionMismatch {
                model_type: mt,
                announced: m.model_version.clone(),
                file: loaded.info().version.clone(),
            });
        }
        let folder = self.cfg.models_dir.join(mt.as_str());
        std::fs::create_dir_all(&folder).map_err(|source| UpdateError::Io {
            path: folder.clone(),
            source,
        })?;
        // Metadata first: if the agent dies between the two, load_model_dir refuses the
        // mismatched pair and falls back to the previous pair, which is whole.
        write_atomic(&folder, METADATA_FILE, &meta_bytes, Some(PREVIOUS_METADATA_FILE))?;
        if let Err(e) = write_atomic(&folder, MODEL_FILE, &bytes, Some(PREVIOUS_MODEL_FILE)) {
            // Put the old metadata back so the pair on disk stays whole. If that fails too, the
            // start-up fallback to the previous pair still serves, but the operator should know.
            let (prev, current) = (folder.join(PREVIOUS_METADATA_FILE), folder.join(METADATA_FILE));
            if let Err(back) = std::fs::rename(&prev, &current) {
                log::error!(
                    "{mt}: the update failed ({e}) and {} could not be put back as {} ({back}); \
                     the previous model is served from its .prev pair at next start",
                    prev.display(),
                    current.display()
                );
            }
            return Err(e);
        }
        let to = loaded.info().version.clone();
        let from = self.registry.install(loaded);
        log::info!("{mt}: updated {from:?} -> {to}");
        Ok(ModelOutcome::Installed { from, to })
    }
}

/// Writes `dir/name` atomically ([`hashward_common::durable::write_atomic_with`]); with `keep`, the file
/// it replaces stays as `dir/keep` (a hard link made before the rename, so `name` always exists).
fn write_atomic(dir: &Path, name: &str, bytes: &[u8], keep: Option<&str>) -> Result<(), UpdateError> {
    let target = dir.join(name);
    hashward_common::durable::write_atomic_with(&target, bytes, || {
        let Some(keep) = keep.filter(|_| target.exists()) else {
            return Ok(());
        };
        let prev = dir.join(keep);
        match std::fs::remove_file(&prev) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        std::fs::hard_link(&target, &prev)
    })
    .map_err(|source| UpdateError::Io { path: target, source })
}
