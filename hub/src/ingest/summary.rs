//! Retained JSON summaries for MQTT dashboards: one per rig on
//! `hashward/json/{site}/{rig}/summary` and one for the fleet on `hashward/json/fleet/summary`;
//! and the fleet tuning hints, retained on `fleet/hints` for agents (postcard) and on
//! `hashward/json/fleet/hints` for dashboards, republished whenever they change.
//!
//! At fleet scale (issue 20) a rig's summary is not republished every tick: only when its status
//! changes (online, site, gaps, worst anomaly, latest alert, CPU model), else when it is older
//! than [`REFRESH_AFTER`], and at most [`MAX_PER_TICK`] per tick, changes first, the oldest
//! refreshes next. They go at QoS 0 (retained): a lost one is replaced by the next, and QoS 1
//! ones held the MQTT client's in-flight window and request queue that the ingest's
//! acknowledgements share. A summary the client's queue refuses is counted
//! (`hashward_hub_summaries_dropped_total`) and tried again next tick.
//! With several hubs on NATS only the elected one publishes (`crate::elect`).
//!
//! Must never block the ingest: publishing uses `try_publish` only.

use crate::domain::rig::RigEntry;
use crate::metrics::Metrics;
use crate::store::StoreRead;
use hashward_protocol::topic::{json_fleet_summary, json_rig_summary, JSON_PREFIX};
use hashward_protocol::Topic;
use rumqttc::{AsyncClient, QoS};
use serde_json::json;
use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

pub fn rig_summary(e: &RigEntry) -> serde_json::Value {
    let t = e.last_telemetry.as_ref();
    // The worst subject (the rig or one of its ASICs) is what a dashboard tile shows.
    let worst = e.anomaly.values().max_by(|a, b| a.score.total_cmp(&b.score));
    json!({
        "rig": e.rig,
        "site": e.site,
        "online": e.online,
        "last_seen_ms": e.last_seen_ms,
        "cpu_model": e.hardware.as_ref().map(|h| h.cpu_model.clone()),
        "cpu_usage_pct": t.map(|t| t.cpu_usage_pct),
        "load_1m": t.map(|t| t.load_1m),
        "memory_used_bytes": t.map(|t| t.memory_used_bytes),
        "max_temp_c": t.and_then(|t| t.temperatures.iter().map(|r| r.celsius.0).reduce(f32::max)),
        "hashrate_hs": t.and_then(|t| t.miner.as_ref()).map(|m| m.hashrate_60s.0),
        "spool_records": t.map(|t| t.agent.spool_records),
        "records": e.seq.received,
        "missing": e.missing,
        "anomaly_score": worst.map(|w| w.score),
        "anomaly_subject": worst.map(|w| w.subject.clone()),
        "anomaly_threat": worst.map(|w| w.threat_type),
        "anomaly_severity": worst.map(|w| w.severity),
        "last_alert": e.last_alert.as_ref().map(|a| json!({
            "ts_ms": e.last_alert_ms,
            "subject": a.subject,
            "threat_type": a.threat_type,
            "severity": a.severity,
            "message": a.message,
        })),
    })
}

pub fn fleet_summary(rigs: &[RigEntry]) -> serde_json::Value {
    let hashrate: f64 = rigs
        .iter()
        .filter_map(|e| {
            e.last_telemetry
                .as_ref()?
                .miner
                .as_ref()
                .map(|m| m.hashrate_60s.0)
        })
        .sum();
    json!({
        "rigs": rigs.len(),
        "online": rigs.iter().filter(|e| e.online).count(),
        "hashrate_hs": hashrate,
        "missing": rigs.iter().map(|e| e.missing).sum::<u64>(),
    })
}

/// A rig's summary is republished at least this often while nothing in its status changes.
pub const REFRESH_AFTER: Duration = Duration::from_secs(60);
/// Rig summaries published per tick at most (the ingest client's request queue holds 1024;
/// QoS 0 publishes leave it as fast as the socket takes them).
pub const MAX_PER_TICK: usize = 2000;

/// What a dashboard must see at once: a change here republishes the rig's summary.
pub fn status_key(e: &RigEntry) -> u64 {
    let mut h = DefaultHasher::new();
    e.site.as_str().hash(&mut h);
    e.online.hash(&mut h);
    e.missing.hash(&mut h);
    e.hardware.as_ref().map(|hw| hw.cpu_model.as_str()).hash(&mut h);
    for (subject, s) in &e.anomaly {
        subject.hash(&mut h);
        // The severity, not the score: a score moving inside its band is a refresh, not news.
        format!("{:?}/{:?}", s.severity, s.threat_type).hash(&mut h);
    }
    e.last_alert_ms.hash(&mut h);
    h.finish()
}

/// Which rig summaries to publish on a tick (pure: rig name, status key and time in, choice
/// out). Remembers what was published and when.
#[derive(Debug, Default)]
pub struct Planner {
    published: HashMap<String, (u64, u64)>,
}

impl Planner {
    /// Indexes into `rigs` (name, status key) to publish at `now_ms`, at most `budget`: those
    /// never published or whose status changed, then the oldest older than `refresh_ms`.
    pub fn plan(&self, rigs: &[(&str, u64)], now_ms: u64, refresh_ms: u64, budget: usize) -> Vec<usize> {
        let mut changed = Vec::new();
        let mut stale = Vec::new();
        for (i, (rig, key)) in rigs.iter().enumerate() {
            match self.published.get(*rig) {
                Some((k, _)) if k != key => changed.push(i),
                None => changed.push(i),
                Some((_, at)) if now_ms.saturating_sub(*at) >= refresh_ms => stale.push((*at, i)),
                Some(_) => {}
            }
        }
        stale.sort_unstable();
        changed
            .into_iter()
            .chain(stale.into_iter().map(|(_, i)| i))
            .take(budget)
            .collect()
    }

    pub fn published(&mut self, rig: &str, key: u64, now_ms: u64) {
        match self.published.get_mut(rig) {
            Some(v) => *v = (key, now_ms),
            None => {
                self.published.insert(rig.to_string(), (key, now_ms));
            }
        }
    }

    /// Forgets rigs no longer in the registry (an operator retired them).
    pub fn retain(&mut self, rigs: &[(&str, u64)]) {
        if self.published.len() > rigs.len() {
            let known: std::collections::HashSet<&str> = rigs.iter().map(|(r, _)| *r).collect();
            self.published.retain(|r, _| known.contains(r.as_str()));
        }
    }
}

pub async fn run(
    client: AsyncClient,
    store: Arc<dyn StoreRead>,
    metrics: Arc<Metrics>,
    every: Duration,
    leader: crate::elect::Leader,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(every);
    let mut published_hints = None;
    let mut planner = Planner::default();
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.changed() => return,
        }
        if !leader.is_leader() {
            // Whoever leads next publishes the hints anew.
            published_hints = None;
            continue;
        }
        match store.fleet_hints(hashward_common::now_ms()) {
            Ok(h) if published_hints.as_ref() != Some(&h.hints) && !h.hints.is_empty() => {
                match hashward_protocol::encode(&h) {
                    Ok(bytes) => {
                        let agents =
                            client.try_publish(Topic::FleetHints.to_string(), QoS::AtLeastOnce, true, bytes);
                        // An empty retained payload would clear the dashboards' copy instead.
                        let dashboards = match serde_json::to_string(&h) {
                            Ok(json) => client
                                .try_publish(
                                    format!("{JSON_PREFIX}/fleet/hints"),
                                    QoS::AtLeastOnce,
                                    true,
                                    json,
                                )
                                .is_ok(),
                            Err(e) => {
                                log::error!("fleet hints not published as JSON: {e}");
                                false
                            }
                        };
                        if agents.is_ok() && dashboards {
                            log::info!("published {} fleet tuning hint(s)", h.hints.len());
                            published_hints = Some(h.hints);
                        }
                    }
                    Err(e) => log::error!("fleet hints not published: {e}"),
                }
            }
            Ok(_) => {}
            Err(e) => log::error!("fleet hints: {e}"),
        }
        let rigs = match store.rigs() {
            Ok(r) => r,
            Err(e) => {
                log::error!("summaries: reading rigs: {e}");
                continue;
            }
        };
        let keys: Vec<(&str, u64)> = rigs.iter().map(|e| (e.rig.as_str(), status_key(e))).collect();
        planner.retain(&keys);
        let now_ms = hashward_common::now_ms();
        let due = planner.plan(&keys, now_ms, REFRESH_AFTER.as_millis() as u64, MAX_PER_TICK);
        for (n, &i) in due.iter().enumerate() {
            let e = &rigs[i];
            let topic = json_rig_summary(&e.site, &e.rig);
            match client.try_publish(topic, QoS::AtMostOnce, true, rig_summary(e).to_string()) {
                Ok(()) => {
                    Metrics::inc(&metrics.summaries_published);
                    planner.published(keys[i].0, keys[i].1, now_ms);
                }
                Err(err) => {
                    // The queue is full: the rest of this tick would be refused too.
                    let left = (due.len() - n) as u64;
                    metrics
                        .summaries_dropped
                        .fetch_add(left, std::sync::atomic::Ordering::Relaxed);
                    log::debug!("{left} rig summaries not published this tick: {err}");
                    break;
                }
            }
        }
        if client
            .try_publish(
                json_fleet_summary(),
                QoS::AtLeastOnce,
                true,
                fleet_summary(&rigs).to_string(),
            )
            .is_ok()
        {
            Metrics::inc(&metrics.summaries_published);
        } else {
            Metrics::inc(&metrics.summaries_dropped);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Planner;

    const MIN: u64 = 60_000;

    #[test]
    fn new_and_changed_rigs_go_first_then_the_oldest_stale_ones_within_the_budget() {
        let mut p = Planner::default();
        let rigs = [("a", 1), ("b", 1), ("c", 1)];
        assert_eq!(p.plan(&rigs, 0, MIN, 10), vec![0, 1, 2]);
        p.published("a", 1, 0);
        p.published("b", 1, 10);
        p.published("c", 1, 20);
        // Nothing changed and nothing is stale: nothing to send.
        assert!(p.plan(&rigs, 30, MIN, 10).is_empty());
        // c's status changed; a and b are stale, a the older.
        let now = [("a", 1), ("b", 1), ("c", 2)];
        assert_eq!(p.plan(&now, MIN + 15, MIN, 10), vec![2, 0, 1]);
        assert_eq!(p.plan(&now, MIN + 15, MIN, 2), vec![2, 0]);
        // A rig refused this tick (not marked published) is due again next tick.
        p.published("c", 2, MIN + 15);
        p.published("a", 1, MIN + 15);
        assert_eq!(p.plan(&now, MIN + 16, MIN, 10), vec![1]);
    }

    #[test]
    fn retired_rigs_are_forgotten() {
        let mut p = Planner::default();
        p.published("a", 1, 0);
        p.published("b", 1, 0);
        p.retain(&[("b", 1)]);
        // a reappears: it is new again.
        assert_eq!(p.plan(&[("a", 1), ("b", 1)], 1, MIN, 10), vec![0]);
    }
}
