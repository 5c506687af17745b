//! The retired per-rig hints table. Fleet tuning hints now come from the telemetry aggregates
//! (`crate::telem`, `store::telem`), which key a contribution by the agent's random telemetry id;
//! this table kept an average per rig id next to the hardware class, so a store that still has
//! it drops it on open (its figures return as agents report again).
//!
//! Must never be written again.

use super::StoreError;
use redb::{TableDefinition, WriteTransaction};

/// Class key -> JSON per-rig averages (retired).
const HINTS: TableDefinition<&str, &[u8]> = TableDefinition::new("tuning_hints");

pub(super) fn create(tx: &WriteTransaction) -> Result<(), StoreError> {
    if tx.delete_table(HINTS)? {
        log::info!(
            "dropped the retired per-rig tuning_hints table (fleet hints come from the telemetry aggregates)"
        );
    }
    Ok(())
}
