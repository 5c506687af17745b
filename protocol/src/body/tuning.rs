//! Anonymised tuning snapshot (seed 004 `TelemSnapshot`), the input of fleet tuning hints.
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
