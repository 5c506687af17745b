//! The rigs aggregate: one registry entry per rig (JSON, hub-internal, free to evolve unlike the
//! wire format), written by the ingest with what the domain projected from the batch.
//!
//! Must never drop an entry it cannot read: that is an error naming the rig.

use super::StoreError;
use crate::domain::rig::RigEntry;
use redb::{ReadTransaction, ReadableTable, Table, TableDefinition, WriteTransaction};

/// rig -> RigEntry as JSON
const RIGS: TableDefinition<&str, &[u8]> = TableDefinition::new("rigs");

pub(super) fn create(tx: &WriteTransaction) -> Result<(), StoreError> {
    tx.open_table(RIGS)?;
    Ok(())
}

pub(super) fn open(tx: &WriteTransaction) -> Result<Table<'_, &'static str, &'static [u8]>, StoreError> {
    Ok(tx.open_table(RIGS)?)
}

pub(super) fn load(
    rigs: &impl ReadableTable<&'static str, &'static [u8]>,
    rig: &str,
) -> Result<Option<RigEntry>, StoreError> {
    match rigs.get(rig)? {
        Some(v) => serde_json::from_slice(v.value())
            .map(Some)
            .map_err(|e| StoreError::Registry(rig.to_string(), e)),
        None => Ok(None),
    }
}

pub(super) fn save(
    rigs: &mut Table<'_, &'static str, &'static [u8]>,
    rig: &str,
    entry: &RigEntry,
) -> Result<(), StoreError> {
    let json = serde_json::to_vec(entry).map_err(|e| StoreError::Registry(rig.to_string(), e))?;
    rigs.insert(rig, json.as_slice())?;
    Ok(())
}

/// Removes a rig's entry; whether there was one.
pub(super) fn remove(
    rigs: &mut Table<'_, &'static str, &'static [u8]>,
    rig: &str,
) -> Result<bool, StoreError> {
    Ok(rigs.remove(rig)?.is_some())
}

pub(super) fn all(tx: &ReadTransaction) -> Result<Vec<RigEntry>, StoreError> {
    let rigs = tx.open_table(RIGS)?;
    let mut out = Vec::new();
    for entry in rigs.iter()? {
        let (k, v) = entry?;
        let e: RigEntry =
            serde_json::from_slice(v.value()).map_err(|e| StoreError::Registry(k.value().to_string(), e))?;
        out.push(e);
    }
    Ok(out)
}

pub(super) fn one(tx: &ReadTransaction, rig: &str) -> Result<Option<RigEntry>, StoreError> {
    load(&tx.open_table(RIGS)?, rig)
}

/// The fields a `/rigs` filter reads, decoded without the rest of the entry.
#[derive(serde::Deserialize)]
struct Filtered {
    site: String,
    online: bool,
    #[serde(default)]
    hardware: Option<FilteredHardware>,
}

#[derive(serde::Deserialize)]
struct FilteredHardware {
    cpu_model: String,
}

/// One page of the registry in rig-id order from the query's cursor: only entries that match
/// are decoded in full, and the read stops at the first match past the page.
pub(super) fn page(
    tx: &ReadTransaction,
    q: &super::rig_query::RigQuery,
) -> Result<super::rig_query::RigPage, StoreError> {
    let rigs = tx.open_table(RIGS)?;
    let range = match q.after.as_deref() {
        Some(after) => rigs.range::<&str>((std::ops::Bound::Excluded(after), std::ops::Bound::Unbounded))?,
        None => rigs.range::<&str>(..)?,
    };
    let mut page = super::rig_query::RigPage::default();
    for entry in range {
        let (k, v) = entry?;
        let rig = k.value();
        if !q.may_match_json(v.value()) {
            continue;
        }
        let f: Filtered =
            serde_json::from_slice(v.value()).map_err(|e| StoreError::Registry(rig.to_string(), e))?;
        if !q.matches(
            &f.site,
            f.online,
            rig,
            f.hardware.as_ref().map(|h| h.cpu_model.as_str()),
        ) {
            continue;
        }
        if page.rigs.len() == q.limit {
            page.next_cursor = page.rigs.last().map(|e| e.rig.as_str().to_string());
            break;
        }
        let e: RigEntry =
            serde_json::from_slice(v.value()).map_err(|e| StoreError::Registry(rig.to_string(), e))?;
        page.rigs.push(e);
    }
    Ok(page)
}
