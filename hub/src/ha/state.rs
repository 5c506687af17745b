//! The retained JSON state of one ASIC for Home Assistant's sensors
//! (`hashward/json/{site}/{rig}/asic/{asic}`), from the fleet overview's row. Rig sensors read
//! the rig's existing summary topic.
//!
//! Pure. Must never publish a figure the ASIC did not report: it is `null`, which Home
//! Assistant shows as unknown.

use crate::fleetview::AsicRow;
use serde_json::{json, Value};

pub fn asic_state(a: &AsicRow) -> Value {
    let efficiency = a.efficiency_j_th.or(match a.power_w {
        Some(w) if a.hashrate_hs > 0.0 => Some(w / (a.hashrate_hs / 1e12)),
        _ => None,
    });
    json!({
        "online": a.online,
        "ts_ms": a.ts_ms,
        "hashrate_ths": a.hashrate_hs / 1e12,
        "power_w": a.power_w,
        "chip_max_c": a.chip_max_c,
        "efficiency_j_th": efficiency,
        "anomaly_score": a.anomaly_score,
        "shares_accepted": a.shares_accepted,
        "shares_rejected": a.shares_rejected,
        "power_limit_w": a.power_limit_w,
    })
}
