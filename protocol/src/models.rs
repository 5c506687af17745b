//! The `fleet/models` announcement payload: which model versions the hub serves, with their
//! sha256. It travels JSON-encoded as the payload of a `SignedMessage` of kind
//! `ModelAnnouncement`, scope `fleet`, retained.
//!
//! Shared by the hub (which builds it) and the agent (which acts on it): it belongs in
//! `hashward-protocol` (proposed `protocol/src/models.rs`); it depends on serde only. JSON, not
//! postcard, because the payload must stay readable by older agents when fields are added.
//! Must never: carry anything the agent trusts without the signature around it.

use serde::{Deserialize, Serialize};

/// The current model set of the fleet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelAnnouncement {
    pub models: Vec<AnnouncedModel>,
}

/// One model the hub serves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnnouncedModel {
    /// Registry slot, e.g. `sentinel_asic`. A string so that an agent that does not know a new
    /// type skips it instead of refusing the whole announcement.
    pub model_type: String,
    /// `<type>_v<semver>_<YYYYMMDD_HHMMSS>`.
    pub model_version: String,
    /// sha256 of `model.onnx`, hex.
    pub sha256: String,
    pub size_bytes: u64,
    /// Path on the hub, e.g. `/models/download/sentinel_asic`.
    pub download_url: String,
    /// Path on the hub, e.g. `/models/metadata/sentinel_asic`.
    pub metadata_url: String,
    /// Feature names in input order (lets an agent decline before downloading).
    pub features: Vec<String>,
}

impl ModelAnnouncement {
    pub fn to_payload(&self) -> Result<Vec<u8>, serde_json::Error> {
        serde_json::to_vec(self)
    }

    pub fn from_payload(bytes: &[u8]) -> Result<ModelAnnouncement, serde_json::Error> {
        serde_json::from_slice(bytes)
    }
}
