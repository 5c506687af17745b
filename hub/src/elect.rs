//! Who runs the work that must run once per fleet (the daily score batch, the dashboard
//! summaries and fleet hints, later the allocation cycles) when several hubs share a NATS
//! cluster: a lease in a NATS KV bucket whose entries expire after the lease time. The holder
//! rewrites its entry (compare-and-set on the revision it wrote) before that; once it stops,
//! the entry expires on the servers and another hub creates it.
//!
//! [`Elector`] is the pure lease state machine (times in ms, tested with values); [`run`] is
//! the thin loop doing its steps against the KV bucket. A single hub (embedded or MQTT broker)
//! is always the leader ([`Leader::always`]).
//!
//! Must never let two hubs believe they lead at once: a holder stops leading a third of the
//! lease time before the servers can expire its entry (counted from when it *sent* the write
//! that was confirmed), and a hub that cannot reach NATS stops leading on that clock alone.

use std::time::Duration;
use tokio::sync::watch;

/// Lease times. The servers expire an entry `ttl` after it was written; the holder renews every
/// `ttl / 3` and considers itself the leader for `2 * ttl / 3` after its last confirmed write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaseTiming {
    pub ttl_ms: u64,
}

impl LeaseTiming {
    pub fn renew_every_ms(&self) -> u64 {
        (self.ttl_ms / 3).max(1)
    }

    /// How long after a confirmed write the holder still leads: the lease time less a third,
    /// the guard for a paused process and clocks that run at different rates.
    pub fn lead_for_ms(&self) -> u64 {
        self.ttl_ms - self.ttl_ms / 3
    }
}

impl Default for LeaseTiming {
    fn default() -> Self {
        LeaseTiming { ttl_ms: 15_000 }
    }
}

/// What the loop must do next against the bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Create the entry; succeeds only when nobody holds the lease.
    Acquire,
    /// Rewrite the entry if it is still at `revision` (ours).
    Renew { revision: u64 },
    /// Nothing due yet.
    Wait,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Held {
    revision: u64,
    /// When the write the servers confirmed was sent: the entry expires no sooner than
    /// `ttl` after this.
    sent_ms: u64,
}

/// The lease as one hub sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Elector {
    timing: LeaseTiming,
    held: Option<Held>,
}

impl Elector {
    pub fn new(timing: LeaseTiming) -> Elector {
        Elector { timing, held: None }
    }

    pub fn step(&self, now_ms: u64) -> Step {
        match self.held {
            None => Step::Acquire,
            Some(h) if now_ms.saturating_sub(h.sent_ms) >= self.timing.renew_every_ms() => {
                Step::Renew { revision: h.revision }
            }
            Some(_) => Step::Wait,
        }
    }

    /// A create or renew sent at `sent_ms` was confirmed at `revision`.
    pub fn confirmed(&mut self, sent_ms: u64, revision: u64) {
        self.held = Some(Held { revision, sent_ms });
    }

    /// The servers refused the write: another hub holds the lease, or ours was taken over
    /// after it expired.
    pub fn refused(&mut self) {
        self.held = None;
    }

    /// The write was not answered (NATS unreachable, timeout). Nothing changes: the lease, if
    /// held, runs out on the clock, and the next step retries.
    pub fn failed(&mut self) {}

    pub fn is_leader(&self, now_ms: u64) -> bool {
        self.held
            .is_some_and(|h| now_ms.saturating_sub(h.sent_ms) < self.timing.lead_for_ms())
    }

    /// The revision to delete on a clean shutdown, so another hub takes over at once.
    pub fn release(&mut self) -> Option<u64> {
        self.held.take().map(|h| h.revision)
    }
}

/// Whether this hub leads now; what the once-per-fleet jobs look at before each run.
#[derive(Debug, Clone)]
pub struct Leader {
    rx: Option<watch::Receiver<bool>>,
}

impl Leader {
    /// A single hub: always the leader.
    pub fn always() -> Leader {
        Leader { rx: None }
    }

    /// Follows the election loop's verdicts.
    pub fn elected(rx: watch::Receiver<bool>) -> Leader {
        Leader { rx: Some(rx) }
    }

    pub fn is_leader(&self) -> bool {
        self.rx.as_ref().is_none_or(|rx| *rx.borrow())
    }
}

/// Where the lease lives and who this hub is.
#[derive(Debug, Clone)]
pub struct LeaseSpec {
    pub bucket: String,
    pub key: String,
    /// Unique per hub process (client id and a random suffix), so a restarted hub does not
    /// take its previous life's entry for its own.
    pub holder: String,
    pub timing: LeaseTiming,
    pub replicas: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum ElectError {
    #[error("creating the lease bucket {bucket}: {reason}")]
    Bucket { bucket: String, reason: String },
}

/// Opens (creates when missing) the lease bucket; idempotent.
pub async fn bucket(
    js: &async_nats::jetstream::Context,
    spec: &LeaseSpec,
) -> Result<async_nats::jetstream::kv::Store, ElectError> {
    let err = |e: &dyn std::fmt::Display| ElectError::Bucket {
        bucket: spec.bucket.clone(),
        reason: e.to_string(),
    };
    if let Ok(kv) = js.get_key_value(spec.bucket.as_str()).await {
        return Ok(kv);
    }
    // The bucket's stream made here with the KV conventions, then bound as a KV store:
    // `create_key_value` first reads the account info, which async-nats 0.51 cannot parse from
    // Debian's nats-server 2.9 ("data did not match any variant"), while stream calls work.
    use async_nats::jetstream::stream::{Config, DiscardPolicy, StorageType};
    let ttl = Duration::from_millis(spec.timing.ttl_ms);
    js.get_or_create_stream(Config {
        name: format!("KV_{}", spec.bucket),
        description: Some("hashward hub leader lease".into()),
        subjects: vec![format!("$KV.{}.>", spec.bucket)],
        max_messages_per_subject: 1,
        max_age: ttl,
        duplicate_window: ttl.min(Duration::from_secs(120)),
        num_replicas: spec.replicas,
        storage: StorageType::File,
        allow_rollup: true,
        deny_delete: true,
        allow_direct: true,
        discard: DiscardPolicy::New,
        ..Default::default()
    })
    .await
    .map_err(|e| err(&e))?;
    js.get_key_value(spec.bucket.as_str()).await.map_err(|e| err(&e))
}

/// The election as a hub service: opens the bucket (retrying while the cluster is away, not
/// leading meanwhile), then [`run`]s until `stop`.
pub async fn serve(
    js: async_nats::jetstream::Context,
    spec: LeaseSpec,
    verdict: watch::Sender<bool>,
    mut stop: watch::Receiver<bool>,
) -> Result<(), String> {
    let mut retry = hashward_common::Retry::new(hashward_common::Backoff::new(
        Duration::from_millis(250),
        Duration::from_secs(10),
    ));
    let kv = loop {
        match bucket(&js, &spec).await {
            Ok(kv) => break kv,
            Err(e) => {
                let delay = retry.next_delay(&mut rand::thread_rng());
                log::warn!("{e}; retrying in {} ms", delay.as_millis());
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = stop.wait_for(|s| *s) => return Ok(()),
                }
            }
        }
    };
    run(kv, spec, verdict, stop).await;
    Ok(())
}

/// Runs the election until `stop`, publishing the verdict on `verdict`. On a clean stop the
/// lease is deleted (at our revision only) so another hub takes over without waiting.
pub async fn run(
    kv: async_nats::jetstream::kv::Store,
    spec: LeaseSpec,
    verdict: watch::Sender<bool>,
    mut stop: watch::Receiver<bool>,
) {
    use async_nats::jetstream::kv::{CreateErrorKind, UpdateErrorKind};
    let started = tokio::time::Instant::now();
    let now_ms = || started.elapsed().as_millis() as u64;
    let mut elector = Elector::new(spec.timing);
    // Checks twice per renewal period, so a lapse is seen well inside the guard.
    let tick = Duration::from_millis(spec.timing.renew_every_ms() / 2 + 1);
    // A write not answered within a renewal period counts as failed; the clock decides.
    let patience = Duration::from_millis(spec.timing.renew_every_ms());
    let value = bytes::Bytes::from(spec.holder.clone());
    loop {
        let sent = now_ms();
        match elector.step(sent) {
            Step::Acquire => {
                match tokio::time::timeout(patience, kv.create(&spec.key, value.clone())).await {
                    Ok(Ok(revision)) => elector.confirmed(sent, revision),
                    Ok(Err(e)) if e.kind() == CreateErrorKind::AlreadyExists => elector.refused(),
                    Ok(Err(e)) => {
                        log::debug!("lease {}: create: {e}", spec.key);
                        elector.failed()
                    }
                    Err(_) => elector.failed(),
                }
            }
            Step::Renew { revision } => {
                match tokio::time::timeout(patience, kv.update(&spec.key, value.clone(), revision)).await {
                    Ok(Ok(revision)) => elector.confirmed(sent, revision),
                    Ok(Err(e)) if e.kind() == UpdateErrorKind::WrongLastRevision => {
                        log::warn!("lease {}: taken over by another hub", spec.key);
                        elector.refused()
                    }
                    Ok(Err(e)) => {
                        log::warn!("lease {}: renewing: {e}", spec.key);
                        elector.failed()
                    }
                    Err(_) => {
                        log::warn!("lease {}: renewal not answered within {patience:?}", spec.key);
                        elector.failed()
                    }
                }
            }
            Step::Wait => {}
        }
        let leads = elector.is_leader(now_ms());
        let changed = verdict.send_if_modified(|v| std::mem::replace(v, leads) != leads);
        if changed {
            log::info!(
                "hub {} {} the lease {}",
                spec.holder,
                if leads { "holds" } else { "does not hold" },
                spec.key
            );
        }
        tokio::select! {
            _ = tokio::time::sleep(tick) => {}
            _ = stop.wait_for(|s| *s) => break,
        }
    }
    verdict.send_replace(false);
    if let Some(revision) = elector.release() {
        let release = kv.delete_expect_revision(&spec.key, Some(revision));
        match tokio::time::timeout(patience, release).await {
            Ok(Ok(())) => log::info!("released the lease {}", spec.key),
            Ok(Err(e)) => log::warn!("releasing the lease {}: {e}", spec.key),
            Err(_) => log::warn!(
                "releasing the lease {}: no answer; it expires on its own",
                spec.key
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: LeaseTiming = LeaseTiming { ttl_ms: 9_000 };

    #[test]
    fn a_free_lease_is_acquired_then_renewed_every_third_of_its_time() {
        let mut e = Elector::new(T);
        assert_eq!(e.step(0), Step::Acquire);
        assert!(!e.is_leader(0));
        e.confirmed(100, 7);
        assert!(e.is_leader(150));
        assert_eq!(e.step(3_099), Step::Wait);
        assert_eq!(e.step(3_100), Step::Renew { revision: 7 });
        e.confirmed(3_100, 8);
        assert_eq!(e.step(6_200), Step::Renew { revision: 8 });
    }

    #[test]
    fn the_holder_stops_leading_a_third_of_the_lease_before_the_servers_expire_it() {
        let mut e = Elector::new(T);
        e.confirmed(1_000, 1);
        // Renewals fail (NATS unreachable): leadership runs out on the clock alone.
        e.failed();
        assert!(e.is_leader(1_000 + 5_999));
        assert!(!e.is_leader(1_000 + 6_000));
        // The entry lives on the servers until at least 1_000 + 9_000: 3 s of guard.
        assert_eq!(T.ttl_ms - T.lead_for_ms(), 3_000);
        // Still ours if nobody took it: the next renewal at our revision restores it.
        assert_eq!(e.step(8_000), Step::Renew { revision: 1 });
        e.confirmed(8_000, 2);
        assert!(e.is_leader(8_001));
    }

    #[test]
    fn a_refused_write_means_another_hub_holds_it() {
        let mut e = Elector::new(T);
        e.refused();
        assert_eq!(e.step(0), Step::Acquire);
        assert!(!e.is_leader(0));
        e.confirmed(0, 3);
        assert_eq!(e.step(3_000), Step::Renew { revision: 3 });
        e.refused();
        assert!(!e.is_leader(3_001));
        assert_eq!(e.step(3_001), Step::Acquire);
        assert_eq!(e.release(), None);
    }

    #[test]
    fn release_gives_back_the_revision_held() {
        let mut e = Elector::new(T);
        e.confirmed(0, 42);
        assert_eq!(e.release(), Some(42));
        assert!(!e.is_leader(1));
    }

    #[test]
    fn a_single_hub_always_leads_and_an_elected_one_follows_the_verdict() {
        assert!(Leader::always().is_leader());
        let (tx, rx) = watch::channel(false);
        let l = Leader::elected(rx);
        assert!(!l.is_leader());
        tx.send_replace(true);
        assert!(l.is_leader());
    }
}
