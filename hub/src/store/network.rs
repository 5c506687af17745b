//! The network aggregate: each coin's latest snapshot (what `/network/{coin}` serves, stale
//! while its source is down), and one history row per (coin, height) for the difficulty and
//! earnings forecasts to come.
//!
//! Must never keep two rows for one height: a refetch of the same tip overwrites its row.

use super::{Store, StoreError};
use hashward_protocol::pool::NetworkSnapshot;
use redb::{ReadableDatabase, ReadableTable, TableDefinition, WriteTransaction};

/// coin -> JSON `NetworkSnapshot`.
const LATEST: TableDefinition<&str, &[u8]> = TableDefinition::new("network_latest");
/// (coin, height) -> JSON `NetworkSnapshot`.
const HISTORY: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("network_history");

pub(super) fn create(tx: &WriteTransaction) -> Result<(), StoreError> {
    tx.open_table(LATEST)?;
    tx.open_table(HISTORY)?;
    Ok(())
}

impl Store {
    /// Saves a snapshot as the coin's latest and as its height's history row; true when the
    /// height was new.
    pub fn save_network(&self, snap: &NetworkSnapshot) -> Result<bool, StoreError> {
        let json = serde_json::to_vec(snap).map_err(|e| StoreError::Registry(snap.coin.clone(), e))?;
        let tx = self.db.begin_write()?;
        let new = {
            tx.open_table(LATEST)?
                .insert(snap.coin.as_str(), json.as_slice())?;
            let mut h = tx.open_table(HISTORY)?;
            let was = h.insert((snap.coin.as_str(), snap.height), json.as_slice())?;
            was.is_none()
        };
        tx.commit()?;
        Ok(new)
    }

    pub fn network_latest(&self) -> Result<Vec<NetworkSnapshot>, StoreError> {
        let tx = self.db.begin_read()?;
        let table = tx.open_table(LATEST)?;
        let mut out = Vec::new();
        for entry in table.iter()? {
            let (k, v) = entry?;
            match serde_json::from_slice(v.value()) {
                Ok(s) => out.push(s),
                Err(e) => log::warn!("network snapshot {:?} unreadable, skipped: {e}", k.value()),
            }
        }
        Ok(out)
    }

    /// A coin's history rows with `from <= height <= to`, oldest first.
    pub fn network_history(
        &self,
        coin: &str,
        from: u64,
        to: u64,
        limit: usize,
    ) -> Result<Vec<NetworkSnapshot>, StoreError> {
        let tx = self.db.begin_read()?;
        let table = tx.open_table(HISTORY)?;
        let mut out = Vec::new();
        for entry in table.range((coin, from)..=(coin, to))?.take(limit) {
            let (_, v) = entry?;
            if let Ok(s) = serde_json::from_slice(v.value()) {
                out.push(s);
            }
        }
        Ok(out)
    }
}
