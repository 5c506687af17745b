//! The allocation aggregate (issue 17): the service's state kept between cycles (one row: the
//! decision state, hashrate memory, assignments in flight) and every stored decision with its
//! inputs, alternatives, reasons and what became of applying it, keyed by decision time (ms).
//!
//! Hub-local redb whatever the fleet store is: only the elected leader runs the service. Must
//! never drop an unreadable row silently: reading one is an error naming the table and key.

use super::{Store, StoreError};
use redb::{ReadableTable, ReadableTableMetadata, TableDefinition, WriteTransaction};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// "state" -> JSON of the service's state.
const STATE: TableDefinition<&str, &[u8]> = TableDefinition::new("allocation_state");
/// decided_ms -> JSON decision record.
const DECISIONS: TableDefinition<u64, &[u8]> = TableDefinition::new("allocation_decisions");

/// Decisions kept (a year of 15-minute cycles); older ones are pruned as new ones arrive.
pub const DECISIONS_KEPT: u64 = 35_040;

pub(super) fn create(tx: &WriteTransaction) -> Result<(), StoreError> {
    tx.open_table(STATE)?;
    tx.open_table(DECISIONS)?;
    Ok(())
}

fn encode<T: Serialize>(what: &str, v: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(v).map_err(|e| StoreError::Encode(format!("{what}: {e}")))
}

fn decode<T: DeserializeOwned>(what: String, bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Encode(format!("{what} is unreadable: {e}")))
}

impl Store {
    pub fn save_allocation_state<T: Serialize>(&self, state: &T) -> Result<(), StoreError> {
        let json = encode("allocation state", state)?;
        let tx = self.write_tx()?;
        tx.open_table(STATE)?.insert("state", json.as_slice())?;
        tx.commit()?;
        Ok(())
    }

    pub fn allocation_state<T: DeserializeOwned>(&self) -> Result<Option<T>, StoreError> {
        let tx = self.read_tx()?;
        let t = tx.open_table(STATE)?;
        let v = t.get("state")?;
        v.map(|v| decode("allocation_state row \"state\"".into(), v.value()))
            .transpose()
    }

    /// Stores (or replaces) the decision taken at `decided_ms`, pruning beyond
    /// [`DECISIONS_KEPT`].
    pub fn save_allocation_decision<T: Serialize>(
        &self,
        decided_ms: u64,
        record: &T,
    ) -> Result<(), StoreError> {
        let json = encode("allocation decision", record)?;
        let tx = self.write_tx()?;
        {
            let mut t = tx.open_table(DECISIONS)?;
            t.insert(decided_ms, json.as_slice())?;
            let n = t.len()?;
            if n > DECISIONS_KEPT {
                let old: Vec<u64> = t
                    .iter()?
                    .take((n - DECISIONS_KEPT) as usize)
                    .map(|e| e.map(|(k, _)| k.value()))
                    .collect::<Result<_, _>>()?;
                for k in old {
                    t.remove(k)?;
                }
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Up to `limit` decisions taken before `before_ms` (all when `None`), newest first.
    pub fn allocation_decisions<T: DeserializeOwned>(
        &self,
        before_ms: Option<u64>,
        limit: usize,
    ) -> Result<Vec<T>, StoreError> {
        let tx = self.read_tx()?;
        let t = tx.open_table(DECISIONS)?;
        let mut out = Vec::new();
        for e in t.range(..before_ms.unwrap_or(u64::MAX))?.rev().take(limit) {
            let (k, v) = e?;
            out.push(decode(
                format!("allocation_decisions row {}", k.value()),
                v.value(),
            )?);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_round_trips_and_history_pages_newest_first() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join("hub.redb")).expect("open");
        assert_eq!(store.allocation_state::<Vec<u32>>().expect("read"), None);
        store.save_allocation_state(&vec![1u32, 2]).expect("save");
        assert_eq!(
            store.allocation_state::<Vec<u32>>().expect("read"),
            Some(vec![1, 2])
        );
        for ms in [10u64, 20, 30] {
            store.save_allocation_decision(ms, &ms).expect("save");
        }
        store.save_allocation_decision(20, &21u64).expect("replace");
        let all: Vec<u64> = store.allocation_decisions(None, 10).expect("all");
        assert_eq!(all, vec![30, 21, 10]);
        let page: Vec<u64> = store.allocation_decisions(Some(30), 1).expect("page");
        assert_eq!(page, vec![21]);
        let bad: Result<Vec<String>, _> = store.allocation_decisions(None, 1);
        assert!(bad
            .expect_err("wrong type")
            .to_string()
            .contains("allocation_decisions row 30"));
    }
}
