//! Exponential backoff between attempts (broker reconnects, pool failover, ASIC polls).
//! Pure: the caller sleeps; tests drive it with a seeded generator. Never sleeps itself.

use rand::Rng;
use std::time::Duration;

/// Delays that start at `min` and double per failure up to `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub min: Duration,
    pub max: Duration,
}

impl Backoff {
    /// `max` below `min` is raised to `min`.
    pub fn new(min: Duration, max: Duration) -> Backoff {
        Backoff {
            min,
            max: max.max(min),
        }
    }

    /// `min * 2^failures`, capped at `max`: the deterministic delay after `failures` failures
    /// (0 failures -> `min`).
    pub fn ceiling(&self, failures: u32) -> Duration {
        self.min
            .saturating_mul(1u32 << failures.min(20))
            .min(self.max.max(self.min))
    }

    /// Full jitter: uniform in `[min, ceiling(failures)]`, so a fleet that lost its broker at
    /// the same instant does not reconnect in lockstep.
    pub fn jittered(&self, failures: u32, rng: &mut impl Rng) -> Duration {
        let lo = u64::try_from(self.min.as_millis()).unwrap_or(u64::MAX);
        let hi = u64::try_from(self.ceiling(failures).as_millis())
            .unwrap_or(u64::MAX)
            .max(lo);
        Duration::from_millis(rng.gen_range(lo..=hi))
    }
}

/// A [`Backoff`] that counts its own failures.
#[derive(Debug, Clone)]
pub struct Retry {
    backoff: Backoff,
    failures: u32,
}

impl Retry {
    pub fn new(backoff: Backoff) -> Retry {
        Retry { backoff, failures: 0 }
    }

    /// The jittered wait before the next attempt; counts one more failure.
    pub fn next_delay(&mut self, rng: &mut impl Rng) -> Duration {
        let d = self.backoff.jittered(self.failures, rng);
        self.failures = self.failures.saturating_add(1);
        d
    }

    pub fn failures(&self) -> u32 {
        self.failures
    }

    pub fn reset(&mut self) {
        self.failures = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn ceiling_doubles_and_caps() {
        let b = Backoff::new(Duration::from_secs(1), Duration::from_secs(20));
        let got: Vec<u64> = (0..7).map(|f| b.ceiling(f).as_secs()).collect();
        assert_eq!(got, [1, 2, 4, 8, 16, 20, 20]);
        assert_eq!(b.ceiling(u32::MAX), Duration::from_secs(20));
        // A max below min is raised, not a panic in gen_range.
        let inverted = Backoff::new(Duration::from_secs(5), Duration::from_secs(1));
        assert_eq!(inverted.ceiling(3), Duration::from_secs(5));
    }

    #[test]
    fn retry_grows_is_capped_jitters_and_resets() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let mut r = Retry::new(Backoff::new(Duration::from_millis(100), Duration::from_secs(2)));
        let mut worst = Duration::ZERO;
        for i in 0..12 {
            let d = r.next_delay(&mut rng);
            let ceiling = Duration::from_millis(100 * (1 << i)).min(Duration::from_secs(2));
            assert!(d >= Duration::from_millis(100) && d <= ceiling, "{i}: {d:?}");
            worst = worst.max(d);
        }
        assert_eq!(r.failures(), 12);
        assert!(
            worst > Duration::from_millis(1000),
            "jitter reached high values: {worst:?}"
        );
        r.reset();
        assert_eq!(r.next_delay(&mut rng), Duration::from_millis(100));
    }
}
