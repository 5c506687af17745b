//! Exponential reconnect backoff with full jitter (rumqttc reconnects without any).
//! Pure: the caller sleeps; tests drive it with a seeded generator.

use rand::Rng;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Backoff {
    min: Duration,
    max: Duration,
    failures: u32,
}

impl Backoff {
    pub fn new(min: Duration, max: Duration) -> Backoff {
        Backoff {
            min,
            max: max.max(min),
            failures: 0,
        }
    }

    /// The wait before the next attempt: uniform in [min, min * 2^failures], capped at max.
    pub fn next_delay(&mut self, rng: &mut impl Rng) -> Duration {
        let ceiling = self
            .min
            .saturating_mul(1u32 << self.failures.min(20))
            .min(self.max);
        self.failures = self.failures.saturating_add(1);
        let lo = self.min.as_millis() as u64;
        let hi = (ceiling.as_millis() as u64).max(lo);
        Duration::from_millis(rng.gen_range(lo..=hi))
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
    fn grows_is_capped_and_resets() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_secs(2));
        let mut worst = Duration::ZERO;
        for i in 0..12 {
            let d = b.next_delay(&mut rng);
            let ceiling = Duration::from_millis(100 * (1 << i)).min(Duration::from_secs(2));
            assert!(d >= Duration::from_millis(100) && d <= ceiling, "{i}: {d:?}");
            worst = worst.max(d);
        }
        assert!(
            worst > Duration::from_millis(1000),
            "jitter reached high values: {worst:?}"
        );
        b.reset();
        assert_eq!(b.next_delay(&mut rng), Duration::from_millis(100));
    }
}
