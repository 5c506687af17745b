//! A miner's and the fleet's day in money from the live inputs: what `/rigs/{rig}/economics`,
//! `/asics/{id}/economics`, `/fleet/economics`, the retained economics topics and the `/metrics`
//! gauges all show, computed once here so they cannot disagree. The fleet is rolled up per coin
//! (hashprice and J/TH only make sense within one algorithm) and per site.
//!
//! Must never total a fleet with an input missing: a price, network state or tariff that is not
//! there fails the whole report (the caller answers 503 naming it); only a miner whose own data
//! is incomplete (no power known, no coin for its algorithm, silent) is left out, and listed.

use super::{EconInputs, Excluded, MinerKind, MinerSnapshot, Unavailable};
use hashward_econ::{Coin, DailyEconomics, Difficulty, Hashrate, InputError, MinerDay, Usd, Watts};
use serde::Serialize;
use std::collections::BTreeMap;

/// Why a day could not be computed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DayError {
    /// An input is missing (503).
    #[error(transparent)]
    Unavailable(#[from] Unavailable),
    /// An input is out of range (a negative power, a zero difficulty): named by field.
    #[error("{field}: {reason}")]
    Input { field: String, reason: String },
}

impl From<InputError> for DayError {
    fn from(e: InputError) -> DayError {
        DayError::Input {
            field: e.field.to_string(),
            reason: e.reason,
        }
    }
}

/// One miner's day.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MinerEconomics {
    pub id: String,
    pub kind: &'static str,
    pub rig: String,
    pub site: String,
    pub coin: Coin,
    pub hashrate_hs: f64,
    pub power_w: f64,
    pub tariff_usd_kwh: f64,
    pub economics: DailyEconomics,
}

/// Totals of a group of miners (one coin, one site, or the fleet).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Totals {
    pub miners: usize,
    pub revenue_usd_day: f64,
    pub cost_usd_day: f64,
    pub profit_usd_day: f64,
    pub power_w: f64,
}

impl Totals {
    fn add(&mut self, m: &MinerEconomics) {
        self.miners += 1;
        self.revenue_usd_day += m.economics.revenue_usd_day;
        self.cost_usd_day += m.economics.cost_usd_day;
        self.profit_usd_day = self.revenue_usd_day - self.cost_usd_day;
        self.power_w += m.power_w;
    }
}

/// One coin's miners: totals plus the per-hash figures that hold within one algorithm.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CoinTotals {
    #[serde(flatten)]
    pub totals: Totals,
    pub hashrate_hs: f64,
    /// Revenue per TH/s per day (null when the group hashes nothing).
    pub hashprice_usd_per_ths_day: Option<f64>,
    /// Watts per TH/s = joules per TH (null when the group hashes nothing).
    pub efficiency_j_per_th: Option<f64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct FleetEconomics {
    #[serde(flatten)]
    pub totals: Totals,
    pub by_coin: BTreeMap<String, CoinTotals>,
    pub by_site: BTreeMap<String, Totals>,
    pub each: Vec<MinerEconomics>,
    pub excluded: Vec<Excluded>,
}

pub fn kind_name(kind: MinerKind) -> &'static str {
    match kind {
        MinerKind::Rig => "rig",
        MinerKind::Asic => "asic",
    }
}

/// A miner's day at the current price, network state and its site's tariff (no pool fee: the
/// hub does not know the pool's).
pub fn miner_day(inputs: &dyn EconInputs, m: &MinerSnapshot) -> Result<MinerEconomics, DayError> {
    let net = inputs.network(m.coin)?;
    let price = inputs.price_usd(m.coin)?;
    let tariff = inputs.tariff_usd_kwh(&m.site)?;
    let bad = |field: &'static str| {
        move |e: hashward_econ::UnitError| DayError::Input {
            field: field.into(),
            reason: e.to_string(),
        }
    };
    let economics = MinerDay {
        coin: m.coin,
        hashrate: Hashrate::new(m.hashrate_hs).map_err(bad("hashrate_hs"))?,
        power: Watts::new(m.power_w).map_err(bad("power_w"))?,
        tariff_usd_kwh: Usd::new(tariff).map_err(bad("tariff_usd_kwh"))?,
        difficulty: Difficulty::new(net.difficulty).map_err(bad("difficulty"))?,
        price_usd: Usd::new(price).map_err(bad("price_usd"))?,
        height: net.height,
        fees_per_block_coin: net.fees_per_block_coin,
        pool_fee_pct: 0.0,
    }
    .economics()?;
    Ok(MinerEconomics {
        id: m.id.clone(),
        kind: kind_name(m.kind),
        rig: m.rig.clone(),
        site: m.site.clone(),
        coin: m.coin,
        hashrate_hs: m.hashrate_hs,
        power_w: m.power_w,
        tariff_usd_kwh: tariff,
        economics,
    })
}

/// The fleet's day. A missing input fails it; a miner with an out-of-range value of its own is
/// excluded with the reason.
pub fn fleet(inputs: &dyn EconInputs) -> Result<FleetEconomics, Unavailable> {
    let all = inputs.fleet()?;
    let mut f = FleetEconomics {
        excluded: all.excluded,
        ..FleetEconomics::default()
    };
    for m in &all.miners {
        match miner_day(inputs, m) {
            Ok(e) => f.each.push(e),
            Err(DayError::Unavailable(u)) => return Err(u),
            Err(e @ DayError::Input { .. }) => f.excluded.push(Excluded {
                id: m.id.clone(),
                reason: e.to_string(),
            }),
        }
    }
    for m in &f.each {
        f.totals.add(m);
        f.by_site.entry(m.site.clone()).or_default().add(m);
        let c = f.by_coin.entry(m.coin.name().to_string()).or_default();
        c.totals.add(m);
        c.hashrate_hs += m.hashrate_hs;
    }
    for c in f.by_coin.values_mut() {
        let ths = c.hashrate_hs / 1e12;
        if ths > 0.0 {
            c.hashprice_usd_per_ths_day = Some(c.totals.revenue_usd_day / ths);
            c.efficiency_j_per_th = Some(c.totals.power_w / ths);
        }
    }
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::econ::{FleetMiners, NetworkState};

    /// Round numbers so the roll-ups are checked by hand: difficulty 2^-32 * 86400 makes one
    /// H/s earn exactly one block reward a day.
    struct Fixed {
        price_down: bool,
    }

    const DIFF: f64 = 86_400.0 / 4_294_967_296.0;

    fn snap(id: &str, site: &str, coin: Coin, hs: f64, w: f64) -> MinerSnapshot {
        MinerSnapshot {
            kind: MinerKind::Rig,
            id: id.into(),
            rig: id.into(),
            site: site.into(),
            coin,
            hashrate_hs: hs,
            power_w: w,
        }
    }

    impl EconInputs for Fixed {
        fn price_usd(&self, coin: Coin) -> Result<f64, Unavailable> {
            if self.price_down {
                return Err(Unavailable(format!("no price for {coin}")));
            }
            Ok(if coin == Coin::Bitcoin { 2.0 } else { 10.0 })
        }
        fn network(&self, _: Coin) -> Result<NetworkState, Unavailable> {
            // Height 0: bitcoin's subsidy is 50, litecoin's 50; fees 0.
            Ok(NetworkState {
                difficulty: DIFF,
                height: 0,
                fees_per_block_coin: 0.0,
                epoch_start_unix_s: None,
                tip_unix_s: None,
            })
        }
        fn tariff_usd_kwh(&self, site: &str) -> Result<f64, Unavailable> {
            Ok(if site == "a" { 0.1 } else { 0.2 })
        }
        fn miner(&self, _: MinerKind, _: &str) -> Result<Option<MinerSnapshot>, Unavailable> {
            Ok(None)
        }
        fn fleet(&self) -> Result<FleetMiners, Unavailable> {
            Ok(FleetMiners {
                miners: vec![
                    snap("r1", "a", Coin::Bitcoin, 1e12, 1000.0),
                    snap("r2", "b", Coin::Bitcoin, 3e12, 500.0),
                    snap("r3", "a", Coin::Litecoin, 2e9, 100.0),
                    snap("bad", "a", Coin::Bitcoin, -1.0, 1.0),
                ],
                excluded: vec![Excluded {
                    id: "r9".into(),
                    reason: "no power".into(),
                }],
            })
        }
    }

    #[test]
    fn fleet_rolls_up_by_coin_and_site_by_hand() {
        let f = fleet(&Fixed { price_down: false }).expect("fleet");
        // r1: 1e12 H/s x 50 BTC x 2 USD = 1e14 USD/day; 24 kWh x 0.1 = 2.4 USD.
        // r2: 3e14 USD/day; 12 kWh x 0.2 = 2.4 USD. r3: 2e9 x 50 x 10 = 1e12; 2.4 x 0.1 = 0.24.
        let r = &f.each;
        assert_eq!(r.len(), 3);
        assert!((r[0].economics.revenue_usd_day - 1e14).abs() < 1.0);
        assert!((r[0].economics.cost_usd_day - 2.4).abs() < 1e-9);
        let btc = &f.by_coin["bitcoin"];
        assert_eq!(btc.totals.miners, 2);
        assert!((btc.totals.revenue_usd_day - 4e14).abs() < 4.0);
        // 4e14 USD over 4 TH/s: 1e14 per TH/s; 1500 W over 4 TH/s: 375 J/TH.
        assert!((btc.hashprice_usd_per_ths_day.expect("hp") - 1e14).abs() < 1.0);
        assert_eq!(btc.efficiency_j_per_th, Some(375.0));
        let a = &f.by_site["a"];
        assert!((a.cost_usd_day - 2.64).abs() < 1e-9);
        assert_eq!((a.miners, a.power_w), (2, 1100.0));
        assert!((f.totals.cost_usd_day - 5.04).abs() < 1e-9);
        assert!((f.totals.profit_usd_day - (f.totals.revenue_usd_day - f.totals.cost_usd_day)).abs() < 1e-6);
        // The negative hashrate is named, the configured exclusion kept.
        let ex: Vec<&str> = f.excluded.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(ex, ["r9", "bad"]);
        assert!(f.excluded[1].reason.contains("hashrate_hs"), "{:?}", f.excluded);
    }

    #[test]
    fn a_missing_input_fails_the_fleet_naming_it() {
        let e = fleet(&Fixed { price_down: true }).expect_err("no price");
        assert_eq!(e.0, "no price for bitcoin");
    }
}
