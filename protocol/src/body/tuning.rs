//! Anonymised tuning snapshot, the input of fleet tuning hints
//! (docs/ARCHITECTURE.md#thresholds-hints).
//! Carries no host name, address or wallet: only what identifies a class of hardware.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TuningSnapshot {
    /// Normalised and anonymised CPU model.
    pub cpu_model: String,
    pub logical_cores: u32,
    pub physical_cores: u32,
    pub pow_algo: String,
    /// `laptop` | `balanced` | `beast`.
    pub profile: String,
    pub threads: u32,
    pub batch_size: u32,
    /// NUMA layout, e.g. `node0:64,node1:64`.
    pub numa_layout: String,
    pub avg_hashrate_hs: f64,
    pub sample_count: u64,
    pub client_version: String,
}

/// The hub's tuning hints, published retained on `fleet/hints` (postcard, not an [`crate::Envelope`]:
/// it comes from the hub, not from a rig). A hint is only ever a starting point: the agent measures
/// it before keeping it, and its own bounds and thermal/power limits still apply.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FleetHints {
    pub generated_ms: u64,
    pub hints: Vec<TuningHint>,
}

/// The best known configuration for one class of hardware (docs/ARCHITECTURE.md#thresholds-hints).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TuningHint {
    pub cpu_model: String,
    pub logical_cores: u32,
    pub pow_algo: String,
    pub profile: String,
    pub threads: u32,
    pub batch_size: u32,
    pub expected_hashrate_hs: f64,
    /// In [0, 1]: grows with the number of rigs and samples that agree.
    pub confidence: f32,
    /// Distinct rigs that reported this class.
    pub rigs: u32,
}

impl FleetHints {
    /// The hint for a class of hardware, if the fleet has one.
    pub fn find(
        &self,
        cpu_model: &str,
        logical_cores: u32,
        pow_algo: &str,
        profile: &str,
    ) -> Option<&TuningHint> {
        self.hints.iter().find(|h| {
            h.cpu_model == cpu_model
                && h.logical_cores == logical_cores
                && h.pow_algo == pow_algo
                && h.profile == profile
        })
    }
}
