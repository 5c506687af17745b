//! Per-rig and per-ASIC Prometheus series, appended to the hub's `/metrics`:
//! `hashward_rig_*{rig,site}` and `hashward_asic_*{rig,site,asic}` (plus `algo` on the CPU
//! miner's hashrate and `sensor` on ASIC temperatures, each from a fixed small set).
//!
//! Pure. Labels are ids only (validated rig and site ids, configured miner ids), never free text,
//! so cardinality is bounded by the fleet. A rig silent for [`RIG_STALE_MS`] and an ASIC without
//! a reading in the freshness window have no series at all: their series go stale in Prometheus
//! instead of repeating the last value.

use super::overview::{overview, AsicRow, RigRow};
use super::snapshot::FleetSnapshot;
use super::RIG_STALE_MS;
use std::fmt::Write;

/// One metric family: every sample shares the name, type and help.
struct Family {
    name: &'static str,
    kind: &'static str,
    help: &'static str,
    samples: Vec<(String, f64)>,
}

/// Escapes a label value per the text format (backslash, double quote, newline).
fn esc(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

fn rig_labels(r: &RigRow) -> String {
    format!("rig=\"{}\",site=\"{}\"", esc(&r.rig), esc(&r.site))
}

fn asic_labels(r: &RigRow, a: &AsicRow) -> String {
    format!("{},asic=\"{}\"", rig_labels(r), esc(&a.miner_id))
}

/// The families, in output order.
const FAMILIES: [(&str, &str, &str); 17] = [
    (
        "hashward_rig_up",
        "gauge",
        "1 when the rig's last state message says online.",
    ),
    (
        "hashward_rig_last_seen_timestamp_seconds",
        "gauge",
        "When the hub last heard from the rig.",
    ),
    (
        "hashward_rig_hashrate_hashes_per_second",
        "gauge",
        "The rig's CPU miner hashrate over 60 s.",
    ),
    (
        "hashward_rig_temperature_max_celsius",
        "gauge",
        "Hottest sensor in the rig's last telemetry.",
    ),
    (
        "hashward_rig_shares_accepted_total",
        "counter",
        "Shares the pool accepted from the rig's CPU miner (since the agent started).",
    ),
    (
        "hashward_rig_shares_rejected_total",
        "counter",
        "Shares the pool rejected from the rig's CPU miner (since the agent started).",
    ),
    (
        "hashward_rig_anomaly_score",
        "gauge",
        "Latest anomaly score of the rig itself (0..1).",
    ),
    (
        "hashward_rig_alerts_24h",
        "gauge",
        "Alerts the rig raised in the last 24 hours.",
    ),
    (
        "hashward_asic_up",
        "gauge",
        "1 when the ASIC's latest reading is fresh and it was reachable.",
    ),
    (
        "hashward_asic_hashrate_hashes_per_second",
        "gauge",
        "The ASIC's reported hashrate.",
    ),
    (
        "hashward_asic_power_watts",
        "gauge",
        "The ASIC's reported power draw.",
    ),
    (
        "hashward_asic_efficiency_joules_per_terahash",
        "gauge",
        "The ASIC's efficiency (reported, else power over hashrate).",
    ),
    (
        "hashward_asic_temperature_celsius",
        "gauge",
        "The ASIC's temperatures by sensor (chip_max, chip_avg, ambient).",
    ),
    (
        "hashward_asic_shares_accepted_total",
        "counter",
        "Shares accepted as the ASIC reports them.",
    ),
    (
        "hashward_asic_shares_rejected_total",
        "counter",
        "Shares rejected as the ASIC reports them.",
    ),
    (
        "hashward_asic_power_limit_watts",
        "gauge",
        "The ASIC's configured power limit.",
    ),
    (
        "hashward_asic_anomaly_score",
        "gauge",
        "Latest anomaly score of the ASIC (0..1).",
    ),
];

pub fn render(s: &FleetSnapshot) -> String {
    let view = overview(s);
    let mut fams: Vec<Family> = FAMILIES
        .iter()
        .map(|&(name, kind, help)| Family {
            name,
            kind,
            help,
            samples: Vec::new(),
        })
        .collect();
    let mut put = |name: &str, labels: String, v: f64| {
        if let Some(f) = fams.iter_mut().find(|f| f.name == name) {
            f.samples.push((labels, v));
        }
    };
    for r in &view.rigs {
        if !r.online && s.now_ms.saturating_sub(r.last_seen_ms) > RIG_STALE_MS {
            continue;
        }
        let l = rig_labels(r);
        put("hashward_rig_up", l.clone(), if r.online { 1.0 } else { 0.0 });
        put(
            "hashward_rig_last_seen_timestamp_seconds",
            l.clone(),
            r.last_seen_ms as f64 / 1000.0,
        );
        if let (Some(algo), Some(hs)) = (&r.cpu_algo, r.cpu_hashrate_hs) {
            put(
                "hashward_rig_hashrate_hashes_per_second",
                format!("{l},algo=\"{}\"", esc(algo)),
                hs,
            );
        }
        if let Some(t) = r.max_temp_c {
            put("hashward_rig_temperature_max_celsius", l.clone(), t);
        }
        let entry = s.rigs.iter().find(|x| x.entry.rig.as_str() == r.rig);
        let pool = entry
            .and_then(|x| x.entry.last_telemetry.as_ref())
            .and_then(|t| t.miner.as_ref())
            .and_then(|m| m.pool.as_ref());
        if let Some(p) = pool {
            put("hashward_rig_shares_accepted_total", l.clone(), p.accepted as f64);
            put("hashward_rig_shares_rejected_total", l.clone(), p.rejected as f64);
        }
        if let Some(score) = entry.and_then(|x| x.entry.anomaly.get("rig")) {
            put("hashward_rig_anomaly_score", l.clone(), f64::from(score.score));
        }
        put("hashward_rig_alerts_24h", l.clone(), r.alerts_24h as f64);
        for a in &r.asics {
            let al = asic_labels(r, a);
            put("hashward_asic_up", al.clone(), if a.online { 1.0 } else { 0.0 });
            if !a.online {
                continue;
            }
            put(
                "hashward_asic_hashrate_hashes_per_second",
                al.clone(),
                a.hashrate_hs,
            );
            if let Some(w) = a.power_w {
                put("hashward_asic_power_watts", al.clone(), w);
            }
            let eff = a.efficiency_j_th.or(match a.power_w {
                Some(w) if a.hashrate_hs > 0.0 => Some(w / (a.hashrate_hs / 1e12)),
                _ => None,
            });
            if let Some(e) = eff {
                put("hashward_asic_efficiency_joules_per_terahash", al.clone(), e);
            }
            for (sensor, v) in [
                ("chip_max", a.chip_max_c),
                ("chip_avg", a.chip_avg_c),
                ("ambient", a.ambient_c),
            ] {
                if let Some(v) = v {
                    put(
                        "hashward_asic_temperature_celsius",
                        format!("{al},sensor=\"{sensor}\""),
                        v,
                    );
                }
            }
            put(
                "hashward_asic_shares_accepted_total",
                al.clone(),
                a.shares_accepted as f64,
            );
            put(
                "hashward_asic_shares_rejected_total",
                al.clone(),
                a.shares_rejected as f64,
            );
            if let Some(w) = a.power_limit_w {
                put("hashward_asic_power_limit_watts", al.clone(), w);
            }
            if let Some(score) = a.anomaly_score {
                put("hashward_asic_anomaly_score", al.clone(), f64::from(score));
            }
        }
    }
    let mut out = String::new();
    for f in fams.iter().filter(|f| !f.samples.is_empty()) {
        let _ = writeln!(out, "# HELP {} {}\n# TYPE {} {}", f.name, f.help, f.name, f.kind);
        for (labels, v) in &f.samples {
            let _ = writeln!(out, "{}{{{labels}}} {v}", f.name);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fleetview::overview::tests::snapshot;

    fn sample<'a>(text: &'a str, series: &str) -> Option<&'a str> {
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
    }

    #[test]
    fn series_per_rig_and_asic_with_id_labels_only() {
        let text = render(&snapshot());
        assert_eq!(
            sample(
                &text,
                "hashward_rig_hashrate_hashes_per_second{rig=\"a\",site=\"farm\",algo=\"sha256d\"}"
            ),
            Some("1000")
        );
        assert_eq!(
            sample(
                &text,
                "hashward_asic_power_watts{rig=\"a\",site=\"farm\",asic=\"m1\"}"
            ),
            Some("3000")
        );
        assert_eq!(
            sample(
                &text,
                "hashward_asic_efficiency_joules_per_terahash{rig=\"a\",site=\"farm\",asic=\"m1\"}"
            ),
            Some("30")
        );
        assert_eq!(
            sample(
                &text,
                "hashward_asic_temperature_celsius{rig=\"a\",site=\"farm\",asic=\"m1\",sensor=\"chip_max\"}"
            ),
            Some("71")
        );
        // A stale or unreachable ASIC is down and has no readings.
        assert_eq!(
            sample(&text, "hashward_asic_up{rig=\"a\",site=\"farm\",asic=\"m3\"}"),
            Some("0")
        );
        assert!(!text.contains("asic=\"m3\"} 90"));
        assert!(!text.contains("hashward_asic_hashrate_hashes_per_second{rig=\"c\""));
        // Each family is declared once, and only label keys from the fixed set appear.
        assert_eq!(text.matches("# TYPE hashward_asic_up gauge").count(), 1);
        for l in text.lines().filter(|l| !l.starts_with('#')) {
            let labels = &l[l.find('{').expect("labels") + 1..l.find('}').expect("labels")];
            for kv in labels.split(',') {
                let key = kv.split('=').next().unwrap_or("");
                assert!(["rig", "site", "asic", "algo", "sensor"].contains(&key), "{l}");
            }
        }
    }

    #[test]
    fn a_rig_silent_for_long_has_no_series() {
        let mut s = snapshot();
        let text = render(&s);
        assert!(text.contains("hashward_rig_up{rig=\"d\",site=\"farm\"} 0"));
        // d went offline and has not been heard from for longer than the stale window.
        s.now_ms = s.rigs[3].entry.last_seen_ms + RIG_STALE_MS + 1;
        for r in &mut s.rigs[..3] {
            r.entry.last_seen_ms = s.now_ms;
        }
        let text = render(&s);
        assert!(!text.contains("rig=\"d\""), "{text}");
        assert!(text.contains("rig=\"a\""));
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(esc("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
