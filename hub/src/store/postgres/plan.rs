//! The PostgreSQL ingest's decisions, without I/O: which locks a batch takes, which records it
//! offers the database, and, from what the database answered (which rows it inserted, the
//! registry entries it held), each message's outcome, the entries to write back and the tuning
//! snapshots to fold into the telemetry tables (`super::telem`). The same projection as the redb `Store::ingest` loop, so both
//! backends count duplicates and gaps alike.
//!
//! Must never call a record Stored unless the database inserted it in this transaction.

use crate::domain::rig::RigEntry;
use crate::store::{Incoming, Outcome};
use hashward_protocol::Body;
use std::collections::{BTreeSet, HashMap, HashSet};

/// What a batch asks of the database before it can be projected.
#[derive(Debug, PartialEq)]
pub struct Plan {
    /// Transaction advisory locks (one-key space), sorted so two hubs never deadlock: one per
    /// rig and one per telemetry configuration the batch touches.
    pub lock_keys: Vec<i64>,
    /// The batch's rigs, each once.
    pub rigs: Vec<String>,
    /// The telemetry configuration keys of the batch's tuning snapshots, each once.
    pub configs: Vec<String>,
    /// Indexes of the records offered for insertion: the first of each (rig, seq); later copies
    /// in the same batch are duplicates of it.
    pub offered: Vec<usize>,
}

/// FNV-1a, 64 bits: stable across hubs, builds and platforms (the lock keys must agree).
fn lock_key(namespace: u8, name: &str) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in std::iter::once(namespace).chain(name.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h as i64
}

/// The lock the ingest takes for `rig` (also taken to forget it).
pub fn rig_lock(rig: &str) -> i64 {
    lock_key(b'r', rig)
}

/// The lock the ingest, forget and prune take for a telemetry configuration key.
pub fn config_lock(key: &str) -> i64 {
    lock_key(b't', key)
}

pub fn plan(batch: &[Incoming]) -> Plan {
    let mut rigs = BTreeSet::new();
    let mut configs = BTreeSet::new();
    let mut seen = HashSet::new();
    let mut offered = Vec::new();
    for (i, m) in batch.iter().enumerate() {
        let env = &m.envelope;
        rigs.insert(env.rig.as_str().to_string());
        if matches!(env.body, Body::State(_)) {
            continue;
        }
        if let Some((_, snap)) = crate::store::telem::contribution(&env.body) {
            configs.extend(super::telem::config_key_of(snap));
        }
        if seen.insert((env.rig.as_str(), env.seq)) {
            offered.push(i);
        }
    }
    let mut lock_keys: Vec<i64> = rigs
        .iter()
        .map(|r| rig_lock(r))
        .chain(configs.iter().map(|c| config_lock(c)))
        .collect();
    lock_keys.sort_unstable();
    lock_keys.dedup();
    Plan {
        lock_keys,
        rigs: rigs.into_iter().collect(),
        configs: configs.into_iter().collect(),
        offered,
    }
}

/// What the batch changes, once the database said which records it inserted.
#[derive(Debug)]
pub struct Projection {
    pub outcomes: Vec<Outcome>,
    /// Every rig of the batch, updated.
    pub entries: HashMap<String, RigEntry>,
    /// Indexes of the tuning snapshots stored now, in batch order: to fold, never to keep.
    pub folds: Vec<usize>,
}

/// Projects the batch over the registry entries the database held. `inserted` holds the
/// (rig, seq) of the offered records it inserted.
pub fn project(
    batch: &[Incoming],
    plan: &Plan,
    inserted: &HashSet<(String, u64)>,
    mut entries: HashMap<String, RigEntry>,
) -> Projection {
    let offered: HashSet<usize> = plan.offered.iter().copied().collect();
    let mut outcomes = Vec::with_capacity(batch.len());
    let mut folds = Vec::new();
    for (i, m) in batch.iter().enumerate() {
        let env = &m.envelope;
        let rig = env.rig.as_str();
        let outcome = if matches!(env.body, Body::State(_)) {
            Outcome::State
        } else if offered.contains(&i) && inserted.contains(&(rig.to_string(), env.seq)) {
            if crate::store::telem::contribution(&env.body).is_some() {
                folds.push(i);
            }
            Outcome::Stored
        } else {
            Outcome::Duplicate
        };
        entries
            .entry(rig.to_string())
            .or_insert_with(|| RigEntry::new(env.rig.clone(), m.site.clone()))
            .observe(&m.site, env, m.received_ms, outcome == Outcome::Stored);
        outcomes.push(outcome);
    }
    Projection {
        outcomes,
        entries,
        folds,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hashward_protocol::{AgentCounters, Envelope, RigId, RigState, RigTelemetry, SiteId};

    fn msg(rig: &str, seq: u64, body: Body) -> Incoming {
        let envelope = Envelope::new(RigId::new(rig).expect("id"), seq, seq * 100, body);
        let bytes = hashward_protocol::encode(&envelope).expect("encode");
        Incoming {
            site: SiteId::new("s").expect("id"),
            envelope,
            bytes,
            received_ms: seq * 100,
        }
    }

    fn tele(rig: &str, seq: u64) -> Incoming {
        msg(
            rig,
            seq,
            Body::Tele(RigTelemetry {
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
            }),
        )
    }

    fn state(rig: &str) -> Incoming {
        msg(
            rig,
            0,
            Body::State(RigState {
                online: true,
                boot: 1,
                agent_version: "x".into(),
                hardware: None,
                capabilities: vec![],
            }),
        )
    }

    #[test]
    fn offers_the_first_copy_of_each_record_and_locks_in_one_order() {
        let batch = [tele("b", 1), tele("a", 1), tele("b", 1), state("c"), tele("b", 2)];
        let p = plan(&batch);
        assert_eq!(p.offered, vec![0, 1, 4]);
        assert_eq!(p.rigs, vec!["a", "b", "c"]);
        assert!(p.lock_keys.windows(2).all(|w| w[0] < w[1]), "{:?}", p.lock_keys);
        assert_eq!(p.lock_keys.len(), 3);
        // The same rigs in another order take the same locks.
        let other = plan(&[tele("c", 9), tele("b", 9), tele("a", 9)]);
        assert_eq!(other.lock_keys, p.lock_keys);
    }

    #[test]
    fn outcomes_follow_what_the_database_inserted_and_count_duplicates_and_gaps() {
        let batch = [tele("r", 1), tele("r", 2), tele("r", 2), tele("r", 5), state("r")];
        let p = plan(&batch);
        // seq 1 was already stored by an earlier batch (a redelivery): not inserted now.
        let inserted: HashSet<(String, u64)> = [("r".to_string(), 2), ("r".to_string(), 5)].into();
        let out = project(&batch, &p, &inserted, HashMap::new());
        assert_eq!(
            out.outcomes,
            vec![
                Outcome::Duplicate,
                Outcome::Stored,
                Outcome::Duplicate,
                Outcome::Stored,
                Outcome::State
            ]
        );
        let e = &out.entries["r"];
        assert_eq!((e.seq.received, e.seq.duplicates), (2, 2));
        assert!(e.online);
        assert!(out.folds.is_empty());
    }
}
