//! Hashrate over sliding windows (10 s, 60 s, 15 min, as XMRig reports), from periodic samples
//! of cumulative hash counters. Pure: the caller supplies the time, tests supply plain values.

use hashward_protocol::Hashrate;
use std::collections::VecDeque;

/// Longest window kept, in seconds.
pub const MAX_WINDOW_S: f64 = 900.0;

#[derive(Debug, Default, Clone)]
pub struct Meter {
    /// (seconds since an arbitrary origin, cumulative hashes), oldest first.
    samples: VecDeque<(f64, u64)>,
}

impl Meter {
    pub fn push(&mut self, t: f64, total: u64) {
        if let Some(&(last_t, _)) = self.samples.back() {
            if t <= last_t {
                return;
            }
        }
        self.samples.push_back((t, total));
        while let Some(&(first_t, _)) = self.samples.front() {
            // Keep one sample older than the longest window so it can be measured in full.
            if t - first_t > MAX_WINDOW_S + 1.0 && self.samples.len() > 2 {
                self.samples.pop_front();
            } else {
                break;
            }
        }
    }

    /// Hashes per second over the last `window_s` seconds; over less if the meter is younger
    /// (as XMRig does), and `None` before two samples exist.
    pub fn rate(&self, window_s: f64) -> Option<Hashrate> {
        let &(t_end, h_end) = self.samples.back()?;
        let start = self
            .samples
            .iter()
            .find(|(t, _)| t_end - t <= window_s + 1e-9)
            .filter(|(t, _)| *t < t_end)
            .or_else(|| self.samples.iter().rev().nth(1))?;
        let dt = t_end - start.0;
        (dt > 0.0).then(|| Hashrate(h_end.saturating_sub(start.1) as f64 / dt))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_measure_only_their_span() {
        let mut m = Meter::default();
        assert_eq!(m.rate(10.0), None);
        // 100 H/s for 60 s, then 1000 H/s for 10 s.
        let mut total = 0;
        for t in 0..=60 {
            m.push(t as f64, total);
            total += 100;
        }
        total -= 100;
        for t in 61..=70 {
            total += 1000;
            m.push(t as f64, total);
        }
        let r10 = m.rate(10.0).expect("rate").0;
        assert!((r10 - 1000.0).abs() < 1e-6, "{r10}");
        let r60 = m.rate(60.0).expect("rate").0;
        assert!(
            (r60 - (50.0 * 100.0 + 10.0 * 1000.0) / 60.0).abs() < 1e-6,
            "{r60}"
        );
        // The 15 min window covers everything there is so far.
        let all = m.rate(900.0).expect("rate").0;
        assert!((all - total as f64 / 70.0).abs() < 1e-6, "{all}");
    }

    #[test]
    fn old_samples_are_dropped_and_time_never_goes_back() {
        let mut m = Meter::default();
        for t in 0..3000 {
            m.push(t as f64, t * 5);
        }
        assert!(m.samples.len() < 910);
        m.push(10.0, 0);
        assert!((m.rate(900.0).expect("rate").0 - 5.0).abs() < 1e-9);
    }
}
