//! The Sentinel's loop: every `[sentinel] interval_s` (default [`POLL`]), each pool whose stored state is newer than the last one
//! assessed is one pool update; the update is built from the pool's workers joined to the rigs
//! and ASICs mining for them (`domain::pool_join`), the rig registry and the active alerts,
//! scored, kept as the pool's latest finding (for `/api/v1/sentinel/*`), and an anomaly of
//! medium severity or above is raised through the [`AlertSink`] like the agents' alerts (source
//! `sentinel`, kind = the threat type), so `/alerts`, the receivers and the dashboards show it.
//!
//! Must never act on a fleet: a critical finding only alerts (see `detect::pool_switch_hold`).
//! A pool that cannot be assessed is logged and counted, never given a made-up score.

use super::detect::{self, Detection, ThreatType, SOURCE};
use super::features::{
    features, Culprits, MinerObs, PoolMemory, PoolUpdate, ShareCounts, SiteAlerting, WorkerObs, POOL_FEATURES,
};
use super::model::SentinelModel;
use crate::alerts::{Alert, AlertEvent, AlertSink, Subject};
use crate::collect::prohashing::state::PoolState;
use crate::domain::pool_join::{self, MinerSide};
use crate::domain::rig::RigEntry;
use crate::store::{RigsRead, Store, StoreError};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::watch;

/// How often the store is looked at for new pool states (the simulated training episodes have
/// an update every 5 minutes; Prohashing's HTTP fallback polls every 5-15).
pub const POLL: Duration = Duration::from_secs(300);
/// The shortest and longest `[sentinel] interval_s` (a test runs it every second; longer than a
/// day would leave pool updates unassessed past the feeds' own retention).
pub const MIN_INTERVAL_S: f64 = 1.0;
pub const MAX_INTERVAL_S: f64 = 86_400.0;

/// `[sentinel]` as the service uses it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SentinelOptions {
    /// How often the store is looked at for new pool states.
    pub interval: Duration,
}

impl Default for SentinelOptions {
    fn default() -> SentinelOptions {
        SentinelOptions { interval: POLL }
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SentinelConfigError {
    #[error("[sentinel] interval_s must be a number of seconds within {MIN_INTERVAL_S}..={MAX_INTERVAL_S}, not {0}")]
    Interval(f64),
}

impl SentinelOptions {
    /// The options of a `[sentinel]` section (defaults without one); a value that cannot work
    /// is an error naming its key.
    pub fn from_section(
        s: Option<&crate::config::SentinelSection>,
    ) -> Result<SentinelOptions, SentinelConfigError> {
        let Some(secs) = s.and_then(|s| s.interval_s) else {
            return Ok(SentinelOptions::default());
        };
        if !(secs.is_finite() && (MIN_INTERVAL_S..=MAX_INTERVAL_S).contains(&secs)) {
            return Err(SentinelConfigError::Interval(secs));
        }
        Ok(SentinelOptions {
            interval: Duration::from_secs_f64(secs),
        })
    }
}

/// A miner reading older than this is not joined (the rig stopped reporting: its last reading
/// would look like full speed the pool does not see).
pub const MINER_FRESH_MS: u64 = 10 * 60 * 1000;
/// A Sentinel alert resolves itself when not raised again for this long (two quiet updates).
pub const AUTO_RESOLVE_MS: u64 = 2 * 300_000 + 60_000;

/// One assessed pool update.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    pub pool: String,
    pub at_ms: u64,
    pub model_version: String,
    /// Feature name -> value, as the model saw them.
    pub features: BTreeMap<&'static str, f32>,
    #[serde(flatten)]
    pub detection: Detection,
    pub culprits: Culprits,
}

/// What the service and the API share: the model (or why there is none) and each pool's latest
/// finding.
#[derive(Debug)]
pub struct Shared {
    pub model: Result<Arc<SentinelModel>, String>,
    pub latest: RwLock<BTreeMap<String, Finding>>,
    pub assessed: AtomicU64,
    pub failed: AtomicU64,
    pub alerts_raised: AtomicU64,
    /// `POST /api/v1/sentinel/detect` requests refused as malformed.
    pub bad_requests: AtomicU64,
}

impl Shared {
    pub fn new(model: Result<Arc<SentinelModel>, String>) -> Shared {
        Shared {
            model,
            latest: RwLock::new(BTreeMap::new()),
            assessed: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            alerts_raised: AtomicU64::new(0),
            bad_requests: AtomicU64::new(0),
        }
    }

    /// The counters as Prometheus text (a section of `/metrics`).
    pub fn render_metrics(&self, out: &mut String) {
        use std::fmt::Write;
        for (name, help, v) in [
            ("assessed", "pool updates the Sentinel assessed", &self.assessed),
            (
                "failed",
                "pool updates the Sentinel could not assess",
                &self.failed,
            ),
            ("alerts", "alerts the Sentinel raised", &self.alerts_raised),
            (
                "bad_requests",
                "malformed POST /api/v1/sentinel/detect requests",
                &self.bad_requests,
            ),
        ] {
            let _ = writeln!(
                out,
                "# HELP hashward_hub_sentinel_{name}_total {help}\n# TYPE hashward_hub_sentinel_{name}_total counter\nhashward_hub_sentinel_{name}_total {}",
                v.load(Ordering::Relaxed)
            );
        }
    }
}

/// The per-pool memory of the assessments.
#[derive(Debug)]
pub struct Sentinel {
    model: Arc<SentinelModel>,
    memory: BTreeMap<String, PoolMemory>,
    seen_ms: BTreeMap<String, u64>,
}

impl Sentinel {
    pub fn new(model: Arc<SentinelModel>) -> Sentinel {
        Sentinel {
            model,
            memory: BTreeMap::new(),
            seen_ms: BTreeMap::new(),
        }
    }

    /// Scores one pool update (pure but for the model).
    pub fn assess(&mut self, u: &PoolUpdate) -> Result<Finding, String> {
        let mem = self.memory.entry(u.pool.clone()).or_default();
        let f = features(mem, u);
        let out = self.model.run(&f.values)?;
        Ok(Finding {
            pool: u.pool.clone(),
            at_ms: u.at_ms,
            model_version: self.model.version.clone(),
            features: POOL_FEATURES.iter().copied().zip(f.values).collect(),
            detection: detect::decide(&out),
            culprits: f.culprits,
        })
    }

    /// Assesses every pool whose stored state is newer than the last one assessed.
    pub fn step(&mut self, store: &Store, now_ms: u64) -> Result<Vec<Result<Finding, String>>, StoreError> {
        let states = store.pool_states()?;
        let fresh: Vec<_> = states
            .into_iter()
            .filter(|(pool, at, _)| self.seen_ms.get(pool).is_none_or(|seen| at > seen))
            .collect();
        if fresh.is_empty() {
            return Ok(vec![]);
        }
        let rigs = store.rigs()?;
        let miners = crate::api::pools::miner_sides(store, now_ms)?;
        let alerts = store.alert_state()?.alerts;
        let mut out = Vec::new();
        for (pool, at, state) in fresh {
            self.seen_ms.insert(pool.clone(), at);
            let u = build_update(&pool, at, &state, &miners, &rigs, &alerts, now_ms);
            out.push(self.assess(&u).map_err(|e| format!("pool {pool}: {e}")));
        }
        Ok(out)
    }
}

/// The pool update of a stored pool state: its workers joined to the miners that report now,
/// and the alerting of those miners' sites. Pure.
pub fn build_update(
    pool: &str,
    at_ms: u64,
    state: &PoolState,
    miners: &[MinerSide],
    rigs: &[RigEntry],
    alerts: &[Alert],
    now_ms: u64,
) -> PoolUpdate {
    let site_of: BTreeMap<&str, &RigEntry> = rigs.iter().map(|r| (r.rig.as_str(), r)).collect();
    let live: Vec<MinerSide> = miners
        .iter()
        .filter(|m| {
            now_ms.saturating_sub(m.sample_ms) <= MINER_FRESH_MS
                && site_of.get(m.rig.as_str()).is_some_and(|r| r.online)
        })
        .cloned()
        .collect();
    let joined = pool_join::join(&state.performance(now_ms), &live);
    let mut sites = BTreeSet::new();
    let workers = joined
        .into_iter()
        .map(|j| {
            let miner = j.rig.as_ref().and_then(|rig| {
                // (rig, asic) names one miner: one CPU miner per rig, ASIC ids unique per rig.
                let m = live.iter().find(|m| &m.rig == rig && m.asic == j.asic)?;
                let site = site_of.get(rig.as_str())?.site.as_str().to_string();
                sites.insert(site.clone());
                Some(MinerObs {
                    rig: rig.clone(),
                    site,
                    asic: m.asic.clone(),
                    reported_hs: m.reported_hs,
                    counts: ShareCounts {
                        accepted: m.accepted,
                        invalid: m.rejected,
                        stale: m.stale,
                    },
                })
            });
            let s = &j.pool.shares;
            WorkerObs {
                worker_id: j.pool.worker_id.clone(),
                pool_hs: j.pool.hashrate.effective,
                pool_counts: (s.rejected + s.invalid + s.stale > 0).then_some(ShareCounts {
                    accepted: s.accepted,
                    invalid: s.rejected + s.invalid,
                    stale: s.stale,
                }),
                miner,
            }
        })
        .collect();
    PoolUpdate {
        pool: pool.to_string(),
        at_ms,
        workers,
        // The pool feeds the hub has report balances, not payouts: nothing to compare.
        payout: None,
        sites: site_alerting(&sites, rigs, alerts),
    }
}

/// For each site: its online rigs and how many of them have an active alert not the Sentinel's.
pub fn site_alerting(sites: &BTreeSet<String>, rigs: &[RigEntry], alerts: &[Alert]) -> Vec<SiteAlerting> {
    sites
        .iter()
        .map(|site| {
            let members: BTreeSet<&str> = rigs
                .iter()
                .filter(|r| r.online && r.site.as_str() == site)
                .map(|r| r.rig.as_str())
                .collect();
            let alerting: BTreeSet<&str> = alerts
                .iter()
                .filter(|a| a.source != SOURCE && a.state.is_active())
                .filter(|a| a.subject.site.as_deref() == Some(site.as_str()))
                .filter_map(|a| a.subject.rig.as_deref())
                .filter(|r| members.contains(r))
                .collect();
            SiteAlerting {
                site: site.clone(),
                rigs: members.len(),
                alerting: alerting.len(),
            }
        })
        .collect()
}

/// The alert a finding raises (an anomaly of medium severity or above), else None. Pure.
pub fn alert_event(f: &Finding) -> Option<AlertEvent> {
    let d = &f.detection;
    let level = d.severity.level().filter(|_| d.alerts())?;
    let threat = d.threat_type.unwrap_or(ThreatType::Unknown);
    let mut subject = Subject {
        pool: Some(f.pool.clone()),
        ..Subject::default()
    };
    let c = &f.culprits;
    let detail = match threat {
        ThreatType::HashrateHijacking => {
            let names: Vec<String> = c
                .low_workers
                .iter()
                .map(|(w, rig, r)| format!("{w} (rig {rig}: pool sees {:.0} %)", r * 100.0))
                .collect();
            format!(
                "pool sees {:.0} % of what our miners report; workers far below: {}",
                f.features.get("hashrate_ratio").copied().unwrap_or(1.0) * 100.0,
                if names.is_empty() {
                    "none named".into()
                } else {
                    names.join(", ")
                }
            )
        }
        ThreatType::ShareManipulation => format!(
            "invalid shares {:.1} % across the pool, {} worker(s) surging together: {}",
            f.features.get("invalid_rate").copied().unwrap_or(0.0) * 100.0,
            c.surging_workers.len(),
            c.surging_workers.join(", ")
        ),
        ThreatType::SuspiciousPayout => format!(
            "payout {:.0} % of what the accepted work implies",
            f.features.get("payout_ratio").copied().unwrap_or(1.0) * 100.0
        ),
        ThreatType::DdosAttack | ThreatType::Unknown => match &c.site {
            Some(s) if s.alerting * 2 > s.rigs => {
                subject.site = Some(s.site.clone());
                format!(
                    "site-wide: {} of {} rigs of site {} alerting together (a site problem, not a rig problem)",
                    s.alerting, s.rigs, s.site
                )
            }
            _ => "pool-level figures unlike any quiet fleet; no known threat pattern".into(),
        },
    };
    Some(AlertEvent {
        kind: threat.as_str().to_string(),
        level,
        source: SOURCE.into(),
        subject,
        message: format!(
            "{}: {detail} (score {:.2}, {}; action {}{})",
            threat.as_str(),
            d.ensemble_score,
            f.model_version,
            d.recommended_action.action,
            if d.recommended_action.hold_pool_switch {
                ", pool switches held"
            } else {
                ""
            }
        ),
        hold_ms: 0,
        auto_resolve_ms: AUTO_RESOLVE_MS,
    })
}

/// Records a finding: the pool's latest, counted, and its alert raised.
pub fn publish(shared: &Shared, sink: Option<&AlertSink>, f: Finding) {
    shared.assessed.fetch_add(1, Ordering::Relaxed);
    if f.detection.is_anomaly {
        log::info!(
            "sentinel: pool {} anomaly {} severity {:?} score {:.3}",
            f.pool,
            f.detection.threat_type.map_or("none", ThreatType::as_str),
            f.detection.severity,
            f.detection.ensemble_score
        );
    }
    if let Some(ev) = alert_event(&f) {
        shared.alerts_raised.fetch_add(1, Ordering::Relaxed);
        if let Some(sink) = sink {
            sink.raise(ev);
        }
    }
    let mut latest = shared.latest.write().unwrap_or_else(|p| p.into_inner());
    latest.insert(f.pool.clone(), f);
}

/// The loop `serve` runs when the model loaded.
pub async fn run(
    model: Arc<SentinelModel>,
    store: Arc<Store>,
    shared: Arc<Shared>,
    sink: AlertSink,
    interval: Duration,
    mut stop: watch::Receiver<bool>,
) -> Result<(), String> {
    let mut sentinel = Sentinel::new(model);
    loop {
        let st = store.clone();
        let now = hashward_common::clock::now_ms();
        let (back, results) = tokio::task::spawn_blocking(move || {
            let r = sentinel.step(&st, now);
            (sentinel, r)
        })
        .await
        .map_err(|e| format!("sentinel task: {e}"))?;
        sentinel = back;
        match results {
            Ok(list) => {
                for r in list {
                    match r {
                        Ok(f) => publish(&shared, Some(&sink), f),
                        Err(e) => {
                            shared.failed.fetch_add(1, Ordering::Relaxed);
                            log::error!("sentinel: {e}");
                        }
                    }
                }
            }
            Err(e) => {
                shared.failed.fetch_add(1, Ordering::Relaxed);
                log::error!("sentinel: store: {e}");
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = stop.wait_for(|s| *s) => return Ok(()),
        }
    }
}
