//! The daily score batch for one processing date: gathers the agents' alerts of that UTC day
//! from the store with their context, scores them with `alert_scorer`, ranks them, groups them
//! into clusters scored by `cluster_scorer`, and replaces the date's batch in one transaction.
//! Each configured network gets its own batch (seed 003 `batch_metadata`).
//!
//! Must never leave a run RUNNING when it returns: an error is recorded as FAILED (and the
//! previous COMPLETED batch of the date stays served).

use super::cluster::{cluster_features, clusters, rank, CLUSTER_FEATURES};
use super::date::ProcessingDate;
use super::features::{alert_features, AlertInput, RigHistory, ALERT_FEATURES, HISTORY_DAYS};
use super::model::{Scorer, ScorerError};
use super::network::{network_of, pool_host};
use crate::store::scores::{BatchMeta, BatchRows, BatchStatus, ScoredAlert};
use crate::store::{Store, StoreError, StoreRead};
use hashward_protocol::Body;
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::Instant;

/// At most this many alerts of one rig in one day are scored (the rest are logged as dropped):
/// a rig raising more is broken in a way the batch cannot rank usefully.
pub const MAX_ALERTS_PER_RIG_DAY: usize = 50_000;
/// ASIC samples of one rig read per day to learn each ASIC's model and pool.
const MAX_ASIC_SAMPLES_PER_RIG_DAY: usize = 200_000;

#[derive(Debug, Clone)]
pub struct BatchSettings {
    pub models_dir: PathBuf,
    /// The networks served; the first is the default for alerts whose chain nothing names.
    pub networks: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("model: {0}")]
    Model(#[from] ScorerError),
    #[error("scoring {what}: {why}")]
    Score { what: String, why: String },
}

fn enum_str<T: serde::Serialize>(t: &T) -> String {
    serde_json::to_value(t)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// What an ASIC last said about itself on the day.
struct AsicInfo {
    model: Option<String>,
    pool: Option<String>,
}

/// Every alert of `date`, with its context, its network set (alerts of a chain the hub does not
/// serve are left out and logged).
pub fn gather(
    store: &dyn StoreRead,
    date: ProcessingDate,
    networks: &[String],
) -> Result<Vec<AlertInput>, StoreError> {
    let (start, end) = date.bounds_ms();
    let default = networks.first().map(String::as_str).unwrap_or("bitcoin");
    let single = networks.len() == 1;
    let mut out = Vec::new();
    let mut foreign: BTreeMap<&'static str, usize> = BTreeMap::new();
    for entry in store.rigs()? {
        let rig = entry.rig.as_str();
        let alerts = store.records_of_kind(rig, "alert", start, end - 1, MAX_ALERTS_PER_RIG_DAY)?;
        if alerts.is_empty() {
            continue;
        }
        if alerts.len() == MAX_ALERTS_PER_RIG_DAY {
            log::warn!("rig {rig}: over {MAX_ALERTS_PER_RIG_DAY} alerts on {date}; the rest are not scored");
        }
        let mut asics: HashMap<String, AsicInfo> = HashMap::new();
        if alerts
            .iter()
            .any(|r| matches!(&r.body, Body::Alert(a) if a.subject != "rig"))
        {
            for r in store.records_of_kind(rig, "asic", start, end - 1, MAX_ASIC_SAMPLES_PER_RIG_DAY)? {
                if let Body::Asic(t) = r.body {
                    asics.insert(
                        t.miner_id.clone(),
                        AsicInfo {
                            model: t.model.clone(),
                            pool: t.pool.as_ref().and_then(|p| pool_host(&p.url)),
                        },
                    );
                }
            }
        }
        let miner = entry.last_telemetry.as_ref().and_then(|t| t.miner.as_ref());
        let rig_pool = miner
            .and_then(|m| m.pool.as_ref())
            .and_then(|p| pool_host(&p.url));
        let last_push_ms = entry
            .config
            .values()
            .filter(|a| a.applied.is_some())
            .map(|a| a.last_ack_ms)
            .max();
        for r in alerts {
            let Body::Alert(a) = r.body else { continue };
            let (class, pool, network) = if a.subject == "rig" {
                let class = entry
                    .hardware
                    .as_ref()
                    .map_or("unknown".to_string(), |h| format!("cpu:{}", h.cpu_model));
                let net = network_of(miner.map(|m| m.algo.as_str()), rig_pool.as_deref(), None);
                (class, rig_pool.clone(), net)
            } else {
                let info = asics.get(&a.subject);
                let model = info.and_then(|i| i.model.clone());
                let pool = info.and_then(|i| i.pool.clone());
                let net = network_of(None, pool.as_deref(), model.as_deref());
                let class = model.map_or("unknown".to_string(), |m| format!("asic:{m}"));
                (class, pool, net)
            };
            let network = match network {
                _ if single => default.to_string(),
                None => default.to_string(),
                Some(n) if networks.iter().any(|x| x == n) => n.to_string(),
                Some(n) => {
                    *foreign.entry(n).or_default() += 1;
                    continue;
                }
            };
            out.push(AlertInput {
                alert_id: format!("{}/{rig}/{}", entry.site.as_str(), r.seq),
                site: entry.site.as_str().to_string(),
                rig: rig.to_string(),
                subject: a.subject,
                ts_ms: r.ts_ms,
                agent_score: a.score,
                severity: a.severity,
                threat: a.threat_type,
                hardware_class: class,
                pool,
                network,
                last_push_ms,
            });
        }
    }
    for (n, count) in foreign {
        log::warn!("{count} alert(s) of {date} are on {n}, a network this hub does not serve; not scored");
    }
    Ok(out)
}

/// Scores one network's alerts of the day into the batch's rows and the counts of its metadata.
pub fn score_alerts(
    alerts: &[AlertInput],
    history: &HashMap<String, RigHistory>,
    alert_scorer: &Scorer,
    cluster_scorer: &Scorer,
) -> Result<(BatchRows, f64, f64), BatchError> {
    let features = alert_features(alerts, history);
    let mut scores = Vec::with_capacity(alerts.len());
    let mut rows = BatchRows::default();
    let mut alert_latency = 0.0;
    for (a, f) in alerts.iter().zip(&features) {
        let s = alert_scorer.score(f).map_err(|why| BatchError::Score {
            what: a.alert_id.clone(),
            why,
        })?;
        alert_latency += s.latency_ms;
        scores.push(s.score);
        rows.alert_scores
            .push((a.alert_id.clone(), f64::from(s.score), s.latency_ms));
    }
    let order = rank(alerts, &scores);
    let mut ranks = vec![0u32; alerts.len()];
    for (r, &i) in order.iter().enumerate() {
        let r = r as u32 + 1;
        ranks[i] = r;
        rows.rankings
            .push((r, alerts[i].alert_id.clone(), f64::from(scores[i])));
    }
    let mut cluster_latency = 0.0;
    for c in clusters(alerts) {
        let f = cluster_features(&c, alerts, &scores);
        let s = cluster_scorer.score(&f).map_err(|why| BatchError::Score {
            what: c.cluster_id.clone(),
            why,
        })?;
        cluster_latency += s.latency_ms;
        rows.cluster_scores
            .push((c.cluster_id, f64::from(s.score), s.latency_ms));
    }
    rows.details = alerts
        .iter()
        .zip(features)
        .enumerate()
        .map(|(i, (a, f))| ScoredAlert {
            alert_id: a.alert_id.clone(),
            site: a.site.clone(),
            rig: a.rig.clone(),
            subject: a.subject.clone(),
            ts_ms: a.ts_ms,
            threat_type: enum_str(&a.threat),
            severity: enum_str(&a.severity),
            agent_score: a.agent_score,
            hardware_class: a.hardware_class.clone(),
            pool: a.pool.clone(),
            features: f.to_vec(),
            score: scores[i],
            rank: ranks[i],
        })
        .collect();
    Ok((rows, alert_latency, cluster_latency))
}

/// Runs (or re-runs) the batch of `date` for every configured network; returns each network's
/// final metadata (COMPLETED or FAILED). Errors only when even FAILED cannot be recorded.
/// The day's alerts are read from `fleet` (the fleet store: this redb or PostgreSQL); the
/// batches are written to `store`.
pub fn run(
    store: &Store,
    fleet: &dyn StoreRead,
    settings: &BatchSettings,
    date: ProcessingDate,
    now_ms: &dyn Fn() -> u64,
) -> Result<Vec<BatchMeta>, StoreError> {
    let (window_start_ms, window_end_ms) = date.bounds_ms();
    let mut done = Vec::new();
    // Gathered once: the networks split one read of the day's alerts.
    let gathered = gather(fleet, date, &settings.networks);
    for network in &settings.networks {
        let started = Instant::now();
        let created_ms = now_ms();
        let mut meta = BatchMeta {
            network: network.clone(),
            processing_date: date.to_string(),
            status: BatchStatus::Running,
            input_counts_alerts: 0,
            output_counts_alert_scores: 0,
            output_counts_alert_rankings: 0,
            output_counts_cluster_scores: 0,
            latencies_ms_total: 0,
            alert_latency_ms_total: 0.0,
            cluster_latency_ms_total: 0.0,
            model_versions_alert_scorer: String::new(),
            model_versions_alert_ranker: String::new(),
            model_versions_cluster_scorer: String::new(),
            window_start_ms,
            window_end_ms,
            created_ms,
            updated_ms: created_ms,
            error: None,
        };
        store.record_score_run(&meta, date)?;
        let outcome = (|| -> Result<BatchRows, BatchError> {
            let alerts: Vec<AlertInput> = match &gathered {
                Ok(all) => all.iter().filter(|a| &a.network == network).cloned().collect(),
                Err(e) => {
                    return Err(BatchError::Score {
                        what: "the day's alerts".into(),
                        why: e.to_string(),
                    })
                }
            };
            meta.input_counts_alerts = alerts.len() as u32;
            let alert_scorer = Scorer::load(&settings.models_dir, "alert_scorer", &ALERT_FEATURES)?;
            let cluster_scorer = Scorer::load(&settings.models_dir, "cluster_scorer", &CLUSTER_FEATURES)?;
            meta.model_versions_alert_scorer = alert_scorer.version.clone();
            // The ranking is the scorer's order (see cluster.rs): its version is the scorer's.
            meta.model_versions_alert_ranker = alert_scorer.version.clone();
            meta.model_versions_cluster_scorer = cluster_scorer.version.clone();
            let history: HashMap<String, RigHistory> = store
                .rig_score_history(network, date.minus_days(HISTORY_DAYS), date.minus_days(1))?
                .into_iter()
                .map(|(rig, (alerts, score_sum))| (rig, RigHistory { alerts, score_sum }))
                .collect();
            let (rows, al, cl) = score_alerts(&alerts, &history, &alert_scorer, &cluster_scorer)?;
            meta.alert_latency_ms_total = al;
            meta.cluster_latency_ms_total = cl;
            Ok(rows)
        })();
        meta.updated_ms = now_ms();
        meta.latencies_ms_total = started.elapsed().as_millis() as u64;
        match outcome {
            Ok(rows) => {
                meta.status = BatchStatus::Completed;
                meta.output_counts_alert_scores = rows.alert_scores.len() as u32;
                meta.output_counts_alert_rankings = rows.rankings.len() as u32;
                meta.output_counts_cluster_scores = rows.cluster_scores.len() as u32;
                if let Err(e) = store.replace_score_batch(&meta, date, &rows) {
                    meta.status = BatchStatus::Failed;
                    meta.error = Some(format!("writing the batch: {e}"));
                    store.record_score_run(&meta, date)?;
                }
            }
            Err(e) => {
                log::error!("score batch {network}/{date} failed: {e}");
                meta.status = BatchStatus::Failed;
                meta.error = Some(e.to_string());
                store.record_score_run(&meta, date)?;
            }
        }
        log::info!(
            "score batch {network}/{date}: {:?}, {} alerts, {} clusters, {} ms",
            meta.status,
            meta.output_counts_alert_scores,
            meta.output_counts_cluster_scores,
            meta.latencies_ms_total
        );
        done.push(meta);
    }
    Ok(done)
}
