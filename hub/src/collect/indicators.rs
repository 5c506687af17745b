//! Technical indicators of seed 002 §4.3, from daily USD closes (oldest first). Pure functions;
//! each returns `None` until there are enough closes.
//!
//! Must never extrapolate: a short history is `None`, not a shorter window.

/// Simple moving average of the last `n` closes: `sum(close[t-n+1..=t]) / n` (MA-50, MA-200).
pub fn sma(closes: &[f64], n: usize) -> Option<f64> {
    if n == 0 || closes.len() < n {
        return None;
    }
    Some(closes[closes.len() - n..].iter().sum::<f64>() / n as f64)
}

/// Wilder's RSI over `n` periods (RSI-14 with `n = 14`). With `d_i = close_i - close_{i-1}`,
/// gains `g_i = max(d_i, 0)` and losses `l_i = max(-d_i, 0)`: the first averages are the plain
/// means of the first `n` gains and losses, then each further day smooths them as
/// `avg = (avg * (n - 1) + x) / n`. `RSI = 100 - 100 / (1 + avg_gain / avg_loss)`, and 100 when
/// there was no loss. Needs `n + 1` closes.
pub fn rsi(closes: &[f64], n: usize) -> Option<f64> {
    if n == 0 || closes.len() < n + 1 {
        return None;
    }
    let diffs: Vec<f64> = closes.windows(2).map(|w| w[1] - w[0]).collect();
    let nf = n as f64;
    let mut gain = diffs[..n].iter().map(|d| d.max(0.0)).sum::<f64>() / nf;
    let mut loss = diffs[..n].iter().map(|d| (-d).max(0.0)).sum::<f64>() / nf;
    for d in &diffs[n..] {
        gain = (gain * (nf - 1.0) + d.max(0.0)) / nf;
        loss = (loss * (nf - 1.0) + (-d).max(0.0)) / nf;
    }
    if loss == 0.0 {
        return Some(100.0);
    }
    Some(100.0 - 100.0 / (1.0 + gain / loss))
}

/// 30-day volatility: the sample standard deviation (divisor `n - 1`) of the last 30 daily log
/// returns `ln(close_t / close_{t-1})`, as a fraction per day, **not annualised** (multiply by
/// `sqrt(365)` for a yearly figure). Needs 31 positive closes.
pub fn volatility(closes: &[f64], days: usize) -> Option<f64> {
    if days < 2 || closes.len() < days + 1 {
        return None;
    }
    let tail = &closes[closes.len() - days - 1..];
    if tail.iter().any(|c| !(c.is_finite() && *c > 0.0)) {
        return None;
    }
    let r: Vec<f64> = tail.windows(2).map(|w| (w[1] / w[0]).ln()).collect();
    let mean = r.iter().sum::<f64>() / r.len() as f64;
    let var = r.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (r.len() - 1) as f64;
    Some(var.sqrt())
}

/// All four of §4.3 from up to 200 daily closes.
pub fn technical(closes: &[f64]) -> hashward_protocol::market::TechnicalIndicators {
    hashward_protocol::market::TechnicalIndicators {
        rsi_14: rsi(closes, 14),
        ma_50: sma(closes, 50),
        ma_200: sma(closes, 200),
        volatility_30d: volatility(closes, 30),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-3
    }

    #[test]
    fn rsi_matches_the_worked_wilder_example() {
        // The StockCharts RSI sheet's first 15 closes: gains sum 3.34, losses 1.40, so
        // avg gain 0.238571, avg loss 0.1, RS 2.385714, RSI 70.464.
        let mut c = vec![
            44.34, 44.09, 44.15, 43.61, 44.33, 44.83, 45.10, 45.42, 45.84, 46.08, 45.89, 46.03, 45.61, 46.28,
            46.28,
        ];
        assert!(rsi(&c[..14], 14).is_none());
        let first = rsi(&c, 14).expect("15 closes");
        assert!(close(first, 70.464), "{first}");
        // Next close 46.00 (-0.28): gain (0.238571*13)/14 = 0.221531, loss (1.3+0.28)/14 =
        // 0.112857, RS 1.962967, RSI 66.249.
        c.push(46.00);
        let next = rsi(&c, 14).expect("16 closes");
        assert!(close(next, 66.249), "{next}");
        assert_eq!(rsi(&[1.0; 20], 14), Some(100.0));
    }

    #[test]
    fn moving_averages_and_volatility_by_hand() {
        let c: Vec<f64> = (1..=200).map(f64::from).collect();
        assert_eq!(sma(&c, 50), Some(175.5));
        assert_eq!(sma(&c, 200), Some(100.5));
        assert_eq!(sma(&c[..199], 200), None);
        // Alternating 100, 110: 30 log returns of +-ln(1.1) = +-0.0953102, mean 0, so the
        // sample stdev is 0.0953102 * sqrt(30/29) = 0.0969399.
        let alt: Vec<f64> = (0..31).map(|i| if i % 2 == 0 { 100.0 } else { 110.0 }).collect();
        let v = volatility(&alt, 30).expect("31 closes");
        assert!((v - 0.0969399).abs() < 1e-6, "{v}");
        assert_eq!(volatility(&alt[..30], 30), None);
        let t = technical(&alt);
        assert!(t.rsi_14.is_some() && t.ma_50.is_none());
    }
}
