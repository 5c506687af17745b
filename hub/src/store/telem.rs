//! The telemetry tables (seed 004, `crate::telem`): per contribution and configuration a moving
//! average, the aggregate per configuration recomputed from them on every change, and the
//! tombstones of forgotten ids. Keys are a contribution key (a random telemetry id, or
//! `LEGACY`) and a configuration key (CPU model hash, cores, algorithm, profile, threads,
//! batch); no rig id, host name, address or wallet is ever written here.
//!
//! Must never keep a raw snapshot, and never leave an aggregate that its contributions do not
//! add up to (forget and prune recompute it in the same transaction).

use super::{Store, StoreError};
use crate::telem::aggregate::{self as agg, Checked, ConfigAggregate, Contribution};
use crate::telem::Tally;
use hashward_protocol::{Body, TelemetryId, TuningSnapshot};
use redb::{ReadTransaction, ReadableTable, Table, TableDefinition, TableHandle, WriteTransaction};
use std::collections::BTreeSet;
use std::sync::atomic::Ordering;

/// (contribution, config key) -> JSON `Contribution`.
const CONTRIB: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("telem_contributions");
/// (config key, contribution) -> (): the contributions behind an aggregate.
const BY_CONFIG: TableDefinition<(&str, &str), ()> = TableDefinition::new("telem_by_config");
/// config key -> JSON `ConfigAggregate`.
const AGGREGATES: TableDefinition<&str, &[u8]> = TableDefinition::new("telem_aggregates");
/// Forgotten telemetry id -> when (ms): snapshots still on their way under it are refused.
const FORGOTTEN: TableDefinition<&str, u64> = TableDefinition::new("telem_forgotten");

/// Every telemetry table's name (they all start with `telem_`).
pub const TABLES: [&str; 4] = [
    "telem_contributions",
    "telem_by_config",
    "telem_aggregates",
    "telem_forgotten",
];

pub(super) fn create(tx: &WriteTransaction) -> Result<(), StoreError> {
    tx.open_table(CONTRIB)?;
    tx.open_table(BY_CONFIG)?;
    tx.open_table(AGGREGATES)?;
    tx.open_table(FORGOTTEN)?;
    Ok(())
}

/// The contribution a snapshot body belongs to: its telemetry id, or the shared legacy one.
pub(super) fn contribution(body: &Body) -> Option<(String, &TuningSnapshot)> {
    match body {
        Body::Telem(t) => Some((t.telemetry_id.to_string(), &t.snapshot)),
        Body::Perf(s) => Some((agg::LEGACY.to_string(), s)),
        _ => None,
    }
}

/// Folds the tuning snapshots a store from before the telemetry aggregates kept raw (taken out
/// of the records on open), each under its contribution, at its record's time.
pub(super) fn fold_stripped(tx: &WriteTransaction, bodies: Vec<(u64, Body)>) -> Result<(), StoreError> {
    if bodies.is_empty() {
        return Ok(());
    }
    let mut t = Tables::open(tx)?;
    for (ts_ms, body) in &bodies {
        if let Some((who, snap)) = contribution(body) {
            t.fold(&who, snap, *ts_ms)?;
        }
    }
    Ok(())
}

fn json_err(what: &str, e: serde_json::Error) -> StoreError {
    StoreError::Registry(format!("telem/{what}"), e)
}

/// The telemetry tables of one write transaction, and what they did in it.
pub(super) struct Tables<'tx> {
    contrib: Table<'tx, (&'static str, &'static str), &'static [u8]>,
    by_config: Table<'tx, (&'static str, &'static str), ()>,
    aggregates: Table<'tx, &'static str, &'static [u8]>,
    forgotten: Table<'tx, &'static str, u64>,
    pub(super) tally: Tally,
}

impl<'tx> Tables<'tx> {
    pub(super) fn open(tx: &'tx WriteTransaction) -> Result<Tables<'tx>, StoreError> {
        Ok(Tables {
            contrib: tx.open_table(CONTRIB)?,
            by_config: tx.open_table(BY_CONFIG)?,
            aggregates: tx.open_table(AGGREGATES)?,
            forgotten: tx.open_table(FORGOTTEN)?,
            tally: Tally::default(),
        })
    }

    /// Folds one snapshot of `who` received at `now_ms`. A snapshot that is not a measurement,
    /// or one under a forgotten id, is counted and changes nothing.
    pub(super) fn fold(&mut self, who: &str, snap: &TuningSnapshot, now_ms: u64) -> Result<(), StoreError> {
        if self.forgotten.get(who)?.is_some() {
            self.tally.after_forget += 1;
            return Ok(());
        }
        let checked = match agg::check(snap) {
            Ok(c) => c,
            Err(e) => {
                log::warn!("tuning snapshot refused: {e}");
                self.tally.refused += 1;
                return Ok(());
            }
        };
        let key = checked.key.table_key();
        let old = match self.contrib.get((who, key.as_str()))? {
            Some(v) => {
                Some(serde_json::from_slice::<Contribution>(v.value()).map_err(|e| json_err(&key, e))?)
            }
            None => None,
        };
        let c = agg::fold(old, snap, now_ms);
        let bytes = serde_json::to_vec(&c).map_err(|e| json_err(&key, e))?;
        self.contrib.insert((who, key.as_str()), bytes.as_slice())?;
        self.by_config.insert((key.as_str(), who), ())?;
        self.recompute(&key, Some(&checked))?;
        self.tally.folded += 1;
        Ok(())
    }

    /// Recomputes one aggregate from its contributions (removing it when none is left).
    /// `checked` names the configuration when the aggregate may not exist yet.
    fn recompute(&mut self, key: &str, checked: Option<&Checked>) -> Result<(), StoreError> {
        let (config, cpu_model) = match checked {
            Some(c) => (c.key.clone(), c.cpu_model.clone()),
            None => match self.aggregates.get(key)? {
                Some(v) => {
                    let a: ConfigAggregate =
                        serde_json::from_slice(v.value()).map_err(|e| json_err(key, e))?;
                    (a.key, a.cpu_model)
                }
                None => return Ok(()),
            },
        };
        let mut members = Vec::new();
        for entry in self.by_config.range((key, "")..)? {
            let (k, _) = entry?;
            let (config_key, who) = k.value();
            if config_key != key {
                break;
            }
            if let Some(v) = self.contrib.get((who, key))? {
                members
                    .push(serde_json::from_slice::<Contribution>(v.value()).map_err(|e| json_err(key, e))?);
            }
        }
        match agg::aggregate(&config, &cpu_model, &members) {
            Some(a) => {
                let bytes = serde_json::to_vec(&a).map_err(|e| json_err(key, e))?;
                self.aggregates.insert(key, bytes.as_slice())?;
            }
            None => {
                if self.aggregates.remove(key)?.is_some() {
                    self.tally.aggregates_removed += 1;
                }
            }
        }
        Ok(())
    }

    /// Removes the given (contribution, config key) pairs and recomputes what they fed.
    fn remove(&mut self, pairs: &[(String, String)]) -> Result<(), StoreError> {
        let mut touched = BTreeSet::new();
        for (who, key) in pairs {
            self.contrib.remove((who.as_str(), key.as_str()))?;
            self.by_config.remove((key.as_str(), who.as_str()))?;
            self.tally.contributions_removed += 1;
            touched.insert(key.clone());
        }
        for key in touched {
            self.recompute(&key, None)?;
        }
        Ok(())
    }
}

/// What `DELETE /telem/my-data` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forget {
    /// The id's contributions (one per configuration it reported) are gone and the aggregates
    /// they fed recomputed.
    Removed {
        contributions: u64,
        aggregates_removed: u64,
    },
    /// No contribution under this id (never seen, expired or already forgotten): nothing changed.
    Unknown,
}

/// What one prune pass removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    pub contributions: u64,
    pub aggregates: u64,
    pub tombstones: u64,
}

/// One row of a telemetry table as raw bytes: (table, key, value).
pub type RawRow = (String, Vec<u8>, Vec<u8>);

/// The telemetry tables as the routes and the pruner use them, on either fleet store backend
/// (this redb [`Store`] or `super::postgres::PgStore`).
pub trait TelemStore: Send + Sync {
    /// The counters `/metrics` renders for the telemetry tables.
    fn telem_counters(&self) -> &std::sync::Arc<crate::telem::Counters>;
    /// Removes exactly the contributions of `id`, recomputes the aggregates they fed, and keeps
    /// a tombstone so that snapshots sent before the forget do not bring it back.
    fn telem_forget(&self, id: &TelemetryId, now_ms: u64) -> Result<Forget, StoreError>;
    /// Removes every contribution whose last snapshot is 90 days or more before `now_ms` (and
    /// with it every aggregate that old), and tombstones as old.
    fn telem_prune(&self, now_ms: u64) -> Result<Pruned, StoreError>;
    /// Every aggregate.
    fn telem_aggregates(&self) -> Result<Vec<ConfigAggregate>, StoreError>;
}

impl TelemStore for Store {
    fn telem_counters(&self) -> &std::sync::Arc<crate::telem::Counters> {
        &self.telem
    }

    fn telem_forget(&self, id: &TelemetryId, now_ms: u64) -> Result<Forget, StoreError> {
        let who = id.to_string();
        let tx = self.write_tx()?;
        let outcome = {
            let mut t = Tables::open(&tx)?;
            let mut pairs = Vec::new();
            for entry in t.contrib.range((who.as_str(), "")..)? {
                let (k, _) = entry?;
                let (w, key) = k.value();
                if w != who {
                    break;
                }
                pairs.push((w.to_string(), key.to_string()));
            }
            if pairs.is_empty() {
                Forget::Unknown
            } else {
                t.remove(&pairs)?;
                t.forgotten.insert(who.as_str(), now_ms)?;
                Forget::Removed {
                    contributions: t.tally.contributions_removed,
                    aggregates_removed: t.tally.aggregates_removed,
                }
            }
        };
        if outcome == Forget::Unknown {
            tx.abort()?;
            return Ok(outcome);
        }
        tx.commit()?;
        if let Forget::Removed {
            contributions,
            aggregates_removed,
        } = outcome
        {
            self.telem.forgotten.fetch_add(contributions, Ordering::Relaxed);
            self.telem
                .removed_aggregates
                .fetch_add(aggregates_removed, Ordering::Relaxed);
        }
        Ok(outcome)
    }

    fn telem_prune(&self, now_ms: u64) -> Result<Pruned, StoreError> {
        let tx = self.write_tx()?;
        let tally = {
            let mut t = Tables::open(&tx)?;
            let mut pairs = Vec::new();
            for entry in t.contrib.iter()? {
                let (k, v) = entry?;
                let (who, key) = k.value();
                let c: Contribution = serde_json::from_slice(v.value()).map_err(|e| json_err(key, e))?;
                if agg::expired(&c, now_ms) {
                    pairs.push((who.to_string(), key.to_string()));
                }
            }
            t.remove(&pairs)?;
            let mut old = Vec::new();
            for entry in t.forgotten.iter()? {
                let (k, v) = entry?;
                if v.value().saturating_add(agg::RETENTION_MS) <= now_ms {
                    old.push(k.value().to_string());
                }
            }
            for id in &old {
                t.forgotten.remove(id.as_str())?;
            }
            t.tally.tombstones_removed = old.len() as u64;
            t.tally
        };
        tx.commit()?;
        self.telem
            .pruned_contributions
            .fetch_add(tally.contributions_removed, Ordering::Relaxed);
        self.telem.add(&tally);
        Ok(Pruned {
            contributions: tally.contributions_removed,
            aggregates: tally.aggregates_removed,
            tombstones: tally.tombstones_removed,
        })
    }

    fn telem_aggregates(&self) -> Result<Vec<ConfigAggregate>, StoreError> {
        aggregates(&self.read_tx()?)
    }
}

impl Store {
    /// Every key and value of every telemetry table, as raw bytes (tuple keys as their fields
    /// joined by a NUL): what a privacy audit reads. Fails if the store holds a `telem_` table
    /// this module does not know, so none can be left out of the audit.
    pub fn telem_raw_dump(&self) -> Result<Vec<RawRow>, StoreError> {
        let tx = self.read_tx()?;
        let mut out = Vec::new();
        for handle in tx.list_tables()? {
            let name = handle.name().to_string();
            if name.starts_with("telem") && !TABLES.contains(&name.as_str()) {
                return Err(StoreError::Registry(
                    format!("telem/{name}: a telemetry table the audit does not know"),
                    serde::de::Error::custom("unknown table"),
                ));
            }
        }
        let pair = |a: &str, b: &str| [a.as_bytes(), &b"\0"[..], b.as_bytes()].concat();
        for entry in tx.open_table(CONTRIB)?.iter()? {
            let (k, v) = entry?;
            let (a, b) = k.value();
            out.push((TABLES[0].to_string(), pair(a, b), v.value().to_vec()));
        }
        for entry in tx.open_table(BY_CONFIG)?.iter()? {
            let (k, _) = entry?;
            let (a, b) = k.value();
            out.push((TABLES[1].to_string(), pair(a, b), Vec::new()));
        }
        for entry in tx.open_table(AGGREGATES)?.iter()? {
            let (k, v) = entry?;
            out.push((
                TABLES[2].to_string(),
                k.value().as_bytes().to_vec(),
                v.value().to_vec(),
            ));
        }
        for entry in tx.open_table(FORGOTTEN)?.iter()? {
            let (k, v) = entry?;
            out.push((
                TABLES[3].to_string(),
                k.value().as_bytes().to_vec(),
                v.value().to_le_bytes().to_vec(),
            ));
        }
        Ok(out)
    }
}

fn aggregates(tx: &ReadTransaction) -> Result<Vec<ConfigAggregate>, StoreError> {
    let table = tx.open_table(AGGREGATES)?;
    let mut out = Vec::new();
    for entry in table.iter()? {
        let (k, v) = entry?;
        match serde_json::from_slice::<ConfigAggregate>(v.value()) {
            Ok(a) => out.push(a),
            Err(e) => log::warn!("telemetry aggregate {:?} unreadable, left out: {e}", k.value()),
        }
    }
    Ok(out)
}

/// The fleet hints, from the aggregates (read by `FleetRead::fleet_hints`).
pub(super) fn fleet_hints(
    tx: &ReadTransaction,
    now_ms: u64,
) -> Result<hashward_protocol::FleetHints, StoreError> {
    Ok(agg::fleet_hints(&aggregates(tx)?, now_ms))
}

#[cfg(test)]
mod tests {
    use super::super::{records, Incoming, RecordsRead, Store};
    use super::TelemStore;
    use hashward_protocol::{Body, Envelope, RigId, SiteId, TuningSnapshot};

    #[test]
    fn raw_snapshots_an_older_hub_kept_are_folded_and_taken_out_on_open() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("hub.redb");
        let snap = TuningSnapshot {
            cpu_model: "amd ryzen 9 5900x".into(),
            logical_cores: 24,
            physical_cores: 12,
            pow_algo: "sha256d".into(),
            profile: "balanced".into(),
            threads: 12,
            batch_size: 8,
            numa_layout: "unpinned".into(),
            avg_hashrate_hs: 123.0,
            sample_count: 3,
            client_version: "0.1.0".into(),
        };
        let env = Envelope::new(RigId::new("r1").expect("id"), 4, 1_000, Body::Perf(snap));
        let bytes = hashward_protocol::encode(&env).expect("encode");
        {
            let s = Store::open(&path).expect("open");
            // As a hub from before the telemetry tables stored it: raw, listed as `perf`.
            let tx = s.write_tx().expect("tx");
            {
                let mut r = records::Tables::open(&tx).expect("tables");
                assert!(r.insert(&env, &bytes).expect("insert"));
            }
            records::unmark_perf_stripped(&tx).expect("unmark");
            tx.commit().expect("commit");
            assert_eq!(
                s.records_of_kind("r1", "perf", 0, u64::MAX, 10)
                    .expect("list")
                    .len(),
                1
            );
            assert!(s.telem_aggregates().expect("read").is_empty());
        }
        let s = Store::open(&path).expect("reopen");
        assert!(s
            .records_of_kind("r1", "perf", 0, u64::MAX, 10)
            .expect("list")
            .is_empty());
        assert!(s.records("r1", 0, u64::MAX, 10).expect("list").is_empty());
        let aggs = s.telem_aggregates().expect("read");
        assert_eq!(aggs.len(), 1);
        assert_eq!((aggs[0].avg_hashrate_hs, aggs[0].last_update_ms), (123.0, 1_000));
        // Still received: the same (rig, seq) again is a duplicate, not folded twice.
        let again = Incoming {
            site: SiteId::new("s").expect("id"),
            envelope: env,
            bytes,
            received_ms: 2_000,
        };
        assert_eq!(
            s.ingest(&[again]).expect("ingest"),
            vec![super::super::Outcome::Duplicate]
        );
        assert_eq!(s.telem_aggregates().expect("read")[0].snapshots, 1);
        drop(s);
        // Once only: a third open changes nothing.
        let s = Store::open(&path).expect("reopen");
        assert_eq!(s.telem_aggregates().expect("read")[0].snapshots, 1);
    }
}
