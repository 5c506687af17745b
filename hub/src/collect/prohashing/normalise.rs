//! Prohashing's units to hashward's. Pure arithmetic, tested with worked values.
//!
//! Profitability: Prohashing quotes `usd` (and `btc`) per **MH/s** per day for every algorithm
//! (one base unit, 1 MH/s = 1e6 H/s). Checked against its own recorded payload of 2019-01-15
//! (`data_timestamp` 1547510680): SHA-256 `btc` = 3.6428598623226e-11 per unit per day; the
//! network then (difficulty 5.62e12, subsidy 12.5 BTC) paid 1e12 x 86400 x 12.5 / (5.62e12 x 2^32)
//! = 4.47e-5 BTC per TH/s per day, and 3.64e-11 x 1e6 = 3.64e-5 is that less the pool's cut (about
//! 81 %), so the unit is MH/s (GH/s would be 1000x too little, H/s 1e6x too much). The same scale
//! fits Scrypt (0.0025 USD per MH/s per day, Litecoin then) and Ethash (0.0116 USD per MH/s per
//! day). Hence `usd_per_th_day = usd_per_mhs_day x 1e6` (1 TH/s = 1e6 MH/s): SHA-256's 1.3292e-7
//! is 0.13292 USD/TH/day, Scrypt's 0.0025041 is 2504.1 USD/TH/day (2.5041 USD per GH/s).
//! An operator who learns otherwise overrides the unit per algorithm (`[collect.prohashing]
//! profit_unit_hs`).
//!
//! Worker `hashrate` in miner updates is H/s (Prohashing's own clients scale it from H/s up).

use std::collections::BTreeMap;

/// H/s in one Prohashing profitability unit (MH/s).
pub const DEFAULT_PROFIT_UNIT_HS: f64 = 1e6;
/// H/s in one TH/s.
pub const TH: f64 = 1e12;

/// Per-algorithm overrides of the profitability unit (H/s), keyed by Prohashing
/// `algorithm_name` (case-insensitive).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProfitUnits {
    overrides: BTreeMap<String, f64>,
}

impl ProfitUnits {
    pub fn new(overrides: &BTreeMap<String, f64>) -> ProfitUnits {
        ProfitUnits {
            overrides: overrides
                .iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), *v))
                .collect(),
        }
    }

    /// H/s in one quoted unit for `algorithm`.
    pub fn unit_hs(&self, algorithm: &str) -> f64 {
        self.overrides
            .get(&algorithm.to_ascii_lowercase())
            .copied()
            .unwrap_or(DEFAULT_PROFIT_UNIT_HS)
    }

    /// A per-unit-per-day quote as per TH/s per day.
    pub fn per_th_day(&self, algorithm: &str, per_unit_day: f64) -> f64 {
        per_unit_day * TH / self.unit_hs(algorithm)
    }
}

/// Shares accepted over shares submitted; None with nothing submitted.
pub fn acceptance(accepted: u64, rejected: u64, stale: u64, invalid: u64) -> Option<f64> {
    let total = accepted + rejected + stale + invalid;
    (total > 0).then(|| accepted as f64 / total as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-9 * b.abs().max(1.0)
    }

    #[test]
    fn worked_values_from_the_recorded_payload() {
        let u = ProfitUnits::default();
        assert!(close(
            u.per_th_day("SHA-256", 1.3292067065643e-7),
            0.13292067065643
        ));
        assert!(close(u.per_th_day("Scrypt", 0.0025041009705167), 2504.1009705167));
        assert!(close(
            u.per_th_day("SHA-256", 3.6428598623226e-11),
            3.6428598623226e-5
        ));
        // The network's full payout that day (see the module comment) bounds the pool's quote.
        let network_btc_per_th_day = 1e12 * 86400.0 * 12.5 / (5.62e12 * 2f64.powi(32));
        let ratio = u.per_th_day("SHA-256", 3.6428598623226e-11) / network_btc_per_th_day;
        assert!((0.7..1.0).contains(&ratio), "{ratio}");
    }

    #[test]
    fn an_override_changes_only_its_algorithm() {
        let mut o = BTreeMap::new();
        o.insert("Equihash".to_string(), 1e3);
        let u = ProfitUnits::new(&o);
        assert!(close(u.per_th_day("equihash", 1.0), 1e9));
        assert!(close(u.per_th_day("Scrypt", 1.0), 1e6));
    }

    #[test]
    fn acceptance_rate() {
        assert_eq!(acceptance(0, 0, 0, 0), None);
        assert_eq!(acceptance(98, 1, 1, 0), Some(0.98));
    }
}
