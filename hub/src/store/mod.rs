//! The hub's store (redb), one module per aggregate: `records` (every sequenced record once,
//! keyed by (rig, seq), indexed by time and by (rig, kind, time)), `rigs` (the registry the
//! domain projects from envelopes), `telem` (the tuning-telemetry aggregates the fleet hints come
//! from; `hints` only drops the retired per-rig table) and `pushes` (config pushes seen on the
//! broker). The API and jobs read through the traits below, so they can be tested
//! without redb.
//!
//! A batch is written in one durable transaction; the ingest acknowledges MQTT messages only
//! after it commits, so an accepted record is never lost. Must never store a record twice.

pub mod alerts;
pub mod allocation;
pub mod backend;
mod hints;
pub mod market;
#[cfg(test)]
pub(crate) mod memory;
pub mod network;
pub mod pools;
pub mod postgres;
mod pushes;
mod records;
pub mod rig_query;
mod rigs;
pub mod scores;
pub mod telem;

use crate::domain::rig::RigEntry;
use crate::domain::rollout::PushRecord;
use hashward_protocol::{Body, Envelope, FleetHints, SiteId};
use redb::{Database, ReadableDatabase};
use serde::Serialize;
use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{PoisonError, RwLock};

pub use backend::{FleetStore, StoreChoice};
pub use records::KIND_INDEX_VERSION;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store database: {0}")]
    Db(#[from] redb::Error),
    #[error("rig registry entry for {0} is unreadable: {1}")]
    Registry(String, serde_json::Error),
    #[error("score table entry {0} is unreadable: {1}")]
    Scores(String, serde_json::Error),
    /// An earlier write hit an I/O error and reopening the database has not succeeded yet.
    #[error("store closed after an I/O error; reopening on the next write")]
    Closed,
    /// A value could not be written in the store's layout (a record body that does not
    /// encode, an id space exhausted).
    #[error("store layout: {0}")]
    Encode(String),
    /// The PostgreSQL fleet store (`store = "postgres://..."`).
    #[error("postgres store: {0}")]
    Postgres(#[from] postgres::PgError),
}

hashward_common::redb_errors!(StoreError::Db);

/// One decoded message on its way into the store.
pub struct Incoming {
    pub site: SiteId,
    pub envelope: Envelope,
    pub bytes: Vec<u8>,
    pub received_ms: u64,
}

/// What became of one ingested message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A sequenced record seen for the first time.
    Stored,
    /// A sequenced record the store already holds.
    Duplicate,
    /// A birth or last-will message (not a record).
    State,
}

/// A stored record as listed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredRecord {
    pub seq: u64,
    pub ts_ms: u64,
    pub body: Body,
}

/// The rig registry, read.
pub trait RigsRead: Send + Sync {
    fn rigs(&self) -> Result<Vec<RigEntry>, StoreError>;
    fn rig(&self, rig: &str) -> Result<Option<RigEntry>, StoreError>;
    /// One filtered page in rig-id order (`/rigs?limit=`). The default reads every rig; a
    /// store with an ordered registry reads from the cursor only.
    fn rigs_page(&self, q: &rig_query::RigQuery) -> Result<rig_query::RigPage, StoreError> {
        Ok(q.page_of(self.rigs()?))
    }
}

/// A rig's records, read.
pub trait RecordsRead: Send + Sync {
    /// A rig's records of one `kind` (topic leaf) with `from_ms <= ts_ms <= to_ms`, oldest
    /// first, at most `limit`. Must not decode records of other kinds.
    fn records_of_kind(
        &self,
        rig: &str,
        kind: &str,
        from_ms: u64,
        to_ms: u64,
        limit: usize,
    ) -> Result<Vec<StoredRecord>, StoreError>;
}

/// Fleet hints and config pushes, read.
pub trait FleetRead: Send + Sync {
    fn fleet_hints(&self, now_ms: u64) -> Result<FleetHints, StoreError>;
    fn pushes(&self) -> Result<Vec<PushRecord>, StoreError>;
}

/// Everything the HTTP API and the summary publisher read.
pub trait StoreRead: RigsRead + RecordsRead + FleetRead {
    /// Bytes the store occupies (0 when unknown).
    fn size_bytes(&self) -> u64;
}

pub struct Store {
    /// `None` while closed after an I/O error: redb refuses every later transaction of a handle
    /// that saw one (a full disk, say) until it is closed and opened again, so without this the
    /// hub would never store again once space returned.
    db: RwLock<Option<Database>>,
    path: PathBuf,
    /// What the telemetry tables did (`crate::telem`), for `/metrics`.
    telem: std::sync::Arc<crate::telem::Counters>,
}

impl Store {
    /// Opens (or creates) the store. A store written before the (rig, kind, time) index existed
    /// gets it built here, once, in the same transaction that records it was built.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let db = Database::create(path)?;
        let tx = db.begin_write()?;
        records::create(&tx)?;
        rigs::create(&tx)?;
        hints::create(&tx)?;
        pushes::create(&tx)?;
        market::create(&tx)?;
        pools::create(&tx)?;
        network::create(&tx)?;
        scores::create(&tx, hashward_common::clock::now_ms())?;
        alerts::create(&tx)?;
        allocation::create(&tx)?;
        telem::create(&tx)?;
        telem::fold_stripped(&tx, records::strip_perf_bodies(&tx)?)?;
        tx.commit()?;
        Ok(Store {
            db: RwLock::new(Some(db)),
            path: path.to_path_buf(),
            telem: Default::default(),
        })
    }

    fn read_tx(&self) -> Result<redb::ReadTransaction, StoreError> {
        let db = self.db.read().unwrap_or_else(PoisonError::into_inner);
        Ok(db.as_ref().ok_or(StoreError::Closed)?.begin_read()?)
    }

    fn write_tx(&self) -> Result<redb::WriteTransaction, StoreError> {
        let db = self.db.read().unwrap_or_else(PoisonError::into_inner);
        Ok(db.as_ref().ok_or(StoreError::Closed)?.begin_write()?)
    }

    /// After a write failed on I/O, closes the database and opens it again (redb repairs it),
    /// so the next attempt can succeed once the cause is gone. A failed reopen leaves it closed
    /// and is tried again on the next failed write.
    fn reopen_after(&self, err: &StoreError) {
        if !matches!(
            err,
            StoreError::Db(redb::Error::Io(_) | redb::Error::PreviousIo) | StoreError::Closed
        ) {
            return;
        }
        let mut db = self.db.write().unwrap_or_else(PoisonError::into_inner);
        // The old handle must be gone first: it holds the file lock.
        drop(db.take());
        match Database::create(&self.path) {
            Ok(fresh) => {
                log::warn!("store reopened after an I/O error: {err}");
                *db = Some(fresh);
            }
            Err(e) => log::error!("reopening the store after an I/O error ({err}) failed: {e}"),
        }
    }

    /// Writes a batch in one durable transaction; returns one outcome per message, in order.
    /// On an I/O error nothing is stored and the database is reopened for the next attempt.
    pub fn ingest(&self, batch: &[Incoming]) -> Result<Vec<Outcome>, StoreError> {
        let result = self.ingest_tx(batch);
        if let Err(e) = &result {
            self.reopen_after(e);
        }
        result
    }

    fn ingest_tx(&self, batch: &[Incoming]) -> Result<Vec<Outcome>, StoreError> {
        let tx = self.write_tx()?;
        let mut outcomes = Vec::with_capacity(batch.len());
        let telem_tally = {
            let mut records = records::Tables::open(&tx)?;
            let mut rig_table = rigs::open(&tx)?;
            let mut telem_tables = telem::Tables::open(&tx)?;
            // Each rig's registry entry is read once per batch and written once at its end.
            let mut entries: HashMap<String, RigEntry> = HashMap::new();
            for m in batch {
                let env = &m.envelope;
                let rig = env.rig.as_str();
                let entry = match entries.entry(rig.to_string()) {
                    Entry::Occupied(e) => e.into_mut(),
                    Entry::Vacant(e) => e.insert(
                        rigs::load(&rig_table, rig)?
                            .unwrap_or_else(|| RigEntry::new(env.rig.clone(), m.site.clone())),
                    ),
                };
                let outcome = if matches!(env.body, Body::State(_)) {
                    Outcome::State
                } else if let Some((who, snap)) = telem::contribution(&env.body) {
                    // Seed 004: a tuning snapshot is folded into the telemetry aggregates and
                    // never kept; its (rig, seq) is, so sequence accounting stays exact.
                    if records.insert_seq_only(env)? {
                        telem_tables.fold(&who, snap, m.received_ms)?;
                        Outcome::Stored
                    } else {
                        Outcome::Duplicate
                    }
                } else if records.insert(env, &m.bytes)? {
                    Outcome::Stored
                } else {
                    Outcome::Duplicate
                };
                entry.observe(&m.site, env, m.received_ms, outcome == Outcome::Stored);
                outcomes.push(outcome);
            }
            for (rig, entry) in entries {
                rigs::save(&mut rig_table, &rig, &entry)?;
            }
            telem_tables.tally
        };
        tx.commit()?;
        self.telem.add(&telem_tally);
        Ok(outcomes)
    }

    /// Forgets a rig (an operator retired it): its registry entry goes, so dashboards drop it;
    /// its records stay. A rig that reports again is registered afresh. Whether it was known.
    pub fn forget_rig(&self, rig: &str) -> Result<bool, StoreError> {
        let tx = self.write_tx()?;
        let known = rigs::remove(&mut rigs::open(&tx)?, rig)?;
        tx.commit()?;
        Ok(known)
    }

    /// Records a config push seen on a scope's topic; `None` (a cleared retained message)
    /// forgets the scope.
    pub fn record_push(&self, scope: &str, push: Option<&PushRecord>) -> Result<(), StoreError> {
        let result = self.write_tx().and_then(|tx| {
            pushes::record(&tx, scope, push)?;
            Ok(tx.commit()?)
        });
        if let Err(e) = &result {
            self.reopen_after(e);
        }
        result
    }

    /// (bytes of the record tables' pages, records held): the store's cost per record without
    /// the per-rig registry and the file's free pages (BENCHMARKS.md, issue 20).
    pub fn records_footprint(&self) -> Result<(u64, u64), StoreError> {
        records::footprint(&self.read_tx()?)
    }

    /// A rig's records of every kind with `from_ms <= ts_ms <= to_ms`, oldest first, at most
    /// `limit`. Records that no longer decode (written by a newer hub) are skipped and logged.
    pub fn records(
        &self,
        rig: &str,
        from_ms: u64,
        to_ms: u64,
        limit: usize,
    ) -> Result<Vec<StoredRecord>, StoreError> {
        self.records_where(rig, from_ms, to_ms, limit, |_| true)
    }

    /// As [`Store::records`], only those whose body `keep` accepts (`limit` counts those). Decodes
    /// every record in the range: for one kind, [`RecordsRead::records_of_kind`] reads the index.
    pub fn records_where(
        &self,
        rig: &str,
        from_ms: u64,
        to_ms: u64,
        limit: usize,
        keep: impl Fn(&Body) -> bool,
    ) -> Result<Vec<StoredRecord>, StoreError> {
        let tx = self.read_tx()?;
        records::scan(&tx, rig, from_ms, to_ms, limit, keep)
    }
}

/// The score batch's writes (see [`scores`]).
impl Store {
    /// Records a run's state (RUNNING, or FAILED with its error); the served batch is untouched.
    pub fn record_score_run(
        &self,
        meta: &scores::BatchMeta,
        date: crate::scores::date::ProcessingDate,
    ) -> Result<(), StoreError> {
        let tx = self.write_tx()?;
        scores::record_run(&tx, meta, date)?;
        tx.commit()?;
        Ok(())
    }

    /// Replaces the date's batch with `rows` and `meta` (COMPLETED) in one transaction.
    pub fn replace_score_batch(
        &self,
        meta: &scores::BatchMeta,
        date: crate::scores::date::ProcessingDate,
        rows: &scores::BatchRows,
    ) -> Result<(), StoreError> {
        let tx = self.write_tx()?;
        scores::replace(&tx, meta, date, rows)?;
        tx.commit()?;
        Ok(())
    }

    /// Each rig's (alerts, hub score sum) in the network's batches of `[from, to]`.
    pub fn rig_score_history(
        &self,
        network: &str,
        from: crate::scores::date::ProcessingDate,
        to: crate::scores::date::ProcessingDate,
    ) -> Result<HashMap<String, (u32, f64)>, StoreError> {
        scores::rig_history(&self.read_tx()?, network, from, to)
    }

    /// The scored alerts of `[from, to]`: (network, processing date, alert).
    pub fn scored_alerts(
        &self,
        from: crate::scores::date::ProcessingDate,
        to: crate::scores::date::ProcessingDate,
    ) -> Result<Vec<(String, String, scores::ScoredAlert)>, StoreError> {
        scores::scored_alerts(&self.read_tx()?, from, to)
    }
}

impl scores::ScoresRead for Store {
    fn completed_dates(&self, network: &str) -> Result<Vec<crate::scores::date::ProcessingDate>, StoreError> {
        scores::completed_dates(&self.read_tx()?, network)
    }
    fn visible_batch(
        &self,
        network: &str,
        date: crate::scores::date::ProcessingDate,
    ) -> Result<Option<scores::BatchMeta>, StoreError> {
        scores::meta(&self.read_tx()?, true, network, date)
    }
    fn last_run(
        &self,
        network: &str,
        date: crate::scores::date::ProcessingDate,
    ) -> Result<Option<scores::BatchMeta>, StoreError> {
        scores::meta(&self.read_tx()?, false, network, date)
    }
    fn visible_batches(&self, network: &str) -> Result<Vec<scores::BatchMeta>, StoreError> {
        scores::visible_batches(&self.read_tx()?, network)
    }
    fn alert_scores(
        &self,
        network: &str,
        date: crate::scores::date::ProcessingDate,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<(String, f64, f64)>, StoreError> {
        scores::alert_scores(&self.read_tx()?, network, date, offset, limit)
    }
    fn rankings(
        &self,
        network: &str,
        date: crate::scores::date::ProcessingDate,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<(u32, String, f64)>, StoreError> {
        scores::rankings(&self.read_tx()?, network, date, offset, limit)
    }
    fn cluster_scores(
        &self,
        network: &str,
        date: crate::scores::date::ProcessingDate,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<(String, f64, f64)>, StoreError> {
        scores::cluster_scores(&self.read_tx()?, network, date, offset, limit)
    }
}

impl RigsRead for Store {
    fn rigs(&self) -> Result<Vec<RigEntry>, StoreError> {
        rigs::all(&self.read_tx()?)
    }

    fn rig(&self, rig: &str) -> Result<Option<RigEntry>, StoreError> {
        rigs::one(&self.read_tx()?, rig)
    }

    fn rigs_page(&self, q: &rig_query::RigQuery) -> Result<rig_query::RigPage, StoreError> {
        rigs::page(&self.read_tx()?, q)
    }
}

impl RecordsRead for Store {
    fn records_of_kind(
        &self,
        rig: &str,
        kind: &str,
        from_ms: u64,
        to_ms: u64,
        limit: usize,
    ) -> Result<Vec<StoredRecord>, StoreError> {
        records::of_kind(&self.read_tx()?, rig, kind, from_ms, to_ms, limit)
    }
}

impl FleetRead for Store {
    fn fleet_hints(&self, now_ms: u64) -> Result<FleetHints, StoreError> {
        telem::fleet_hints(&self.read_tx()?, now_ms)
    }

    fn pushes(&self) -> Result<Vec<PushRecord>, StoreError> {
        pushes::all(&self.read_tx()?)
    }
}

impl StoreRead for Store {
    fn size_bytes(&self) -> u64 {
        std::fs::metadata(&self.path).map(|m| m.len()).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::seq::SeqStats;
    use hashward_protocol::{AgentCounters, RigId, RigState, RigTelemetry, Score};

    fn tele(seq: u64, ts: u64) -> Incoming {
        let t = RigTelemetry {
            uptime_s: seq,
            load_1m: 0.0,
            load_5m: 0.0,
            load_15m: 0.0,
            cpu_usage_pct: 1.0,
            memory_used_bytes: 1,
            memory_total_bytes: 2,
            temperatures: vec![],
            miner: None,
            agent: AgentCounters::default(),
        };
        let envelope = Envelope::new(RigId::new("r1").expect("id"), seq, ts, Body::Tele(t));
        let bytes = hashward_protocol::encode(&envelope).expect("encode");
        Incoming {
            site: SiteId::new("s").expect("id"),
            envelope,
            bytes,
            received_ms: ts,
        }
    }

    #[test]
    fn stores_once_counts_duplicates_and_gaps_and_survives_reopen() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("hub.redb");
        {
            let s = Store::open(&path).expect("open");
            let out = s
                .ingest(&[tele(1, 100), tele(2, 200), tele(2, 200), tele(5, 500)])
                .expect("ingest");
            assert_eq!(
                out,
                vec![
                    Outcome::Stored,
                    Outcome::Stored,
                    Outcome::Duplicate,
                    Outcome::Stored
                ]
            );
        }
        let s = Store::open(&path).expect("reopen");
        let e = s.rig("r1").expect("read").expect("known rig");
        assert_eq!((e.seq.received, e.seq.duplicates, e.missing), (3, 1, 2));
        assert_eq!(e.last_telemetry.expect("tele").uptime_s, 5);
        let seqs: Vec<u64> = s
            .records("r1", 0, u64::MAX, 100)
            .expect("records")
            .iter()
            .map(|r| r.seq)
            .collect();
        assert_eq!(seqs, vec![1, 2, 5]);
        let seqs: Vec<u64> = s
            .records("r1", 150, 499, 100)
            .expect("records")
            .iter()
            .map(|r| r.seq)
            .collect();
        assert_eq!(seqs, vec![2]);
        assert!(s.records("other", 0, u64::MAX, 10).expect("records").is_empty());
    }

    fn score(seq: u64, subject: &str, value: f32, sample_ts: u64) -> Incoming {
        let envelope = Envelope::new(
            RigId::new("r1").expect("id"),
            seq,
            sample_ts,
            Body::Score(Score {
                subject: subject.into(),
                score: value,
                threat_type: hashward_protocol::ThreatType::Overheat,
                severity: hashward_protocol::Severity::from_score(value),
                model_version: "sentinel_rig_v1.0.0_20261122_080000".into(),
                sample_ts_ms: sample_ts,
            }),
        );
        let bytes = hashward_protocol::encode(&envelope).expect("encode");
        Incoming {
            site: SiteId::new("s").expect("id"),
            envelope,
            bytes,
            received_ms: sample_ts,
        }
    }

    #[test]
    fn the_newest_score_per_subject_is_kept_and_records_filter_by_kind() {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = Store::open(&dir.path().join("hub.redb")).expect("open");
        // A replay after an outage delivers the older rig score last.
        s.ingest(&[
            tele(1, 100),
            score(2, "rig", 0.2, 100),
            score(3, "s19-a", 0.95, 150),
            tele(4, 200),
            score(6, "rig", 0.7, 200),
            score(5, "rig", 0.1, 180),
        ])
        .expect("ingest");
        let e = s.rig("r1").expect("read").expect("rig");
        assert_eq!(e.anomaly.len(), 2);
        assert_eq!(
            (e.anomaly["rig"].score, e.anomaly["rig"].sample_ts_ms),
            (0.7, 200)
        );
        assert_eq!(e.anomaly["s19-a"].score, 0.95);
        // The limit counts the kind asked for, not every record in the range.
        let scores = s
            .records_where("r1", 0, u64::MAX, 2, |b| b.kind() == "score")
            .expect("records");
        assert_eq!(scores.iter().map(|r| r.seq).collect::<Vec<_>>(), vec![2, 3]);
        let teles = s
            .records_where("r1", 0, u64::MAX, 10, |b| b.kind() == "tele")
            .expect("records");
        assert_eq!(teles.iter().map(|r| r.seq).collect::<Vec<_>>(), vec![1, 4]);
    }

    #[test]
    fn state_messages_set_online_without_touching_seq() {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = Store::open(&dir.path().join("hub.redb")).expect("open");
        let state = |online| {
            let envelope = Envelope::new(
                RigId::new("r1").expect("id"),
                0,
                1,
                Body::State(RigState {
                    online,
                    boot: 2,
                    agent_version: "x".into(),
                    hardware: None,
                    capabilities: vec![],
                }),
            );
            let bytes = hashward_protocol::encode(&envelope).expect("encode");
            Incoming {
                site: SiteId::new("s").expect("id"),
                envelope,
                bytes,
                received_ms: 1,
            }
        };
        s.ingest(&[state(true)]).expect("ingest");
        assert!(s.rig("r1").expect("read").expect("rig").online);
        s.ingest(&[state(false)]).expect("ingest");
        let e = s.rig("r1").expect("read").expect("rig");
        assert!(!e.online);
        assert_eq!(e.seq, SeqStats::default());
    }

    #[test]
    fn a_kind_listing_reads_the_index_and_respects_range_and_limit() {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = Store::open(&dir.path().join("hub.redb")).expect("open");
        s.ingest(&[
            tele(1, 100),
            score(2, "rig", 0.2, 110),
            tele(3, 120),
            score(4, "rig", 0.3, 130),
            score(5, "rig", 0.4, 140),
        ])
        .expect("ingest");
        let seqs = |kind: &str, from: u64, to: u64, limit: usize| -> Vec<u64> {
            s.records_of_kind("r1", kind, from, to, limit)
                .expect("records")
                .iter()
                .map(|r| r.seq)
                .collect()
        };
        assert_eq!(seqs("score", 0, u64::MAX, 100), vec![2, 4, 5]);
        assert_eq!(seqs("score", 0, u64::MAX, 2), vec![2, 4]);
        assert_eq!(seqs("score", 111, 140, 100), vec![4, 5]);
        assert_eq!(seqs("tele", 0, u64::MAX, 100), vec![1, 3]);
        assert!(seqs("alert", 0, u64::MAX, 100).is_empty());
        assert!(s
            .records_of_kind("r2", "score", 0, u64::MAX, 10)
            .expect("records")
            .is_empty());
        // The index and the scan agree.
        let scanned: Vec<u64> = s
            .records_where("r1", 0, u64::MAX, 100, |b| b.kind() == "score")
            .expect("scan")
            .iter()
            .map(|r| r.seq)
            .collect();
        assert_eq!(scanned, seqs("score", 0, u64::MAX, 100));
    }

    #[test]
    fn a_store_from_before_the_kind_index_gets_it_built_on_open() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("hub.redb");
        {
            let s = Store::open(&path).expect("open");
            s.ingest(&[
                tele(1, 100),
                score(2, "rig", 0.2, 110),
                score(3, "asic-1", 0.9, 120),
            ])
            .expect("ingest");
            let tx = s.write_tx().expect("tx");
            records::drop_kind_index(&tx).expect("drop");
            tx.commit().expect("commit");
        }
        let s = Store::open(&path).expect("reopen migrates");
        let scores: Vec<(u64, u64)> = s
            .records_of_kind("r1", "score", 0, u64::MAX, 10)
            .expect("records")
            .iter()
            .map(|r| (r.seq, r.ts_ms))
            .collect();
        assert_eq!(scores, vec![(2, 110), (3, 120)]);
        // New writes after the migration are indexed too, and a second open changes nothing.
        s.ingest(&[score(4, "rig", 0.5, 130)]).expect("ingest");
        drop(s);
        let s = Store::open(&path).expect("reopen");
        let seqs: Vec<u64> = s
            .records_of_kind("r1", "score", 0, u64::MAX, 10)
            .expect("records")
            .iter()
            .map(|r| r.seq)
            .collect();
        assert_eq!(seqs, vec![2, 3, 4]);
    }
}
