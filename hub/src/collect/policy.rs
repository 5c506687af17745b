//! The scheduler's decisions, without I/O or clocks: every function takes `now_ms` and returns
//! what to do, so the tests drive them with values.
//!
//! - [`TokenBucket`]: at most `per_minute` requests per minute, bursts up to that size.
//! - [`Breaker`]: after `threshold` failures in a row, stop trying for `cooldown`; then one
//!   trial attempt (half-open) closes it on success or reopens it on failure.
//! - [`next_after_failure`]: when to retry: jittered exponential backoff, never earlier than a
//!   429's `Retry-After`.
//! - [`check_budget`]: whether a source's jobs at their intervals fit its monthly quota.
//!
//! Must never sleep or read a clock.

use super::source::{JobSpec, SourceError};
use hashward_common::Backoff;
use rand::Rng;
use std::time::Duration;

/// A token bucket refilled continuously at `capacity` tokens per minute.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenBucket {
    capacity: f64,
    tokens: f64,
    last_ms: u64,
}

impl TokenBucket {
    /// Starts full. A zero rate is treated as one per minute (a source must be able to run).
    pub fn per_minute(per_minute: u32, now_ms: u64) -> TokenBucket {
        let capacity = f64::from(per_minute.max(1));
        TokenBucket {
            capacity,
            tokens: capacity,
            last_ms: now_ms,
        }
    }

    fn refill(&mut self, now_ms: u64) {
        let elapsed = now_ms.saturating_sub(self.last_ms) as f64;
        self.tokens = (self.tokens + elapsed * self.capacity / 60_000.0).min(self.capacity);
        self.last_ms = self.last_ms.max(now_ms);
    }

    /// Takes a token, or says how many ms until one is available.
    pub fn take(&mut self, now_ms: u64) -> Result<(), u64> {
        self.refill(now_ms);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            let missing = 1.0 - self.tokens;
            Err((missing * 60_000.0 / self.capacity).ceil() as u64)
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    Closed {
        failures: u32,
    },
    Open {
        until_ms: u64,
    },
    /// The cooldown is over: one attempt decides.
    HalfOpen,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Breaker {
    pub state: BreakerState,
    threshold: u32,
    cooldown_ms: u64,
}

impl Breaker {
    pub fn new(threshold: u32, cooldown: Duration) -> Breaker {
        Breaker {
            state: BreakerState::Closed { failures: 0 },
            threshold: threshold.max(1),
            cooldown_ms: u64::try_from(cooldown.as_millis()).unwrap_or(u64::MAX),
        }
    }

    /// `Ok` if an attempt may go out now, else the instant the breaker half-opens.
    pub fn allow(&mut self, now_ms: u64) -> Result<(), u64> {
        match self.state {
            BreakerState::Open { until_ms } if now_ms < until_ms => Err(until_ms),
            BreakerState::Open { .. } => {
                self.state = BreakerState::HalfOpen;
                Ok(())
            }
            _ => Ok(()),
        }
    }

    pub fn on_success(&mut self) {
        self.state = BreakerState::Closed { failures: 0 };
    }

    /// Counts a failure; returns the instant the breaker reopens until, if it opened.
    pub fn on_failure(&mut self, now_ms: u64) -> Option<u64> {
        let failures = match self.state {
            BreakerState::Closed { failures } => failures + 1,
            BreakerState::HalfOpen | BreakerState::Open { .. } => self.threshold,
        };
        if failures >= self.threshold {
            let until_ms = now_ms.saturating_add(self.cooldown_ms);
            self.state = BreakerState::Open { until_ms };
            Some(until_ms)
        } else {
            self.state = BreakerState::Closed { failures };
            None
        }
    }

    pub fn is_open(&self) -> bool {
        matches!(self.state, BreakerState::Open { .. })
    }
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// When to try a job again after its `failures`-th consecutive failure (1-based) ended with `e`:
/// jittered backoff from `backoff`, but never before the server's `Retry-After`, and never later
/// than the job's own interval would have polled anyway unless the server asked for it.
pub fn next_after_failure(
    now_ms: u64,
    failures: u32,
    e: &SourceError,
    backoff: &Backoff,
    interval: Duration,
    rng: &mut impl Rng,
) -> u64 {
    let wait = ms(backoff.jittered(failures.saturating_sub(1), rng)).min(ms(interval).max(ms(backoff.min)));
    let wait = match e {
        SourceError::RateLimited {
            retry_after: Some(after),
        } => wait.max(ms(*after)),
        _ => wait,
    };
    now_ms.saturating_add(wait)
}

/// Staggered first polls: job `index` of `count` (over all sources) starts `index * spread /
/// count` after start, so a hub start does not fire every request at once.
pub fn stagger(now_ms: u64, index: usize, count: usize, spread: Duration) -> u64 {
    let count = count.max(1) as u64;
    now_ms.saturating_add(ms(spread) * (index as u64 % count) / count)
}

/// Days in the budget month: the longest month, so a config that fits passes every month.
pub const BUDGET_MONTH_DAYS: u64 = 31;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{source_name}: the configured intervals need {needed} {unit} a month ({arithmetic}), over the plan's {quota}; raise the intervals or the plan's monthly_quota"
)]
pub struct OverBudget {
    pub source_name: String,
    pub needed: u64,
    pub quota: u64,
    pub unit: &'static str,
    pub arithmetic: String,
}

/// Refuses a source whose jobs, at their intervals for [`BUDGET_MONTH_DAYS`] days, would spend
/// more than `quota`; the error spells the sum out per job.
pub fn check_budget(
    source_name: &str,
    jobs: &[JobSpec],
    quota: Option<u64>,
    unit: &'static str,
) -> Result<u64, OverBudget> {
    let month_s = BUDGET_MONTH_DAYS * 86_400;
    let mut needed = 0u64;
    let mut terms = Vec::new();
    for j in jobs {
        let interval_s = j.interval.as_secs().max(1);
        let calls = month_s.div_ceil(interval_s);
        let cost = calls.saturating_mul(j.expected_cost);
        needed = needed.saturating_add(cost);
        terms.push(format!(
            "{}: {BUDGET_MONTH_DAYS} d x 86400 s / {interval_s} s = {calls} calls x {} = {cost}",
            j.name, j.expected_cost
        ));
    }
    match quota {
        Some(q) if needed > q => Err(OverBudget {
            source_name: source_name.to_string(),
            needed,
            quota: q,
            unit,
            arithmetic: terms.join(" + "),
        }),
        _ => Ok(needed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    #[test]
    fn the_bucket_allows_its_rate_and_says_when_the_next_token_comes() {
        let mut b = TokenBucket::per_minute(30, 0);
        for _ in 0..30 {
            assert_eq!(b.take(0), Ok(()));
        }
        // 30 per minute is one every 2000 ms.
        assert_eq!(b.take(0), Err(2000));
        assert_eq!(b.take(1000), Err(1000));
        assert_eq!(b.take(2000), Ok(()));
        // Refill stops at the capacity.
        let mut b = TokenBucket::per_minute(2, 0);
        assert_eq!(b.take(600_000), Ok(()));
        assert_eq!(b.take(600_000), Ok(()));
        assert_eq!(b.take(600_000), Err(30_000));
    }

    #[test]
    fn the_breaker_opens_after_the_threshold_and_one_trial_decides() {
        let mut br = Breaker::new(3, Duration::from_secs(60));
        assert_eq!(br.on_failure(0), None);
        assert_eq!(br.on_failure(1), None);
        assert_eq!(br.on_failure(2), Some(60_002));
        assert_eq!(br.allow(30_000), Err(60_002));
        assert_eq!(br.allow(60_002), Ok(()));
        assert_eq!(br.state, BreakerState::HalfOpen);
        // The trial fails: open again at once, for a full cooldown.
        assert_eq!(br.on_failure(60_010), Some(120_010));
        assert_eq!(br.allow(120_010), Ok(()));
        br.on_success();
        assert_eq!(br.state, BreakerState::Closed { failures: 0 });
        assert_eq!(br.on_failure(130_000), None);
    }

    #[test]
    fn retries_back_off_within_the_interval_and_honour_retry_after() {
        let backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(600));
        let mut rng = StdRng::seed_from_u64(7);
        let timeout = SourceError::Timeout { after_ms: 10_000 };
        for failures in 1..10 {
            let at = next_after_failure(
                1000,
                failures,
                &timeout,
                &backoff,
                Duration::from_secs(300),
                &mut rng,
            );
            let ceiling = 1000 + (1000u64 << (failures - 1)).min(300_000);
            assert!((2000..=ceiling).contains(&at), "{failures}: {at}");
        }
        let limited = SourceError::RateLimited {
            retry_after: Some(Duration::from_secs(3600)),
        };
        let at = next_after_failure(1000, 1, &limited, &backoff, Duration::from_secs(300), &mut rng);
        assert_eq!(at, 1000 + 3_600_000);
    }

    #[test]
    fn first_polls_are_spread_over_the_window() {
        let spread = Duration::from_secs(60);
        let starts: Vec<u64> = (0..4).map(|i| stagger(0, i, 4, spread)).collect();
        assert_eq!(starts, vec![0, 15_000, 30_000, 45_000]);
    }

    #[test]
    fn an_over_quota_config_is_refused_with_the_arithmetic() {
        let job = |name, s, cost| JobSpec {
            name,
            interval: Duration::from_secs(s),
            expected_cost: cost,
        };
        // The seed's CoinMarketCap intervals fit the free 10 000 credits.
        let ok = [job("listings", 900, 1), job("global_metrics", 3600, 1)];
        assert_eq!(
            check_budget("coinmarketcap", &ok, Some(10_000), "credits"),
            Ok(2976 + 744)
        );
        let over = [job("listings", 60, 1), job("global_metrics", 3600, 1)];
        let e = check_budget("coinmarketcap", &over, Some(10_000), "credits").expect_err("over");
        assert_eq!(e.needed, 44_640 + 744);
        assert_eq!(
            e.to_string(),
            "coinmarketcap: the configured intervals need 45384 credits a month \
             (listings: 31 d x 86400 s / 60 s = 44640 calls x 1 = 44640 + global_metrics: \
             31 d x 86400 s / 3600 s = 744 calls x 1 = 744), over the plan's 10000; raise the \
             intervals or the plan's monthly_quota"
        );
        assert!(check_budget("coingecko", &over, None, "calls").is_ok());
    }
}
