//! The fleet overview the web pages show (`/fleet/overview`): rigs and ASICs online, hashrate per
//! algorithm, power and J/TH, alerts over the last day, and one row per rig with its ASICs.
//!
//! Pure (values in, values out). Must never count an ASIC whose reading is stale or unreachable
//! in the totals, and never turn a figure nobody reported into a zero: it is `null`.

use super::snapshot::{FleetSnapshot, RigSnapshot};
use super::ASIC_FRESH_MS;
use hashward_protocol::{AsicTelemetry, Score};
use serde::Serialize;

/// Hashrate of one algorithm over the fleet. ASIC APIs do not report the algorithm, so ASIC
/// hashrate is its own entry with `algo: null` rather than a guess.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlgoHashrate {
    pub source: &'static str,
    pub algo: Option<String>,
    pub hashrate_hs: f64,
    pub workers: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AsicRow {
    pub miner_id: String,
    pub ts_ms: u64,
    /// Reachable in a reading younger than the freshness window.
    pub online: bool,
    pub model: Option<String>,
    pub api: hashward_protocol::AsicApi,
    pub hashrate_hs: f64,
    pub power_w: Option<f64>,
    pub efficiency_j_th: Option<f64>,
    pub chip_max_c: Option<f64>,
    pub chip_avg_c: Option<f64>,
    pub ambient_c: Option<f64>,
    pub shares_accepted: u64,
    pub shares_rejected: u64,
    pub shares_stale: u64,
    pub power_limit_w: Option<f64>,
    pub mining_status: String,
    pub anomaly_score: Option<f32>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RigRow {
    pub rig: String,
    pub site: String,
    pub online: bool,
    pub last_seen_ms: u64,
    pub cpu_algo: Option<String>,
    pub cpu_hashrate_hs: Option<f64>,
    pub cpu_paused: Option<bool>,
    pub max_temp_c: Option<f64>,
    pub asics_total: u64,
    pub asics_online: u64,
    pub asic_hashrate_hs: f64,
    /// Sum over its online ASICs that report power; `null` when none does.
    pub power_w: Option<f64>,
    pub anomaly_score: Option<f32>,
    pub anomaly_subject: Option<String>,
    pub alerts_24h: u64,
    pub asics: Vec<AsicRow>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Overview {
    pub generated_ms: u64,
    pub rigs_total: u64,
    pub rigs_online: u64,
    pub asics_total: u64,
    pub asics_online: u64,
    pub hashrate_by_algo: Vec<AlgoHashrate>,
    pub power_w: Option<f64>,
    /// Power over hashrate of the online ASICs that report both.
    pub j_per_th: Option<f64>,
    pub alerts_24h: u64,
    pub rigs: Vec<RigRow>,
}

fn round(v: f64, places: i32) -> f64 {
    let f = 10f64.powi(places);
    (v * f).round() / f
}

fn asic_row(now_ms: u64, ts_ms: u64, a: &AsicTelemetry, score: Option<&Score>) -> AsicRow {
    AsicRow {
        miner_id: a.miner_id.clone(),
        ts_ms,
        online: a.reachable && now_ms.saturating_sub(ts_ms) <= ASIC_FRESH_MS,
        model: a.model.clone(),
        api: a.api,
        hashrate_hs: a.hashrate.total.0,
        power_w: a.power.consumption.map(|w| f64::from(w.0)),
        efficiency_j_th: a.power.efficiency_j_th.map(f64::from),
        chip_max_c: a.temperature.max_chip.map(|c| f64::from(c.0)),
        chip_avg_c: a.temperature.avg_chip.map(|c| f64::from(c.0)),
        ambient_c: a.temperature.ambient.map(|c| f64::from(c.0)),
        shares_accepted: a.shares.accepted,
        shares_rejected: a.shares.rejected,
        shares_stale: a.shares.stale,
        power_limit_w: a.config.power_limit.map(|w| f64::from(w.0)),
        mining_status: a.status.mining_status.clone(),
        anomaly_score: score.map(|s| s.score),
    }
}

fn rig_row(now_ms: u64, r: &RigSnapshot) -> RigRow {
    let e = &r.entry;
    let miner = e.last_telemetry.as_ref().and_then(|t| t.miner.as_ref());
    let asics: Vec<AsicRow> = r
        .asics
        .values()
        .map(|(ts, a)| asic_row(now_ms, *ts, a, e.anomaly.get(&a.miner_id)))
        .collect();
    let online: Vec<&AsicRow> = asics.iter().filter(|a| a.online).collect();
    let powers: Vec<f64> = online.iter().filter_map(|a| a.power_w).collect();
    let worst = e.anomaly.values().max_by(|a, b| a.score.total_cmp(&b.score));
    RigRow {
        rig: e.rig.as_str().to_string(),
        site: e.site.as_str().to_string(),
        online: e.online,
        last_seen_ms: e.last_seen_ms,
        cpu_algo: miner.map(|m| m.algo.clone()),
        // A rig that is offline mines nothing, whatever its last telemetry said.
        cpu_hashrate_hs: miner.map(|m| if e.online { m.hashrate_60s.0 } else { 0.0 }),
        cpu_paused: miner.map(|m| m.paused),
        max_temp_c: e.last_telemetry.as_ref().and_then(|t| {
            t.temperatures
                .iter()
                .map(|r| f64::from(r.celsius.0))
                .reduce(f64::max)
        }),
        asics_total: asics.len() as u64,
        asics_online: online.len() as u64,
        asic_hashrate_hs: online.iter().map(|a| a.hashrate_hs).sum(),
        power_w: (!powers.is_empty()).then(|| round(powers.iter().sum(), 3)),
        anomaly_score: worst.map(|w| w.score),
        anomaly_subject: worst.map(|w| w.subject.clone()),
        alerts_24h: r.alerts_window,
        asics,
    }
}

pub fn overview(s: &FleetSnapshot) -> Overview {
    let rigs: Vec<RigRow> = s.rigs.iter().map(|r| rig_row(s.now_ms, r)).collect();
    let mut by_algo: Vec<AlgoHashrate> = Vec::new();
    for r in rigs.iter().filter(|r| r.online) {
        if let (Some(algo), Some(hs)) = (&r.cpu_algo, r.cpu_hashrate_hs) {
            match by_algo.iter_mut().find(|a| a.algo.as_ref() == Some(algo)) {
                Some(a) => {
                    a.hashrate_hs += hs;
                    a.workers += 1;
                }
                None => by_algo.push(AlgoHashrate {
                    source: "cpu",
                    algo: Some(algo.clone()),
                    hashrate_hs: hs,
                    workers: 1,
                }),
            }
        }
    }
    by_algo.sort_by(|a, b| a.algo.cmp(&b.algo));
    let online_asics: Vec<&AsicRow> = rigs
        .iter()
        .flat_map(|r| r.asics.iter())
        .filter(|a| a.online)
        .collect();
    if !online_asics.is_empty() {
        by_algo.push(AlgoHashrate {
            source: "asic",
            algo: None,
            hashrate_hs: online_asics.iter().map(|a| a.hashrate_hs).sum(),
            workers: online_asics.len() as u64,
        });
    }
    let powered: Vec<&&AsicRow> = online_asics.iter().filter(|a| a.power_w.is_some()).collect();
    let power_w = (!powered.is_empty()).then(|| round(powered.iter().filter_map(|a| a.power_w).sum(), 3));
    let powered_ths: f64 = powered.iter().map(|a| a.hashrate_hs / 1e12).sum();
    let j_per_th = match power_w {
        Some(w) if powered_ths > 0.0 => Some(round(w / powered_ths, 3)),
        _ => None,
    };
    Overview {
        generated_ms: s.now_ms,
        rigs_total: rigs.len() as u64,
        rigs_online: rigs.iter().filter(|r| r.online).count() as u64,
        asics_total: rigs.iter().map(|r| r.asics_total).sum(),
        asics_online: online_asics.len() as u64,
        hashrate_by_algo: by_algo,
        power_w,
        j_per_th,
        alerts_24h: rigs.iter().map(|r| r.alerts_24h).sum(),
        rigs,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::domain::rig::RigEntry;
    use hashward_protocol::*;
    use std::collections::BTreeMap;

    pub(crate) fn asic(id: &str, ths: f64, watts: Option<f32>, reachable: bool) -> AsicTelemetry {
        AsicTelemetry {
            miner_id: id.into(),
            ip_address: "10.0.0.2".into(),
            api: AsicApi::Vnish,
            reachable,
            model: Some("Antminer S19j Pro".into()),
            firmware_version: None,
            hashrate: AsicHashrate {
                total: Hashrate(ths * 1e12),
                ..Default::default()
            },
            temperature: AsicTemperature {
                max_chip: Some(Celsius(71.0)),
                ..Default::default()
            },
            power: AsicPower {
                consumption: watts.map(Watts),
                efficiency_j_th: None,
                voltage_v: None,
            },
            fans: vec![],
            pool: None,
            shares: Shares {
                accepted: 10,
                rejected: 1,
                stale: 0,
                last_share_ts_ms: None,
            },
            status: AsicStatus {
                mining_status: "mining".into(),
                uptime_s: None,
                errors: vec![],
            },
            config: AsicConfig::default(),
            invalid: vec![],
        }
    }

    pub(crate) fn rig(id: &str, online: bool, algo: Option<(&str, f64)>) -> RigEntry {
        let mut e = RigEntry::new(RigId::new(id).expect("id"), SiteId::new("farm").expect("id"));
        e.online = online;
        e.last_telemetry = Some(RigTelemetry {
            uptime_s: 1,
            load_1m: 0.0,
            load_5m: 0.0,
            load_15m: 0.0,
            cpu_usage_pct: 1.0,
            memory_used_bytes: 1,
            memory_total_bytes: 2,
            temperatures: vec![
                TempReading {
                    label: "cpu".into(),
                    celsius: Celsius(55.0),
                },
                TempReading {
                    label: "board".into(),
                    celsius: Celsius(61.5),
                },
            ],
            miner: algo.map(|(algo, hs)| MinerTelemetry {
                algo: algo.into(),
                kernel: "avx2".into(),
                threads: 1,
                batch: 1,
                paused: false,
                hashrate_10s: Hashrate(hs),
                hashrate_60s: Hashrate(hs),
                hashrate_15m: Hashrate(hs),
                pool: None,
                constraints: vec![],
            }),
            agent: AgentCounters::default(),
        });
        e
    }

    pub(crate) fn snapshot() -> FleetSnapshot {
        let now = 10_000_000;
        let fresh = now - 1000;
        let with = |mut e: RigEntry, asics: Vec<(u64, AsicTelemetry)>, alerts| {
            e.last_seen_ms = fresh;
            RigSnapshot {
                entry: e,
                asics: asics
                    .into_iter()
                    .map(|(ts, a)| (a.miner_id.clone(), (ts, a)))
                    .collect::<BTreeMap<_, _>>(),
                alerts_window: alerts,
            }
        };
        FleetSnapshot {
            now_ms: now,
            rigs: vec![
                with(
                    rig("a", true, Some(("sha256d", 1000.0))),
                    vec![
                        (fresh, asic("m1", 100.0, Some(3000.0), true)),
                        (fresh, asic("m2", 50.0, None, true)),
                        // Stale: counted in the total, not online, not in the sums.
                        (now - ASIC_FRESH_MS - 1, asic("m3", 90.0, Some(3100.0), true)),
                    ],
                    2,
                ),
                with(rig("b", true, Some(("sha256d", 500.0))), vec![], 0),
                with(
                    rig("c", true, Some(("scrypt", 20.0))),
                    vec![(fresh, asic("m4", 0.0, Some(10.0), false))],
                    1,
                ),
                with(rig("d", false, Some(("scrypt", 30.0))), vec![], 0),
            ],
        }
    }

    #[test]
    fn totals_count_only_fresh_reachable_asics_and_online_rigs() {
        let o = overview(&snapshot());
        assert_eq!((o.rigs_total, o.rigs_online), (4, 3));
        assert_eq!((o.asics_total, o.asics_online), (4, 2));
        assert_eq!(o.alerts_24h, 3);
        let algos: Vec<(Option<&str>, f64, u64)> = o
            .hashrate_by_algo
            .iter()
            .map(|a| (a.algo.as_deref(), a.hashrate_hs, a.workers))
            .collect();
        assert_eq!(
            algos,
            vec![
                (Some("scrypt"), 20.0, 1),
                (Some("sha256d"), 1500.0, 2),
                (None, 150e12, 2)
            ]
        );
        // Only m1 is online and reports power: 3000 W over 100 TH/s.
        assert_eq!((o.power_w, o.j_per_th), (Some(3000.0), Some(30.0)));
        let a = &o.rigs[0];
        assert_eq!((a.asics_total, a.asics_online, a.power_w), (3, 2, Some(3000.0)));
        assert_eq!(a.max_temp_c, Some(61.5));
        assert_eq!(
            o.rigs[3].cpu_hashrate_hs,
            Some(0.0),
            "an offline rig mines nothing"
        );
    }

    #[test]
    fn nothing_reported_is_null_not_zero() {
        let mut s = snapshot();
        s.rigs.retain(|r| r.asics.is_empty());
        let o = overview(&s);
        assert_eq!((o.power_w, o.j_per_th), (None, None));
        assert!(o.hashrate_by_algo.iter().all(|a| a.source == "cpu"));
        let v = serde_json::to_value(&o).expect("json");
        assert!(v["power_w"].is_null() && v["rigs"][0]["power_w"].is_null());
    }
}
