//! The telemetry tables in PostgreSQL (seed 004, `crate::telem`): the same contributions,
//! aggregates and forget tombstones as the redb `store::telem`, folded with the same pure
//! arithmetic (`telem::aggregate`), inside the ingest's transaction and under its advisory lock
//! per configuration key, so two hubs folding into one aggregate never lose a contribution.
//!
//! Must never keep a raw snapshot, a rig id, host name, address or wallet next to telemetry,
//! and never leave an aggregate its contributions do not add up to.

use crate::store::telem::{Forget, Pruned};
use crate::store::StoreError;
use crate::telem::aggregate::{self as agg, ConfigAggregate, ConfigKey, Contribution};
use crate::telem::Tally;
use hashward_protocol::TuningSnapshot;
use std::collections::{BTreeMap, HashSet};
use tokio_postgres::GenericClient;

fn json_err(what: &str, e: serde_json::Error) -> StoreError {
    StoreError::Registry(format!("telem/{what}"), e)
}

/// The lock-key name of a configuration (`plan` takes these locks, sorted, with the rigs').
pub fn config_key_of(snap: &TuningSnapshot) -> Option<String> {
    agg::check(snap).ok().map(|c| c.key.table_key())
}

/// One snapshot to fold: its contribution id, the snapshot, when it was received.
pub struct Fold<'a> {
    pub who: String,
    pub snap: &'a TuningSnapshot,
    pub received_ms: u64,
}

/// Folds `snaps` in order, then recomputes each aggregate they touched. The caller's
/// transaction holds the advisory lock of every configuration key involved.
pub async fn fold(tx: &impl GenericClient, snaps: &[Fold<'_>], tally: &mut Tally) -> Result<(), StoreError> {
    if snaps.is_empty() {
        return Ok(());
    }
    let whos: Vec<&str> = snaps.iter().map(|f| f.who.as_str()).collect();
    let forgotten: HashSet<String> = tx
        .query("SELECT who FROM telem_forgotten WHERE who = ANY($1)", &[&whos])
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut touched: BTreeMap<String, (ConfigKey, String)> = BTreeMap::new();
    for f in snaps {
        if forgotten.contains(&f.who) {
            tally.after_forget += 1;
            continue;
        }
        let checked = match agg::check(f.snap) {
            Ok(c) => c,
            Err(e) => {
                log::warn!("tuning snapshot refused: {e}");
                tally.refused += 1;
                continue;
            }
        };
        let key = checked.key.table_key();
        let old = match tx
            .query_opt(
                "SELECT contribution FROM telem_contributions WHERE who = $1 AND config_key = $2",
                &[&f.who, &key],
            )
            .await?
        {
            Some(row) => {
                Some(serde_json::from_str::<Contribution>(row.get(0)).map_err(|e| json_err(&key, e))?)
            }
            None => None,
        };
        let c = agg::fold(old, f.snap, f.received_ms);
        let json = serde_json::to_string(&c).map_err(|e| json_err(&key, e))?;
        tx.execute(
            "INSERT INTO telem_contributions (who, config_key, contribution) VALUES ($1, $2, $3)
             ON CONFLICT (who, config_key) DO UPDATE SET contribution = EXCLUDED.contribution",
            &[&f.who, &key, &json],
        )
        .await?;
        tally.folded += 1;
        touched.insert(key, (checked.key, checked.cpu_model));
    }
    for (key, (config, cpu_model)) in touched {
        recompute(tx, &key, Some((config, cpu_model)), tally).await?;
    }
    Ok(())
}

/// Recomputes one aggregate from its contributions (removing it when none is left). `named`
/// gives the configuration when the aggregate may not exist yet.
async fn recompute(
    tx: &impl GenericClient,
    key: &str,
    named: Option<(ConfigKey, String)>,
    tally: &mut Tally,
) -> Result<(), StoreError> {
    let (config, cpu_model) = match named {
        Some(n) => n,
        None => match tx
            .query_opt(
                "SELECT aggregate FROM telem_aggregates WHERE config_key = $1",
                &[&key],
            )
            .await?
        {
            Some(row) => {
                let a: ConfigAggregate = serde_json::from_str(row.get(0)).map_err(|e| json_err(key, e))?;
                (a.key, a.cpu_model)
            }
            None => return Ok(()),
        },
    };
    // In contribution order, as the redb table iterates them (the sums are floating point).
    let mut members = Vec::new();
    for row in tx
        .query(
            "SELECT contribution FROM telem_contributions WHERE config_key = $1 ORDER BY who",
            &[&key],
        )
        .await?
    {
        members.push(serde_json::from_str::<Contribution>(row.get(0)).map_err(|e| json_err(key, e))?);
    }
    match agg::aggregate(&config, &cpu_model, &members) {
        Some(a) => {
            let json = serde_json::to_string(&a).map_err(|e| json_err(key, e))?;
            tx.execute(
                "INSERT INTO telem_aggregates (config_key, aggregate) VALUES ($1, $2)
                 ON CONFLICT (config_key) DO UPDATE SET aggregate = EXCLUDED.aggregate",
                &[&key, &json],
            )
            .await?;
        }
        None => {
            if tx
                .execute("DELETE FROM telem_aggregates WHERE config_key = $1", &[&key])
                .await?
                > 0
            {
                tally.aggregates_removed += 1;
            }
        }
    }
    Ok(())
}

/// Takes the advisory locks of `keys` (sorted by the caller's lock order).
async fn lock_configs(tx: &impl GenericClient, keys: &[String]) -> Result<(), StoreError> {
    let mut locks: Vec<i64> = keys.iter().map(|k| super::plan::config_lock(k)).collect();
    locks.sort_unstable();
    locks.dedup();
    tx.execute(
        "SELECT pg_advisory_xact_lock(k) FROM unnest($1::int8[]) AS k",
        &[&locks],
    )
    .await?;
    Ok(())
}

/// Removes the given (who, config key) pairs and recomputes what they fed.
async fn remove(
    tx: &impl GenericClient,
    pairs: &[(String, String)],
    tally: &mut Tally,
) -> Result<(), StoreError> {
    let mut keys: Vec<String> = pairs.iter().map(|(_, k)| k.clone()).collect();
    keys.sort();
    keys.dedup();
    lock_configs(tx, &keys).await?;
    for (who, key) in pairs {
        tally.contributions_removed += tx
            .execute(
                "DELETE FROM telem_contributions WHERE who = $1 AND config_key = $2",
                &[who, key],
            )
            .await?;
    }
    for key in keys {
        recompute(tx, &key, None, tally).await?;
    }
    Ok(())
}

/// `TelemStore::telem_forget` in one transaction; the tally is what the caller counts after
/// the commit.
pub async fn forget(
    client: &mut tokio_postgres::Client,
    who: &str,
    now_ms: u64,
) -> Result<(Forget, Tally), StoreError> {
    let tx = client.transaction().await?;
    let pairs: Vec<(String, String)> = tx
        .query(
            "SELECT who, config_key FROM telem_contributions WHERE who = $1 ORDER BY config_key",
            &[&who],
        )
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    if pairs.is_empty() {
        tx.rollback().await?;
        return Ok((Forget::Unknown, Tally::default()));
    }
    let mut tally = Tally::default();
    remove(&tx, &pairs, &mut tally).await?;
    tx.execute(
        "INSERT INTO telem_forgotten (who, at_ms) VALUES ($1, $2)
         ON CONFLICT (who) DO UPDATE SET at_ms = EXCLUDED.at_ms",
        &[&who, &super::ts_key(now_ms)],
    )
    .await?;
    tx.commit().await?;
    Ok((
        Forget::Removed {
            contributions: tally.contributions_removed,
            aggregates_removed: tally.aggregates_removed,
        },
        tally,
    ))
}

/// `TelemStore::telem_prune` in one transaction.
pub async fn prune(client: &mut tokio_postgres::Client, now_ms: u64) -> Result<(Pruned, Tally), StoreError> {
    let tx = client.transaction().await?;
    let mut pairs = Vec::new();
    for row in tx
        .query(
            "SELECT who, config_key, contribution FROM telem_contributions",
            &[],
        )
        .await?
    {
        let (who, key): (String, String) = (row.get(0), row.get(1));
        let c: Contribution = serde_json::from_str(row.get(2)).map_err(|e| json_err(&key, e))?;
        if agg::expired(&c, now_ms) {
            pairs.push((who, key));
        }
    }
    let mut tally = Tally::default();
    remove(&tx, &pairs, &mut tally).await?;
    let cutoff = super::ts_key(now_ms.saturating_sub(agg::RETENTION_MS));
    let tombstones = tx
        .execute("DELETE FROM telem_forgotten WHERE at_ms <= $1", &[&cutoff])
        .await?;
    tally.tombstones_removed = tombstones;
    tx.commit().await?;
    Ok((
        Pruned {
            contributions: tally.contributions_removed,
            aggregates: tally.aggregates_removed,
            tombstones,
        },
        tally,
    ))
}

/// Every aggregate (an unreadable one is logged and left out, as in redb).
pub async fn aggregates(client: &impl GenericClient) -> Result<Vec<ConfigAggregate>, StoreError> {
    let mut out = Vec::new();
    for row in client
        .query(
            "SELECT config_key, aggregate FROM telem_aggregates ORDER BY config_key",
            &[],
        )
        .await?
    {
        match serde_json::from_str::<ConfigAggregate>(row.get(1)) {
            Ok(a) => out.push(a),
            Err(e) => log::warn!(
                "telemetry aggregate {:?} unreadable, left out: {e}",
                row.get::<_, &str>(0)
            ),
        }
    }
    Ok(out)
}
