//! The hints aggregate: one fleet tuning class per key (see `domain::hints::class_key`), folded
//! by the domain from the agents' tuning snapshots as they are stored.
//!
//! Must never fail a batch over a snapshot that is not a measurement: it stays a record, and is
//! only left out of the hints.

use super::StoreError;
use crate::domain::hints::{self, ClassAggregate};
use hashward_protocol::TuningSnapshot;
use redb::{ReadTransaction, ReadableTable, Table, TableDefinition, WriteTransaction};

/// Class key -> JSON `ClassAggregate`.
const HINTS: TableDefinition<&str, &[u8]> = TableDefinition::new("tuning_hints");

pub(super) fn create(tx: &WriteTransaction) -> Result<(), StoreError> {
    tx.open_table(HINTS)?;
    Ok(())
}

pub(super) fn open(tx: &WriteTransaction) -> Result<Table<'_, &'static str, &'static [u8]>, StoreError> {
    Ok(tx.open_table(HINTS)?)
}

/// Folds one rig's snapshot into its class.
pub(super) fn fold(
    table: &mut Table<'_, &'static str, &'static [u8]>,
    rig: &str,
    snap: &TuningSnapshot,
    received_ms: u64,
) -> Result<(), StoreError> {
    let key = hints::class_key(snap);
    let old = match table.get(key.as_str())? {
        Some(v) => match serde_json::from_slice(v.value()) {
            Ok(class) => Some(class),
            Err(e) => {
                log::warn!("tuning hints: unreadable class {key:?} starts over: {e}");
                None
            }
        },
        None => None,
    };
    match hints::fold(old, rig, snap, received_ms) {
        Ok(class) => {
            let json = serde_json::to_vec(&class).map_err(|e| StoreError::Registry(rig.to_string(), e))?;
            table.insert(key.as_str(), json.as_slice())?;
        }
        Err(e) => log::warn!("tuning snapshot from {rig} not used for hints: {e}"),
    }
    Ok(())
}

pub(super) fn all(tx: &ReadTransaction) -> Result<Vec<ClassAggregate>, StoreError> {
    let table = tx.open_table(HINTS)?;
    let mut classes = Vec::new();
    for entry in table.iter()? {
        let (k, v) = entry?;
        match serde_json::from_slice::<ClassAggregate>(v.value()) {
            Ok(c) => classes.push(c),
            Err(e) => log::warn!("tuning hints: unreadable class {:?}: {e}", k.value()),
        }
    }
    Ok(classes)
}
