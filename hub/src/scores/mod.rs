//! The daily risk scores of the fleet's alerts (seed 003, issue 18): `date` (processing dates),
//! `features` and `cluster` (pure: alert features, clusters, ranking), `network` (which chain a
//! rig mines), `model` (the tract scorers), `batch` (one date: store -> scores -> store),
//! `service` (the 01:00 UTC job), `export` (labelled alerts for offline retraining). The tables
//! are `crate::store::scores`; the read-only API is `crate::api::scores`.
//!
//! Must never score at request time: the API serves what a batch stored.

pub mod batch;
pub mod cluster;
pub mod date;
pub mod export;
pub mod features;
pub mod model;
pub mod network;
pub mod service;

use date::ProcessingDate;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::RwLock;

/// Where the hub's source lives (the workspace's `repository`) and the commit it was built from
/// (`hub/build.rs`; `HASHWARD_COMMIT` overrides it, e.g. in a tarball build).
pub const GITHUB_URL: &str = env!("CARGO_PKG_REPOSITORY");
pub const COMMIT_HASH: &str = env!("HASHWARD_COMMIT");

/// Default daily run time, minutes after midnight UTC (01:00, the seed's cron).
pub const DEFAULT_RUN_AT_MIN: u32 = 60;
pub const DEFAULT_NETWORK: &str = "bitcoin";

/// The `[scores]` settings as `serve` uses them.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoresOptions {
    /// One network: single-network mode; several: multi-network (the first is the default).
    pub networks: Vec<String>,
    pub run_at_min: u32,
    /// Where `alert_scorer` and `cluster_scorer` are read (else `serve`'s models_dir).
    pub models_dir: Option<PathBuf>,
    /// Run the daily batch in this hub.
    pub batch: bool,
}

impl Default for ScoresOptions {
    fn default() -> ScoresOptions {
        ScoresOptions {
            networks: vec![DEFAULT_NETWORK.to_string()],
            run_at_min: DEFAULT_RUN_AT_MIN,
            models_dir: None,
            batch: false,
        }
    }
}

/// `HH:MM` (UTC) -> minutes after midnight.
pub fn parse_run_at(s: &str) -> Option<u32> {
    let (h, m) = s.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60).then_some(h * 60 + m)
}

/// The latest COMPLETED date per network, cached for the API (seed: "cache latest_date");
/// the batch service invalidates it whenever a batch ends.
#[derive(Debug, Default)]
pub struct LatestCache {
    map: RwLock<HashMap<String, Option<ProcessingDate>>>,
}

impl LatestCache {
    pub fn get_or<E>(
        &self,
        network: &str,
        load: impl FnOnce() -> Result<Option<ProcessingDate>, E>,
    ) -> Result<Option<ProcessingDate>, E> {
        if let Some(d) = self.map.read().ok().and_then(|m| m.get(network).copied()) {
            return Ok(d);
        }
        let d = load()?;
        if let Ok(mut m) = self.map.write() {
            m.insert(network.to_string(), d);
        }
        Ok(d)
    }

    pub fn invalidate(&self) {
        if let Ok(mut m) = self.map.write() {
            m.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_time_and_cache() {
        assert_eq!(parse_run_at("01:00"), Some(60));
        assert_eq!(parse_run_at("23:59"), Some(1439));
        for bad in ["24:00", "1:00", "01:60", "0100", "aa:bb"] {
            assert_eq!(parse_run_at(bad), None, "{bad}");
        }
        let c = LatestCache::default();
        let d = ProcessingDate::from_days(5);
        assert_eq!(c.get_or::<()>("bitcoin", || Ok(Some(d))), Ok(Some(d)));
        assert_eq!(c.get_or::<()>("bitcoin", || Err(())), Ok(Some(d)), "cached");
        c.invalidate();
        assert_eq!(c.get_or::<()>("bitcoin", || Ok(None)), Ok(None));
    }
}
