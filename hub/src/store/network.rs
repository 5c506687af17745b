//! The network aggregate: each coin's latest snapshot (what `/network/{coin}` serves, stale
//! while its source is down), and one history row per (coin, height) for the difficulty and
//! earnings forecasts to come.
//!
//! Must never keep two rows for one height: a refetch of the same tip overwrites its row.

use super::{Store, StoreError};
use hashward_protocol::pool::NetworkSnapshot;
use redb::{ReadableTable, TableDefinition, WriteTransaction};

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
        let tx = self.write_tx()?;
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
        let tx = self.read_tx()?;
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
        let tx = self.read_tx()?;
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

impl Store {
    /// Deletes history rows fetched before `before_ms` (the latest snapshot per coin stays);
    /// returns how many.
    pub fn prune_network(&self, before_ms: u64) -> Result<u64, StoreError> {
        let tx = self.write_tx()?;
        let mut n = 0;
        {
            let mut table = tx.open_table(HISTORY)?;
            let old: Vec<(String, u64)> = table
                .iter()?
                .filter_map(Result::ok)
                .filter(|(_, v)| {
                    // An unreadable row is kept (a newer hub's): only what is known old goes.
                    serde_json::from_slice::<NetworkSnapshot>(v.value())
                        .is_ok_and(|s| s.fetched_at_ms < before_ms)
                })
                .map(|(k, _)| {
                    let (c, h) = k.value();
                    (c.to_string(), h)
                })
                .collect();
            for (c, h) in old {
                table.remove((c.as_str(), h))?;
                n += 1;
            }
        }
        tx.commit()?;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(height: u64, fetched_at_ms: u64) -> NetworkSnapshot {
        NetworkSnapshot {
            coin: "bitcoin".into(),
            height,
            network_difficulty: 1.0,
            network_hashrate: None,
            block_reward: 3.125,
            subsidy_coins: 3.125,
            mean_fees_coins: None,
            block_time: 600.0,
            mining_algorithm: "SHA-256".into(),
            blocks_to_retarget: Some(1),
            tip_time_ms: None,
            epoch_start_time_ms: None,
            source: "explorer".into(),
            fetched_at: String::new(),
            fetched_at_ms,
            quality: Default::default(),
        }
    }

    #[test]
    fn one_row_per_height_latest_kept_and_old_rows_pruned() {
        let dir = tempfile::tempdir().expect("dir");
        let store = Store::open(&dir.path().join("hub.redb")).expect("open");
        assert!(store.save_network(&snap(10, 1_000)).expect("save"));
        assert!(!store.save_network(&snap(10, 2_000)).expect("same height again"));
        assert!(store.save_network(&snap(11, 3_000)).expect("save"));
        assert_eq!(
            store
                .network_history("bitcoin", 0, u64::MAX, 10)
                .expect("h")
                .len(),
            2
        );
        assert_eq!(store.prune_network(2_500).expect("prune"), 1);
        let left = store.network_history("bitcoin", 0, u64::MAX, 10).expect("h");
        assert_eq!(left.iter().map(|s| s.height).collect::<Vec<_>>(), [11]);
        assert_eq!(store.network_latest().expect("latest")[0].height, 11);
    }
}
