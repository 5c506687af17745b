//! When to poll a DePIN node next: every `interval` while it answers; after failures, the
//! agent's usual exponential backoff ([`hashward_common::Backoff`]) from `interval` up to
//! `backoff_max`, so a node that is down is still reported, just less often.
//!
//! Pure: durations in, durations out; never sleeps or reads a clock.

use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NodeSchedule {
    pub interval: Duration,
    pub backoff_max: Duration,
    pub failures: u32,
}

impl NodeSchedule {
    pub fn new(interval: Duration, backoff_max: Duration) -> NodeSchedule {
        NodeSchedule {
            interval,
            backoff_max: backoff_max.max(interval),
            failures: 0,
        }
    }

    /// Delay to the next poll after a success (counted from the previous due time).
    pub fn on_success(&mut self) -> Duration {
        self.failures = 0;
        self.interval
    }

    /// Delay to the next poll after a failure (counted from now).
    pub fn on_failure(&mut self) -> Duration {
        self.failures = self.failures.saturating_add(1);
        hashward_common::Backoff::new(self.interval, self.backoff_max).ceiling(self.failures - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_back_off_to_the_ceiling_and_a_success_resets() {
        let s = Duration::from_secs;
        let mut n = NodeSchedule::new(s(60), s(600));
        let delays: Vec<u64> = (0..6).map(|_| n.on_failure().as_secs()).collect();
        assert_eq!(delays[0], 60);
        assert!(delays.windows(2).all(|w| w[0] <= w[1]), "{delays:?}");
        assert_eq!(*delays.last().expect("some"), 600);
        assert_eq!(n.on_success(), s(60));
        assert_eq!(n.on_failure(), s(60));
        // A ceiling below the interval is the interval.
        assert_eq!(NodeSchedule::new(s(60), s(1)).backoff_max, s(60));
    }
}
