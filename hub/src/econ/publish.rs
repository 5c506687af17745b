//! The economics on a timer: every `[economics] publish_interval_s` (default 60 s) the fleet's
//! day in money ([`super::report::fleet`]) is recomputed, published as retained JSON topics for
//! dashboards (`hashward/json/economics/fleet`, `.../rigs/{rig}`, `.../asics/{rig}/{asic}`) and
//! kept for the `/metrics` gauges (`hashward_hub_rig_revenue_usd_per_day{rig,site}` and the
//! others below).
//!
//! Must never publish or export a number for an input that is missing: then the fleet topic
//! carries `{"detail": why}` and the gauges are absent, with `hashward_hub_economics_up 0`. Never
//! holds up the hub: its own MQTT connection, and a publish is dropped rather than waited for.

use super::report::{fleet, FleetEconomics};
use super::EconInputs;
use crate::collect::publish::MqttTarget;
use hashward_protocol::topic::JSON_PREFIX;
use rumqttc::{AsyncClient, Event, MqttOptions, QoS, TlsConfiguration, Transport};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::watch;

pub fn fleet_topic() -> String {
    format!("{JSON_PREFIX}/economics/fleet")
}

/// A topic level from an id: MQTT wildcards and separators cannot be part of one.
fn level(id: &str) -> String {
    id.replace(['/', '+', '#'], "_")
}

pub fn rig_topic(rig: &str) -> String {
    format!("{JSON_PREFIX}/economics/rigs/{}", level(rig))
}

pub fn asic_topic(rig: &str, asic: &str) -> String {
    format!("{JSON_PREFIX}/economics/asics/{}/{}", level(rig), level(asic))
}

/// The last computation, for `/metrics`: the report, or why there is none.
#[derive(Debug, Default)]
pub struct EconGauges {
    last: RwLock<Option<Result<FleetEconomics, String>>>,
    pub refreshes: AtomicU64,
    pub published: AtomicU64,
}

fn esc(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

impl EconGauges {
    pub fn set(&self, r: Result<FleetEconomics, String>) {
        *self.last.write().unwrap_or_else(|p| p.into_inner()) = Some(r);
        self.refreshes.fetch_add(1, Ordering::Relaxed);
    }

    /// Appends the economics series in the Prometheus text format.
    pub fn render(&self, out: &mut String) {
        let last = self.last.read().unwrap_or_else(|p| p.into_inner());
        let up = matches!(&*last, Some(Ok(_)));
        let _ = writeln!(
            out,
            "# HELP hashward_hub_economics_up 1 when every input of the fleet economics is available.\n\
             # TYPE hashward_hub_economics_up gauge\nhashward_hub_economics_up {}",
            u8::from(up)
        );
        let _ = writeln!(
            out,
            "# TYPE hashward_hub_economics_refreshes_total counter\nhashward_hub_economics_refreshes_total {}\n\
             # TYPE hashward_hub_economics_topics_published_total counter\nhashward_hub_economics_topics_published_total {}",
            self.refreshes.load(Ordering::Relaxed),
            self.published.load(Ordering::Relaxed)
        );
        let Some(Ok(f)) = &*last else { return };
        type Pick = fn(&hashward_econ::DailyEconomics) -> Option<f64>;
        let per_miner: [(&str, &str, Pick); 4] = [
            (
                "revenue_usd_per_day",
                "Expected revenue at the current price and difficulty, USD per day.",
                |e| Some(e.revenue_usd_day),
            ),
            (
                "cost_usd_per_day",
                "Electricity cost at the site's current tariff, USD per day.",
                |e| Some(e.cost_usd_day),
            ),
            (
                "profit_usd_per_day",
                "Revenue minus electricity cost, USD per day.",
                |e| Some(e.profit_usd_day),
            ),
            (
                "efficiency_j_per_th",
                "Power over hashrate, joules per terahash.",
                |e| e.efficiency_j_per_th,
            ),
        ];
        for (kind, labels) in [("rig", false), ("asic", true)] {
            for (name, help, pick) in &per_miner {
                let _ = writeln!(
                    out,
                    "# HELP hashward_hub_{kind}_{name} {help}\n# TYPE hashward_hub_{kind}_{name} gauge"
                );
                for m in f.each.iter().filter(|m| m.kind == kind) {
                    let Some(v) = pick(&m.economics) else { continue };
                    let l = if labels {
                        let asic = m.id.strip_prefix(&format!("{}/", m.rig)).unwrap_or(&m.id);
                        format!(
                            "rig=\"{}\",asic=\"{}\",site=\"{}\"",
                            esc(&m.rig),
                            esc(asic),
                            esc(&m.site)
                        )
                    } else {
                        format!("rig=\"{}\",site=\"{}\"", esc(&m.rig), esc(&m.site))
                    };
                    let _ = writeln!(out, "hashward_hub_{kind}_{name}{{{l}}} {v}");
                }
            }
        }
        let t = &f.totals;
        for (name, v) in [
            ("revenue_usd_per_day", t.revenue_usd_day),
            ("cost_usd_per_day", t.cost_usd_day),
            ("profit_usd_per_day", t.profit_usd_day),
            ("power_w", t.power_w),
        ] {
            let _ = writeln!(
                out,
                "# TYPE hashward_hub_fleet_{name} gauge\nhashward_hub_fleet_{name} {v}"
            );
        }
        let _ = writeln!(out, "# TYPE hashward_hub_site_profit_usd_per_day gauge");
        for (site, s) in &f.by_site {
            let _ = writeln!(
                out,
                "hashward_hub_site_profit_usd_per_day{{site=\"{}\"}} {}",
                esc(site),
                s.profit_usd_day
            );
        }
        let _ = writeln!(out, "# TYPE hashward_hub_fleet_hashprice_usd_per_ths_day gauge");
        for (coin, c) in &f.by_coin {
            if let Some(h) = c.hashprice_usd_per_ths_day {
                let _ = writeln!(
                    out,
                    "hashward_hub_fleet_hashprice_usd_per_ths_day{{coin=\"{coin}\"}} {h}"
                );
            }
        }
        let _ = writeln!(out, "# TYPE hashward_hub_fleet_efficiency_j_per_th gauge");
        for (coin, c) in &f.by_coin {
            if let Some(e) = c.efficiency_j_per_th {
                let _ = writeln!(
                    out,
                    "hashward_hub_fleet_efficiency_j_per_th{{coin=\"{coin}\"}} {e}"
                );
            }
        }
        let _ = writeln!(
            out,
            "# HELP hashward_hub_economics_excluded_miners Miners left out of the fleet economics (see /fleet/economics).\n\
             # TYPE hashward_hub_economics_excluded_miners gauge\nhashward_hub_economics_excluded_miners {}",
            f.excluded.len()
        );
    }
}

/// The fleet's JSON body (what `/fleet/economics` answers).
pub fn fleet_body(f: &FleetEconomics, generated_at: &str) -> Value {
    let mut v = serde_json::to_value(f).unwrap_or(Value::Null);
    v["miners"] = json!(f.totals.miners);
    v["generated_at"] = json!(generated_at);
    v
}

/// Every retained topic and its body for one computation.
pub fn topics(r: &Result<FleetEconomics, String>, generated_at: &str) -> Vec<(String, Value)> {
    match r {
        Err(why) => vec![(
            fleet_topic(),
            json!({"detail": why, "generated_at": generated_at}),
        )],
        Ok(f) => {
            let mut out = vec![(fleet_topic(), fleet_body(f, generated_at))];
            for m in &f.each {
                let topic = match m.kind {
                    "asic" => asic_topic(&m.rig, m.id.strip_prefix(&format!("{}/", m.rig)).unwrap_or(&m.id)),
                    _ => rig_topic(&m.rig),
                };
                let mut body = serde_json::to_value(m).unwrap_or(Value::Null);
                body["generated_at"] = json!(generated_at);
                out.push((topic, body));
            }
            out
        }
    }
}

/// Runs until `stop` turns true.
pub async fn run(
    target: MqttTarget,
    inputs: Arc<dyn EconInputs>,
    gauges: Arc<EconGauges>,
    every: Duration,
    mut stop: watch::Receiver<bool>,
) -> Result<(), String> {
    let mut opts = MqttOptions::new(target.client_id.clone(), target.host.clone(), target.port);
    opts.set_keep_alive(Duration::from_secs(30))
        .set_clean_session(true)
        .set_max_packet_size(1 << 20, 1 << 20);
    if let Some(user) = &target.username {
        opts.set_credentials(user.clone(), target.password.clone().unwrap_or_default());
    }
    if let Some(tls) = &target.tls {
        opts.set_transport(Transport::Tls(TlsConfiguration::Rustls(tls.clone())));
    }
    let (client, mut events) = AsyncClient::new(opts, 256);
    let mut retry = hashward_common::Retry::new(hashward_common::Backoff::new(
        Duration::from_millis(250),
        Duration::from_secs(30),
    ));
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut connected = false;
    // Topics retained now: a miner that left the report gets its topic cleared.
    let mut retained: BTreeSet<String> = BTreeSet::new();
    let mut stop_waiting = stop.clone();
    loop {
        if *stop.borrow() {
            break;
        }
        tokio::select! {
            r = stop.changed() => if r.is_err() { break },
            ev = events.poll() => match ev {
                Ok(Event::Incoming(rumqttc::Packet::ConnAck(_))) => {
                    retry.reset();
                    connected = true;
                    // Publish at once on (re)connect: a broker without persistence lost them.
                    tick.reset_immediately();
                }
                Ok(_) => {}
                Err(e) => {
                    connected = false;
                    let delay = retry.next_delay(&mut rand::thread_rng());
                    log::debug!("economics topics: broker link: {e}; retrying in {} ms", delay.as_millis());
                    tokio::select! {
                        _ = tokio::time::sleep(delay) => {}
                        _ = stop_waiting.changed() => {}
                    }
                }
            },
            _ = tick.tick() => {
                let inputs = inputs.clone();
                let report = tokio::task::spawn_blocking(move || fleet(inputs.as_ref()).map_err(|u| u.0))
                    .await
                    .map_err(|e| format!("economics task: {e}"))?;
                let now = hashward_econ::history::iso_utc(hashward_common::clock::now_s() as i64);
                let bodies = topics(&report, &now);
                gauges.set(report);
                if !connected {
                    continue;
                }
                let mut now_retained = BTreeSet::new();
                for (topic, body) in bodies {
                    let bytes = body.to_string().into_bytes();
                    match client.try_publish(topic.clone(), QoS::AtLeastOnce, true, bytes) {
                        Ok(()) => {
                            gauges.published.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(e) => log::debug!("{topic} not published: {e}"),
                    }
                    now_retained.insert(topic);
                }
                // Only a full report says who is gone; a missing input keeps the last values.
                if gauges.is_up() {
                    for gone in retained.difference(&now_retained) {
                        client.try_publish(gone.clone(), QoS::AtLeastOnce, true, Vec::new()).ok();
                    }
                    retained = now_retained;
                }
            }
        }
    }
    client.try_disconnect().ok();
    Ok(())
}

impl EconGauges {
    fn is_up(&self) -> bool {
        matches!(&*self.last.read().unwrap_or_else(|p| p.into_inner()), Some(Ok(_)))
    }
}
