//! The `[fleet]` section: whose signed config pushes and commands this rig obeys.
//!
//! Must never accept a key that is not a valid ed25519 public key: a typo would leave the rig
//! obeying nobody without saying so.

use crate::config::ConfigError;
use serde::{Deserialize, Serialize};

/// Fleet control: whose signed pushes and commands this rig obeys.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FleetConfig {
    /// The hub's ed25519 public key (64 hex digits, `hashward-hub keygen` prints it). Without it
    /// the rig accepts no config push and no command, and says so.
    pub hub_public_key: Option<String>,
}

impl FleetConfig {
    pub fn verifying_key(&self) -> Result<Option<ed25519_dalek::VerifyingKey>, ConfigError> {
        let Some(hex_key) = &self.hub_public_key else {
            return Ok(None);
        };
        let bad = |why: &str| ConfigError::Invalid(format!("fleet.hub_public_key: {why}"));
        let bytes = hex::decode(hex_key.trim()).map_err(|_| bad("not hex"))?;
        let bytes: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| bad("must be 32 bytes (64 hex digits)"))?;
        ed25519_dalek::VerifyingKey::from_bytes(&bytes)
            .map(Some)
            .map_err(|_| bad("not a valid ed25519 public key"))
    }
}
