//! The records aggregate: every sequenced record once, keyed by (rig, seq), with two indexes:
//! by (rig, time) for listings of every kind, and by (rig, kind, time) so a listing of one kind
//! (a rig's scores) reads only that kind's records, never its telemetry.
//!
//! Must never store a record twice or leave a record out of either index.

use super::{StoreError, StoredRecord};
use hashward_protocol::{Body, Envelope};
use redb::{ReadTransaction, ReadableTable, Table, TableDefinition, WriteTransaction};

/// (rig, seq) -> (ts_ms, envelope bytes)
const RECORDS: TableDefinition<(&str, u64), (u64, &[u8])> = TableDefinition::new("records");
/// (rig, ts_ms, seq) -> ()
const BY_TIME: TableDefinition<(&str, u64, u64), ()> = TableDefinition::new("records_by_time");
/// (rig, kind, ts_ms, seq) -> ()
const BY_KIND: TableDefinition<(&str, &str, u64, u64), ()> = TableDefinition::new("records_by_kind");
/// Store layout versions: name -> version built.
const LAYOUT: TableDefinition<&str, u64> = TableDefinition::new("layout");

/// The version of the (rig, kind, time) index; a store without it gets it built on open.
pub const KIND_INDEX_VERSION: u64 = 1;
const KIND_INDEX: &str = "records_by_kind";

/// Creates the tables and, for a store that predates the kind index, builds it from the records
/// already accepted.
pub(super) fn create(tx: &WriteTransaction) -> Result<(), StoreError> {
    let records = tx.open_table(RECORDS)?;
    tx.open_table(BY_TIME)?;
    let mut by_kind = tx.open_table(BY_KIND)?;
    let mut layout = tx.open_table(LAYOUT)?;
    let built = layout.get(KIND_INDEX)?.map(|v| v.value());
    if built != Some(KIND_INDEX_VERSION) {
        let mut indexed = 0u64;
        for entry in records.iter()? {
            let (k, v) = entry?;
            let (rig, seq) = k.value();
            let (ts_ms, bytes) = v.value();
            match hashward_protocol::decode(bytes) {
                Ok(env) => {
                    by_kind.insert((rig, env.body.kind(), ts_ms, seq), ())?;
                    indexed += 1;
                }
                // Not listable before either (listings skip what does not decode).
                Err(e) => log::warn!("stored record {rig}/{seq} does not decode, not indexed: {e}"),
            }
        }
        if indexed > 0 {
            log::info!("built the (rig, kind, time) index over {indexed} stored record(s)");
        }
        layout.insert(KIND_INDEX, KIND_INDEX_VERSION)?;
    }
    Ok(())
}

/// The record tables of one write transaction.
pub(super) struct Tables<'tx> {
    records: Table<'tx, (&'static str, u64), (u64, &'static [u8])>,
    by_time: Table<'tx, (&'static str, u64, u64), ()>,
    by_kind: Table<'tx, (&'static str, &'static str, u64, u64), ()>,
}

impl<'tx> Tables<'tx> {
    pub(super) fn open(tx: &'tx WriteTransaction) -> Result<Tables<'tx>, StoreError> {
        Ok(Tables {
            records: tx.open_table(RECORDS)?,
            by_time: tx.open_table(BY_TIME)?,
            by_kind: tx.open_table(BY_KIND)?,
        })
    }

    /// Stores a sequenced record and indexes it; false when (rig, seq) is already stored.
    pub(super) fn insert(&mut self, env: &Envelope, bytes: &[u8]) -> Result<bool, StoreError> {
        let rig = env.rig.as_str();
        if self.records.get((rig, env.seq))?.is_some() {
            return Ok(false);
        }
        self.records.insert((rig, env.seq), (env.ts_ms, bytes))?;
        self.by_time.insert((rig, env.ts_ms, env.seq), ())?;
        self.by_kind
            .insert((rig, env.body.kind(), env.ts_ms, env.seq), ())?;
        Ok(true)
    }

    /// Marks (rig, seq) received without keeping the body, and lists it nowhere: for a record
    /// folded elsewhere and never kept (a tuning snapshot, `crate::telem`). False when (rig, seq)
    /// is already stored.
    pub(super) fn insert_seq_only(&mut self, env: &Envelope) -> Result<bool, StoreError> {
        let rig = env.rig.as_str();
        if self.records.get((rig, env.seq))?.is_some() {
            return Ok(false);
        }
        self.records.insert((rig, env.seq), (env.ts_ms, &[][..]))?;
        Ok(true)
    }
}

fn decoded(
    records: &impl ReadableTable<(&'static str, u64), (u64, &'static [u8])>,
    rig: &str,
    seq: u64,
) -> Result<Option<Envelope>, StoreError> {
    let Some(v) = records.get((rig, seq))? else {
        return Ok(None);
    };
    let (_, bytes) = v.value();
    match hashward_protocol::decode(bytes) {
        Ok(env) => Ok(Some(env)),
        Err(e) => {
            log::warn!("stored record {rig}/{seq} does not decode: {e}");
            Ok(None)
        }
    }
}

/// Every record of `rig` in the time range, decoded, those `keep` accepts, at most `limit`.
pub(super) fn scan(
    tx: &ReadTransaction,
    rig: &str,
    from_ms: u64,
    to_ms: u64,
    limit: usize,
    keep: impl Fn(&Body) -> bool,
) -> Result<Vec<StoredRecord>, StoreError> {
    let by_time = tx.open_table(BY_TIME)?;
    let records = tx.open_table(RECORDS)?;
    let mut out = Vec::new();
    for entry in by_time.range((rig, from_ms, 0)..=(rig, to_ms, u64::MAX))? {
        if out.len() >= limit {
            break;
        }
        let (k, _) = entry?;
        let (_, ts_ms, seq) = k.value();
        match decoded(&records, rig, seq)? {
            Some(env) if keep(&env.body) => out.push(StoredRecord {
                seq,
                ts_ms,
                body: env.body,
            }),
            _ => {}
        }
    }
    Ok(out)
}

/// The records of one kind of `rig` in the time range, at most `limit`, read through the kind
/// index: only records of that kind are decoded.
pub(super) fn of_kind(
    tx: &ReadTransaction,
    rig: &str,
    kind: &str,
    from_ms: u64,
    to_ms: u64,
    limit: usize,
) -> Result<Vec<StoredRecord>, StoreError> {
    let by_kind = tx.open_table(BY_KIND)?;
    let records = tx.open_table(RECORDS)?;
    let mut out = Vec::new();
    for entry in by_kind.range((rig, kind, from_ms, 0)..=(rig, kind, to_ms, u64::MAX))? {
        if out.len() >= limit {
            break;
        }
        let (k, _) = entry?;
        let (_, _, ts_ms, seq) = k.value();
        if let Some(env) = decoded(&records, rig, seq)? {
            out.push(StoredRecord {
                seq,
                ts_ms,
                body: env.body,
            });
        }
    }
    Ok(out)
}

// --- Seed 004 (telemetry): tuning snapshots are folded, never kept. -------------------------

/// The layout mark of [`strip_bodies_of_kind`] having run for `perf`.
const PERF_STRIPPED: &str = "perf_bodies_stripped";

/// Once per store: takes the body out of every stored record of `kind` (a store from before the
/// telemetry aggregates kept raw tuning snapshots), leaving its (rig, seq) as
/// [`Tables::insert_seq_only`] does, and returns the bodies (with their ts_ms) for folding.
pub(super) fn strip_perf_bodies(tx: &WriteTransaction) -> Result<Vec<(u64, Body)>, StoreError> {
    let mut layout = tx.open_table(LAYOUT)?;
    if layout.get(PERF_STRIPPED)?.is_some() {
        return Ok(Vec::new());
    }
    let mut records = tx.open_table(RECORDS)?;
    let mut by_time = tx.open_table(BY_TIME)?;
    let mut by_kind = tx.open_table(BY_KIND)?;
    let mut found = Vec::new();
    for entry in by_kind.iter()? {
        let (k, _) = entry?;
        let (rig, kind, ts_ms, seq) = k.value();
        if kind == "perf" {
            found.push((rig.to_string(), ts_ms, seq));
        }
    }
    let mut bodies = Vec::new();
    for (rig, ts_ms, seq) in found {
        let body = match records.get((rig.as_str(), seq))? {
            Some(v) => hashward_protocol::decode(v.value().1).ok().map(|env| env.body),
            None => None,
        };
        bodies.extend(body.map(|b| (ts_ms, b)));
        records.insert((rig.as_str(), seq), (ts_ms, &[][..]))?;
        by_time.remove((rig.as_str(), ts_ms, seq))?;
        by_kind.remove((rig.as_str(), "perf", ts_ms, seq))?;
    }
    if !bodies.is_empty() {
        log::info!(
            "took {} stored tuning snapshot(s) out of the records to fold them",
            bodies.len()
        );
    }
    layout.insert(PERF_STRIPPED, 1)?;
    Ok(bodies)
}

/// Forgets that the perf bodies were stripped, as in a store from before the telemetry tables.
#[cfg(test)]
pub(super) fn unmark_perf_stripped(tx: &WriteTransaction) -> Result<(), StoreError> {
    tx.open_table(LAYOUT)?.remove(PERF_STRIPPED)?;
    Ok(())
}

/// Drops the kind index and its layout mark, leaving a store as hubs before the index wrote it.
#[cfg(test)]
pub(super) fn drop_kind_index(tx: &WriteTransaction) -> Result<(), StoreError> {
    tx.delete_table(BY_KIND)?;
    tx.open_table(LAYOUT)?.remove(KIND_INDEX)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::{Incoming, RecordsRead, Store};
    use hashward_protocol::RigId;
    use hashward_protocol::{
        Body, Envelope, OperatingPoint, PowerAdvice, Score, Severity, SiteId, ThreatType,
    };

    fn incoming(seq: u64, ts: u64, body: Body) -> Incoming {
        let envelope = Envelope::new(RigId::new("r1").expect("id"), seq, ts, body);
        let bytes = hashward_protocol::encode(&envelope).expect("encode");
        Incoming {
            site: SiteId::new("s").expect("id"),
            envelope,
            bytes,
            received_ms: ts,
        }
    }

    fn advice(asic: &str, j_per_th: f64) -> Body {
        Body::Advice(PowerAdvice {
            asic_id: asic.into(),
            model_version: "efficiency_asic_v1".into(),
            current: OperatingPoint {
                frequency_mhz: 630.0,
                voltage_v: 14.2,
                expected_ths: 120.0,
                expected_w: 120.0 * j_per_th,
                j_per_th,
            },
            suggestion: None,
        })
    }

    #[test]
    fn advice_is_stored_once_and_listed_by_its_kind() {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = Store::open(&dir.path().join("hub.redb")).expect("open");
        let score = Body::Score(Score {
            subject: "s19-a".into(),
            score: 0.1,
            threat_type: ThreatType::Overheat,
            severity: Severity::Low,
            model_version: "sentinel_asic_v1".into(),
            sample_ts_ms: 100,
        });
        let batch = [
            incoming(1, 100, advice("s19-a", 32.5)),
            incoming(2, 100, score),
            incoming(3, 200, advice("s19-b", 30.0)),
        ];
        s.ingest(&batch).expect("ingest");
        // A replay of the same records changes nothing.
        s.ingest(&batch).expect("ingest again");
        let listed = s.records_of_kind("r1", "advice", 0, u64::MAX, 10).expect("list");
        let got: Vec<(u64, u64, &str)> = listed
            .iter()
            .map(|r| match &r.body {
                Body::Advice(a) => (r.seq, r.ts_ms, a.asic_id.as_str()),
                other => panic!("not advice: {other:?}"),
            })
            .collect();
        assert_eq!(got, vec![(1, 100, "s19-a"), (3, 200, "s19-b")]);
        assert_eq!(listed[1].body, advice("s19-b", 30.0));
        assert_eq!(
            s.records_of_kind("r1", "advice", 150, u64::MAX, 10)
                .expect("list")
                .len(),
            1
        );
    }
}
