//! Reads the fleet snapshot from the store: every rig, the newest reading of each ASIC it
//! polled in the freshness window, and how many alerts it raised in the alert window.
//!
//! Must never decode a rig's other records: it reads the (rig, kind, time) index per kind.

use super::{ALERT_WINDOW_MS, ASIC_FRESH_MS};
use crate::domain::rig::RigEntry;
use crate::store::{StoreError, StoreRead};
use hashward_protocol::{AsicTelemetry, Body};
use std::collections::BTreeMap;

/// Readings read per rig per snapshot: enough for dozens of ASICs polled every second over the
/// window; beyond it the newest are the ones kept.
const ASIC_READINGS_READ: usize = 20_000;
/// Alerts counted per rig (a storm beyond this shows as this many).
pub const ALERTS_COUNTED: usize = 10_000;

/// One rig and what it reported lately.
#[derive(Debug, Clone, PartialEq)]
pub struct RigSnapshot {
    pub entry: RigEntry,
    /// The newest reading per ASIC in the freshness window, by miner id: (ts_ms, reading).
    pub asics: BTreeMap<String, (u64, AsicTelemetry)>,
    pub alerts_window: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FleetSnapshot {
    pub now_ms: u64,
    pub rigs: Vec<RigSnapshot>,
}

impl FleetSnapshot {
    pub fn load(store: &dyn StoreRead, now_ms: u64) -> Result<FleetSnapshot, StoreError> {
        let mut rigs = Vec::new();
        for entry in store.rigs()? {
            let rig = entry.rig.as_str().to_string();
            let from = now_ms.saturating_sub(ASIC_FRESH_MS);
            let mut asics = BTreeMap::new();
            // Oldest first: a later reading of the same miner replaces an earlier one.
            for r in store.records_of_kind(&rig, "asic", from, u64::MAX, ASIC_READINGS_READ)? {
                if let Body::Asic(a) = r.body {
                    asics.insert(a.miner_id.clone(), (r.ts_ms, a));
                }
            }
            let alerts_window = store
                .records_of_kind(
                    &rig,
                    "alert",
                    now_ms.saturating_sub(ALERT_WINDOW_MS),
                    u64::MAX,
                    ALERTS_COUNTED,
                )?
                .len() as u64;
            rigs.push(RigSnapshot {
                entry,
                asics,
                alerts_window,
            });
        }
        rigs.sort_by(|a, b| a.entry.rig.as_str().cmp(b.entry.rig.as_str()));
        Ok(FleetSnapshot { now_ms, rigs })
    }
}
