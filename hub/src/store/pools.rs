//! The pool aggregate: each pool's account state as last received (workers, balances,
//! profitability; what a restarted hub serves, marked stale, until the pool answers again), and
//! the per-algorithm profitability history keyed by the pool's own data time.
//!
//! Must never store a history row twice: the key is (pool, algorithm id, data time), so the
//! same quote seen again (a re-sent snapshot, a reconnect) overwrites itself.

use super::{Store, StoreError};
use crate::collect::prohashing::state::PoolState;
use hashward_protocol::pool::AlgorithmProfitability;
use redb::{ReadableTable, TableDefinition, WriteTransaction};

/// pool id -> JSON `PoolState`, with the ms it was received.
const STATE: TableDefinition<&str, (u64, &[u8])> = TableDefinition::new("pool_state");
/// (pool id, algorithm id, data ms) -> JSON `AlgorithmProfitability`.
const PROFIT: TableDefinition<(&str, &str, u64), &[u8]> = TableDefinition::new("pool_profitability");

pub(super) fn create(tx: &WriteTransaction) -> Result<(), StoreError> {
    tx.open_table(STATE)?;
    tx.open_table(PROFIT)?;
    Ok(())
}

fn json_err(what: &str, e: serde_json::Error) -> StoreError {
    StoreError::Registry(what.to_string(), e)
}

impl Store {
    /// Saves `pool`'s state and its quotes' history rows in one transaction; returns the number
    /// of history rows that were new.
    pub fn save_pool(&self, pool: &str, state: &PoolState, received_ms: u64) -> Result<u64, StoreError> {
        let tx = self.write_tx()?;
        let mut new_rows = 0;
        {
            let json = serde_json::to_vec(state).map_err(|e| json_err(pool, e))?;
            tx.open_table(STATE)?
                .insert(pool, (received_ms, json.as_slice()))?;
            let mut profit = tx.open_table(PROFIT)?;
            for p in state.profitability(received_ms) {
                let json = serde_json::to_vec(&p).map_err(|e| json_err(pool, e))?;
                let key = (pool, p.algorithm_id.as_str(), p.timestamp_ms);
                if profit.insert(key, json.as_slice())?.is_none() {
                    new_rows += 1;
                }
            }
        }
        tx.commit()?;
        Ok(new_rows)
    }

    /// Every pool's last state and when it was received.
    pub fn pool_states(&self) -> Result<Vec<(String, u64, PoolState)>, StoreError> {
        let tx = self.read_tx()?;
        let table = tx.open_table(STATE)?;
        let mut out = Vec::new();
        for entry in table.iter()? {
            let (k, v) = entry?;
            let (ms, json) = v.value();
            match serde_json::from_slice::<PoolState>(json) {
                Ok(s) => out.push((k.value().to_string(), ms, s)),
                Err(e) => log::warn!("pool state {:?} unreadable, skipped: {e}", k.value()),
            }
        }
        Ok(out)
    }

    /// One algorithm's quotes with `from_ms <= data time <= to_ms`, oldest first.
    pub fn pool_profitability(
        &self,
        pool: &str,
        algorithm_id: &str,
        from_ms: u64,
        to_ms: u64,
        limit: usize,
    ) -> Result<Vec<AlgorithmProfitability>, StoreError> {
        let tx = self.read_tx()?;
        let table = tx.open_table(PROFIT)?;
        let mut out = Vec::new();
        for entry in table
            .range((pool, algorithm_id, from_ms)..=(pool, algorithm_id, to_ms))?
            .take(limit)
        {
            let (_, v) = entry?;
            if let Ok(p) = serde_json::from_slice(v.value()) {
                out.push(p);
            }
        }
        Ok(out)
    }
}

impl Store {
    /// Deletes profitability rows whose data time is before `before_ms`; returns how many.
    pub fn prune_pool_profitability(&self, before_ms: u64) -> Result<u64, StoreError> {
        let tx = self.write_tx()?;
        let mut n = 0;
        {
            let mut table = tx.open_table(PROFIT)?;
            let old: Vec<(String, String, u64)> = table
                .iter()?
                .filter_map(Result::ok)
                .map(|(k, _)| {
                    let (p, a, t) = k.value();
                    (p.to_string(), a.to_string(), t)
                })
                .filter(|(_, _, t)| *t < before_ms)
                .collect();
            for (p, a, t) in old {
                table.remove((p.as_str(), a.as_str(), t))?;
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
    use crate::collect::prohashing::{normalise::ProfitUnits, payload};
    use serde_json::json;

    #[test]
    fn state_round_trips_and_history_has_no_duplicates() {
        let dir = tempfile::tempdir().expect("dir");
        let store = Store::open(&dir.path().join("hub.redb")).expect("open");
        let mut s = PoolState::default();
        let q = payload::profitability(&[
            json!({"2": {"algorithm_name": "SHA-256", "usd": 1e-7, "data_timestamp": 100.0}}),
        ])
        .expect("q");
        s.apply_quotes(q.clone(), &ProfitUnits::default(), 5_000, "prohashing_wamp");
        assert_eq!(store.save_pool("prohashing", &s, 5_000).expect("save"), 1);
        // The same quote again (a reconnect re-sends the snapshot): no new row.
        s.apply_quotes(q, &ProfitUnits::default(), 6_000, "prohashing_wamp");
        assert_eq!(store.save_pool("prohashing", &s, 6_000).expect("save"), 0);
        drop(store);
        let store = Store::open(&dir.path().join("hub.redb")).expect("reopen");
        let states = store.pool_states().expect("states");
        assert_eq!(states.len(), 1);
        assert_eq!((states[0].0.as_str(), states[0].1), ("prohashing", 6_000));
        assert_eq!(states[0].2, s);
        let hist = store
            .pool_profitability("prohashing", "2", 0, u64::MAX, 10)
            .expect("hist");
        assert_eq!(hist.len(), 1);
        assert!((hist[0].usd_per_th_day - 0.1).abs() < 1e-12);
    }
}
