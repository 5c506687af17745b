//! Seed 004's telemetry aggregates, pure: a contribution's moving average per configuration
//! (class of hardware + threads + batch), the class aggregate computed from its contributions,
//! and the views served from them (suggestions, leaderboard, fleet hints). No I/O, no clock: the
//! store persists what this computes and passes `now_ms` in.
//!
//! Must never: take or return anything that identifies a rig (the only identity here is a
//! contribution key, a random telemetry id or [`LEGACY`]); let one contribution's many reports
//! outweigh others (each counts once per configuration); keep a snapshot that is not a
//! measurement.

use hashward_protocol::{normalise_cpu_model, FleetHints, TuningHint, TuningSnapshot};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// Aggregates (and the contributions behind them) expire this long after their last snapshot.
pub const RETENTION_MS: u64 = 90 * 24 * 3600 * 1000;
/// The one shared contribution key of id-less snapshots (schema-1 `Body::Perf`) from agents
/// older than the telemetry id: they can only expire, never be forgotten one by one. Not a valid
/// telemetry id, so `DELETE /telem/my-data` cannot name it.
pub const LEGACY: &str = "legacy";
/// Weight of a new snapshot in a contribution's moving average.
const EMA_ALPHA: f64 = 0.3;
/// Snapshots (of all contributions) after which a configuration is fully trusted.
const FULL_CONFIDENCE_SNAPSHOTS: f64 = 5.0;

/// SHA-256 of the normalised CPU model, lower-case hex (seed 004's `cpu_model_hash`).
pub fn cpu_model_hash(cpu_model: &str) -> String {
    hex::encode(Sha256::digest(normalise_cpu_model(cpu_model).as_bytes()))
}

/// One configuration of one class of hardware: what an aggregate is kept per.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ConfigKey {
    pub cpu_model_hash: String,
    pub logical_cores: u32,
    pub pow_algo: String,
    pub profile: String,
    pub threads: u32,
    pub batch_size: u32,
}

impl ConfigKey {
    /// The table key: the fields joined by the unit separator, which no field contains
    /// ([`check`] refuses it).
    pub fn table_key(&self) -> String {
        format!(
            "{}\u{1f}{}\u{1f}{}\u{1f}{}\u{1f}{}\u{1f}{}",
            self.cpu_model_hash,
            self.logical_cores,
            self.pow_algo,
            self.profile,
            self.threads,
            self.batch_size
        )
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SnapshotError {
    #[error("snapshot hashrate {0} H/s is not a measurement")]
    Hashrate(f64),
    #[error("snapshot has threads {0} / batch {1}; both must be at least 1")]
    Shape(u32, u32),
    #[error("snapshot has an empty cpu model, algorithm or profile")]
    Empty,
    #[error("snapshot field {0} is longer than 64 bytes or holds a control character")]
    Field(&'static str),
}

/// A snapshot that may be folded: its configuration and the normalised CPU model name.
#[derive(Debug, Clone, PartialEq)]
pub struct Checked {
    pub key: ConfigKey,
    pub cpu_model: String,
}

/// Checks a snapshot from outside the process and names what is wrong with it.
pub fn check(s: &TuningSnapshot) -> Result<Checked, SnapshotError> {
    if !s.avg_hashrate_hs.is_finite() || s.avg_hashrate_hs < 0.0 {
        return Err(SnapshotError::Hashrate(s.avg_hashrate_hs));
    }
    if s.threads == 0 || s.batch_size == 0 {
        return Err(SnapshotError::Shape(s.threads, s.batch_size));
    }
    let cpu_model = normalise_cpu_model(&s.cpu_model);
    if cpu_model.is_empty() || s.pow_algo.is_empty() || s.profile.is_empty() {
        return Err(SnapshotError::Empty);
    }
    for (name, v) in [
        ("cpu_model", &cpu_model),
        ("pow_algo", &s.pow_algo),
        ("profile", &s.profile),
    ] {
        if v.len() > 64 || v.chars().any(char::is_control) {
            return Err(SnapshotError::Field(name));
        }
    }
    Ok(Checked {
        key: ConfigKey {
            cpu_model_hash: cpu_model_hash(&cpu_model),
            logical_cores: s.logical_cores,
            pow_algo: s.pow_algo.clone(),
            profile: s.profile.clone(),
            threads: s.threads,
            batch_size: s.batch_size,
        },
        cpu_model,
    })
}

/// One contribution's partial figures for one configuration: what a forget or an expiry takes
/// out of the aggregate.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Contribution {
    pub ema_hashrate_hs: f64,
    pub best_hashrate_hs: f64,
    /// Snapshots folded in.
    pub snapshots: u64,
    /// The miner's samples behind them.
    pub sample_count: u64,
    pub last_ms: u64,
}

/// Folds one snapshot into a contribution (None: its first for this configuration).
pub fn fold(old: Option<Contribution>, s: &TuningSnapshot, now_ms: u64) -> Contribution {
    let mut c = old.unwrap_or_default();
    c.ema_hashrate_hs = if c.snapshots == 0 {
        s.avg_hashrate_hs
    } else {
        EMA_ALPHA * s.avg_hashrate_hs + (1.0 - EMA_ALPHA) * c.ema_hashrate_hs
    };
    c.best_hashrate_hs = c.best_hashrate_hs.max(s.avg_hashrate_hs);
    c.snapshots += 1;
    c.sample_count = c.sample_count.saturating_add(s.sample_count);
    c.last_ms = c.last_ms.max(now_ms);
    c
}

/// Whether a contribution is past retention at `now_ms`.
pub fn expired(c: &Contribution, now_ms: u64) -> bool {
    c.last_ms.saturating_add(RETENTION_MS) <= now_ms
}

/// Seed 004's `cpu_performance_aggregates` row (with the normalised model name beside its hash,
/// so fleet hints can name it), computed from the configuration's contributions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfigAggregate {
    #[serde(flatten)]
    pub key: ConfigKey,
    pub cpu_model: String,
    /// Mean of the contributions' moving averages.
    pub avg_hashrate_hs: f64,
    pub best_hashrate_hs: f64,
    pub sample_count: u64,
    pub snapshots: u64,
    pub contributions: u32,
    /// In [0, 1]: grows with the contributions and snapshots that agree.
    pub confidence: f32,
    pub last_update_ms: u64,
}

/// The aggregate of a configuration's contributions; None when none is left.
pub fn aggregate(
    key: &ConfigKey,
    cpu_model: &str,
    contributions: &[Contribution],
) -> Option<ConfigAggregate> {
    if contributions.is_empty() {
        return None;
    }
    let n = contributions.len() as f64;
    let snapshots: u64 = contributions.iter().map(|c| c.snapshots).sum();
    // More contributions agreeing and more snapshots both make it surer; one alone is a coin flip.
    let confidence = (n / (n + 1.0)) * (snapshots as f64 / FULL_CONFIDENCE_SNAPSHOTS).min(1.0);
    Some(ConfigAggregate {
        key: key.clone(),
        cpu_model: cpu_model.to_string(),
        avg_hashrate_hs: contributions.iter().map(|c| c.ema_hashrate_hs).sum::<f64>() / n,
        best_hashrate_hs: contributions
            .iter()
            .map(|c| c.best_hashrate_hs)
            .fold(0.0, f64::max),
        sample_count: contributions.iter().map(|c| c.sample_count).sum(),
        snapshots,
        contributions: contributions.len() as u32,
        confidence: confidence as f32,
        last_update_ms: contributions.iter().map(|c| c.last_ms).max().unwrap_or(0),
    })
}

/// `GET /telem/suggestions` filters: the CPU model (normalised and hashed here) and, when
/// given, cores, algorithm and profile.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SuggestionQuery {
    pub cpu_model: String,
    pub cores: Option<u32>,
    pub pow_algo: Option<String>,
    pub profile: Option<String>,
}

/// Seed 004's `TelemSuggestion`, with the hashrate's unit also in a field name.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TelemSuggestion {
    pub threads: u32,
    pub batch_size: u32,
    /// H/s (the seed's name).
    pub expected_hashrate: f64,
    pub confidence: f32,
    /// The same figure as `expected_hashrate`.
    pub expected_hashrate_hs: f64,
    pub best_hashrate_hs: f64,
    pub logical_cores: u32,
    pub pow_algo: String,
    pub profile: String,
    pub contributions: u32,
    pub sample_count: u64,
}

/// The configurations matching `q`, best expected hashrate first.
pub fn suggestions(aggs: &[ConfigAggregate], q: &SuggestionQuery) -> Vec<TelemSuggestion> {
    let hash = cpu_model_hash(&q.cpu_model);
    let mut out: Vec<TelemSuggestion> = aggs
        .iter()
        .filter(|a| a.key.cpu_model_hash == hash)
        .filter(|a| q.cores.is_none_or(|c| a.key.logical_cores == c))
        .filter(|a| q.pow_algo.as_deref().is_none_or(|p| a.key.pow_algo == p))
        .filter(|a| q.profile.as_deref().is_none_or(|p| a.key.profile == p))
        .map(|a| TelemSuggestion {
            threads: a.key.threads,
            batch_size: a.key.batch_size,
            expected_hashrate: a.avg_hashrate_hs,
            confidence: a.confidence,
            expected_hashrate_hs: a.avg_hashrate_hs,
            best_hashrate_hs: a.best_hashrate_hs,
            logical_cores: a.key.logical_cores,
            pow_algo: a.key.pow_algo.clone(),
            profile: a.key.profile.clone(),
            contributions: a.contributions,
            sample_count: a.sample_count,
        })
        .collect();
    out.sort_by(|a, b| b.expected_hashrate.total_cmp(&a.expected_hashrate));
    out
}

/// One CPU model and algorithm's best configurations (hashrates of different algorithms do not
/// compare).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LeaderboardEntry {
    pub cpu_model_hash: String,
    pub cpu_model: String,
    pub pow_algo: String,
    pub top: Vec<ConfigAggregate>,
}

/// The top `per_model` configurations per CPU model and algorithm, by expected hashrate.
pub fn leaderboard(aggs: &[ConfigAggregate], per_model: usize) -> Vec<LeaderboardEntry> {
    let mut groups: BTreeMap<(String, String), Vec<&ConfigAggregate>> = BTreeMap::new();
    for a in aggs {
        groups
            .entry((a.cpu_model.clone(), a.key.pow_algo.clone()))
            .or_default()
            .push(a);
    }
    groups
        .into_iter()
        .map(|((cpu_model, pow_algo), mut v)| {
            v.sort_by(|a, b| b.avg_hashrate_hs.total_cmp(&a.avg_hashrate_hs));
            LeaderboardEntry {
                cpu_model_hash: v
                    .first()
                    .map(|a| a.key.cpu_model_hash.clone())
                    .unwrap_or_default(),
                cpu_model,
                pow_algo,
                top: v.into_iter().take(per_model).cloned().collect(),
            }
        })
        .collect()
}

/// The fleet hints the agents start from: per class (model, cores, algorithm, profile) its best
/// configuration; `rigs` counts contributions.
pub fn fleet_hints(aggs: &[ConfigAggregate], now_ms: u64) -> FleetHints {
    let mut best: BTreeMap<(String, u32, String, String), &ConfigAggregate> = BTreeMap::new();
    for a in aggs {
        let class = (
            a.key.cpu_model_hash.clone(),
            a.key.logical_cores,
            a.key.pow_algo.clone(),
            a.key.profile.clone(),
        );
        match best.get(&class) {
            Some(b) if b.avg_hashrate_hs >= a.avg_hashrate_hs => {}
            _ => {
                best.insert(class, a);
            }
        }
    }
    FleetHints {
        generated_ms: now_ms,
        hints: best
            .into_values()
            .map(|a| TuningHint {
                cpu_model: a.cpu_model.clone(),
                logical_cores: a.key.logical_cores,
                pow_algo: a.key.pow_algo.clone(),
                profile: a.key.profile.clone(),
                threads: a.key.threads,
                batch_size: a.key.batch_size,
                expected_hashrate_hs: a.avg_hashrate_hs,
                confidence: a.confidence.max(f32::MIN_POSITIVE),
                rigs: a.contributions,
            })
            .collect(),
    }
}
