//! The pushes aggregate: the config push retained on each scope's topic, as the ingest saw it.
//!
//! Must never keep a scope whose retained message was cleared.

use super::StoreError;
use crate::domain::rollout::PushRecord;
use redb::{ReadTransaction, ReadableTable, TableDefinition, WriteTransaction};

/// Scope -> JSON `PushRecord`.
const PUSHES: TableDefinition<&str, &[u8]> = TableDefinition::new("config_pushes");

pub(super) fn create(tx: &WriteTransaction) -> Result<(), StoreError> {
    tx.open_table(PUSHES)?;
    Ok(())
}

pub(super) fn record(
    tx: &WriteTransaction,
    scope: &str,
    push: Option<&PushRecord>,
) -> Result<(), StoreError> {
    let mut t = tx.open_table(PUSHES)?;
    match push {
        Some(p) => {
            let json = serde_json::to_vec(p).map_err(|e| StoreError::Registry(scope.to_string(), e))?;
            t.insert(scope, json.as_slice())?;
        }
        None => {
            t.remove(scope)?;
        }
    }
    Ok(())
}

pub(super) fn all(tx: &ReadTransaction) -> Result<Vec<PushRecord>, StoreError> {
    let t = tx.open_table(PUSHES)?;
    let mut pushes = Vec::new();
    for entry in t.iter()? {
        let (k, v) = entry?;
        match serde_json::from_slice::<PushRecord>(v.value()) {
            Ok(p) => pushes.push(p),
            Err(e) => log::warn!("config push record {:?} unreadable: {e}", k.value()),
        }
    }
    Ok(pushes)
}
