//! The difficulty forecast's pure parts: the model's features from a retarget table (the twin
//! of `features` in models/train/difficulty.py, checked against its golden vectors) and the
//! projection of its 1-3 epoch log-changes into N epochs of `{height, difficulty, lower,
//! upper}`.
//!
//! - features at the last row k: r1 = ln(D_k / D_k-1), m12 = mean of the last 12 log-changes;
//! - epoch h <= 3: difficulty = D_k x exp(c_h), bounds D_k x exp(c_h + q10_h), exp(c_h + q90_h),
//!   (q: the model's out-of-sample residual quantiles, an 80 % interval);
//! - h > 3: c_h = c_3 x h / 3 (the 3-epoch mean change continues), quantiles x sqrt(h / 3).
//!
//! Must never use rows after the table's last: the forecast starts from its last row.

use crate::coin::Coin;
use crate::history::RetargetRow;
use serde::Serialize;

pub const FEATURES: [&str; 2] = ["r1", "m12"];
pub const HORIZONS: usize = 3;

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct EpochForecast {
    pub height: u64,
    pub difficulty: f64,
    pub lower: f64,
    pub upper: f64,
}

/// The features at the table's last row; None with fewer than 13 rows.
pub fn features(rows: &[RetargetRow]) -> Option<[f64; 2]> {
    let n = rows.len();
    if n < 13 {
        return None;
    }
    let d: Vec<f64> = rows[n - 13..].iter().map(|r| r.difficulty).collect();
    let ch: Vec<f64> = d.windows(2).map(|w| (w[1] / w[0]).ln()).collect();
    Some([ch[11], ch.iter().sum::<f64>() / 12.0])
}

/// N epochs from the last row, given the model's cumulative log-changes for 1..3 epochs and its
/// residual (q10, q90) per horizon.
pub fn project(
    coin: Coin,
    last: &RetargetRow,
    log_change: [f64; HORIZONS],
    q10_q90: [[f64; 2]; HORIZONS],
    epochs: usize,
) -> Vec<EpochForecast> {
    let interval = match coin.retarget_rule(last.height) {
        crate::coin::RetargetRule::Epoch { interval } => interval,
        crate::coin::RetargetRule::PerBlock => 1,
    };
    (1..=epochs)
        .map(|h| {
            let (c, q) = if h <= HORIZONS {
                (log_change[h - 1], q10_q90[h - 1])
            } else {
                let s = (h as f64 / HORIZONS as f64).sqrt();
                let q = q10_q90[HORIZONS - 1];
                (
                    log_change[HORIZONS - 1] * h as f64 / HORIZONS as f64,
                    [q[0] * s, q[1] * s],
                )
            };
            EpochForecast {
                height: last.height + interval * h as u64,
                difficulty: last.difficulty * c.exp(),
                lower: last.difficulty * (c + q[0].min(0.0)).exp(),
                upper: last.difficulty * (c + q[1].max(0.0)).exp(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(height: u64, difficulty: f64) -> RetargetRow {
        RetargetRow {
            height,
            unix_time: None,
            bits: 0,
            difficulty,
        }
    }

    #[test]
    fn features_and_projection_golden() {
        // 13 rows doubling every epoch: r1 = ln 2 = 0.693147, m12 = ln 2.
        let rows: Vec<_> = (0..13).map(|i| row(i * 2016, 2f64.powi(i as i32))).collect();
        let f = features(&rows).expect("features");
        assert!(
            (f[0] - std::f64::consts::LN_2).abs() < 1e-12 && (f[1] - std::f64::consts::LN_2).abs() < 1e-12
        );
        assert_eq!(features(&rows[..12]), None);
        // From D = 100 at 24,192: +1 %, +2 %, +3 % (log), q = [-0.05, 0.04] each.
        // h=1: 100 e^0.01 = 101.005; lower 100 e^-0.04 = 96.0789; upper 100 e^0.05 = 105.127.
        // h=6: c = 0.03 x 2 = 0.06 -> 106.184; q x sqrt 2 = [-0.070711, 0.056569]:
        // lower 100 e^-0.010711 = 98.9346, upper 100 e^0.116569 = 112.364.
        let last = row(24_192, 100.0);
        let p = project(Coin::Bitcoin, &last, [0.01, 0.02, 0.03], [[-0.05, 0.04]; 3], 6);
        assert_eq!(p.len(), 6);
        assert_eq!(p[0].height, 26_208);
        assert!((p[0].difficulty - 101.005).abs() < 1e-3 && (p[0].lower - 96.0789).abs() < 1e-3);
        assert!((p[0].upper - 105.127).abs() < 1e-3);
        assert_eq!(p[5].height, 24_192 + 6 * 2016);
        assert!((p[5].difficulty - 106.184).abs() < 1e-3, "{}", p[5].difficulty);
        assert!(
            (p[5].lower - 98.9346).abs() < 1e-3 && (p[5].upper - 112.364).abs() < 1e-3,
            "{:?}",
            p[5]
        );
    }
}
