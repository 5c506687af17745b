//! What a simulated rig sends: telemetry every tick, its sentinel score every other tick, now
//! and then an alert; shaped like a real agent's records (one CPU miner, a pool, temperatures).
//!
//! Must never reuse a seq: the hub's loss and duplicate counts are by (rig, seq).

use hashward_protocol::{
    encode, AgentCounters, Alert, Body, Celsius, Envelope, Hashrate, MinerTelemetry, PoolTelemetry,
    RecommendedAction, RigId, RigTelemetry, Score, Severity, TempReading, ThreatType,
};
use rand::Rng;

/// The records of one tick: (topic leaf, payload).
pub fn tick(
    rig: &RigId,
    seq: &mut u64,
    tick: u64,
    now_ms: u64,
    rng: &mut impl Rng,
) -> Vec<(&'static str, Vec<u8>)> {
    let mut out = Vec::with_capacity(2);
    let hashrate = 30.0e6 * (1.0 + rng.gen_range(-0.03..0.03));
    let tele = RigTelemetry {
        uptime_s: tick * 10,
        load_1m: 2.0,
        load_5m: 2.0,
        load_15m: 1.9,
        cpu_usage_pct: 99.0,
        memory_used_bytes: 1 << 30,
        memory_total_bytes: 8 << 30,
        temperatures: vec![TempReading {
            label: "Package id 0".into(),
            celsius: Celsius(62.0 + rng.gen_range(0.0..4.0)),
        }],
        miner: Some(MinerTelemetry {
            algo: "sha256d".into(),
            kernel: "sha256d-avx512x16".into(),
            threads: 2,
            batch: 4096,
            paused: false,
            hashrate_10s: Hashrate(hashrate),
            hashrate_60s: Hashrate(hashrate),
            hashrate_15m: Hashrate(30.0e6),
            pool: Some(PoolTelemetry {
                url: "stratum+tcp://pool.example:3333".into(),
                user: format!("wallet.{}", rig.as_str()),
                connected: true,
                difficulty: 65536.0,
                accepted: tick,
                rejected: 0,
                stale_dropped: 0,
                last_share_ts_ms: Some(now_ms),
                latency_ms: Some(20),
            }),
            constraints: vec![],
        }),
        agent: AgentCounters {
            published: *seq,
            ..AgentCounters::default()
        },
    };
    out.push(("tele", envelope(rig, seq, now_ms, Body::Tele(tele))));
    if tick.is_multiple_of(2) {
        let score = Score {
            subject: "rig".into(),
            score: rng.gen_range(0.0..0.2),
            threat_type: ThreatType::Unknown,
            severity: Severity::Low,
            model_version: "sentinel_rig_sim".into(),
            sample_ts_ms: now_ms,
        };
        out.push(("score", envelope(rig, seq, now_ms, Body::Score(score))));
    }
    if rng.gen_ratio(1, 500) {
        let alert = Alert {
            subject: "rig".into(),
            score: 0.9,
            threat_type: ThreatType::Overheat,
            severity: Severity::High,
            action: RecommendedAction {
                action: "alert".into(),
                description: "check cooling".into(),
                auto_execute: false,
            },
            model_version: "sentinel_rig_sim".into(),
            message: "simulated overheat".into(),
        };
        out.push(("alert", envelope(rig, seq, now_ms, Body::Alert(alert))));
    }
    out
}

fn envelope(rig: &RigId, seq: &mut u64, now_ms: u64, body: Body) -> Vec<u8> {
    *seq += 1;
    // Our own values, far under the protocol's size cap.
    encode(&Envelope::new(rig.clone(), *seq, now_ms, body)).unwrap_or_default()
}
