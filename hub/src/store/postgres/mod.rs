//! The fleet store in PostgreSQL (`store = "postgres://..."`): the records (one row per
//! (rig, seq)), the rig registry, the tuning-telemetry tables and the config pushes, shared by every hub
//! pointed at the same database. Same semantics as the redb [`crate::store::Store`]: a batch is
//! one transaction, acknowledged by the ingest only after it commits; duplicates and gaps are
//! counted by the same domain projection ([`plan`]).
//!
//! Sync API over an async driver, deliberately: the store traits are sync and called from ~15
//! places (API handlers, ingest writer in `spawn_blocking`, score batch, alerts, control), as
//! redb is blocking I/O. Rather than make every caller async, `PgStore` owns a small dedicated
//! tokio runtime ("hashward-pg" threads) running tokio-postgres; each call is spawned there and
//! the caller waits on a std channel. That works from any thread, inside the hub's runtime or
//! not (no nested `block_on`), and the hub's runtime never polls PostgreSQL sockets. The cost,
//! as with redb, is that a handler calling the store blocks its worker for the round trip;
//! every call is bounded by [`QUERY_TIMEOUT`].
//!
//! Connections: a pool of [`POOL_SIZE`] connections, each opened on first use and reopened on
//! the next call after it broke. At start the store retries an unreachable server with backoff
//! (250 ms doubling to 5 s, jittered) for [`StartPolicy::give_up_after`] (60 s by default), then
//! refuses the start with the last error (systemd restarts the hub). Once running, a call that
//! finds the server gone fails with an error (the ingest leaves the batch unacknowledged and
//! retries it, the API answers 500 `store_error`) and the next call reconnects.
//!
//! Several hubs ingest into one database at once: a batch takes a transaction advisory lock
//! per rig and per telemetry configuration (sorted, so never a deadlock) before it reads and rewrites their
//! rows, so no registry update is lost; `INSERT ... ON CONFLICT DO NOTHING RETURNING` decides
//! which records are new. No TLS (`NoTls`): run PostgreSQL on the same host or a private network.
//!
//! Must never: acknowledge (return Ok) before the commit, store a record twice, or log the URL's
//! password.

pub mod migrate;
pub mod plan;
pub mod telem;

use super::backend::{FleetStore, PgUrl};
use super::{FleetRead, Incoming, Outcome, RecordsRead, RigsRead, StoreError, StoreRead, StoredRecord};
use crate::domain::rig::RigEntry;
use crate::domain::rollout::PushRecord;
use hashward_protocol::FleetHints;
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{Mutex, MutexGuard};
use tokio_postgres::{Client, NoTls};

/// Connections per hub: one for the ingest's transactions, the rest for readers.
pub const POOL_SIZE: usize = 4;
/// The longest any one store call may take, connecting included.
pub const QUERY_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum PgError {
    #[error("{0}")]
    Db(#[from] tokio_postgres::Error),
    #[error("{target} unreachable for {waited_s} s, giving up: {last}")]
    Unreachable {
        target: String,
        waited_s: u64,
        last: tokio_postgres::Error,
    },
    #[error("schema migration {0} ({1}) failed: {2}")]
    Migration(i32, &'static str, tokio_postgres::Error),
    #[error(transparent)]
    Schema(#[from] migrate::PlanError),
    #[error("no answer within {0} ms")]
    Timeout(u64),
    #[error("the store's PostgreSQL runtime has stopped")]
    Stopped,
    #[error("starting the store's PostgreSQL runtime: {0}")]
    Runtime(std::io::Error),
    #[error(transparent)]
    Config(#[from] super::backend::StoreConfigError),
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(e: tokio_postgres::Error) -> StoreError {
        StoreError::Postgres(PgError::Db(e))
    }
}

/// How long the start waits for an unreachable server.
#[derive(Debug, Clone)]
pub struct StartPolicy {
    pub give_up_after: Duration,
}

impl Default for StartPolicy {
    fn default() -> StartPolicy {
        StartPolicy {
            give_up_after: Duration::from_secs(60),
        }
    }
}

struct Pool {
    config: tokio_postgres::Config,
    slots: Vec<Mutex<Option<Client>>>,
    next: AtomicUsize,
}

/// A pooled connection, open.
struct Conn<'a>(MutexGuard<'a, Option<Client>>);

impl Conn<'_> {
    fn client(&mut self) -> Result<&mut Client, StoreError> {
        // `Pool::get` filled the slot; an empty one is a bug reported as an error, not a panic.
        self.0.as_mut().ok_or(StoreError::Postgres(PgError::Stopped))
    }
}

impl Pool {
    async fn connect(config: &tokio_postgres::Config) -> Result<Client, tokio_postgres::Error> {
        let (client, connection) = config.connect(NoTls).await?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                log::warn!("postgres store: connection closed: {e}");
            }
        });
        Ok(client)
    }

    /// A free connection (else the next in turn, once free), (re)opened if needed.
    async fn get(&self) -> Result<Conn<'_>, StoreError> {
        let mut guard = None;
        for slot in &self.slots {
            if let Ok(g) = slot.try_lock() {
                guard = Some(g);
                break;
            }
        }
        let mut guard = match guard {
            Some(g) => g,
            None => {
                self.slots[self.next.fetch_add(1, Ordering::Relaxed) % self.slots.len()]
                    .lock()
                    .await
            }
        };
        if guard.as_ref().is_none_or(Client::is_closed) {
            *guard = None;
            *guard = Some(Pool::connect(&self.config).await?);
        }
        Ok(Conn(guard))
    }
}

pub struct PgStore {
    /// `Some` until dropped: the runtime is shut down in the background, since dropping it
    /// inside the hub's runtime would panic.
    rt: Option<tokio::runtime::Runtime>,
    pool: Arc<Pool>,
    url: PgUrl,
    /// What the telemetry tables did through this hub, for `/metrics`.
    telem: Arc<crate::telem::Counters>,
}

impl Drop for PgStore {
    fn drop(&mut self) {
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

impl PgStore {
    /// Connects (retrying an unreachable server per `policy`), applies the schema migrations
    /// and returns the store. Blocking: call it off the async runtime (`spawn_blocking`).
    pub fn open(url: &PgUrl, policy: &StartPolicy) -> Result<PgStore, StoreError> {
        let mut config = url.config().map_err(PgError::from)?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(5));
        }
        if config.get_application_name().is_none() {
            config.application_name("hashward-hub");
        }
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("hashward-pg")
            .enable_all()
            .build()
            .map_err(PgError::Runtime)?;
        let pool = Arc::new(Pool {
            config,
            slots: (0..POOL_SIZE).map(|_| Mutex::new(None)).collect(),
            next: AtomicUsize::new(0),
        });
        let store = PgStore {
            rt: Some(rt),
            pool: pool.clone(),
            url: url.clone(),
            telem: Default::default(),
        };
        let (target, give_up_after) = (url.redacted(), policy.give_up_after);
        let applied = store.call(give_up_after + QUERY_TIMEOUT, async move {
            let mut client = connect_with_retry(&pool.config, &target, give_up_after).await?;
            let applied = migrate::migrate(&mut client).await?;
            *pool.slots[0].lock().await = Some(client);
            Ok(applied)
        })?;
        log::info!(
            "fleet store: PostgreSQL at {} (schema migrations applied now: {applied:?})",
            url.redacted()
        );
        Ok(store)
    }

    /// The server this store uses, without the password.
    pub fn target(&self) -> String {
        self.url.redacted()
    }

    /// Runs `job` on the store's runtime and waits for it, at most `timeout`.
    fn call<T: Send + 'static>(
        &self,
        timeout: Duration,
        job: impl Future<Output = Result<T, StoreError>> + Send + 'static,
    ) -> Result<T, StoreError> {
        let rt = self.rt.as_ref().ok_or(StoreError::Postgres(PgError::Stopped))?;
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        rt.spawn(async move {
            let result = match tokio::time::timeout(timeout, job).await {
                Ok(r) => r,
                Err(_) => Err(StoreError::Postgres(PgError::Timeout(timeout.as_millis() as u64))),
            };
            // The caller is gone only if its thread died; nobody is left to tell.
            tx.send(result).ok();
        });
        rx.recv().map_err(|_| StoreError::Postgres(PgError::Stopped))?
    }

    /// As [`PgStore::call`], with a pooled connection and the default timeout.
    fn with_conn<T, F>(&self, job: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(
                &'c mut Client,
            )
                -> std::pin::Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'c>>
            + Send
            + 'static,
    {
        let pool = self.pool.clone();
        self.call(QUERY_TIMEOUT, async move {
            let mut conn = pool.get().await?;
            job(conn.client()?).await
        })
    }
}

async fn connect_with_retry(
    config: &tokio_postgres::Config,
    target: &str,
    give_up_after: Duration,
) -> Result<Client, StoreError> {
    let started = Instant::now();
    let mut retry = hashward_common::Retry::new(hashward_common::Backoff::new(
        Duration::from_millis(250),
        Duration::from_secs(5),
    ));
    loop {
        match Pool::connect(config).await {
            Ok(c) => return Ok(c),
            Err(e) => {
                let delay = retry.next_delay(&mut rand::thread_rng());
                if started.elapsed() + delay > give_up_after {
                    return Err(StoreError::Postgres(PgError::Unreachable {
                        target: target.to_string(),
                        waited_s: started.elapsed().as_secs(),
                        last: e,
                    }));
                }
                log::warn!(
                    "postgres store at {target} unreachable: {e}; retrying in {} ms",
                    delay.as_millis()
                );
                tokio::time::sleep(delay).await;
            }
        }
    }
}

/// The owned copy of a batch the store's runtime works on.
fn owned(batch: &[Incoming]) -> Vec<Incoming> {
    batch
        .iter()
        .map(|m| Incoming {
            site: m.site.clone(),
            envelope: m.envelope.clone(),
            bytes: m.bytes.clone(),
            received_ms: m.received_ms,
        })
        .collect()
}

/// Sample times index as bigint; past 2^63-1 (no real clock) they share the last value and the
/// exact time is read back from the envelope.
pub(crate) fn ts_key(ts_ms: u64) -> i64 {
    i64::try_from(ts_ms).unwrap_or(i64::MAX)
}

fn registry_entry(rig: &str, json: &str) -> Result<RigEntry, StoreError> {
    serde_json::from_str(json).map_err(|e| StoreError::Registry(rig.to_string(), e))
}

async fn ingest_tx(
    client: &mut Client,
    batch: Vec<Incoming>,
) -> Result<(Vec<Outcome>, crate::telem::Tally), StoreError> {
    let plan = plan::plan(&batch);
    let tx = client.transaction().await?;
    // An array scan evaluates in array order, so the locks are taken in sorted order.
    tx.execute(
        "SELECT pg_advisory_xact_lock(k) FROM unnest($1::int8[]) AS k",
        &[&plan.lock_keys],
    )
    .await?;
    let mut entries = HashMap::new();
    for row in tx
        .query("SELECT rig, entry FROM rigs WHERE rig = ANY($1)", &[&plan.rigs])
        .await?
    {
        let rig: String = row.get(0);
        let entry = registry_entry(&rig, row.get(1))?;
        entries.insert(rig, entry);
    }
    let mut inserted = HashSet::new();
    if !plan.offered.is_empty() {
        let rows: Vec<&Incoming> = plan.offered.iter().map(|&i| &batch[i]).collect();
        let rigs: Vec<&str> = rows.iter().map(|m| m.envelope.rig.as_str()).collect();
        let seqs: Vec<i64> = rows.iter().map(|m| m.envelope.seq as i64).collect();
        let ts: Vec<i64> = rows.iter().map(|m| ts_key(m.envelope.ts_ms)).collect();
        // Seed 004: a tuning snapshot is folded into the telemetry tables and never kept; its
        // (rig, seq) row (no kind, no bytes) keeps the sequence accounting exact.
        let folded = |m: &&Incoming| crate::store::telem::contribution(&m.envelope.body).is_some();
        let kinds: Vec<&str> = rows
            .iter()
            .map(|m| if folded(m) { "" } else { m.envelope.body.kind() })
            .collect();
        let bytes: Vec<&[u8]> = rows
            .iter()
            .map(|m| if folded(m) { &[][..] } else { m.bytes.as_slice() })
            .collect();
        for row in tx
            .query(
                "INSERT INTO records (rig, seq, ts_ms, kind, envelope)
                 SELECT * FROM unnest($1::text[], $2::int8[], $3::int8[], $4::text[], $5::bytea[])
                 ON CONFLICT (rig, seq) DO NOTHING
                 RETURNING rig, seq",
                &[&rigs, &seqs, &ts, &kinds, &bytes],
            )
            .await?
        {
            let seq: i64 = row.get(1);
            inserted.insert((row.get::<_, String>(0), seq as u64));
        }
    }
    let projected = plan::project(&batch, &plan, &inserted, entries);
    let mut rigs = Vec::with_capacity(projected.entries.len());
    let mut jsons = Vec::with_capacity(projected.entries.len());
    for (rig, entry) in &projected.entries {
        jsons.push(serde_json::to_string(entry).map_err(|e| StoreError::Registry(rig.clone(), e))?);
        rigs.push(rig.as_str());
    }
    tx.execute(
        "INSERT INTO rigs (rig, entry) SELECT * FROM unnest($1::text[], $2::text[])
         ON CONFLICT (rig) DO UPDATE SET entry = EXCLUDED.entry",
        &[&rigs, &jsons],
    )
    .await?;
    let folds: Vec<telem::Fold<'_>> = projected
        .folds
        .iter()
        .filter_map(|&i| {
            let m = &batch[i];
            crate::store::telem::contribution(&m.envelope.body).map(|(who, snap)| telem::Fold {
                who,
                snap,
                received_ms: m.received_ms,
            })
        })
        .collect();
    let mut tally = crate::telem::Tally::default();
    telem::fold(&tx, &folds, &mut tally).await?;
    tx.commit().await?;
    Ok((projected.outcomes, tally))
}

impl FleetStore for PgStore {
    fn ingest(&self, batch: &[Incoming]) -> Result<Vec<Outcome>, StoreError> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        let batch = owned(batch);
        let (outcomes, tally) = self.with_conn(move |c| Box::pin(ingest_tx(c, batch)))?;
        self.telem.add(&tally);
        Ok(outcomes)
    }

    fn record_push(&self, scope: &str, push: Option<&PushRecord>) -> Result<(), StoreError> {
        let scope = scope.to_string();
        let json = push
            .map(|p| serde_json::to_string(p).map_err(|e| StoreError::Registry(scope.clone(), e)))
            .transpose()?;
        self.with_conn(move |c| {
            Box::pin(async move {
                match json {
                    Some(json) => {
                        c.execute(
                            "INSERT INTO config_pushes (scope, push) VALUES ($1, $2)
                             ON CONFLICT (scope) DO UPDATE SET push = EXCLUDED.push",
                            &[&scope, &json],
                        )
                        .await?
                    }
                    None => {
                        c.execute("DELETE FROM config_pushes WHERE scope = $1", &[&scope])
                            .await?
                    }
                };
                Ok(())
            })
        })
    }

    fn forget_rig(&self, rig: &str) -> Result<bool, StoreError> {
        let rig = rig.to_string();
        self.with_conn(move |c| {
            Box::pin(async move {
                let tx = c.transaction().await?;
                // The ingest's lock for this rig: an in-flight batch must not write it back.
                let key = plan::rig_lock(&rig);
                tx.execute("SELECT pg_advisory_xact_lock($1)", &[&key]).await?;
                let n = tx.execute("DELETE FROM rigs WHERE rig = $1", &[&rig]).await?;
                tx.commit().await?;
                Ok(n > 0)
            })
        })
    }

    fn backend(&self) -> &'static str {
        "postgres"
    }
}

impl RigsRead for PgStore {
    fn rigs(&self) -> Result<Vec<RigEntry>, StoreError> {
        self.with_conn(|c| {
            Box::pin(async move {
                c.query("SELECT rig, entry FROM rigs ORDER BY rig", &[])
                    .await?
                    .iter()
                    .map(|r| registry_entry(r.get(0), r.get(1)))
                    .collect()
            })
        })
    }

    fn rig(&self, rig: &str) -> Result<Option<RigEntry>, StoreError> {
        let rig = rig.to_string();
        self.with_conn(move |c| {
            Box::pin(async move {
                c.query_opt("SELECT entry FROM rigs WHERE rig = $1", &[&rig])
                    .await?
                    .map(|r| registry_entry(&rig, r.get(0)))
                    .transpose()
            })
        })
    }
}

impl RecordsRead for PgStore {
    fn records_of_kind(
        &self,
        rig: &str,
        kind: &str,
        from_ms: u64,
        to_ms: u64,
        limit: usize,
    ) -> Result<Vec<StoredRecord>, StoreError> {
        let (rig, kind) = (rig.to_string(), kind.to_string());
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.with_conn(move |c| {
            Box::pin(async move {
                let rows = c
                    .query(
                        "SELECT seq, envelope FROM records
                         WHERE rig = $1 AND kind = $2 AND ts_ms BETWEEN $3 AND $4
                         ORDER BY ts_ms, seq LIMIT $5",
                        &[&rig, &kind, &ts_key(from_ms), &ts_key(to_ms), &limit],
                    )
                    .await?;
                let mut out = Vec::with_capacity(rows.len());
                for row in rows {
                    let seq = row.get::<_, i64>(0) as u64;
                    match hashward_protocol::decode(row.get::<_, &[u8]>(1)) {
                        // Exact bounds: only past 2^63 ms can the index be coarser.
                        Ok(env) if (from_ms..=to_ms).contains(&env.ts_ms) => out.push(StoredRecord {
                            seq,
                            ts_ms: env.ts_ms,
                            body: env.body,
                        }),
                        Ok(_) => {}
                        Err(e) => log::warn!("stored record {rig}/{seq} does not decode: {e}"),
                    }
                }
                Ok(out)
            })
        })
    }
}

impl FleetRead for PgStore {
    fn fleet_hints(&self, now_ms: u64) -> Result<FleetHints, StoreError> {
        let aggregates = self.with_conn(|c| Box::pin(async move { telem::aggregates(&*c).await }))?;
        Ok(crate::telem::aggregate::fleet_hints(&aggregates, now_ms))
    }

    fn pushes(&self) -> Result<Vec<PushRecord>, StoreError> {
        self.with_conn(|c| {
            Box::pin(async move {
                let mut pushes = Vec::new();
                for row in c
                    .query("SELECT scope, push FROM config_pushes ORDER BY scope", &[])
                    .await?
                {
                    match serde_json::from_str(row.get(1)) {
                        Ok(p) => pushes.push(p),
                        Err(e) => {
                            log::warn!("config push record {:?} unreadable: {e}", row.get::<_, &str>(0))
                        }
                    }
                }
                Ok(pushes)
            })
        })
    }
}

impl StoreRead for PgStore {
    /// The fleet tables with their indexes (0 when the server cannot be asked).
    fn size_bytes(&self) -> u64 {
        let size = self.with_conn(|c| {
            Box::pin(async move {
                let row = c
                    .query_one(
                        "SELECT COALESCE(sum(pg_total_relation_size(t)), 0)::int8
                         FROM unnest(ARRAY['records', 'rigs', 'telem_contributions', 'telem_aggregates', 'telem_forgotten', 'config_pushes']::regclass[]) AS t",
                        &[],
                    )
                    .await?;
                Ok(row.get::<_, i64>(0))
            })
        });
        match size {
            Ok(n) => u64::try_from(n).unwrap_or(0),
            Err(e) => {
                log::warn!("postgres store size: {e}");
                0
            }
        }
    }
}

impl crate::store::telem::TelemStore for PgStore {
    fn telem_counters(&self) -> &Arc<crate::telem::Counters> {
        &self.telem
    }

    fn telem_forget(
        &self,
        id: &hashward_protocol::TelemetryId,
        now_ms: u64,
    ) -> Result<crate::store::telem::Forget, StoreError> {
        let who = id.to_string();
        let (outcome, tally) =
            self.with_conn(move |c| Box::pin(async move { telem::forget(c, &who, now_ms).await }))?;
        self.telem
            .forgotten
            .fetch_add(tally.contributions_removed, Ordering::Relaxed);
        self.telem
            .removed_aggregates
            .fetch_add(tally.aggregates_removed, Ordering::Relaxed);
        Ok(outcome)
    }

    fn telem_prune(&self, now_ms: u64) -> Result<crate::store::telem::Pruned, StoreError> {
        let (pruned, tally) =
            self.with_conn(move |c| Box::pin(async move { telem::prune(c, now_ms).await }))?;
        self.telem
            .pruned_contributions
            .fetch_add(tally.contributions_removed, Ordering::Relaxed);
        self.telem.add(&tally);
        Ok(pruned)
    }

    fn telem_aggregates(&self) -> Result<Vec<crate::telem::aggregate::ConfigAggregate>, StoreError> {
        self.with_conn(|c| Box::pin(async move { telem::aggregates(&*c).await }))
    }
}
