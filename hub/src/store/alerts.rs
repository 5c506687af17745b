//! The alerts aggregate: alerts, silences and notification groups (the engine's state, JSON
//! per row), and the notification outbox with an index of what is still queued. One write
//! transaction per engine step, so the state and the messages it decided to send commit
//! together: a message is either queued durably or its cause is not recorded as told.
//!
//! Must never lose a queued notification or drop a row it cannot read silently (an unreadable
//! row is an error naming the table and key).

use super::{Store, StoreError};
use crate::alerts::engine::{Changes, Group};
use crate::alerts::model::{Alert, Silence};
use crate::alerts::outbox::{OutboxEntry, OutboxStatus};
use redb::{ReadableTable, TableDefinition, WriteTransaction};
use serde::de::DeserializeOwned;

/// id -> Alert JSON
const ALERTS: TableDefinition<u64, &[u8]> = TableDefinition::new("alerts");
/// id -> Silence JSON
const SILENCES: TableDefinition<u64, &[u8]> = TableDefinition::new("alert_silences");
/// group key -> Group JSON
const GROUPS: TableDefinition<&str, &[u8]> = TableDefinition::new("alert_groups");
/// id -> OutboxEntry JSON
const OUTBOX: TableDefinition<u64, &[u8]> = TableDefinition::new("notify_outbox");
/// ids of entries still queued
const QUEUED: TableDefinition<u64, ()> = TableDefinition::new("notify_outbox_queued");
/// counters: next alert, silence and outbox ids
const META: TableDefinition<&str, u64> = TableDefinition::new("alert_meta");

pub(super) fn create(tx: &WriteTransaction) -> Result<(), StoreError> {
    tx.open_table(ALERTS)?;
    tx.open_table(SILENCES)?;
    tx.open_table(GROUPS)?;
    tx.open_table(OUTBOX)?;
    tx.open_table(QUEUED)?;
    tx.open_table(META)?;
    Ok(())
}

/// The engine's persisted state.
pub struct AlertState {
    pub alerts: Vec<Alert>,
    pub silences: Vec<Silence>,
    pub groups: Vec<Group>,
    pub next_ids: (u64, u64),
}

fn json<T: DeserializeOwned>(table: &str, key: &str, bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Registry(format!("{table}/{key}"), e))
}

fn to_json<T: serde::Serialize>(table: &str, key: &str, v: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(v).map_err(|e| StoreError::Registry(format!("{table}/{key}"), e))
}

fn all<T: DeserializeOwned>(
    table: &impl ReadableTable<u64, &'static [u8]>,
    name: &str,
) -> Result<Vec<T>, StoreError> {
    let mut out = Vec::new();
    for row in table.iter()? {
        let (k, v) = row?;
        out.push(json(name, &k.value().to_string(), v.value())?);
    }
    Ok(out)
}

impl Store {
    pub fn alert_state(&self) -> Result<AlertState, StoreError> {
        let tx = self.read_tx()?;
        let meta = tx.open_table(META)?;
        let get = |k: &str| -> Result<u64, StoreError> { Ok(meta.get(k)?.map_or(1, |v| v.value())) };
        let mut groups = Vec::new();
        for row in tx.open_table(GROUPS)?.iter()? {
            let (k, v) = row?;
            groups.push(json("alert_groups", k.value(), v.value())?);
        }
        Ok(AlertState {
            alerts: all(&tx.open_table(ALERTS)?, "alerts")?,
            silences: all(&tx.open_table(SILENCES)?, "alert_silences")?,
            groups,
            next_ids: (get("next_alert")?, get("next_silence")?),
        })
    }

    /// Writes one engine step: changed state, and its notifications queued, in one durable
    /// transaction. Returns how many notifications were queued.
    pub fn apply_alert_changes(&self, c: &Changes, now: u64) -> Result<usize, StoreError> {
        let tx = self.write_tx()?;
        {
            let mut alerts = tx.open_table(ALERTS)?;
            for a in &c.alerts {
                alerts.insert(a.id, to_json("alerts", &a.id.to_string(), a)?.as_slice())?;
            }
            for id in &c.removed_alerts {
                alerts.remove(id)?;
            }
            let mut silences = tx.open_table(SILENCES)?;
            for s in &c.silences {
                silences.insert(s.id, to_json("alert_silences", &s.id.to_string(), s)?.as_slice())?;
            }
            for id in &c.removed_silences {
                silences.remove(id)?;
            }
            let mut groups = tx.open_table(GROUPS)?;
            for g in &c.groups {
                groups.insert(g.key.as_str(), to_json("alert_groups", &g.key, g)?.as_slice())?;
            }
            for k in &c.removed_groups {
                groups.remove(k.as_str())?;
            }
            let mut meta = tx.open_table(META)?;
            meta.insert("next_alert", c.next_ids.0)?;
            meta.insert("next_silence", c.next_ids.1)?;
            let mut next_out = meta.get("next_outbox")?.map_or(1, |v| v.value());
            let mut outbox = tx.open_table(OUTBOX)?;
            let mut queued = tx.open_table(QUEUED)?;
            for (receiver, n) in &c.outbox {
                let e = OutboxEntry::new(next_out, receiver.clone(), n.clone(), now);
                outbox.insert(e.id, to_json("notify_outbox", &e.id.to_string(), &e)?.as_slice())?;
                queued.insert(e.id, ())?;
                next_out += 1;
            }
            meta.insert("next_outbox", next_out)?;
        }
        tx.commit()?;
        Ok(c.outbox.len())
    }

    /// Queued entries due at `now` (oldest first), at most `limit`, leaving out those for the
    /// receivers in `skip` (rate-limited now: their backlog must not hide the others').
    pub fn outbox_due(
        &self,
        now: u64,
        limit: usize,
        skip: &std::collections::BTreeSet<String>,
    ) -> Result<Vec<OutboxEntry>, StoreError> {
        let tx = self.read_tx()?;
        let queued = tx.open_table(QUEUED)?;
        let outbox = tx.open_table(OUTBOX)?;
        let mut out = Vec::new();
        for row in queued.iter()? {
            let (k, _) = row?;
            let id = k.value();
            if let Some(v) = outbox.get(id)? {
                let e: OutboxEntry = json("notify_outbox", &id.to_string(), v.value())?;
                if e.next_attempt_ms <= now && !skip.contains(&e.receiver) {
                    out.push(e);
                    if out.len() >= limit {
                        break;
                    }
                }
            }
        }
        Ok(out)
    }

    /// Queued entries per receiver.
    pub fn outbox_queued_counts(&self) -> Result<std::collections::BTreeMap<String, u64>, StoreError> {
        let tx = self.read_tx()?;
        let queued = tx.open_table(QUEUED)?;
        let outbox = tx.open_table(OUTBOX)?;
        let mut out = std::collections::BTreeMap::new();
        for row in queued.iter()? {
            let (k, _) = row?;
            if let Some(v) = outbox.get(k.value())? {
                let e: OutboxEntry = json("notify_outbox", &k.value().to_string(), v.value())?;
                *out.entry(e.receiver).or_insert(0) += 1;
            }
        }
        Ok(out)
    }

    /// Records an attempt's outcome; a finished entry leaves the queue.
    pub fn outbox_update(&self, e: &OutboxEntry) -> Result<(), StoreError> {
        let tx = self.write_tx()?;
        {
            let mut outbox = tx.open_table(OUTBOX)?;
            outbox.insert(e.id, to_json("notify_outbox", &e.id.to_string(), e)?.as_slice())?;
            if e.status != OutboxStatus::Queued {
                tx.open_table(QUEUED)?.remove(e.id)?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// The newest outbox entries first, at most `limit`.
    pub fn outbox_recent(&self, limit: usize) -> Result<Vec<OutboxEntry>, StoreError> {
        let tx = self.read_tx()?;
        let outbox = tx.open_table(OUTBOX)?;
        let mut out = Vec::new();
        for row in outbox.iter()?.rev() {
            let (k, v) = row?;
            out.push(json("notify_outbox", &k.value().to_string(), v.value())?);
            if out.len() >= limit {
                break;
            }
        }
        Ok(out)
    }

    /// Forgets finished entries done before `before_ms`.
    pub fn outbox_prune(&self, before_ms: u64) -> Result<usize, StoreError> {
        let tx = self.write_tx()?;
        let mut gone = 0;
        {
            let mut outbox = tx.open_table(OUTBOX)?;
            let mut old = Vec::new();
            for row in outbox.iter()? {
                let (k, v) = row?;
                let e: OutboxEntry = json("notify_outbox", &k.value().to_string(), v.value())?;
                if e.done_ms.is_some_and(|t| t < before_ms) {
                    old.push(e.id);
                }
            }
            for id in old {
                outbox.remove(id)?;
                gone += 1;
            }
        }
        tx.commit()?;
        Ok(gone)
    }
}

#[cfg(test)]
mod tests {
    use crate::alerts::engine::Engine;
    use crate::alerts::model::{AlertEvent, Level, Subject};
    use crate::alerts::outbox::OutboxStatus;
    use crate::alerts::receivers::SendError;
    use crate::store::Store;
    use std::collections::BTreeSet;
    use std::sync::Arc;

    #[test]
    fn an_engine_step_and_its_messages_survive_a_reopen_until_sent() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("hub.redb");
        let cfg: Arc<crate::alerts::NotifyConfig> = Arc::new(
            toml::from_str("[[routes]]\nreceivers = [\"a\", \"b\"]\ngroup_wait_ms = 0\n").expect("config"),
        );
        {
            let store = Store::open(&path).expect("open");
            let mut e = Engine::new(cfg.clone());
            e.raise(
                AlertEvent {
                    kind: "overheat".into(),
                    level: Level::Critical,
                    source: "agent".into(),
                    subject: Subject::rig("lab", "r1"),
                    message: "hot".into(),
                    hold_ms: 0,
                    auto_resolve_ms: 0,
                },
                10,
            );
            e.tick(10);
            let queued = store.apply_alert_changes(&e.take_changes(), 10).expect("apply");
            assert_eq!(queued, 2);
        }
        let store = Store::open(&path).expect("reopen");
        let state = store.alert_state().expect("state");
        assert_eq!(
            (state.alerts.len(), state.groups.len(), state.next_ids.0),
            (1, 1, 2)
        );
        let none = BTreeSet::new();
        let due = store.outbox_due(10, 10, &none).expect("due");
        assert_eq!(
            due.iter().map(|e| e.receiver.as_str()).collect::<Vec<_>>(),
            ["a", "b"]
        );
        let skip_a: BTreeSet<String> = ["a".to_string()].into();
        assert_eq!(store.outbox_due(10, 10, &skip_a).expect("due").len(), 1);
        let policy = cfg.delivery.clone();
        let sent = due[0].clone().after_attempt(Ok(()), 20, &policy, 0.0);
        let retry = due[1]
            .clone()
            .after_attempt(Err(SendError::Transient("down".into())), 20, &policy, 0.0);
        store.outbox_update(&sent).expect("update");
        store.outbox_update(&retry).expect("update");
        assert!(
            store.outbox_due(20, 10, &none).expect("due").is_empty(),
            "b waits for its backoff"
        );
        let later = store.outbox_due(retry.next_attempt_ms, 10, &none).expect("due");
        assert_eq!((later.len(), later[0].attempts), (1, 1));
        assert_eq!(store.outbox_queued_counts().expect("counts").get("b"), Some(&1));
        let recent = store.outbox_recent(10).expect("recent");
        assert_eq!(
            recent.iter().map(|e| e.status).collect::<Vec<_>>(),
            [OutboxStatus::Queued, OutboxStatus::Sent]
        );
        assert_eq!(
            store.outbox_prune(21).expect("prune"),
            1,
            "only the finished one goes"
        );
    }
}
