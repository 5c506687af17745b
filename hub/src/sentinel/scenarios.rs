//! Scenario tests of the Sentinel with the committed `sentinel_pool` model: a simulated fleet
//! (20 ASIC workers on one pool, two sites, share noise, background alerts, a restart and a
//! maintenance) driven update by update through `Sentinel::assess`, and one run through a real
//! store with Prohashing-shaped pool snapshots and ingested ASIC readings.
//!
//! Each threat must raise the right alert within two pool updates of its start; a quiet day
//! (288 updates) must raise none. Test-only; the simulator here is independent of the Python one.

use super::detect::ThreatType;
use super::features::{MinerObs, Payout, PoolUpdate, ShareCounts, SiteAlerting, WorkerObs};
use super::model::tests::repo_models;
use super::model::SentinelModel;
use super::service::{alert_event, publish, Finding, Sentinel, Shared};
use crate::alerts::{AlertEvent, Level};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// SplitMix64 and Box-Muller: deterministic noise without a crate.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }
    fn normal(&mut self) -> f64 {
        let (u, v) = (self.next().max(1e-12), self.next());
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
}

/// What is different about one update.
#[derive(Default)]
struct Mods {
    /// worker -> factor on what the pool measures only (hijack, restart lag)
    pool: BTreeMap<usize, f64>,
    /// worker -> factor on both sides (a site losing power)
    both: BTreeMap<usize, f64>,
    /// worker -> invalid share rate
    invalid: BTreeMap<usize, f64>,
    /// workers whose rig is off (not joined; the pool sees nothing)
    absent: BTreeSet<usize>,
    /// rigs with an active alert, beyond the random background
    alerting: BTreeSet<usize>,
    /// a payout arrives at this share of what is expected
    payout: Option<f64>,
}

struct Fleet {
    rng: Rng,
    hs: Vec<f64>,
    counts: Vec<ShareCounts>,
    t: u64,
}

const WORKERS: usize = 20;
const SITE_A: usize = 12;

impl Fleet {
    fn new(seed: u64) -> Fleet {
        let mut rng = Rng(seed);
        let hs = (0..WORKERS).map(|_| 1.2e13 + 4e12 * rng.next()).collect();
        Fleet {
            rng,
            hs,
            counts: vec![ShareCounts::default(); WORKERS],
            t: 0,
        }
    }

    fn site(i: usize) -> &'static str {
        if i < SITE_A {
            "site-a"
        } else {
            "site-b"
        }
    }

    fn update(&mut self, m: &Mods) -> PoolUpdate {
        self.t += 1;
        let mut workers = Vec::new();
        let mut alerting = m.alerting.clone();
        for i in 0..WORKERS {
            if self.rng.next() < 0.01 {
                alerting.insert(i);
            }
            let both = m.both.get(&i).copied().unwrap_or(1.0);
            let reported = self.hs[i] * (1.0 + 0.01 * self.rng.normal()) * both;
            let mut pool = reported * (1.0 + 0.08 * self.rng.normal()).max(0.0);
            pool *= m.pool.get(&i).copied().unwrap_or(1.0);
            if m.absent.contains(&i) {
                pool = 0.0;
            }
            let shares = (100.0 * pool / self.hs[i] * (1.0 + 0.1 * self.rng.normal())).max(0.0) as u64;
            let p_inv = m.invalid.get(&i).copied().unwrap_or(0.005);
            let (mut inv, mut stale) = (0, 0);
            for _ in 0..shares {
                let u = self.rng.next();
                if u < p_inv {
                    inv += 1;
                } else if u < p_inv + 0.01 {
                    stale += 1;
                }
            }
            let c = &mut self.counts[i];
            c.accepted += shares - inv - stale;
            c.invalid += inv;
            c.stale += stale;
            workers.push(WorkerObs {
                worker_id: format!("acct.w{i}"),
                pool_hs: Some(pool),
                pool_counts: None,
                miner: (!m.absent.contains(&i)).then(|| MinerObs {
                    rig: format!("rig{i}"),
                    site: Fleet::site(i).into(),
                    asic: Some(format!("asic{i}")),
                    reported_hs: reported,
                    counts: *c,
                }),
            });
        }
        let sites = ["site-a", "site-b"]
            .iter()
            .map(|s| SiteAlerting {
                site: (*s).into(),
                rigs: (0..WORKERS).filter(|i| Fleet::site(*i) == *s).count(),
                alerting: alerting.iter().filter(|i| Fleet::site(**i) == *s).count(),
            })
            .collect();
        // Quiet payouts every 6 updates, within a few % of what the work implies.
        let payout = m
            .payout
            .or(self.t.is_multiple_of(6).then(|| (0.05 * self.rng.normal()).exp()));
        PoolUpdate {
            pool: "prohashing".into(),
            at_ms: self.t * 300_000,
            workers,
            payout: payout.map(|r| Payout {
                received: 100.0 * r,
                expected: 100.0,
            }),
            sites,
        }
    }
}

fn sentinel() -> Sentinel {
    Sentinel::new(Arc::new(
        SentinelModel::load(&repo_models()).expect("sentinel_pool loads"),
    ))
}

/// Six quiet updates (none may alert), then `threat` for two: the alerts raised.
fn scenario(seed: u64, threat: impl Fn(u64) -> Mods) -> Vec<(Finding, AlertEvent)> {
    let mut fleet = Fleet::new(seed);
    let mut s = sentinel();
    for _ in 0..6 {
        let f = s.assess(&fleet.update(&Mods::default())).expect("assess");
        assert!(
            alert_event(&f).is_none(),
            "quiet warm-up raised {:?}",
            f.detection
        );
    }
    (0..2)
        .filter_map(|k| {
            let f = s.assess(&fleet.update(&threat(k))).expect("assess");
            alert_event(&f).map(|e| (f, e))
        })
        .collect()
}

fn first_kind(raised: &[(Finding, AlertEvent)]) -> Option<&str> {
    raised.first().map(|(_, e)| e.kind.as_str())
}

#[test]
fn a_quiet_day_raises_nothing() {
    let mut fleet = Fleet::new(7);
    let mut s = sentinel();
    let (mut anomalies, mut raised) = (0, Vec::new());
    for t in 0..288u64 {
        let mut m = Mods::default();
        // A rig restarts at t=100 (the pool lags its miner for two updates), another is down
        // for maintenance from t=200 to t=202.
        if t == 100 {
            m.pool.insert(5, 0.4);
        }
        if t == 101 {
            m.pool.insert(5, 0.8);
        }
        if (200..203).contains(&t) {
            m.absent.insert(7);
        }
        let f = s.assess(&fleet.update(&m)).expect("assess");
        anomalies += usize::from(f.detection.is_anomaly);
        if let Some(e) = alert_event(&f) {
            raised.push((t, e.kind, f.detection.ensemble_score));
        }
    }
    assert!(raised.is_empty(), "a quiet day raised {raised:?}");
    // Low-severity anomalies are only logged; say how many, so a change in the model shows.
    eprintln!("quiet day: 288 updates, {anomalies} logged low-severity anomalies, 0 alerts");
}

#[test]
fn a_swapped_wallet_raises_hashrate_hijacking() {
    // Worker 3's pool user now pays someone else: the pool sees its hashrate fall to nothing
    // while the miner reports full speed.
    let raised = scenario(11, |k| Mods {
        pool: BTreeMap::from([(3, if k == 0 { 0.3 } else { 0.01 })]),
        ..Mods::default()
    });
    assert_eq!(first_kind(&raised), Some("hashrate_hijacking"), "{raised:?}");
    let (f, e) = &raised[0];
    assert!(e.message.contains("acct.w3"), "{}", e.message);
    assert_eq!(e.subject.pool.as_deref(), Some("prohashing"));
    assert_eq!(f.culprits.low_workers[0].1, "rig3");
}

#[test]
fn an_invalid_share_surge_across_the_pool_raises_share_manipulation() {
    let raised = scenario(12, |_| Mods {
        invalid: (0..WORKERS).filter(|i| i % 3 != 0).map(|i| (i, 0.2)).collect(),
        ..Mods::default()
    });
    assert_eq!(first_kind(&raised), Some("share_manipulation"), "{raised:?}");
    assert!(raised[0].0.culprits.surging_workers.len() >= 10);
}

#[test]
fn a_short_payout_raises_suspicious_payout() {
    let raised = scenario(13, |k| Mods {
        payout: (k == 0).then_some(0.5),
        ..Mods::default()
    });
    assert_eq!(first_kind(&raised), Some("suspicious_payout"), "{raised:?}");
    assert!(raised[0].1.message.contains("50 %"), "{}", raised[0].1.message);
}

#[test]
fn a_site_wide_event_raises_unknown_on_the_site() {
    // Nine of site-a's twelve rigs alert and lose most of their hashrate on both sides.
    let hit: Vec<usize> = (0..9).collect();
    let raised = scenario(14, |_| Mods {
        both: hit.iter().map(|i| (*i, 0.3)).collect(),
        alerting: hit.iter().copied().collect(),
        ..Mods::default()
    });
    assert_eq!(
        first_kind(&raised),
        Some(ThreatType::Unknown.as_str()),
        "{raised:?}"
    );
    let e = &raised[0].1;
    assert_eq!(e.subject.site.as_deref(), Some("site-a"));
    assert!(e.message.contains("site-wide"), "{}", e.message);
}

/// Through a real store: Prohashing-shaped snapshots, ASIC readings ingested as the agents send
/// them, `Sentinel::step` on each new pool state, and the alert handed to the alert sink.
#[test]
fn end_to_end_through_the_store_a_swapped_wallet_is_raised_to_the_alert_sink() {
    use crate::alerts::config::SourcesConfig;
    use crate::alerts::feed::Op;
    use crate::alerts::{AlertSink, Command};
    use crate::collect::prohashing::payload;
    use crate::collect::prohashing::state::PoolState;
    use crate::store::{Incoming, Store};
    use hashward_common::clock::now_ms;
    use hashward_protocol::{
        AsicApi, AsicHashrate, AsicPool, AsicTelemetry, Body, Envelope, Hashrate, RigId, RigState, Shares,
        SiteId,
    };

    let dir = tempfile::tempdir().expect("dir");
    let store = Store::open(&dir.path().join("hub.redb")).expect("store");
    let incoming = |rig: &str, seq: u64, ts: u64, body: Body| {
        let envelope = Envelope::new(RigId::new(rig).expect("id"), seq, ts, body);
        let bytes = hashward_protocol::encode(&envelope).expect("encode");
        Incoming {
            site: SiteId::new("s").expect("id"),
            envelope,
            bytes,
            received_ms: ts,
        }
    };
    let asic = |i: usize, accepted: u64| {
        Body::Asic(AsicTelemetry {
            miner_id: format!("asic{i}"),
            ip_address: format!("10.0.0.{i}"),
            api: AsicApi::Vnish,
            reachable: true,
            model: Some("Antminer S19".into()),
            firmware_version: None,
            hashrate: AsicHashrate {
                total: Hashrate(1.4e13),
                ..AsicHashrate::default()
            },
            temperature: Default::default(),
            power: Default::default(),
            fans: vec![],
            pool: Some(AsicPool {
                url: "stratum+tcp://prohashing.com:3335".into(),
                user: format!("acct.w{i}"),
                status: "alive".into(),
            }),
            shares: Shares {
                accepted,
                rejected: accepted / 200,
                stale: accepted / 100,
                last_share_ts_ms: None,
            },
            status: Default::default(),
            config: Default::default(),
            invalid: vec![],
        })
    };
    let rigs = 6;
    let now = now_ms();
    let mut batch = Vec::new();
    for i in 0..rigs {
        batch.push(incoming(
            &format!("rig{i}"),
            0,
            now - 5_000,
            Body::State(RigState {
                online: true,
                boot: 1,
                agent_version: "x".into(),
                hardware: None,
                capabilities: vec![],
            }),
        ));
    }
    store.ingest(&batch).expect("ingest");

    let (sink, mut rx) = AlertSink::new(SourcesConfig::default());
    let shared = Shared::new(Ok(Arc::new(SentinelModel::load(&repo_models()).expect("model"))));
    let mut s = Sentinel::new(shared.model.clone().expect("model"));
    let mut state = PoolState::default();
    // Four quiet updates, then worker 0's pool hashrate drops to 30 % and then to nothing.
    let pool_factor = [1.0, 0.98, 1.02, 0.99, 0.3, 0.0];
    let mut raised = Vec::new();
    for (u, factor) in pool_factor.iter().enumerate() {
        let t = now - 4_000 + u as u64 * 500;
        let readings: Vec<Incoming> = (0..rigs)
            .map(|i| {
                incoming(
                    &format!("rig{i}"),
                    u as u64 + 1,
                    t,
                    asic(i, 1000 * (u as u64 + 1)),
                )
            })
            .collect();
        store.ingest(&readings).expect("ingest");
        let list: Vec<serde_json::Value> = (0..rigs)
            .map(|i| {
                let f = if i == 0 {
                    *factor
                } else {
                    1.0 + 0.01 * (i as f64 - 2.5)
                };
                serde_json::json!({"uuid": format!("u{i}"), "miner_name": format!("acct.w{i}"),
                    "algorithm_name": "SHA-256", "hashrate": 1.4e13 * f, "share_count": 1000 * (u + 1)})
            })
            .collect();
        let miners = payload::miners_snapshot(&[serde_json::Value::Array(list)]).expect("snapshot");
        state.apply_miner_snapshot(miners, t, "prohashing_wamp");
        store.save_pool("prohashing", &state, t).expect("save");
        let found = s.step(&store, t + 100).expect("step");
        assert_eq!(found.len(), 1, "one new pool state, one assessment");
        assert!(s.step(&store, t + 200).expect("step").is_empty(), "nothing new");
        for f in found {
            let f = f.expect("assessed");
            assert!(f.features["hashrate_ratio"] > 0.0);
            publish(&shared, Some(&sink), f);
        }
        while let Ok(c) = rx.try_recv() {
            if let Command::Op(Op::Raise(ev)) = c {
                raised.push((u, ev));
            }
        }
    }
    assert!(!raised.is_empty(), "no alert raised");
    let (u, ev) = &raised[0];
    assert!(*u >= 4, "raised during the quiet updates: {ev:?}");
    assert_eq!(
        (ev.kind.as_str(), ev.source.as_str()),
        ("hashrate_hijacking", "sentinel")
    );
    assert!(ev.level >= Level::Warning);
    assert!(ev.message.contains("acct.w0"), "{}", ev.message);
    let latest = shared.latest.read().expect("lock");
    assert_eq!(
        latest["prohashing"].detection.threat_type,
        Some(ThreatType::HashrateHijacking)
    );
}
