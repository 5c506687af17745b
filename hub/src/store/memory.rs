//! An in-memory rig registry and record list behind the store's read traits, for the API's unit
//! tests: what the handlers read, and nothing of redb. Test-only; must never grow a write path.

use super::{RecordsRead, RigsRead, StoreError, StoredRecord};
use crate::domain::rig::RigEntry;

pub(crate) struct MemoryStore {
    pub rigs: Vec<RigEntry>,
    /// (rig id, record), in the order `records_of_kind` returns them.
    pub records: Vec<(String, StoredRecord)>,
}

impl RigsRead for MemoryStore {
    fn rigs(&self) -> Result<Vec<RigEntry>, StoreError> {
        Ok(self.rigs.clone())
    }
    fn rig(&self, rig: &str) -> Result<Option<RigEntry>, StoreError> {
        Ok(self.rigs.iter().find(|r| r.rig.as_str() == rig).cloned())
    }
}

impl RecordsRead for MemoryStore {
    fn records_of_kind(
        &self,
        rig: &str,
        kind: &str,
        from_ms: u64,
        to_ms: u64,
        limit: usize,
    ) -> Result<Vec<StoredRecord>, StoreError> {
        Ok(self
            .records
            .iter()
            .filter(|(r, rec)| r == rig && rec.body.kind() == kind && (from_ms..=to_ms).contains(&rec.ts_ms))
            .map(|(_, rec)| rec.clone())
            .take(limit)
            .collect())
    }
}
