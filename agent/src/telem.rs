//! The agent's side of the private tuning telemetry (seed 004): the random telemetry id it
//! shares its tuning snapshots under, kept in `data_dir/telemetry_id`, and the client of the
//! hub's `DELETE /telem/my-data` that `hashward-agent telemetry forget` runs.
//!
//! Must never derive the id from anything about the rig (rig id, host name, address, wallet):
//! it is 16 bytes from the OS's random source, drawn once and kept. A forget draws a new one, so
//! what the rig shares afterwards is not linked to what was forgotten.

use hashward_protocol::{TelemetryId, TelemetryIdError, TELEMETRY_ID_LEN};
use rand::RngCore;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The id file's name in the data dir.
pub const ID_FILE: &str = "telemetry_id";
/// The header the hub reads the id from.
pub const ID_HEADER: &str = "X-Telemetry-Id";

#[derive(Debug, thiserror::Error)]
pub enum TelemError {
    #[error("telemetry id file {0}: {1}")]
    Io(PathBuf, std::io::Error),
    #[error("telemetry id file {0} is damaged ({1}); delete it to draw a new id")]
    Damaged(PathBuf, TelemetryIdError),
    #[error("no telemetry id in {0}: this agent has not shared tuning telemetry from this data dir")]
    NoId(PathBuf),
    #[error("the hub at {url} answered {status}: {body}")]
    Refused { url: String, status: u16, body: String },
    #[error("the hub at {url} could not be reached: {reason}")]
    Unreachable { url: String, reason: String },
}

pub fn id_path(data_dir: &Path) -> PathBuf {
    data_dir.join(ID_FILE)
}

/// The id in `data_dir`, if one was drawn.
pub fn load(data_dir: &Path) -> Result<Option<TelemetryId>, TelemError> {
    let path = id_path(data_dir);
    match std::fs::read_to_string(&path) {
        Ok(text) => text
            .parse::<TelemetryId>()
            .map(Some)
            .map_err(|e| TelemError::Damaged(path, e)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(TelemError::Io(path, e)),
    }
}

/// The id in `data_dir`, drawn and kept on first use.
pub fn load_or_create(data_dir: &Path) -> Result<TelemetryId, TelemError> {
    match load(data_dir)? {
        Some(id) => Ok(id),
        None => draw(data_dir),
    }
}

/// Draws a new id and keeps it (written to a temporary file and renamed, so a crash leaves the
/// old id or the new one, never half of one).
pub fn draw(data_dir: &Path) -> Result<TelemetryId, TelemError> {
    let mut bytes = [0u8; TELEMETRY_ID_LEN];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let id = TelemetryId::from_bytes(bytes);
    let path = id_path(data_dir);
    let tmp = data_dir.join(format!("{ID_FILE}.tmp"));
    std::fs::create_dir_all(data_dir).map_err(|e| TelemError::Io(data_dir.to_path_buf(), e))?;
    std::fs::write(&tmp, format!("{id}\n")).map_err(|e| TelemError::Io(tmp.clone(), e))?;
    std::fs::rename(&tmp, &path).map_err(|e| TelemError::Io(path, e))?;
    Ok(id)
}

/// What the hub said to a forget.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Forgotten {
    /// The contribution is gone (`removed_contributions` configurations).
    Removed { contributions: u64 },
    /// The hub holds nothing under this id (never received, expired or already forgotten).
    Unknown,
}

/// Sends `DELETE {hub}/telem/my-data` for `id`.
pub fn forget(hub_url: &str, id: &TelemetryId, timeout: Duration) -> Result<Forgotten, TelemError> {
    let url = format!("{}/telem/my-data", hub_url.trim_end_matches('/'));
    let http: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        .build()
        .into();
    let mut resp = http
        .delete(&url)
        .header(ID_HEADER, id.to_string())
        .call()
        .map_err(|e| TelemError::Unreachable {
            url: url.clone(),
            reason: e.to_string(),
        })?;
    let status = resp.status().as_u16();
    let body = resp.body_mut().read_to_string().unwrap_or_default();
    let json: Option<serde_json::Value> = serde_json::from_str(&body).ok();
    match status {
        200 => Ok(Forgotten::Removed {
            contributions: json
                .as_ref()
                .and_then(|v| v["removed_contributions"].as_u64())
                .unwrap_or(0),
        }),
        404 if json.as_ref().is_some_and(|v| v["code"] == "unknown_telemetry_id") => Ok(Forgotten::Unknown),
        _ => Err(TelemError::Refused { url, status, body }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_id_is_drawn_once_kept_and_redrawn_on_request() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(load(dir.path()).expect("load").is_none());
        let id = load_or_create(dir.path()).expect("create");
        assert_eq!(load_or_create(dir.path()).expect("again"), id);
        let text = std::fs::read_to_string(id_path(dir.path())).expect("file");
        assert_eq!(text.trim(), id.to_string());
        let next = draw(dir.path()).expect("draw");
        assert_ne!(next, id);
        assert_eq!(load(dir.path()).expect("load"), Some(next));
    }

    #[test]
    fn a_damaged_file_is_named_not_replaced() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(id_path(dir.path()), "not-an-id\n").expect("write");
        let e = load_or_create(dir.path()).expect_err("damaged");
        assert!(e.to_string().contains("is damaged"), "{e}");
        assert_eq!(
            std::fs::read_to_string(id_path(dir.path())).expect("file"),
            "not-an-id\n"
        );
    }
}
