//! The CPU miner's settings: what it mines (algorithm, pools), with which kernel, how many
//! threads and how big a batch when tuning does not choose, at which priority, on which CPUs.
//! They are read from the `[miner]` table of the agent's config, which also holds the tuner's
//! keys (the agent's config file loader splits the table).
//!
//! Must never: import the tuner or the agent's config, or accept a value the engine would
//! refuse at start (each error names its key as written in the file, `miner.<key>`).

use crate::miner::engine::{Priority, MAX_THREADS};
use crate::miner::hash::Algo;
use crate::miner::stratum::PoolUrl;
use serde::{Deserialize, Serialize};

/// Largest batch accepted, in SIMD blocks per kernel call.
pub const MAX_BATCH: u32 = 4096;

#[derive(Debug, Clone, PartialEq)]
pub struct MinerConfig {
    /// Mine at all. Default: yes when pools are listed. Enabled without pools = benchmark mode.
    pub enabled: Option<bool>,
    pub algo: Algo,
    /// Ordered: the first is the primary, the others are failover.
    pub pools: Vec<PoolEntry>,
    /// Hashing threads. Set: fixed (the tuner then only tunes the batch). Unset: tuned, or one
    /// per logical CPU allowed by the profile when auto-tuning is off.
    pub mining_threads: Option<u32>,
    /// SIMD blocks per kernel call (one block = the kernel's lane count of nonces): the batch
    /// used when auto-tuning is off, and the tuner's first guess when it has no data.
    pub simd_batch_size: u32,
    /// Kernel by name (default: the fastest this CPU supports).
    pub kernel: Option<String>,
    pub priority: Priority,
    /// CPUs to pin hashing threads to; empty = no pinning.
    pub cpus: Vec<usize>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PoolEntry {
    /// `stratum+tcp://host:port` or `stratum+ssl://host:port`.
    pub url: String,
    /// Wallet or account, usually `wallet.worker`.
    pub user: String,
    #[serde(default = "default_pool_pass")]
    pub pass: String,
}

fn default_pool_pass() -> String {
    "x".into()
}

impl Default for MinerConfig {
    fn default() -> Self {
        MinerConfig {
            enabled: None,
            algo: Algo::Sha256d,
            pools: Vec::new(),
            mining_threads: None,
            simd_batch_size: 4,
            kernel: None,
            priority: Priority::default(),
            cpus: Vec::new(),
        }
    }
}

impl MinerConfig {
    pub fn is_enabled(&self) -> bool {
        self.enabled.unwrap_or(!self.pools.is_empty())
    }

    /// Checks every value; the error names the key (`miner.pools[0].url: ...`).
    pub fn validate(&self) -> Result<(), String> {
        for (i, p) in self.pools.iter().enumerate() {
            PoolUrl::parse(&p.url).map_err(|e| format!("miner.pools[{i}].url: {e}"))?;
            if p.user.is_empty() {
                return Err(format!("miner.pools[{i}].user is empty"));
            }
        }
        if let Some(t) = self.mining_threads {
            if t == 0 || t > MAX_THREADS {
                return Err(format!("miner.mining_threads {t} outside 1..={MAX_THREADS}"));
            }
        }
        if self.simd_batch_size == 0 || self.simd_batch_size > MAX_BATCH {
            return Err(format!(
                "miner.simd_batch_size {} outside 1..={MAX_BATCH}",
                self.simd_batch_size
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(cfg: MinerConfig) -> String {
        cfg.validate().expect_err("invalid")
    }

    #[test]
    fn defaults_are_valid_and_mining_follows_the_pools() {
        let cfg = MinerConfig::default();
        assert_eq!(cfg.validate(), Ok(()));
        assert!(!cfg.is_enabled());
        let with_pool = MinerConfig {
            pools: vec![PoolEntry {
                url: "stratum+tcp://p:3333".into(),
                user: "w.1".into(),
                pass: "x".into(),
            }],
            ..MinerConfig::default()
        };
        assert_eq!(with_pool.validate(), Ok(()));
        assert!(with_pool.is_enabled());
        let off = MinerConfig {
            enabled: Some(false),
            ..with_pool
        };
        assert!(!off.is_enabled());
    }

    #[test]
    fn each_bad_value_names_its_key() {
        let pool = |url: &str, user: &str| PoolEntry {
            url: url.into(),
            user: user.into(),
            pass: "x".into(),
        };
        let bad_url = MinerConfig {
            pools: vec![pool("stratum+tcp://p:1", "w"), pool("http://p:1", "w")],
            ..MinerConfig::default()
        };
        assert!(err(bad_url).starts_with("miner.pools[1].url: "));
        let no_user = MinerConfig {
            pools: vec![pool("stratum+tcp://p:1", "")],
            ..MinerConfig::default()
        };
        assert_eq!(err(no_user), "miner.pools[0].user is empty");
        for t in [0, MAX_THREADS + 1] {
            let cfg = MinerConfig {
                mining_threads: Some(t),
                ..MinerConfig::default()
            };
            assert_eq!(
                err(cfg),
                format!("miner.mining_threads {t} outside 1..={MAX_THREADS}")
            );
        }
        for b in [0, MAX_BATCH + 1] {
            let cfg = MinerConfig {
                simd_batch_size: b,
                ..MinerConfig::default()
            };
            assert_eq!(
                err(cfg),
                format!("miner.simd_batch_size {b} outside 1..={MAX_BATCH}")
            );
        }
        let edge = MinerConfig {
            mining_threads: Some(MAX_THREADS),
            simd_batch_size: MAX_BATCH,
            ..MinerConfig::default()
        };
        assert_eq!(edge.validate(), Ok(()));
    }
}
