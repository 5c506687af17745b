//! Rig state (birth / last will) and rig telemetry: host load, memory, temperatures, the CPU
//! miner's figures, and the agent's own counters (spool, link), so a lossy link is visible.

use crate::units::{Celsius, Hashrate};
use serde::{Deserialize, Serialize};

/// Published retained on `{site}/{rig}/state`: at connect with `online = true` and full details,
/// and as the MQTT last will with `online = false` and no hardware.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RigState {
    pub online: bool,
    /// Incremented on every agent start; lets the hub tell a restart from a reconnect.
    pub boot: u64,
    pub agent_version: String,
    pub hardware: Option<Hardware>,
    pub capabilities: Vec<Capability>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hardware {
    /// Normalised CPU model (lower case, no trademarks or frequency), e.g. `amd ryzen 9 5900x`.
    pub cpu_model: String,
    pub logical_cores: u32,
    pub physical_cores: u32,
    pub numa_nodes: u32,
    pub memory_bytes: u64,
    pub arch: String,
    pub os: String,
    pub hostname: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Capability {
    CpuMiner,
    AsicPoller,
    Inference,
    SignedConfig,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RigTelemetry {
    pub uptime_s: u64,
    pub load_1m: f32,
    pub load_5m: f32,
    pub load_15m: f32,
    pub cpu_usage_pct: f32,
    pub memory_used_bytes: u64,
    pub memory_total_bytes: u64,
    pub temperatures: Vec<TempReading>,
    pub miner: Option<MinerTelemetry>,
    pub agent: AgentCounters,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TempReading {
    pub label: String,
    pub celsius: Celsius,
}

/// The CPU miner's state at sampling time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MinerTelemetry {
    pub algo: String,
    /// Kernel in use, e.g. `sha256d-avx512x16`.
    pub kernel: String,
    pub threads: u32,
    pub batch: u32,
    pub paused: bool,
    pub hashrate_10s: Hashrate,
    pub hashrate_60s: Hashrate,
    pub hashrate_15m: Hashrate,
    pub pool: Option<PoolTelemetry>,
    /// Why the miner runs as it does (thermal, power, tuning), human readable.
    pub constraints: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PoolTelemetry {
    pub url: String,
    pub user: String,
    pub connected: bool,
    pub difficulty: f64,
    pub accepted: u64,
    pub rejected: u64,
    /// Shares found on a job the pool had already cleaned; dropped, never sent.
    pub stale_dropped: u64,
    pub last_share_ts_ms: Option<u64>,
    pub latency_ms: Option<u32>,
}

/// The agent's own health: what a store-and-forward link owes the operator.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AgentCounters {
    /// Records waiting in the spool for a broker acknowledgement.
    pub spool_records: u64,
    pub spool_bytes: u64,
    /// Records dropped because the spool reached its disk cap (oldest first).
    pub spool_dropped: u64,
    pub published: u64,
    pub reconnects: u64,
    /// Bad input the agent received and skipped (config pushes, pool lines, ASIC replies...).
    pub input_errors: u64,
}
