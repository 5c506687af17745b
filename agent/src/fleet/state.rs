//! The pushes this rig has accepted (per scope: version and patch) and the command nonces it has
//! seen, persisted in one JSON file under the data dir.
//!
//! Written whole to a temporary file, fsynced, renamed over the old one and the directory
//! fsynced: after a crash at any instant the file holds either the previous set or the new one,
//! never a mix. Must never: report a push as applied before this write has completed.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Set to a number of milliseconds, the agent stalls after writing the new state and before
/// committing it (fault injection for the crash-consistency test).
pub const FAULT_STALL_ENV: &str = "HASHWARD_FAULT_STALL_BEFORE_COMMIT_MS";

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Applied {
    /// Scope (`fleet`, `site:S`, `rig:S/R`) -> the push in force for it.
    pub scopes: BTreeMap<String, AppliedPush>,
    /// Command nonce -> its expiry (ms); pruned once expired.
    #[serde(default)]
    pub nonces: BTreeMap<u64, u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AppliedPush {
    pub version: u64,
    pub issued_ms: u64,
    /// The patch as pushed (TOML).
    pub patch: String,
    /// sha256 of the signed message, to tell a redelivery from a different push of the same
    /// version.
    pub digest: String,
}

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("reading {0}: {1}")]
    Read(PathBuf, std::io::Error),
    #[error("{0} is corrupt: {1}")]
    Corrupt(PathBuf, serde_json::Error),
    #[error("writing {0}: {1}")]
    Write(PathBuf, std::io::Error),
}

impl Applied {
    pub fn path(data_dir: &Path) -> PathBuf {
        data_dir.join("fleet-config.json")
    }

    /// The saved state; empty when the file does not exist yet.
    pub fn load(path: &Path) -> Result<Applied, StateError> {
        match std::fs::read(path) {
            Ok(bytes) => {
                serde_json::from_slice(&bytes).map_err(|e| StateError::Corrupt(path.to_path_buf(), e))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Applied::default()),
            Err(e) => Err(StateError::Read(path.to_path_buf(), e)),
        }
    }

    /// Replaces the saved state atomically (see the module comment).
    pub fn save(&self, path: &Path) -> Result<(), StateError> {
        let err = |e| StateError::Write(path.to_path_buf(), e);
        let json = serde_json::to_vec_pretty(self).map_err(|e| err(std::io::Error::other(e)))?;
        hashward_common::durable::write_atomic_with(path, &json, || {
            if let Some(ms) = std::env::var(FAULT_STALL_ENV)
                .ok()
                .and_then(|v| v.parse::<u64>().ok())
            {
                log::warn!("fleet: stalling {ms} ms before committing the new config (fault injection)");
                std::thread::sleep(std::time::Duration::from_millis(ms));
            }
            Ok(())
        })
        .map_err(err)
    }

    /// The patches in precedence order: fleet, then site, then rig.
    pub fn layers(&self) -> Vec<(&str, &AppliedPush)> {
        let mut v: Vec<_> = self.scopes.iter().map(|(k, p)| (k.as_str(), p)).collect();
        v.sort_by_key(|(k, _)| scope_rank(k));
        v
    }

    pub fn prune_nonces(&mut self, now_ms: u64) {
        self.nonces.retain(|_, exp| *exp >= now_ms);
    }
}

/// Merge precedence of a scope key (`fleet` < `site:S` < `rig:S/R`).
pub fn scope_rank(scope: &str) -> u8 {
    if scope == "fleet" {
        0
    } else if scope.starts_with("site:") {
        1
    } else {
        2
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn push(v: u64) -> AppliedPush {
        AppliedPush {
            version: v,
            issued_ms: 1,
            patch: "[miner]\nmax_batch_size = 8\n".into(),
            digest: "d".into(),
        }
    }

    #[test]
    fn saves_loads_and_orders_layers() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = Applied::path(dir.path());
        assert_eq!(Applied::load(&path).expect("empty"), Applied::default());
        let mut a = Applied::default();
        a.scopes.insert("rig:s/r".into(), push(3));
        a.scopes.insert("fleet".into(), push(1));
        a.scopes.insert("site:s".into(), push(2));
        a.nonces.insert(9, 100);
        a.save(&path).expect("save");
        let b = Applied::load(&path).expect("load");
        assert_eq!(a, b);
        let order: Vec<&str> = b.layers().iter().map(|(k, _)| *k).collect();
        assert_eq!(order, vec!["fleet", "site:s", "rig:s/r"]);
        assert!(!path.with_extension("json.tmp").exists());
    }

    #[test]
    fn a_corrupt_file_is_an_error_not_an_empty_state() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = Applied::path(dir.path());
        std::fs::write(&path, b"{\"scopes\": ").expect("write");
        assert!(matches!(Applied::load(&path), Err(StateError::Corrupt(..))));
    }
}
