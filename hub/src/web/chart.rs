//! Chart data for the rig and ASIC pages: a window of records cut into at most [`MAX_BUCKETS`]
//! time buckets, one value per bucket and series (mean, max or sum of per-ASIC means), `null`
//! where nothing was reported, so 24 h of 10 s telemetry is a few hundred points, not 8640
//! records.
//!
//! Pure. Must never fill a bucket nobody reported in (a gap stays a gap on the chart).

use serde::Serialize;
use std::collections::BTreeMap;

pub const MAX_BUCKETS: usize = 288;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Agg {
    Mean,
    Max,
    /// Mean per subject (an ASIC) within the bucket, summed over subjects: fleet power and
    /// hashrate from readings taken at different instants.
    SumOfMeans,
}

/// One sample: time, subject (an ASIC's id, or "" for the rig) and value.
pub type Sample = (u64, String, f64);

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Series {
    pub name: &'static str,
    pub unit: &'static str,
    pub values: Vec<Option<f64>>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Chart {
    pub from_ms: u64,
    pub to_ms: u64,
    pub step_ms: u64,
    /// Each bucket's start.
    pub ts_ms: Vec<u64>,
    pub series: Vec<Series>,
}

/// The buckets' layout for `[from_ms, to_ms]`.
pub fn layout(from_ms: u64, to_ms: u64) -> (u64, Vec<u64>) {
    let span = to_ms.saturating_sub(from_ms).max(1);
    let step = span.div_ceil(MAX_BUCKETS as u64).max(1000);
    let n = span.div_ceil(step) as usize;
    (step, (0..n).map(|i| from_ms + i as u64 * step).collect())
}

pub fn bucketize(from_ms: u64, step_ms: u64, n: usize, samples: &[Sample], agg: Agg) -> Vec<Option<f64>> {
    // bucket -> subject -> (sum, count, max)
    let mut acc: Vec<BTreeMap<&str, (f64, u64, f64)>> = vec![BTreeMap::new(); n];
    for (ts, subject, v) in samples {
        if *ts < from_ms || !v.is_finite() {
            continue;
        }
        let i = ((ts - from_ms) / step_ms) as usize;
        let Some(b) = acc.get_mut(i) else { continue };
        let e = b.entry(subject.as_str()).or_insert((0.0, 0, f64::MIN));
        e.0 += v;
        e.1 += 1;
        e.2 = e.2.max(*v);
    }
    acc.into_iter()
        .map(|b| {
            if b.is_empty() {
                return None;
            }
            let (sum, count, max) = b
                .values()
                .fold((0.0, 0, f64::MIN), |a, e| (a.0 + e.0, a.1 + e.1, a.2.max(e.2)));
            Some(match agg {
                Agg::Mean => sum / count as f64,
                Agg::Max => max,
                Agg::SumOfMeans => b.values().map(|e| e.0 / e.1 as f64).sum(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(ts: u64, subject: &str, v: f64) -> Sample {
        (ts, subject.to_string(), v)
    }

    #[test]
    fn a_day_is_at_most_288_buckets_and_a_short_window_is_per_second() {
        let (step, ts) = layout(0, 24 * 3600 * 1000);
        assert_eq!((step, ts.len()), (300_000, 288));
        let (step, ts) = layout(1000, 11_000);
        assert_eq!((step, ts.len(), ts[1]), (1000, 10, 2000));
    }

    #[test]
    fn mean_max_and_sum_of_means_with_gaps_left_null() {
        let samples = vec![
            s(0, "a", 10.0),
            s(500, "a", 20.0),
            s(600, "b", 5.0),
            s(2500, "a", 7.0),
            s(99_999, "a", 1.0),
            s(1200, "b", f64::NAN),
        ];
        assert_eq!(
            bucketize(0, 1000, 3, &samples, Agg::Mean),
            vec![Some(35.0 / 3.0), None, Some(7.0)]
        );
        assert_eq!(
            bucketize(0, 1000, 3, &samples, Agg::Max),
            vec![Some(20.0), None, Some(7.0)]
        );
        assert_eq!(
            bucketize(0, 1000, 3, &samples, Agg::SumOfMeans),
            vec![Some(20.0), None, Some(7.0)]
        );
    }
}
