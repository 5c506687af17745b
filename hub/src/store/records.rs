//! The records aggregate: every sequenced record once. Layout 2 (issue 20) keeps a record in
//! about 1.3x its wire size instead of 5x: rig ids and kinds are interned to fixed-width ints,
//! one table holds each record's body under (rig, kind, time, seq) so a listing of one kind
//! (a rig's scores) reads only that kind, never its telemetry, and a second table of bare
//! (rig, seq) keys catches duplicates. The envelope's header (rig, seq, time, schema) is in the
//! key, so only the body's bytes are kept. A listing of every kind merges the kinds by time.
//!
//! Stores of layout 1 (`records` keyed by (rig name, seq) with the whole envelope, plus the
//! by-time and by-kind indexes) and older are migrated on open, in the open's transaction.
//!
//! Must never store a record twice, lose one in a migration, or list a record of another kind.

use super::{StoreError, StoredRecord};
use hashward_protocol::{Body, Envelope};
use redb::{
    ReadTransaction, ReadableTable, ReadableTableMetadata, Table, TableDefinition, TableHandle,
    WriteTransaction,
};
use std::borrow::Cow;
use std::collections::HashMap;

/// (rig id, kind id, ts_ms, seq) -> the body's postcard bytes.
const RECORDS: TableDefinition<(u32, u8, u64, u64), &[u8]> = TableDefinition::new("records_v2");
/// (rig id, seq) -> (): the duplicate check.
const SEQS: TableDefinition<(u32, u64), ()> = TableDefinition::new("record_seqs");
/// rig name -> rig id (never reused, never renumbered).
const RIG_IDS: TableDefinition<&str, u32> = TableDefinition::new("record_rigs");
/// kind (topic leaf) -> kind id, numbered as first seen.
const KIND_IDS: TableDefinition<&str, u8> = TableDefinition::new("record_kinds");
/// Store layout versions: name -> version built; also the next rig id.
const LAYOUT: TableDefinition<&str, u64> = TableDefinition::new("layout");

/// Layout 1: (rig, seq) -> (ts_ms, envelope bytes), and its two indexes.
const V1_RECORDS: TableDefinition<(&str, u64), (u64, &[u8])> = TableDefinition::new("records");
const V1_BY_TIME: TableDefinition<(&str, u64, u64), ()> = TableDefinition::new("records_by_time");
const V1_BY_KIND: TableDefinition<(&str, &str, u64, u64), ()> = TableDefinition::new("records_by_kind");

/// The version of the (rig, kind, time) index of layout 1; kept for callers that report it.
pub const KIND_INDEX_VERSION: u64 = 1;
/// The records layout this hub writes; older ones are migrated on open.
pub const RECORDS_LAYOUT_VERSION: u64 = 2;
const RECORDS_LAYOUT: &str = "records";
const NEXT_RIG_ID: &str = "records_next_rig_id";

/// Creates the tables and migrates records of an older layout. Returns how many were migrated.
pub(super) fn create(tx: &WriteTransaction) -> Result<u64, StoreError> {
    let mut tables = Tables::open(tx)?;
    let built = tables.layout.get(RECORDS_LAYOUT)?.map(|v| v.value());
    let mut migrated = 0u64;
    if built != Some(RECORDS_LAYOUT_VERSION) {
        let legacy = tx.list_tables()?.any(|t| t.name() == V1_RECORDS.name());
        if legacy {
            migrated = migrate_v1(tx, &mut tables)?;
        }
        tables.layout.insert(RECORDS_LAYOUT, RECORDS_LAYOUT_VERSION)?;
    }
    drop(tables);
    if migrated > 0 {
        log::info!("migrated {migrated} stored record(s) to records layout {RECORDS_LAYOUT_VERSION}");
    }
    Ok(migrated)
}

fn migrate_v1(tx: &WriteTransaction, tables: &mut Tables<'_>) -> Result<u64, StoreError> {
    let mut migrated = 0u64;
    {
        let old = tx.open_table(V1_RECORDS)?;
        for entry in old.iter()? {
            let (k, v) = entry?;
            let (rig, seq) = k.value();
            let (_, bytes) = v.value();
            if bytes.is_empty() {
                // A tuning snapshot already folded into the telemetry tables: its (rig, seq)
                // only, so it still counts as received.
                if tables.insert_seq(rig, seq)? {
                    migrated += 1;
                }
                continue;
            }
            match hashward_protocol::decode(bytes) {
                Ok(env) => {
                    if tables.insert(&env, bytes)? {
                        migrated += 1;
                    }
                }
                // Not listable before either (listings skip what does not decode); a hub of
                // this layout could never list it, so it is logged and left behind.
                Err(e) => log::warn!("stored record {rig}/{seq} does not decode, not migrated: {e}"),
            }
        }
    }
    tx.delete_table(V1_RECORDS)?;
    tx.delete_table(V1_BY_TIME)?;
    tx.delete_table(V1_BY_KIND)?;
    Ok(migrated)
}

/// The record tables of one write transaction, with the interned ids it has looked up.
pub(super) struct Tables<'tx> {
    records: Table<'tx, (u32, u8, u64, u64), &'static [u8]>,
    seqs: Table<'tx, (u32, u64), ()>,
    rig_ids: Table<'tx, &'static str, u32>,
    kind_ids: Table<'tx, &'static str, u8>,
    layout: Table<'tx, &'static str, u64>,
    rigs_seen: HashMap<String, u32>,
    kinds_seen: HashMap<&'static str, u8>,
}

impl<'tx> Tables<'tx> {
    pub(super) fn open(tx: &'tx WriteTransaction) -> Result<Tables<'tx>, StoreError> {
        Ok(Tables {
            records: tx.open_table(RECORDS)?,
            seqs: tx.open_table(SEQS)?,
            rig_ids: tx.open_table(RIG_IDS)?,
            kind_ids: tx.open_table(KIND_IDS)?,
            layout: tx.open_table(LAYOUT)?,
            rigs_seen: HashMap::new(),
            kinds_seen: HashMap::new(),
        })
    }

    fn rig_id(&mut self, rig: &str) -> Result<u32, StoreError> {
        if let Some(id) = self.rigs_seen.get(rig) {
            return Ok(*id);
        }
        let existing = self.rig_ids.get(rig)?.map(|v| v.value());
        let id = match existing {
            Some(id) => id,
            None => {
                let next = self.layout.get(NEXT_RIG_ID)?.map_or(0, |v| v.value());
                let id = u32::try_from(next)
                    .map_err(|_| StoreError::Encode(format!("more than {} rigs in one store", u32::MAX)))?;
                self.rig_ids.insert(rig, id)?;
                self.layout.insert(NEXT_RIG_ID, next + 1)?;
                id
            }
        };
        self.rigs_seen.insert(rig.to_string(), id);
        Ok(id)
    }

    fn kind_id(&mut self, kind: &'static str) -> Result<u8, StoreError> {
        if let Some(id) = self.kinds_seen.get(kind) {
            return Ok(*id);
        }
        let existing = self.kind_ids.get(kind)?.map(|v| v.value());
        let id = match existing {
            Some(id) => id,
            None => {
                let n = self.kind_ids.len()?;
                let id = u8::try_from(n)
                    .map_err(|_| StoreError::Encode(format!("more than 256 record kinds ({kind})")))?;
                self.kind_ids.insert(kind, id)?;
                id
            }
        };
        self.kinds_seen.insert(kind, id);
        Ok(id)
    }

    /// Stores a sequenced record; false when (rig, seq) is already stored. `bytes` is the
    /// record's envelope as received.
    pub(super) fn insert(&mut self, env: &Envelope, bytes: &[u8]) -> Result<bool, StoreError> {
        let rig = self.rig_id(env.rig.as_str())?;
        if self.seqs.get((rig, env.seq))?.is_some() {
            return Ok(false);
        }
        let kind = self.kind_id(env.body.kind())?;
        let body = body_bytes(env, bytes)?;
        self.records
            .insert((rig, kind, env.ts_ms, env.seq), body.as_ref())?;
        self.seqs.insert((rig, env.seq), ())?;
        Ok(true)
    }

    /// Marks (rig, seq) received without keeping the body, and lists it nowhere: for a record
    /// folded elsewhere and never kept (a tuning snapshot, `crate::telem`). False when (rig, seq)
    /// is already stored.
    pub(super) fn insert_seq_only(&mut self, env: &Envelope) -> Result<bool, StoreError> {
        self.insert_seq(env.rig.as_str(), env.seq)
    }

    fn insert_seq(&mut self, rig: &str, seq: u64) -> Result<bool, StoreError> {
        let rig = self.rig_id(rig)?;
        if self.seqs.get((rig, seq))?.is_some() {
            return Ok(false);
        }
        self.seqs.insert((rig, seq), ())?;
        Ok(true)
    }
}

/// The body's bytes: the tail of the envelope as received (postcard writes the header fields
/// first), or the body encoded again when `bytes` is not that envelope.
fn body_bytes<'a>(env: &Envelope, bytes: &'a [u8]) -> Result<Cow<'a, [u8]>, StoreError> {
    if let Ok(((_schema, rig, seq, ts_ms), rest)) = postcard::take_from_bytes::<(u16, &str, u64, u64)>(bytes)
    {
        if rig == env.rig.as_str() && seq == env.seq && ts_ms == env.ts_ms && !rest.is_empty() {
            return Ok(Cow::Borrowed(rest));
        }
    }
    postcard::to_stdvec(&env.body)
        .map(Cow::Owned)
        .map_err(|e| StoreError::Encode(format!("record {}/{}: {e}", env.rig.as_str(), env.seq)))
}

fn decode_body(rig: &str, seq: u64, bytes: &[u8]) -> Option<Body> {
    match hashward_protocol::codec::decode_value::<Body>(bytes) {
        Ok(body) => Some(body),
        Err(e) => {
            log::warn!("stored record {rig}/{seq} does not decode: {e}");
            None
        }
    }
}

/// A rig's id, if it ever sent a record.
fn rig_id(tx: &ReadTransaction, rig: &str) -> Result<Option<u32>, StoreError> {
    Ok(tx.open_table(RIG_IDS)?.get(rig)?.map(|v| v.value()))
}

/// The records of one kind id of a rig id in the time range, decoded, those `keep` accepts, at
/// most `limit`, oldest first.
fn kind_range(
    records: &impl ReadableTable<(u32, u8, u64, u64), &'static [u8]>,
    (rig, rig_id, kind): (&str, u32, u8),
    from_ms: u64,
    to_ms: u64,
    limit: usize,
    keep: &impl Fn(&Body) -> bool,
) -> Result<Vec<StoredRecord>, StoreError> {
    let mut out = Vec::new();
    if limit == 0 {
        return Ok(out);
    }
    for entry in records.range((rig_id, kind, from_ms, 0)..=(rig_id, kind, to_ms, u64::MAX))? {
        let (k, v) = entry?;
        let (_, _, ts_ms, seq) = k.value();
        match decode_body(rig, seq, v.value()) {
            Some(body) if keep(&body) => {
                out.push(StoredRecord { seq, ts_ms, body });
                if out.len() >= limit {
                    break;
                }
            }
            _ => {}
        }
    }
    Ok(out)
}

/// Every record of `rig` in the time range, decoded, those `keep` accepts, at most `limit`,
/// ordered by (time, seq).
pub(super) fn scan(
    tx: &ReadTransaction,
    rig: &str,
    from_ms: u64,
    to_ms: u64,
    limit: usize,
    keep: impl Fn(&Body) -> bool,
) -> Result<Vec<StoredRecord>, StoreError> {
    let Some(id) = rig_id(tx, rig)? else {
        return Ok(Vec::new());
    };
    let records = tx.open_table(RECORDS)?;
    let kinds: Vec<u8> = tx
        .open_table(KIND_IDS)?
        .iter()?
        .map(|e| e.map(|(_, v)| v.value()))
        .collect::<Result<_, _>>()?;
    // The first `limit` of the merge are among the first `limit` of each kind.
    let mut out = Vec::new();
    for kind in kinds {
        out.extend(kind_range(
            &records,
            (rig, id, kind),
            from_ms,
            to_ms,
            limit,
            &keep,
        )?);
    }
    out.sort_by_key(|r| (r.ts_ms, r.seq));
    out.truncate(limit);
    Ok(out)
}

/// The records of one kind of `rig` in the time range, at most `limit`: only records of that
/// kind are read.
pub(super) fn of_kind(
    tx: &ReadTransaction,
    rig: &str,
    kind: &str,
    from_ms: u64,
    to_ms: u64,
    limit: usize,
) -> Result<Vec<StoredRecord>, StoreError> {
    let Some(id) = rig_id(tx, rig)? else {
        return Ok(Vec::new());
    };
    let Some(kind_id) = tx.open_table(KIND_IDS)?.get(kind)?.map(|v| v.value()) else {
        return Ok(Vec::new());
    };
    let records = tx.open_table(RECORDS)?;
    kind_range(&records, (rig, id, kind_id), from_ms, to_ms, limit, &|_| true)
}

// --- Seed 004 (telemetry): tuning snapshots are folded, never kept. -------------------------

/// The layout mark of [`strip_perf_bodies`] having run.
const PERF_STRIPPED: &str = "perf_bodies_stripped";

/// Once per store: takes the body out of every stored tuning snapshot (a store from before the
/// telemetry aggregates kept them), leaving its (rig, seq) as [`Tables::insert_seq_only`] does,
/// and returns the bodies (with their ts_ms) for folding.
pub(super) fn strip_perf_bodies(tx: &WriteTransaction) -> Result<Vec<(u64, Body)>, StoreError> {
    let mut tables = Tables::open(tx)?;
    if tables.layout.get(PERF_STRIPPED)?.is_some() {
        return Ok(Vec::new());
    }
    let mut bodies = Vec::new();
    let perf = tables.kind_ids.get("perf")?.map(|v| v.value());
    if let Some(perf) = perf {
        let rigs: Vec<(String, u32)> = tables
            .rig_ids
            .iter()?
            .map(|e| e.map(|(k, v)| (k.value().to_string(), v.value())))
            .collect::<Result<_, _>>()?;
        for (rig, id) in rigs {
            let keys: Vec<(u64, u64, Option<Body>)> = tables
                .records
                .range((id, perf, 0, 0)..=(id, perf, u64::MAX, u64::MAX))?
                .map(|e| {
                    e.map(|(k, v)| {
                        let (_, _, ts_ms, seq) = k.value();
                        (ts_ms, seq, decode_body(&rig, seq, v.value()))
                    })
                })
                .collect::<Result<_, _>>()?;
            for (ts_ms, seq, body) in keys {
                tables.records.remove((id, perf, ts_ms, seq))?;
                bodies.extend(body.map(|b| (ts_ms, b)));
            }
        }
    }
    if !bodies.is_empty() {
        log::info!(
            "took {} stored tuning snapshot(s) out of the records to fold them",
            bodies.len()
        );
    }
    tables.layout.insert(PERF_STRIPPED, 1)?;
    Ok(bodies)
}

/// Forgets that the perf bodies were stripped, as in a store from before the telemetry tables.
#[cfg(test)]
pub(super) fn unmark_perf_stripped(tx: &WriteTransaction) -> Result<(), StoreError> {
    tx.open_table(LAYOUT)?.remove(PERF_STRIPPED)?;
    Ok(())
}

/// Bytes the record tables occupy in the file: their pages, including the unused part of
/// each (`stats`: stored, metadata and fragmented bytes), and how many records they hold.
pub(super) fn footprint(tx: &ReadTransaction) -> Result<(u64, u64), StoreError> {
    let records = tx.open_table(RECORDS)?;
    let mut bytes = 0u64;
    let stats = [
        records.stats()?,
        tx.open_table(SEQS)?.stats()?,
        tx.open_table(RIG_IDS)?.stats()?,
        tx.open_table(KIND_IDS)?.stats()?,
    ];
    for s in stats {
        bytes += s.stored_bytes() + s.metadata_bytes() + s.fragmented_bytes();
    }
    Ok((bytes, records.len()?))
}

/// Rewrites the records as a hub before the kind index stored them (layout 0: the envelope by
/// (rig, seq) and the time index, no layout mark), so the migration on open can be tested.
#[cfg(test)]
pub(super) fn drop_kind_index(tx: &WriteTransaction) -> Result<(), StoreError> {
    write_v1(tx, false)
}

/// As [`drop_kind_index`], to layout 1 (with the kind index) when `with_kind_index`.
#[cfg(test)]
pub(super) fn write_v1(tx: &WriteTransaction, with_kind_index: bool) -> Result<(), StoreError> {
    use hashward_protocol::RigId;
    let names: HashMap<u32, String> = tx
        .open_table(RIG_IDS)?
        .iter()?
        .map(|e| e.map(|(k, v)| (v.value(), k.value().to_string())))
        .collect::<Result<_, _>>()?;
    {
        let mut old = tx.open_table(V1_RECORDS)?;
        let mut by_time = tx.open_table(V1_BY_TIME)?;
        let mut by_kind = tx.open_table(V1_BY_KIND)?;
        let records = tx.open_table(RECORDS)?;
        for entry in records.iter()? {
            let (k, v) = entry?;
            let (rig_id, _, ts_ms, seq) = k.value();
            let rig = &names[&rig_id];
            let body: Body = hashward_protocol::codec::decode_value(v.value()).expect("stored body");
            let env = Envelope::new(RigId::new(rig.as_str()).expect("rig id"), seq, ts_ms, body);
            let bytes = hashward_protocol::encode(&env).expect("encode");
            old.insert((rig.as_str(), seq), (ts_ms, bytes.as_slice()))?;
            by_time.insert((rig.as_str(), ts_ms, seq), ())?;
            if with_kind_index {
                by_kind.insert((rig.as_str(), env.body.kind(), ts_ms, seq), ())?;
            }
        }
    }
    if !with_kind_index {
        tx.delete_table(V1_BY_KIND)?;
    }
    tx.delete_table(RECORDS)?;
    tx.delete_table(SEQS)?;
    tx.delete_table(RIG_IDS)?;
    tx.delete_table(KIND_IDS)?;
    let mut layout = tx.open_table(LAYOUT)?;
    layout.remove(RECORDS_LAYOUT)?;
    layout.remove(NEXT_RIG_ID)?;
    if with_kind_index {
        layout.insert("records_by_kind", KIND_INDEX_VERSION)?;
    } else {
        layout.remove("records_by_kind")?;
    }
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

    #[test]
    fn the_body_is_the_tail_of_the_envelope_or_encoded_again() {
        let m = incoming(7, 700, advice("s19-a", 31.0));
        let tail = super::body_bytes(&m.envelope, &m.bytes).expect("body");
        assert!(matches!(tail, std::borrow::Cow::Borrowed(_)));
        let again = postcard::to_stdvec(&m.envelope.body).expect("encode");
        assert_eq!(tail.as_ref(), again.as_slice());
        // Bytes of another envelope: the body is encoded from the decoded value instead.
        let other = incoming(8, 700, advice("s19-a", 31.0));
        let encoded = super::body_bytes(&m.envelope, &other.bytes).expect("body");
        assert!(matches!(encoded, std::borrow::Cow::Owned(_)));
        assert_eq!(encoded.as_ref(), again.as_slice());
    }

    #[test]
    fn a_listing_of_every_kind_merges_the_kinds_by_time() {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = Store::open(&dir.path().join("hub.redb")).expect("open");
        let score = |seq, ts| {
            incoming(
                seq,
                ts,
                Body::Score(Score {
                    subject: "rig".into(),
                    score: 0.5,
                    threat_type: ThreatType::Overheat,
                    severity: Severity::Medium,
                    model_version: "m".into(),
                    sample_ts_ms: ts,
                }),
            )
        };
        // Seq and time disagree for seqs 4 and 5 (a clock stepped back): time orders.
        s.ingest(&[
            score(1, 100),
            incoming(2, 150, advice("a", 30.0)),
            score(3, 200),
            incoming(4, 300, advice("a", 30.0)),
            score(5, 250),
        ])
        .expect("ingest");
        let seqs = |from, to, limit| -> Vec<u64> {
            s.records("r1", from, to, limit)
                .expect("records")
                .iter()
                .map(|r| r.seq)
                .collect()
        };
        assert_eq!(seqs(0, u64::MAX, 100), vec![1, 2, 3, 5, 4]);
        assert_eq!(seqs(0, u64::MAX, 3), vec![1, 2, 3]);
        assert_eq!(seqs(150, 250, 100), vec![2, 3, 5]);
        assert!(seqs(301, u64::MAX, 10).is_empty());
        assert!(s.records("r9", 0, u64::MAX, 10).expect("records").is_empty());
    }

    #[test]
    fn a_layout_1_store_is_migrated_on_open_and_still_refuses_duplicates() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("hub.redb");
        let batch = [
            incoming(1, 100, advice("s19-a", 32.5)),
            incoming(2, 110, advice("s19-b", 30.0)),
            incoming(3, 120, advice("s19-a", 31.0)),
        ];
        {
            let s = Store::open(&path).expect("open");
            s.ingest(&batch).expect("ingest");
            let tx = s.write_tx().expect("tx");
            super::write_v1(&tx, true).expect("downgrade");
            tx.commit().expect("commit");
        }
        let s = Store::open(&path).expect("reopen migrates");
        let listed: Vec<(u64, u64)> = s
            .records_of_kind("r1", "advice", 0, u64::MAX, 10)
            .expect("list")
            .iter()
            .map(|r| (r.seq, r.ts_ms))
            .collect();
        assert_eq!(listed, vec![(1, 100), (2, 110), (3, 120)]);
        // The migrated records still count as stored: a replay is all duplicates.
        let again = s.ingest(&batch).expect("replay");
        assert!(
            again.iter().all(|o| *o == super::super::Outcome::Duplicate),
            "{again:?}"
        );
        // A new rig after the migration gets an id of its own.
        let mut other = incoming(1, 130, advice("x", 29.0));
        other.envelope.rig = RigId::new("r2").expect("id");
        other.bytes = hashward_protocol::encode(&other.envelope).expect("encode");
        s.ingest(&[other]).expect("ingest");
        assert_eq!(s.records("r2", 0, u64::MAX, 10).expect("r2").len(), 1);
        assert_eq!(s.records("r1", 0, u64::MAX, 10).expect("r1").len(), 3);
        drop(s);
        // A second open migrates nothing more.
        let s = Store::open(&path).expect("third open");
        assert_eq!(s.records("r1", 0, u64::MAX, 10).expect("r1").len(), 3);
    }
}
