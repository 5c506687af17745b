//! The performance store (docs/ARCHITECTURE.md#agent-state): what each configuration measured on
//! this rig, keyed by CPU model, profile, algorithm, threads, batch and NUMA layout, in a redb file
//! so it survives restarts and power loss.
//! rig, keyed by CPU model, profile, algorithm, threads, batch and NUMA layout, in a redb file so
//! it survives restarts and power loss.
//!
//! Lookups are per algorithm (sha256d is compute-bound, scrypt memory-bound: one's best says
//! nothing about the other's), falling back from the exact NUMA layout to any layout, then to
//! other profiles of the same CPU and algorithm.
//!
//! Must never: mix algorithms in a lookup, or lose a committed record (every write is one durable
//! transaction).

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// key: [`PerfKey::encode`]; value: JSON `{"PerfKey", "PerfStats"}`.
const PERF: TableDefinition<&str, &[u8]> = TableDefinition::new("perf");

/// A measured window older than this many windows weighs no more than 1/AVG_WINDOWS: the
/// average follows a machine that changes (dust, a new cooler) instead of freezing.
const AVG_WINDOWS: u64 = 10;

const SEP: char = '\u{1f}';

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PerfKey {
    pub cpu_model: String,
    pub profile: String,
    pub pow_algo: String,
    pub threads: u32,
    pub batch_size: u32,
    /// e.g. `node0:64,node1:64`, or `unpinned`.
    pub numa_layout: String,
}

impl PerfKey {
    /// Sorts by (cpu, profile, algo, layout) so one class is a contiguous range.
    fn encode(&self) -> String {
        format!(
            "{}{SEP}{}{SEP}{}{SEP}{}{SEP}{:010}{SEP}{:010}",
            self.cpu_model, self.profile, self.pow_algo, self.numa_layout, self.threads, self.batch_size
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PerfStats {
    /// Evaluation windows measured.
    pub sample_count: u64,
    /// H/s, averaged over the last windows (see [`AVG_WINDOWS`]).
    pub avg_hashrate: f64,
    pub best_hashrate: f64,
    /// Unix seconds.
    pub last_update: u64,
}

/// One row as written to disk: the key is stored beside its stats so a scan by prefix needs no
/// second lookup.
#[derive(Serialize, Deserialize)]
struct KeyedStats {
    #[serde(rename = "PerfKey")]
    key: PerfKey,
    #[serde(rename = "PerfStats")]
    stats: PerfStats,
}

/// How far a lookup had to fall back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Match {
    Exact,
    OtherLayout,
    OtherProfile,
}

#[derive(Debug, thiserror::Error)]
pub enum PerfStoreError {
    #[error("opening {path}: {source}")]
    Open {
        path: String,
        source: redb::DatabaseError,
    },
    #[error("performance store: {0}")]
    Db(String),
    #[error("hashrate {0} is not a measurement")]
    BadRate(f64),
}

pub struct PerfStore {
    db: Database,
}

impl PerfStore {
    pub fn open(path: &Path) -> Result<PerfStore, PerfStoreError> {
        let db = Database::create(path).map_err(|source| PerfStoreError::Open {
            path: path.display().to_string(),
            source,
        })?;
        let tx = db.begin_write().map_err(db_err)?;
        tx.open_table(PERF).map_err(db_err)?;
        tx.commit().map_err(db_err)?;
        Ok(PerfStore { db })
    }

    /// Adds one evaluation window's hashrate for `key`.
    pub fn record(&self, key: &PerfKey, hashrate: f64, now_s: u64) -> Result<PerfStats, PerfStoreError> {
        if !hashrate.is_finite() || hashrate < 0.0 {
            return Err(PerfStoreError::BadRate(hashrate));
        }
        let k = key.encode();
        let tx = self.db.begin_write().map_err(db_err)?;
        let stats = {
            let mut table = tx.open_table(PERF).map_err(db_err)?;
            let old = table
                .get(k.as_str())
                .map_err(db_err)?
                .and_then(|v| serde_json::from_slice::<KeyedStats>(v.value()).ok())
                .map(|s| s.stats);
            let stats = match old {
                None => PerfStats {
                    sample_count: 1,
                    avg_hashrate: hashrate,
                    best_hashrate: hashrate,
                    last_update: now_s,
                },
                Some(o) => {
                    let n = o.sample_count.min(AVG_WINDOWS - 1) as f64;
                    PerfStats {
                        sample_count: o.sample_count + 1,
                        avg_hashrate: (o.avg_hashrate * n + hashrate) / (n + 1.0),
                        best_hashrate: o.best_hashrate.max(hashrate),
                        last_update: now_s,
                    }
                }
            };
            let bytes = serde_json::to_vec(&KeyedStats {
                key: key.clone(),
                stats,
            })
            .map_err(db_err)?;
            table.insert(k.as_str(), bytes.as_slice()).map_err(db_err)?;
            stats
        };
        tx.commit().map_err(db_err)?;
        Ok(stats)
    }

    /// Every configuration measured for this CPU, profile and algorithm (any layout).
    pub fn all_for_cpu_profile_algo(
        &self,
        cpu_model: &str,
        profile: &str,
        pow_algo: &str,
    ) -> Result<Vec<(PerfKey, PerfStats)>, PerfStoreError> {
        let prefix = format!("{cpu_model}{SEP}{profile}{SEP}{pow_algo}{SEP}");
        let tx = self.db.begin_read().map_err(db_err)?;
        let table = tx.open_table(PERF).map_err(db_err)?;
        let mut out = Vec::new();
        for entry in table.range(prefix.as_str()..).map_err(db_err)? {
            let (k, v) = entry.map_err(db_err)?;
            if !k.value().starts_with(&prefix) {
                break;
            }
            // A record that does not parse was not written by this code; skip it, loudly.
            match serde_json::from_slice::<KeyedStats>(v.value()) {
                Ok(s) => out.push((s.key, s.stats)),
                Err(e) => log::warn!("perf store: unreadable record {:?}: {e}", k.value()),
            }
        }
        Ok(out)
    }

    /// The configuration with the best average hashrate for this CPU, profile and algorithm.
    pub fn best_for_cpu_profile_algo(
        &self,
        cpu_model: &str,
        profile: &str,
        pow_algo: &str,
    ) -> Result<Option<(PerfKey, PerfStats)>, PerfStoreError> {
        Ok(best(self.all_for_cpu_profile_algo(cpu_model, profile, pow_algo)?))
    }

    /// The best known configuration, preferring the same NUMA layout, then any layout, then the
    /// CPU's other profiles.
    pub fn best_with_fallback(
        &self,
        cpu_model: &str,
        profile: &str,
        pow_algo: &str,
        numa_layout: &str,
    ) -> Result<Option<(PerfKey, PerfStats, Match)>, PerfStoreError> {
        let all = self.all_for_cpu_profile_algo(cpu_model, profile, pow_algo)?;
        let same: Vec<_> = all
            .iter()
            .filter(|(k, _)| k.numa_layout == numa_layout)
            .cloned()
            .collect();
        if let Some((k, s)) = best(same) {
            return Ok(Some((k, s, Match::Exact)));
        }
        if let Some((k, s)) = best(all) {
            return Ok(Some((k, s, Match::OtherLayout)));
        }
        for other in ["balanced", "beast", "laptop"]
            .into_iter()
            .filter(|p| *p != profile)
        {
            if let Some((k, s)) = self.best_for_cpu_profile_algo(cpu_model, other, pow_algo)? {
                return Ok(Some((k, s, Match::OtherProfile)));
            }
        }
        Ok(None)
    }
}

fn db_err<E: std::fmt::Display>(e: E) -> PerfStoreError {
    PerfStoreError::Db(e.to_string())
}

fn best(v: Vec<(PerfKey, PerfStats)>) -> Option<(PerfKey, PerfStats)> {
    v.into_iter()
        .max_by(|a, b| a.1.avg_hashrate.total_cmp(&b.1.avg_hashrate))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(algo: &str, profile: &str, threads: u32, batch: u32, layout: &str) -> PerfKey {
        PerfKey {
            cpu_model: "amd ryzen 9 5900x".into(),
            profile: profile.into(),
            pow_algo: algo.into(),
            threads,
            batch_size: batch,
            numa_layout: layout.into(),
        }
    }

    #[test]
    fn survives_reopen_and_keeps_algorithms_apart() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("perf.redb");
        {
            let s = PerfStore::open(&path).expect("open");
            s.record(&key("sha256d", "balanced", 12, 8, "unpinned"), 100.0, 1)
                .expect("record");
            s.record(&key("sha256d", "balanced", 24, 16, "unpinned"), 150.0, 2)
                .expect("record");
            s.record(&key("scrypt", "balanced", 24, 2, "unpinned"), 900.0, 3)
                .expect("record");
        }
        let s = PerfStore::open(&path).expect("reopen");
        let (k, st) = s
            .best_for_cpu_profile_algo("amd ryzen 9 5900x", "balanced", "sha256d")
            .expect("lookup")
            .expect("found");
        assert_eq!((k.threads, k.batch_size, st.avg_hashrate), (24, 16, 150.0));
        assert_eq!(
            s.all_for_cpu_profile_algo("amd ryzen 9 5900x", "balanced", "scrypt")
                .expect("ok")
                .len(),
            1
        );
        assert!(s
            .best_for_cpu_profile_algo("amd ryzen 9 5900x", "balanced", "x11")
            .expect("ok")
            .is_none());
        assert!(
            s.best_for_cpu_profile_algo("amd ryzen 9", "balanced", "sha256d")
                .expect("ok")
                .is_none(),
            "a model that is a prefix of another is another model"
        );
    }

    #[test]
    fn average_follows_recent_windows_and_best_is_kept() {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = PerfStore::open(&dir.path().join("perf.redb")).expect("open");
        let k = key("sha256d", "balanced", 4, 4, "unpinned");
        for i in 0..50 {
            s.record(&k, 100.0, i).expect("record");
        }
        let mut st = s.record(&k, 200.0, 50).expect("record");
        assert_eq!(st.best_hashrate, 200.0);
        assert!((st.avg_hashrate - 110.0).abs() < 1e-9, "{}", st.avg_hashrate);
        for i in 0..50 {
            st = s.record(&k, 50.0, 51 + i).expect("record");
        }
        assert!(st.avg_hashrate < 51.0, "old windows fade: {}", st.avg_hashrate);
        assert_eq!((st.sample_count, st.last_update), (101, 100));
        assert!(matches!(
            s.record(&k, f64::NAN, 0),
            Err(PerfStoreError::BadRate(_))
        ));
    }

    #[test]
    fn falls_back_from_layout_to_profile() {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = PerfStore::open(&dir.path().join("perf.redb")).expect("open");
        s.record(&key("sha256d", "beast", 24, 8, "unpinned"), 300.0, 1)
            .expect("record");
        let (_, _, m) = s
            .best_with_fallback("amd ryzen 9 5900x", "balanced", "sha256d", "unpinned")
            .expect("ok")
            .expect("found");
        assert_eq!(m, Match::OtherProfile);
        s.record(&key("sha256d", "balanced", 12, 8, "node0:12"), 200.0, 2)
            .expect("record");
        let (k, _, m) = s
            .best_with_fallback("amd ryzen 9 5900x", "balanced", "sha256d", "unpinned")
            .expect("ok")
            .expect("found");
        assert_eq!((m, k.threads), (Match::OtherLayout, 12));
        s.record(&key("sha256d", "balanced", 10, 8, "unpinned"), 100.0, 3)
            .expect("record");
        let (k, _, m) = s
            .best_with_fallback("amd ryzen 9 5900x", "balanced", "sha256d", "unpinned")
            .expect("ok")
            .expect("found");
        assert_eq!(
            (m, k.threads),
            (Match::Exact, 10),
            "the same layout wins even if slower"
        );
    }
}
