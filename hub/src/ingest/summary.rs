//! Retained JSON summaries for MQTT dashboards: one per rig on
//! `hashward/json/{site}/{rig}/summary` and one for the fleet on `hashward/json/fleet/summary`;
//! and the fleet tuning hints, retained on `fleet/hints` for agents (postcard) and on
//! `hashward/json/fleet/hints` for dashboards, republished whenever they change.

use crate::domain::rig::RigEntry;
use crate::metrics::Metrics;
use crate::store::{FleetRead, RigsRead, Store};
use hashward_protocol::topic::{json_fleet_summary, json_rig_summary, JSON_PREFIX};
use hashward_protocol::Topic;
use rumqttc::{AsyncClient, QoS};
use serde_json::json;
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

pub async fn run(
    client: AsyncClient,
    store: Arc<Store>,
    metrics: Arc<Metrics>,
    every: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(every);
    let mut published_hints = None;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.changed() => return,
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
        for e in &rigs {
            let topic = json_rig_summary(&e.site, &e.rig);
            if client
                .try_publish(topic, QoS::AtLeastOnce, true, rig_summary(e).to_string())
                .is_ok()
            {
                Metrics::inc(&metrics.summaries_published);
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
        }
    }
}
