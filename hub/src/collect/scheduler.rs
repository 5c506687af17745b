//! Runs the poll sources: one task per source, each job at its interval, under the source's
//! token bucket, timeout, jittered backoff, circuit breaker and monthly budget (decisions in
//! `policy`), delivering observations to the intake and checkpointing each job after success so a
//! restarted hub neither refetches nor waits a full interval again.
//!
//! Must never stop on a source's failure (it is a state, not an error) and never hold the stop
//! signal waiting for a slow source: every wait is raced against the shutdown.

use super::dates;
use super::policy::{self, Breaker, TokenBucket};
use super::source::{Budget, JobSpec, PollSource, Polled, Sink, SourceError, SourceState, StatusHandle};
use hashward_common::clock::now_ms;
use hashward_common::Backoff;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// A job's progress, kept across restarts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Checkpoint {
    pub last_success_ms: u64,
    pub cursor: Option<u64>,
}

/// Budget use of a source in a month, kept across restarts.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct BudgetUse {
    pub month: String,
    pub used: u64,
}

/// Where checkpoints live (the store; a map in tests). Errors are the implementor's to log.
pub trait Checkpoints: Send + Sync {
    fn load(&self, source: &str, job: &str) -> Option<Checkpoint>;
    fn save(&self, source: &str, job: &str, cp: Checkpoint);
    fn load_budget(&self, source: &str) -> Option<BudgetUse>;
    fn save_budget(&self, source: &str, b: &BudgetUse);
}

#[derive(Debug, Clone)]
pub struct SchedulerOptions {
    /// First polls of all jobs are spread over this window.
    pub stagger: Duration,
    pub breaker_failures: u32,
    pub breaker_cooldown: Duration,
    pub backoff: Backoff,
}

impl Default for SchedulerOptions {
    fn default() -> SchedulerOptions {
        SchedulerOptions {
            stagger: Duration::from_secs(30),
            breaker_failures: 5,
            breaker_cooldown: Duration::from_secs(300),
            // Seed 002 §10.2: backoff factor 0.5 s, doubling.
            backoff: Backoff::new(Duration::from_millis(500), Duration::from_secs(600)),
        }
    }
}

struct JobState {
    spec: JobSpec,
    next_ms: u64,
    failures: u32,
    cursor: Option<u64>,
}

/// Where this source's jobs sit among all jobs, for staggering.
#[derive(Debug, Clone, Copy)]
pub struct Slot {
    pub first: usize,
    pub total: usize,
}

/// Runs `source` until `stop` turns true.
pub async fn run_source(
    mut source: Box<dyn PollSource>,
    status: StatusHandle,
    sink: Sink,
    checkpoints: Arc<dyn Checkpoints>,
    opts: SchedulerOptions,
    slot: Slot,
    mut stop: watch::Receiver<bool>,
) {
    let name = source.name();
    let limits = source.limits();
    let start = now_ms();
    let mut jobs: Vec<JobState> = source
        .jobs()
        .into_iter()
        .enumerate()
        .map(|(i, spec)| {
            let staggered = policy::stagger(start, slot.first + i, slot.total, opts.stagger);
            let cp = checkpoints.load(name, spec.name);
            // A job that succeeded before the restart is due one interval after that success.
            let next_ms = cp.map_or(staggered, |c| {
                staggered.max(c.last_success_ms.saturating_add(ms(spec.interval)))
            });
            JobState {
                spec,
                next_ms,
                failures: 0,
                cursor: cp.and_then(|c| c.cursor),
            }
        })
        .collect();
    if jobs.is_empty() {
        stop.wait_for(|s| *s).await.ok();
        return;
    }
    let mut bucket = TokenBucket::per_minute(limits.per_minute, start);
    let mut breaker = Breaker::new(opts.breaker_failures, opts.breaker_cooldown);
    let mut budget = checkpoints
        .load_budget(name)
        .filter(|b| b.month == dates::month(start))
        .unwrap_or_else(|| BudgetUse {
            month: dates::month(start),
            used: 0,
        });
    let mut rng = rand::rngs::StdRng::from_entropy();
    {
        let mut s = status.lock();
        s.budget = Some(Budget {
            month: budget.month.clone(),
            used: budget.used,
            quota: limits.monthly_quota,
        });
    }
    loop {
        let Some((j, due)) = jobs
            .iter()
            .enumerate()
            .map(|(i, j)| (i, j.next_ms))
            .min_by_key(|p| p.1)
        else {
            return;
        };
        let due = match breaker.state {
            policy::BreakerState::Open { until_ms } => due.max(until_ms),
            _ => due,
        };
        status.lock().next_poll_ms = Some(due);
        let wait = Duration::from_millis(due.saturating_sub(now_ms()));
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        let now = now_ms();
        if breaker.allow(now).is_err() {
            continue;
        }
        if let Err(wait_ms) = bucket.take(now) {
            jobs[j].next_ms = now + wait_ms;
            continue;
        }
        let month = dates::month(now);
        if budget.month != month {
            budget = BudgetUse { month, used: 0 };
        }
        if let Some(quota) = limits.monthly_quota {
            if budget.used >= quota {
                let e = SourceError::Budget {
                    used: budget.used,
                    quota,
                };
                status.lock().record_failure(now, None, &e);
                // Nothing to do until the month turns; look again in an interval.
                jobs[j].next_ms = now + ms(jobs[j].spec.interval);
                continue;
            }
        }
        let t0 = Instant::now();
        let outcome = tokio::select! {
            r = tokio::time::timeout(limits.timeout, source.poll(j, jobs[j].cursor, now)) => r,
            _ = stop.wait_for(|s| *s) => return,
        };
        let latency_ms = u64::try_from(t0.elapsed().as_millis()).unwrap_or(u64::MAX);
        let outcome = outcome.unwrap_or(Err(SourceError::Timeout {
            after_ms: ms(limits.timeout),
        }));
        let done = now_ms();
        match outcome {
            Ok(Polled {
                observations,
                cost,
                cursor,
            }) => {
                for o in observations {
                    if !sink.deliver(o).await {
                        return;
                    }
                }
                breaker.on_success();
                budget.used = budget.used.saturating_add(cost);
                checkpoints.save_budget(name, &budget);
                let job = &mut jobs[j];
                job.failures = 0;
                job.cursor = cursor.or(job.cursor);
                job.next_ms = done + ms(job.spec.interval);
                checkpoints.save(
                    name,
                    job.spec.name,
                    Checkpoint {
                        last_success_ms: done,
                        cursor: job.cursor,
                    },
                );
                let mut s = status.lock();
                s.record_success(done, latency_ms);
                if let Some(b) = &mut s.budget {
                    b.month.clone_from(&budget.month);
                    b.used = budget.used;
                }
            }
            Err(e) => {
                log::warn!("collector {name} {}: {e}", jobs[j].spec.name);
                let job = &mut jobs[j];
                job.failures = job.failures.saturating_add(1);
                job.next_ms = policy::next_after_failure(
                    done,
                    job.failures,
                    &e,
                    &opts.backoff,
                    job.spec.interval,
                    &mut rng,
                );
                let opened = breaker.on_failure(done);
                let mut s = status.lock();
                s.record_failure(done, Some(latency_ms), &e);
                if opened.is_some() {
                    s.state = SourceState::CircuitOpen;
                }
            }
        }
    }
}

use rand::SeedableRng;

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::source::{Limits, Registry, SourceError};
    use std::collections::HashMap;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::sync::Mutex;

    /// A source that fails while `failing` is set, counting its calls.
    struct Flaky {
        failing: Arc<AtomicBool>,
        calls: Arc<AtomicU64>,
        quota: Option<u64>,
    }

    impl PollSource for Flaky {
        fn name(&self) -> &'static str {
            "flaky"
        }
        fn jobs(&self) -> Vec<JobSpec> {
            vec![JobSpec {
                name: "only",
                interval: Duration::from_millis(20),
                expected_cost: 1,
            }]
        }
        fn limits(&self) -> Limits {
            Limits {
                per_minute: 60_000,
                monthly_quota: self.quota,
                timeout: Duration::from_secs(5),
            }
        }
        fn poll<'a>(
            &'a mut self,
            _job: usize,
            cursor: Option<u64>,
            _now: u64,
        ) -> crate::collect::source::BoxFuture<'a, Result<Polled, SourceError>> {
            let n = self.calls.fetch_add(1, Ordering::SeqCst);
            let failing = self.failing.load(Ordering::SeqCst);
            Box::pin(async move {
                if failing {
                    Err(SourceError::HttpStatus { status: 502 })
                } else {
                    Ok(Polled {
                        observations: vec![],
                        cost: 1,
                        cursor: Some(cursor.unwrap_or(0) + n),
                    })
                }
            })
        }
    }

    #[derive(Default)]
    struct MemCheckpoints(Mutex<HashMap<String, Checkpoint>>);

    impl Checkpoints for MemCheckpoints {
        fn load(&self, s: &str, j: &str) -> Option<Checkpoint> {
            self.0.lock().expect("lock").get(&format!("{s}/{j}")).copied()
        }
        fn save(&self, s: &str, j: &str, cp: Checkpoint) {
            self.0.lock().expect("lock").insert(format!("{s}/{j}"), cp);
        }
        fn load_budget(&self, _: &str) -> Option<BudgetUse> {
            None
        }
        fn save_budget(&self, _: &str, _: &BudgetUse) {}
    }

    async fn until(what: &str, check: impl Fn() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !check() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    #[tokio::test]
    async fn the_breaker_opens_pauses_the_source_and_a_trial_closes_it() {
        let failing = Arc::new(AtomicBool::new(true));
        let calls = Arc::new(AtomicU64::new(0));
        let registry = Registry::default();
        let status = registry.register("flaky");
        let (tx, _rx) = tokio::sync::mpsc::channel(16);
        let (stop, stopped) = watch::channel(false);
        let cps = Arc::new(MemCheckpoints::default());
        let opts = SchedulerOptions {
            stagger: Duration::ZERO,
            breaker_failures: 3,
            breaker_cooldown: Duration::from_secs(2),
            backoff: Backoff::new(Duration::from_millis(1), Duration::from_millis(5)),
        };
        let task = tokio::spawn(run_source(
            Box::new(Flaky {
                failing: failing.clone(),
                calls: calls.clone(),
                quota: None,
            }),
            status.clone(),
            Sink::new("flaky", tx),
            cps.clone(),
            opts,
            Slot { first: 0, total: 1 },
            stopped,
        ));
        until("the breaker to open", || {
            status.snapshot().state == SourceState::CircuitOpen
        })
        .await;
        // Open: exactly the threshold's calls, and none until the cooldown ends.
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        let s = status.snapshot();
        assert_eq!(s.errors[&crate::collect::source::ErrorKind::HttpStatus], 3);
        assert!(s.next_poll_ms.is_some());
        failing.store(false, Ordering::SeqCst);
        until("the trial to close it", || {
            status.snapshot().state == SourceState::Ok
        })
        .await;
        assert!(calls.load(Ordering::SeqCst) >= 4, "a trial after the cooldown");
        until("a checkpoint", || cps.load("flaky", "only").is_some()).await;
        stop.send_replace(true);
        task.await.expect("stops");
    }

    #[tokio::test]
    async fn a_spent_monthly_budget_stops_the_requests() {
        let calls = Arc::new(AtomicU64::new(0));
        let registry = Registry::default();
        let status = registry.register("flaky");
        let (tx, _rx) = tokio::sync::mpsc::channel(16);
        let (stop, stopped) = watch::channel(false);
        let opts = SchedulerOptions {
            stagger: Duration::ZERO,
            ..SchedulerOptions::default()
        };
        let task = tokio::spawn(run_source(
            Box::new(Flaky {
                failing: Arc::new(AtomicBool::new(false)),
                calls: calls.clone(),
                quota: Some(3),
            }),
            status.clone(),
            Sink::new("flaky", tx),
            Arc::new(MemCheckpoints::default()),
            opts,
            Slot { first: 0, total: 1 },
            stopped,
        ));
        until("the budget error", || {
            status
                .snapshot()
                .last_error
                .is_some_and(|e| e.kind == crate::collect::source::ErrorKind::Budget)
        })
        .await;
        let s = status.snapshot();
        assert_eq!((calls.load(Ordering::SeqCst), s.requests), (3, 3));
        let b = s.budget.expect("budget");
        assert_eq!((b.used, b.quota), (3, Some(3)));
        assert_eq!(
            s.last_error.expect("error").message,
            "monthly budget spent: 3 of 3 quota units used"
        );
        stop.send_replace(true);
        task.await.expect("stops");
    }
}
