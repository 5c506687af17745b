//! Hub side of the model registry: serves the models directory over HTTP (`/models/metadata`,
//! `/models/metadata/{model_type}`, `/models/download/{model_type}`, errors as `{"detail": ...}`,
//! the shape the agents' updater reads) and builds the signed `fleet/models` announcement of what
//! it serves. Its routes are merged into the API by `serve` when `--models-dir` is given.
//!
//! Must never: serve a file whose sha256 differs from its metadata (an agent would refuse it
//! anyway, after a download), read outside the models directory, or panic on a damaged metadata
//! file.

use axum::extract::{Path as UrlPath, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use ed25519_dalek::SigningKey;
use hashward_protocol::models::{AnnouncedModel, ModelAnnouncement};
use hashward_protocol::signed::{PayloadKind, Scope, SignedContent, SignedMessage};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Why a model cannot be served or announced.
#[derive(Debug, thiserror::Error)]
pub enum HubModelError {
    #[error("model type {0:?} is not a valid name")]
    BadName(String),
    #[error("no model {0:?}")]
    NotFound(String),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}: metadata.json is not valid: {1}")]
    BadMetadata(String, String),
    #[error("{model}: model.onnx has sha256 {got}, its metadata says {expected}")]
    Sha256Mismatch {
        model: String,
        expected: String,
        got: String,
    },
    #[error("announcement could not be signed: {0}")]
    Sign(String),
}

impl HubModelError {
    fn status(&self) -> StatusCode {
        match self {
            HubModelError::BadName(_) | HubModelError::NotFound(_) => StatusCode::NOT_FOUND,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for HubModelError {
    fn into_response(self) -> Response {
        if self.status().is_server_error() {
            log::error!("models: {self}");
        }
        (self.status(), Json(json!({ "detail": self.to_string() }))).into_response()
    }
}

/// One model as served: its metadata (as on disk) and its verified bytes.
#[derive(Debug, Clone)]
pub struct ServedModel {
    pub model_type: String,
    pub metadata: Value,
    pub bytes: Vec<u8>,
}

impl ServedModel {
    fn version(&self) -> String {
        self.metadata["model_version"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// Reads and verifies `<dir>/<model_type>/{metadata.json, model.onnx}`.
pub fn read_model(dir: &Path, model_type: &str) -> Result<ServedModel, HubModelError> {
    if !valid_name(model_type) {
        return Err(HubModelError::BadName(model_type.to_string()));
    }
    let folder = dir.join(model_type);
    let read = |name: &str| {
        let path = folder.join(name);
        std::fs::read(&path).map_err(|source| {
            if source.kind() == std::io::ErrorKind::NotFound {
                HubModelError::NotFound(model_type.to_string())
            } else {
                HubModelError::Io { path, source }
            }
        })
    };
    let bad = |why: String| HubModelError::BadMetadata(model_type.to_string(), why);
    let metadata: Value = serde_json::from_slice(&read("metadata.json")?).map_err(|e| bad(e.to_string()))?;
    if metadata["model_type"].as_str() != Some(model_type) {
        return Err(bad(format!(
            "model_type is {}, folder is {model_type}",
            metadata["model_type"]
        )));
    }
    if metadata["model_version"].as_str().is_none() {
        return Err(bad("no model_version".into()));
    }
    let expected = metadata["sha256"]
        .as_str()
        .ok_or_else(|| bad("no sha256".into()))?
        .to_ascii_lowercase();
    let bytes = read("model.onnx")?;
    let got = hex::encode(Sha256::digest(&bytes));
    if got != expected {
        return Err(HubModelError::Sha256Mismatch {
            model: model_type.to_string(),
            expected,
            got,
        });
    }
    Ok(ServedModel {
        model_type: model_type.to_string(),
        metadata,
        bytes,
    })
}

/// Every servable model in `dir`, by name; damaged ones are logged and left out.
pub fn read_all(dir: &Path) -> Result<Vec<ServedModel>, HubModelError> {
    let entries = std::fs::read_dir(dir).map_err(|source| HubModelError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("metadata.json").is_file())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| valid_name(n))
        .collect();
    names.sort();
    let mut out = Vec::with_capacity(names.len());
    for n in names {
        match read_model(dir, &n) {
            Ok(m) => out.push(m),
            Err(e) => log::error!("models: not serving {n}: {e}"),
        }
    }
    Ok(out)
}

#[derive(Debug, Clone)]
struct ModelsState {
    dir: Arc<PathBuf>,
}

/// The `/models/*` routes over `models_dir` (same layout as the repository's `models/`).
/// Files are read per request: they are ~10 KB, and a model dropped in is served at once.
pub fn router(models_dir: impl Into<PathBuf>) -> Router {
    Router::new()
        .route("/models/metadata", get(all_metadata))
        .route("/models/metadata/{model_type}", get(one_metadata))
        .route("/models/download/{model_type}", get(download))
        .with_state(ModelsState {
            dir: Arc::new(models_dir.into()),
        })
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, HubModelError> + Send + 'static,
) -> Result<T, HubModelError> {
    tokio::task::spawn_blocking(f).await.unwrap_or_else(|e| {
        Err(HubModelError::Io {
            path: PathBuf::new(),
            source: std::io::Error::other(e.to_string()),
        })
    })
}

async fn all_metadata(State(s): State<ModelsState>) -> Result<Json<Value>, HubModelError> {
    let models = blocking(move || read_all(&s.dir)).await?;
    Ok(Json(json!({
        "models": models.into_iter().map(|m| m.metadata).collect::<Vec<_>>(),
        "github_url": crate::scores::GITHUB_URL,
        "commit_hash": crate::scores::COMMIT_HASH,
    })))
}

async fn one_metadata(
    State(s): State<ModelsState>,
    UrlPath(model_type): UrlPath<String>,
) -> Result<Json<Value>, HubModelError> {
    let m = blocking(move || read_model(&s.dir, &model_type)).await?;
    Ok(Json(m.metadata))
}

async fn download(
    State(s): State<ModelsState>,
    UrlPath(model_type): UrlPath<String>,
) -> Result<Response, HubModelError> {
    let m = blocking(move || read_model(&s.dir, &model_type)).await?;
    let disposition = format!("attachment; filename=\"{}.onnx\"", m.version());
    let mut resp = m.bytes.into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    // The version is checked to be plain ASCII by HeaderValue; a strange one just loses the name.
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(resp)
}

/// The announcement of every servable model in `models_dir`.
pub fn announcement(models_dir: &Path) -> Result<ModelAnnouncement, HubModelError> {
    let models = read_all(models_dir)?
        .into_iter()
        .map(|m| {
            let features = m.metadata["features"]
                .as_array()
                .map(|fs| {
                    fs.iter()
                        .filter_map(|f| f["name"].as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            AnnouncedModel {
                model_version: m.version(),
                sha256: hex::encode(Sha256::digest(&m.bytes)),
                size_bytes: m.bytes.len() as u64,
                download_url: format!("/models/download/{}", m.model_type),
                metadata_url: format!("/models/metadata/{}", m.model_type),
                features,
                model_type: m.model_type,
            }
        })
        .collect();
    Ok(ModelAnnouncement { models })
}

/// The signed `fleet/models` message (publish it postcard-encoded, retained). `version` must
/// grow with every announcement (agents refuse older ones): e.g. the hub's config version
/// counter for scope `fleet/models`, persisted.
pub fn build_announcement(
    models_dir: &Path,
    key: &SigningKey,
    version: u64,
    issued_ms: u64,
) -> Result<SignedMessage, HubModelError> {
    let payload = announcement(models_dir)?
        .to_payload()
        .map_err(|e| HubModelError::Sign(e.to_string()))?;
    SignedMessage::sign(
        SignedContent {
            kind: PayloadKind::ModelAnnouncement,
            scope: Scope::Fleet,
            version,
            issued_ms,
            expires_ms: None,
            payload,
        },
        key,
    )
    .map_err(|e| HubModelError::Sign(e.to_string()))
}
