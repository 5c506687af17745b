//! Allocation targets: what one rig or ASIC can run (an algorithm on a pool or coin, a Vnish
//! power preset, pause) and what a host can share on the side (a DePIN workload), each with the
//! resources and power it uses, and its expected profit per hour at a market value and a tariff.
//!
//! Formulas (per hour):
//! - revenue_usd_h = market value (USD per unit per day) x units x allocation / 24, where a
//!   mining target's unit is a TH/s (the value is then the hashprice after the pool fee) and a
//!   side workload's unit is the whole workload (the value is its USD/day at full allocation);
//! - cost_usd_h = power_w x allocation / 1000 x tariff (USD/kWh); profit = revenue - cost.
//!
//! Must never price a target whose market value is missing as zero: the caller gets `None`
//! and says so; pause is the only target worth exactly nothing.

use crate::coin::Coin;
use crate::economics::{quantity, InputError, MinerDay};
use crate::units::{Difficulty, Hashrate, Usd, Watts};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The target every rig can always take: no work, no power.
pub const PAUSE: &str = "pause";

/// CPU, memory, bandwidth and storage: what a host has and what a target uses at full
/// allocation (the seed's four resource constraints).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Resources {
    pub cpu_cores: f64,
    pub memory_gb: f64,
    pub bandwidth_mbps: f64,
    pub storage_gb: f64,
}

impl Resources {
    pub fn as_array(&self) -> [(&'static str, f64); 4] {
        [
            ("cpu_cores", self.cpu_cores),
            ("memory_gb", self.memory_gb),
            ("bandwidth_mbps", self.bandwidth_mbps),
            ("storage_gb", self.storage_gb),
        ]
    }

    fn validate(&self, what: &'static str) -> Result<(), InputError> {
        for (_, v) in self.as_array() {
            quantity(what, v)?;
        }
        Ok(())
    }
}

/// How a target runs on its rig.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetKind {
    /// Hashing on a pool or coin: one at a time per rig (the rig has one algorithm loaded).
    Mine,
    /// A Vnish ASIC's power preset (`set-power-target`) on a coin: exclusive like `Mine`.
    PowerPreset,
    /// No work: exclusive, zero power, zero revenue.
    Pause,
    /// A DePIN side workload (Storj, Golem...): runs beside the rig's exclusive target on a
    /// fraction `min_allocation..=max_allocation` of its unit, sharing the host's resources.
    Side,
}

impl TargetKind {
    pub fn is_exclusive(self) -> bool {
        !matches!(self, TargetKind::Side)
    }
}

/// One option of one rig.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    pub name: String,
    pub kind: TargetKind,
    /// The market series whose value prices it (none for pause).
    #[serde(default)]
    pub series: Option<String>,
    /// TH/s for mining targets; 1 for a side workload (its value is per whole workload).
    #[serde(default)]
    pub units: f64,
    /// Power at full allocation.
    #[serde(default)]
    pub power_w: f64,
    /// Resources used at full allocation.
    #[serde(default)]
    pub resources: Resources,
    /// Bounds of a side workload's fraction (exclusive targets are 0 or 1).
    #[serde(default)]
    pub min_allocation: f64,
    #[serde(default = "one")]
    pub max_allocation: f64,
    /// Seconds of lost work when the rig moves to this target (warm-up, reconnect).
    #[serde(default)]
    pub restart_s: f64,
}

fn one() -> f64 {
    1.0
}

impl Target {
    pub fn pause() -> Target {
        Target {
            name: PAUSE.to_string(),
            kind: TargetKind::Pause,
            series: None,
            units: 0.0,
            power_w: 0.0,
            resources: Resources::default(),
            min_allocation: 0.0,
            max_allocation: 1.0,
            restart_s: 0.0,
        }
    }

    pub fn validate(&self) -> Result<(), InputError> {
        quantity("units", self.units)?;
        quantity("power_w", self.power_w)?;
        quantity("restart_s", self.restart_s)?;
        self.resources.validate("resources")?;
        let (lo, hi) = (
            quantity("min_allocation", self.min_allocation)?,
            quantity("max_allocation", self.max_allocation)?,
        );
        if lo > hi || hi > 1.0 {
            return Err(InputError::new(
                "min_allocation",
                format!("bounds must satisfy 0 <= min <= max <= 1, got {lo}..{hi}"),
            ));
        }
        if self.kind != TargetKind::Pause && self.series.is_none() {
            return Err(InputError::new(
                "series",
                format!("target {:?} has none", self.name),
            ));
        }
        Ok(())
    }

    /// Revenue per hour at full allocation, or `None` when its series has no value.
    pub fn revenue_usd_h(&self, market: &Market) -> Option<f64> {
        match &self.series {
            None => Some(0.0),
            Some(s) => market.get(s).map(|v| v * self.units / 24.0),
        }
    }

    pub fn cost_usd_h(&self, tariff_usd_kwh: f64) -> f64 {
        self.power_w / 1000.0 * tariff_usd_kwh
    }

    /// Profit per hour at full allocation, or `None` when its series has no value.
    pub fn profit_usd_h(&self, market: &Market, tariff_usd_kwh: f64) -> Option<f64> {
        self.revenue_usd_h(market)
            .map(|r| r - self.cost_usd_h(tariff_usd_kwh))
    }
}

/// Market values by series: USD per unit per day (per TH/s for mining series).
pub type Market = BTreeMap<String, f64>;

/// A mining series' value from the crate's economics: the USD/day one TH/s earns on `coin` at
/// this difficulty, price, height, fees per block and pool fee (after the pool fee).
pub fn usd_per_th_day(
    coin: Coin,
    difficulty: f64,
    price_usd: f64,
    height: u64,
    fees_per_block_coin: f64,
    pool_fee_pct: f64,
) -> Result<f64, InputError> {
    let day = MinerDay {
        coin,
        hashrate: Hashrate::from_terahashes(1.0).map_err(|e| InputError::new("hashrate", e.to_string()))?,
        power: Watts::ZERO,
        tariff_usd_kwh: Usd::ZERO,
        difficulty: Difficulty::new(difficulty).map_err(|e| InputError::new("difficulty", e.to_string()))?,
        price_usd: Usd::new(price_usd).map_err(|e| InputError::new("price_usd", e.to_string()))?,
        height,
        fees_per_block_coin,
        pool_fee_pct,
    };
    Ok(day.economics()?.revenue_usd_day)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s19(name: &str, ths: f64, w: f64) -> Target {
        Target {
            name: name.into(),
            kind: TargetKind::PowerPreset,
            series: Some("btc".into()),
            units: ths,
            power_w: w,
            resources: Resources::default(),
            min_allocation: 0.0,
            max_allocation: 1.0,
            restart_s: 120.0,
        }
    }

    #[test]
    fn profit_per_hour_from_hashprice_and_tariff() {
        // 100 TH/s at 0.0629747 USD/TH/day = 6.29747 USD/day = 0.262395 USD/h; 3,250 W at
        // 0.06 USD/kWh = 0.195 USD/h; profit 0.067395 USD/h (economics' 2023-06-15 golden / 24).
        let m = Market::from([("btc".to_string(), 0.0629747)]);
        let t = s19("full", 100.0, 3250.0);
        assert!((t.revenue_usd_h(&m).expect("r") - 0.262395).abs() < 1e-6);
        assert!((t.profit_usd_h(&m, 0.06).expect("p") - 0.067395).abs() < 1e-6);
        assert_eq!(Target::pause().profit_usd_h(&m, 0.3), Some(0.0));
        assert_eq!(t.profit_usd_h(&Market::new(), 0.06), None, "no value is not zero");
    }

    #[test]
    fn hashprice_comes_from_the_economics() {
        // economics.rs golden: 2023-06-15, 100 TH/s earn 6.29747 USD/day -> 0.0629747 per TH/s.
        let v = usd_per_th_day(
            Coin::Bitcoin,
            52_350_439_455_487.47,
            25_107.754695880594,
            794_500,
            41.02129533 / 148.0,
            0.0,
        )
        .expect("v");
        assert!((v - 0.0629747).abs() < 1e-6, "{v}");
        let e = usd_per_th_day(Coin::Bitcoin, 0.0, 1.0, 1, 0.0, 0.0).expect_err("zero");
        assert_eq!(e.field, "difficulty");
    }

    #[test]
    fn bad_targets_name_the_field() {
        let mut t = s19("x", 100.0, -1.0);
        assert_eq!(t.validate().expect_err("w").field, "power_w");
        t.power_w = 1.0;
        t.min_allocation = 0.8;
        t.max_allocation = 0.5;
        assert_eq!(t.validate().expect_err("b").field, "min_allocation");
        t.min_allocation = 0.0;
        t.series = None;
        assert_eq!(t.validate().expect_err("s").field, "series");
    }
}
