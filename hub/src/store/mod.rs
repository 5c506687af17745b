//! The hub's store (redb): every sequenced record once, keyed by (rig, seq), a time index for
//! range queries, the rig registry (online state, hardware, last telemetry, seq accounting) and
//! the fleet tuning hints folded from the agents' snapshots.
//!
//! A batch is written in one durable transaction; the ingest acknowledges MQTT messages only
//! after it commits, so an accepted record is never lost. Must never store a record twice.

pub mod seq;

use crate::fleet::rollout::{self, PushRecord, RigAcks, Rollout, ScopeAcks};
use crate::hints;
use hashward_protocol::{Alert, Body, Envelope, FleetHints, Hardware, RigId, RigTelemetry, Score, SiteId};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use seq::SeqStats;
use serde::{Deserialize, Serialize};
use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// (rig, seq) -> (ts_ms, envelope bytes)
const RECORDS: TableDefinition<(&str, u64), (u64, &[u8])> = TableDefinition::new("records");
/// (rig, ts_ms, seq) -> ()
const BY_TIME: TableDefinition<(&str, u64, u64), ()> = TableDefinition::new("records_by_time");
/// rig -> RigEntry as JSON (hub-internal, free to evolve unlike the wire format)
const RIGS: TableDefinition<&str, &[u8]> = TableDefinition::new("rigs");
/// Fleet tuning hints: class key (see `hints::class_key`) -> JSON `ClassAggregate`.
const HINTS: TableDefinition<&str, &[u8]> = TableDefinition::new("tuning_hints");
/// Config pushes seen retained on the broker: scope -> JSON `PushRecord`.
const PUSHES: TableDefinition<&str, &[u8]> = TableDefinition::new("config_pushes");

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store database: {0}")]
    Db(#[from] redb::Error),
    #[error("rig registry entry for {0} is unreadable: {1}")]
    Registry(String, serde_json::Error),
}

hashward_common::redb_errors!(StoreError::Db);

/// What the hub knows about one rig.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RigEntry {
    pub rig: RigId,
    pub site: SiteId,
    pub online: bool,
    pub boot: u64,
    pub agent_version: String,
    pub hardware: Option<Hardware>,
    pub last_seen_ms: u64,
    pub last_telemetry: Option<RigTelemetry>,
    pub last_telemetry_ms: u64,
    pub seq: SeqStats,
    pub missing: u64,
    /// What the rig acked per config scope.
    #[serde(default)]
    pub config: BTreeMap<String, ScopeAcks>,
    /// The latest command acks (nonce, outcome), newest last.
    #[serde(default)]
    pub commands: Vec<CommandAck>,
    /// The latest inference score per subject (`rig` or an ASIC miner id).
    #[serde(default)]
    pub anomaly: BTreeMap<String, Score>,
    /// The latest alert and when it was raised.
    #[serde(default)]
    pub last_alert: Option<Alert>,
    #[serde(default)]
    pub last_alert_ms: u64,
}

/// Subjects whose latest score a rig entry keeps (a rig polls a handful of ASICs; more means
/// miner ids churn, and the oldest-named are dropped).
const SCORE_SUBJECTS_KEPT: usize = 256;

/// One command's outcome as the rig reported it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommandAck {
    pub nonce: u64,
    pub ts_ms: u64,
    pub outcome: hashward_protocol::AckOutcome,
}

/// Command acks kept per rig.
const COMMAND_ACKS_KEPT: usize = 20;

impl RigEntry {
    fn new(rig: RigId, site: SiteId) -> RigEntry {
        RigEntry {
            rig,
            site,
            online: false,
            boot: 0,
            agent_version: String::new(),
            hardware: None,
            last_seen_ms: 0,
            last_telemetry: None,
            last_telemetry_ms: 0,
            seq: SeqStats::default(),
            missing: 0,
            config: BTreeMap::new(),
            commands: Vec::new(),
            anomaly: BTreeMap::new(),
            last_alert: None,
            last_alert_ms: 0,
        }
    }
}

/// One decoded message on its way into the store.
pub struct Incoming {
    pub site: SiteId,
    pub envelope: Envelope,
    pub bytes: Vec<u8>,
    pub received_ms: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Stored,
    Duplicate,
    State,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredRecord {
    pub seq: u64,
    pub ts_ms: u64,
    pub body: Body,
}

pub struct Store {
    db: Database,
    path: PathBuf,
}

fn load_rig(
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

impl Store {
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let db = Database::create(path)?;
        let tx = db.begin_write()?;
        tx.open_table(RECORDS)?;
        tx.open_table(BY_TIME)?;
        tx.open_table(RIGS)?;
        tx.open_table(HINTS)?;
        tx.open_table(PUSHES)?;
        tx.commit()?;
        Ok(Store {
            db,
            path: path.to_path_buf(),
        })
    }

    /// Writes a batch in one durable transaction; returns one outcome per message, in order.
    pub fn ingest(&self, batch: &[Incoming]) -> Result<Vec<Outcome>, StoreError> {
        let tx = self.db.begin_write()?;
        let mut outcomes = Vec::with_capacity(batch.len());
        {
            let mut records = tx.open_table(RECORDS)?;
            let mut by_time = tx.open_table(BY_TIME)?;
            let mut rigs = tx.open_table(RIGS)?;
            let mut hint_table = tx.open_table(HINTS)?;
            // Each rig's registry entry is read once per batch and written once at its end.
            let mut entries: HashMap<String, RigEntry> = HashMap::new();
            for m in batch {
                let env = &m.envelope;
                let rig = env.rig.as_str();
                let entry = match entries.entry(rig.to_string()) {
                    Entry::Occupied(e) => e.into_mut(),
                    Entry::Vacant(e) => e.insert(
                        load_rig(&rigs, rig)?
                            .unwrap_or_else(|| RigEntry::new(env.rig.clone(), m.site.clone())),
                    ),
                };
                entry.site = m.site.clone();
                entry.last_seen_ms = entry.last_seen_ms.max(m.received_ms);
                let outcome = if let Body::State(state) = &env.body {
                    entry.online = state.online;
                    entry.boot = entry.boot.max(state.boot);
                    if state.online {
                        entry.agent_version = state.agent_version.clone();
                        if state.hardware.is_some() {
                            entry.hardware = state.hardware.clone();
                        }
                    }
                    Outcome::State
                } else {
                    let is_new = records.get((rig, env.seq))?.is_none();
                    if is_new {
                        records.insert((rig, env.seq), (env.ts_ms, m.bytes.as_slice()))?;
                        by_time.insert((rig, env.ts_ms, env.seq), ())?;
                        if let Body::Tele(t) = &env.body {
                            if env.ts_ms >= entry.last_telemetry_ms {
                                entry.last_telemetry = Some(t.clone());
                                entry.last_telemetry_ms = env.ts_ms;
                            }
                        }
                        if let Body::Ack(ack) = &env.body {
                            record_ack(entry, ack, env.ts_ms);
                        }
                        if let Body::Score(score) = &env.body {
                            record_score(entry, score);
                        }
                        if let Body::Alert(alert) = &env.body {
                            if env.ts_ms >= entry.last_alert_ms {
                                entry.last_alert = Some(alert.clone());
                                entry.last_alert_ms = env.ts_ms;
                            }
                        }
                        if let Body::Perf(snap) = &env.body {
                            let key = hints::class_key(snap);
                            let old = match hint_table.get(key.as_str())? {
                                Some(v) => serde_json::from_slice(v.value()).ok(),
                                None => None,
                            };
                            match hints::fold(old, rig, snap, m.received_ms) {
                                Ok(class) => {
                                    let json = serde_json::to_vec(&class)
                                        .map_err(|e| StoreError::Registry(rig.to_string(), e))?;
                                    hint_table.insert(key.as_str(), json.as_slice())?;
                                }
                                // Stored as a record, but not a hint: it is not a measurement.
                                Err(e) => log::warn!("tuning snapshot from {rig} not used for hints: {e}"),
                            }
                        }
                    }
                    entry.seq.observe(env.seq, is_new);
                    if is_new {
                        Outcome::Stored
                    } else {
                        Outcome::Duplicate
                    }
                };
                outcomes.push(outcome);
            }
            for (rig, mut entry) in entries {
                entry.missing = entry.seq.missing();
                let json = serde_json::to_vec(&entry).map_err(|e| StoreError::Registry(rig.clone(), e))?;
                rigs.insert(rig.as_str(), json.as_slice())?;
            }
        }
        tx.commit()?;
        Ok(outcomes)
    }

    /// Records a config push seen on a scope's topic; `None` (a cleared retained message)
    /// forgets the scope.
    pub fn record_push(&self, scope: &str, push: Option<&PushRecord>) -> Result<(), StoreError> {
        let tx = self.db.begin_write()?;
        {
            let mut t = tx.open_table(PUSHES)?;
            match push {
                Some(p) => {
                    let json =
                        serde_json::to_vec(p).map_err(|e| StoreError::Registry(scope.to_string(), e))?;
                    t.insert(scope, json.as_slice())?;
                }
                None => {
                    t.remove(scope)?;
                }
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Each scope's current push and, per rig, what it applied, rejected or has not answered.
    pub fn rollout(&self) -> Result<Rollout, StoreError> {
        let tx = self.db.begin_read()?;
        let t = tx.open_table(PUSHES)?;
        let mut pushes = Vec::new();
        for entry in t.iter()? {
            let (k, v) = entry?;
            match serde_json::from_slice::<PushRecord>(v.value()) {
                Ok(p) => pushes.push(p),
                Err(e) => log::warn!("config push record {:?} unreadable: {e}", k.value()),
            }
        }
        drop(t);
        drop(tx);
        let rigs = self.rigs()?;
        let sites: Vec<(String, String)> = rigs
            .iter()
            .map(|r| (r.site.to_string(), r.rig.to_string()))
            .collect();
        let acks: Vec<RigAcks<'_>> = rigs
            .iter()
            .zip(&sites)
            .map(|(r, (site, rig))| RigAcks {
                site,
                rig,
                online: r.online,
                acks: &r.config,
            })
            .collect();
        Ok(rollout::view(&pushes, &acks))
    }

    /// The fleet's tuning hints, one per class of hardware.
    pub fn fleet_hints(&self, now_ms: u64) -> Result<FleetHints, StoreError> {
        let tx = self.db.begin_read()?;
        let table = tx.open_table(HINTS)?;
        let mut classes = Vec::new();
        for entry in table.iter()? {
            let (k, v) = entry?;
            match serde_json::from_slice::<hints::ClassAggregate>(v.value()) {
                Ok(c) => classes.push(c),
                Err(e) => log::warn!("tuning hints: unreadable class {:?}: {e}", k.value()),
            }
        }
        Ok(hints::hints(&classes, now_ms))
    }

    pub fn rigs(&self) -> Result<Vec<RigEntry>, StoreError> {
        let tx = self.db.begin_read()?;
        let rigs = tx.open_table(RIGS)?;
        let mut out = Vec::new();
        for entry in rigs.iter()? {
            let (k, v) = entry?;
            let e: RigEntry = serde_json::from_slice(v.value())
                .map_err(|e| StoreError::Registry(k.value().to_string(), e))?;
            out.push(e);
        }
        Ok(out)
    }

    pub fn rig(&self, rig: &str) -> Result<Option<RigEntry>, StoreError> {
        let tx = self.db.begin_read()?;
        let rigs = tx.open_table(RIGS)?;
        load_rig(&rigs, rig)
    }

    /// A rig's records with `from_ms <= ts_ms <= to_ms`, oldest first, at most `limit`.
    /// Records that no longer decode (written by a newer hub) are skipped and logged.
    pub fn records(
        &self,
        rig: &str,
        from_ms: u64,
        to_ms: u64,
        limit: usize,
    ) -> Result<Vec<StoredRecord>, StoreError> {
        self.records_where(rig, from_ms, to_ms, limit, |_| true)
    }

    /// As [`Store::records`], only those whose body `keep` accepts (`limit` counts those).
    pub fn records_where(
        &self,
        rig: &str,
        from_ms: u64,
        to_ms: u64,
        limit: usize,
        keep: impl Fn(&Body) -> bool,
    ) -> Result<Vec<StoredRecord>, StoreError> {
        let tx = self.db.begin_read()?;
        let by_time = tx.open_table(BY_TIME)?;
        let records = tx.open_table(RECORDS)?;
        let mut out = Vec::new();
        for entry in by_time.range((rig, from_ms, 0)..=(rig, to_ms, u64::MAX))? {
            if out.len() >= limit {
                break;
            }
            let (k, _) = entry?;
            let (_, ts_ms, seq) = k.value();
            let Some(v) = records.get((rig, seq))? else {
                continue;
            };
            let (_, bytes) = v.value();
            match hashward_protocol::decode(bytes) {
                Ok(env) if !keep(&env.body) => {}
                Ok(env) => out.push(StoredRecord {
                    seq,
                    ts_ms,
                    body: env.body,
                }),
                Err(e) => log::warn!("stored record {rig}/{seq} does not decode: {e}"),
            }
        }
        Ok(out)
    }

    pub fn size_bytes(&self) -> u64 {
        std::fs::metadata(&self.path).map(|m| m.len()).unwrap_or(0)
    }
}

/// Keeps the newest score per subject (replayed records arrive out of order after an outage).
fn record_score(entry: &mut RigEntry, score: &Score) {
    if let Some(old) = entry.anomaly.get(&score.subject) {
        if old.sample_ts_ms > score.sample_ts_ms {
            return;
        }
    }
    if entry.anomaly.len() >= SCORE_SUBJECTS_KEPT && !entry.anomaly.contains_key(&score.subject) {
        if let Some(oldest) = entry
            .anomaly
            .iter()
            .min_by_key(|(_, s)| s.sample_ts_ms)
            .map(|(k, _)| k.clone())
        {
            entry.anomaly.remove(&oldest);
        }
    }
    entry.anomaly.insert(score.subject.clone(), score.clone());
}

fn record_ack(entry: &mut RigEntry, ack: &hashward_protocol::Ack, ts_ms: u64) {
    use hashward_protocol::AckOutcome;
    if ack.scope == "cmd" {
        entry.commands.push(CommandAck {
            nonce: ack.version,
            ts_ms,
            outcome: ack.outcome.clone(),
        });
        let extra = entry.commands.len().saturating_sub(COMMAND_ACKS_KEPT);
        entry.commands.drain(..extra);
        return;
    }
    let rejected = match &ack.outcome {
        AckOutcome::Rejected(why) => Some(why.as_str()),
        AckOutcome::Applied | AckOutcome::Report(_) => None,
    };
    entry
        .config
        .entry(ack.scope.clone())
        .or_default()
        .record(ack.version, rejected, ts_ms);
}

#[cfg(test)]
mod tests {
    use super::*;
    use hashward_protocol::{AgentCounters, RigState};

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
}
