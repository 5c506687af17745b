//! A miner's day in money: revenue from the coin's schedule and the network's difficulty, the
//! electricity it costs at a tariff, profit, hashprice and efficiency; the pool's own reported
//! profitability beside the model's; ROI and break-even against the hardware's cost.
//!
//! Formulas (every figure is per day of 86,400 s):
//! - reward per block = subsidy(height) + mean fees per block (coins)
//! - coins/day = hashrate_hs x 86400 x reward / (difficulty x 2^32)
//! - gross revenue = coins/day x price; pool fee = gross x pool_fee_pct / 100;
//!   revenue = gross - pool fee
//! - energy = W x 24 / 1000 kWh; cost = energy x tariff (USD/kWh); profit = revenue - cost
//! - hashprice = gross revenue / (hashrate in TH/s): USD per TH/s per day, before the pool fee
//!   (the market's convention, so it compares across pools)
//! - J/TH = W / (TH/s) (a joule per terahash: watts are J/s, TH/s is TH per s)
//! - break-even tariff = revenue / energy: the USD/kWh at which profit is zero
//! - ROI = cumulative profit / hardware cost (capex base, not period cost); break-even days =
//!   (hardware cost - cumulative profit) / daily profit, none when daily profit <= 0
//! - pool ratio = pool-reported USD/day / model USD/day (after pool fee both)
//!
//! Must never return a number for an input that is not one (NaN, negative, a pool fee outside
//! 0..100 %, zero difficulty): the error names the field.

use crate::coin::Coin;
use crate::units::{Difficulty, Hashrate, Usd, Watts};
use serde::Serialize;

const SECONDS_PER_DAY: f64 = 86_400.0;
const HASHES_PER_DIFFICULTY: f64 = 4_294_967_296.0;

/// An input that is not usable, by field name (the CLI flag and JSON key share it).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct InputError {
    pub field: &'static str,
    pub reason: String,
}

impl InputError {
    pub fn new(field: &'static str, reason: impl Into<String>) -> InputError {
        InputError {
            field,
            reason: reason.into(),
        }
    }
}

/// A finite, non-negative value or an error naming `field`.
pub fn quantity(field: &'static str, value: f64) -> Result<f64, InputError> {
    if value.is_finite() && value >= 0.0 {
        Ok(value)
    } else {
        Err(InputError::new(
            field,
            format!("must be a finite number >= 0, got {value}"),
        ))
    }
}

/// What one miner (or a sum of miners) is doing and what the market pays.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MinerDay {
    pub coin: Coin,
    pub hashrate: Hashrate,
    pub power: Watts,
    pub tariff_usd_kwh: Usd,
    pub difficulty: Difficulty,
    pub price_usd: Usd,
    /// Block height (the subsidy is the coin's at this height).
    pub height: u64,
    pub fees_per_block_coin: f64,
    pub pool_fee_pct: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct DailyEconomics {
    pub coin: Coin,
    pub subsidy_coin: f64,
    pub reward_per_block_coin: f64,
    pub coins_per_day: f64,
    pub gross_revenue_usd_day: f64,
    pub pool_fee_usd_day: f64,
    pub revenue_usd_day: f64,
    pub energy_kwh_day: f64,
    pub cost_usd_day: f64,
    pub profit_usd_day: f64,
    /// Null when the hashrate is zero.
    pub hashprice_usd_per_ths_day: Option<f64>,
    /// Null when the hashrate is zero.
    pub efficiency_j_per_th: Option<f64>,
    /// Null when the power is zero.
    pub break_even_tariff_usd_kwh: Option<f64>,
}

impl MinerDay {
    pub fn economics(&self) -> Result<DailyEconomics, InputError> {
        let fees = quantity("fees_per_block_coin", self.fees_per_block_coin)?;
        let fee_pct = quantity("pool_fee_pct", self.pool_fee_pct)?;
        if fee_pct > 100.0 {
            return Err(InputError::new(
                "pool_fee_pct",
                format!("must be 0..100, got {fee_pct}"),
            ));
        }
        if self.difficulty.get() == 0.0 {
            return Err(InputError::new("difficulty", "must be > 0"));
        }
        let subsidy = self.coin.block_subsidy(self.height);
        let reward = subsidy + fees;
        let coins =
            self.hashrate.get() * SECONDS_PER_DAY * reward / (self.difficulty.get() * HASHES_PER_DIFFICULTY);
        let gross = coins * self.price_usd.get();
        let pool_fee = gross * fee_pct / 100.0;
        let revenue = gross - pool_fee;
        let energy = self.power.get() * 24.0 / 1000.0;
        let cost = energy * self.tariff_usd_kwh.get();
        let ths = self.hashrate.terahashes();
        Ok(DailyEconomics {
            coin: self.coin,
            subsidy_coin: subsidy,
            reward_per_block_coin: reward,
            coins_per_day: coins,
            gross_revenue_usd_day: gross,
            pool_fee_usd_day: pool_fee,
            revenue_usd_day: revenue,
            energy_kwh_day: energy,
            cost_usd_day: cost,
            profit_usd_day: revenue - cost,
            hashprice_usd_per_ths_day: (ths > 0.0).then(|| gross / ths),
            efficiency_j_per_th: (ths > 0.0).then(|| self.power.get() / ths),
            break_even_tariff_usd_kwh: (energy > 0.0).then(|| revenue / energy),
        })
    }
}

/// The model's revenue beside a profit-switching pool's own figure for the same hashrate.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PoolComparison {
    pub model_revenue_usd_day: f64,
    pub pool_revenue_usd_day: f64,
    /// pool / model; null when the model's revenue is zero.
    pub pool_to_model_ratio: Option<f64>,
}

/// `pool_usd_per_ths_day`: the pool's reported profitability (USD per TH/s per day, after its
/// fee, as Prohashing reports it).
pub fn compare_with_pool(
    model_revenue_usd_day: f64,
    pool_usd_per_ths_day: f64,
    hashrate: Hashrate,
) -> Result<PoolComparison, InputError> {
    let model = quantity("revenue_usd_day", model_revenue_usd_day)?;
    let pool = quantity("pool_usd_per_ths_day", pool_usd_per_ths_day)? * hashrate.terahashes();
    Ok(PoolComparison {
        model_revenue_usd_day: model,
        pool_revenue_usd_day: pool,
        pool_to_model_ratio: (model > 0.0).then(|| pool / model),
    })
}

/// Return on the hardware: cumulative profit / hardware cost; none without a cost.
pub fn roi(cumulative_profit_usd: f64, hardware_cost: Usd) -> Option<f64> {
    (hardware_cost.get() > 0.0 && cumulative_profit_usd.is_finite())
        .then(|| cumulative_profit_usd / hardware_cost.get())
}

/// Days until cumulative profit covers the hardware at today's profit; 0 once covered, none
/// when the day loses money (it never breaks even at this rate).
pub fn break_even_days(hardware_cost: Usd, cumulative_profit_usd: f64, profit_usd_day: f64) -> Option<f64> {
    let left = hardware_cost.get() - cumulative_profit_usd;
    if !left.is_finite() || !profit_usd_day.is_finite() {
        return None;
    }
    if left <= 0.0 {
        return Some(0.0);
    }
    (profit_usd_day > 0.0).then(|| left / profit_usd_day)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn btc_2023_06_15(pool_fee_pct: f64) -> MinerDay {
        MinerDay {
            coin: Coin::Bitcoin,
            hashrate: Hashrate::from_terahashes(100.0).expect("h"),
            power: Watts::new(3250.0).expect("w"),
            tariff_usd_kwh: Usd::new(0.06).expect("t"),
            difficulty: Difficulty::new(52_350_439_455_487.47).expect("d"),
            price_usd: Usd::new(25_107.754695880594).expect("p"),
            height: 794_500,
            fees_per_block_coin: 41.02129533 / 148.0,
            pool_fee_pct,
        }
    }

    #[test]
    fn bitcoin_on_2023_06_15_golden() {
        // ../shared/data on 2023-06-15 (price: data provided by CoinGecko; fees: blockchain.com): difficulty 52,350,439,455,487.47 (btc_retargets row
        // 794,304, in force from 2023-06-14 11:27 to 06-28); cg_price_usd 25,107.75;
        // bc_fees_btc 41.0213 over 148 blocks (bv_block_subsidy_btc 925 / 6.25) = 0.277171 BTC per
        // block; subsidy 6.25 (height 794,500 < 840,000).
        // By hand: reward 6.527171 BTC; 1e14 x 86400 = 8.64e18; x 6.527171 = 5.639476e19;
        // difficulty x 2^32 = 5.2350439e13 x 4.2949673e9 = 2.2484343e23;
        // coins/day = 5.639476e19 / 2.2484343e23 = 2.508179e-4 BTC; x 25,107.75 = 6.29747 USD.
        // Cost: 3,250 W x 24 h = 78 kWh x 0.06 = 4.68 USD. Profit 1.61747 USD/day.
        // Hashprice 6.29747 / 100 = 0.0629747 USD/TH/s/day; J/TH 3250 / 100 = 32.5;
        // break-even tariff 6.29747 / 78 = 0.0807368 USD/kWh.
        let e = btc_2023_06_15(0.0).economics().expect("economics");
        assert_eq!(e.subsidy_coin, 6.25);
        assert!(
            (e.coins_per_day - 2.508179e-4).abs() < 1e-9,
            "{}",
            e.coins_per_day
        );
        assert!(
            (e.revenue_usd_day - 6.29747).abs() < 1e-4,
            "{}",
            e.revenue_usd_day
        );
        assert!((e.energy_kwh_day - 78.0).abs() < 1e-9);
        assert!((e.cost_usd_day - 4.68).abs() < 1e-9);
        assert!((e.profit_usd_day - 1.61747).abs() < 1e-4, "{}", e.profit_usd_day);
        assert!((e.hashprice_usd_per_ths_day.expect("hp") - 0.0629747).abs() < 1e-6);
        assert_eq!(e.efficiency_j_per_th, Some(32.5));
        assert!((e.break_even_tariff_usd_kwh.expect("be") - 0.0807368).abs() < 1e-6);
    }

    #[test]
    fn pool_fee_comes_off_revenue_not_hashprice() {
        // 2 % of 6.29747 = 0.125949; revenue 6.171525; hashprice unchanged (gross).
        let e = btc_2023_06_15(2.0).economics().expect("economics");
        assert!((e.pool_fee_usd_day - 0.125949).abs() < 1e-5);
        assert!((e.revenue_usd_day - 6.171525).abs() < 1e-5);
        assert!((e.hashprice_usd_per_ths_day.expect("hp") - 0.0629747).abs() < 1e-6);
    }

    #[test]
    fn bad_inputs_name_their_field() {
        let e = btc_2023_06_15(101.0).economics().expect_err("fee");
        assert_eq!(e.field, "pool_fee_pct");
        let mut d = btc_2023_06_15(0.0);
        d.fees_per_block_coin = -1.0;
        assert_eq!(d.economics().expect_err("fees").field, "fees_per_block_coin");
        d.fees_per_block_coin = 0.0;
        d.difficulty = Difficulty::ZERO;
        assert_eq!(d.economics().expect_err("d").field, "difficulty");
        d.difficulty = Difficulty::new(1.0).expect("d");
        d.hashrate = Hashrate::ZERO;
        let e = d.economics().expect("zero hashrate is a day of cost");
        assert_eq!((e.hashprice_usd_per_ths_day, e.efficiency_j_per_th), (None, None));
        assert!((e.profit_usd_day + 4.68).abs() < 1e-9);
    }

    #[test]
    fn pool_comparison_roi_and_break_even() {
        // Pool says 0.06 USD/TH/day: 100 TH/s -> 6.0 USD; model 6.29747 -> ratio 0.952764.
        let c = compare_with_pool(6.29747, 0.06, Hashrate::from_terahashes(100.0).expect("h")).expect("c");
        assert!((c.pool_revenue_usd_day - 6.0).abs() < 1e-9);
        assert!((c.pool_to_model_ratio.expect("r") - 0.952764).abs() < 1e-6);
        assert_eq!(
            compare_with_pool(0.0, 0.06, Hashrate::ZERO)
                .expect("c")
                .pool_to_model_ratio,
            None
        );
        assert_eq!(
            compare_with_pool(1.0, f64::NAN, Hashrate::ZERO)
                .expect_err("nan")
                .field,
            "pool_usd_per_ths_day"
        );
        // A 2,000 USD miner that has made 500 USD: ROI 0.25; at 1.61747 USD/day the remaining
        // 1,500 USD take 1500 / 1.61747 = 927.37 days.
        let cost = Usd::new(2000.0).expect("usd");
        assert_eq!(roi(500.0, cost), Some(0.25));
        assert_eq!(roi(500.0, Usd::ZERO), None);
        assert!((break_even_days(cost, 500.0, 1.61747).expect("days") - 927.37).abs() < 0.01);
        assert_eq!(break_even_days(cost, 500.0, -1.0), None);
        assert_eq!(break_even_days(cost, 2500.0, -1.0), Some(0.0));
    }
}
