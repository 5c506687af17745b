//! The live inputs the economics endpoints read: a coin's price and network state, a site's
//! tariff, a miner's current hashrate and power. A trait, so the API is tested with values; the
//! hub serves [`super::live::LiveInputs`] (the collectors' cache and the store).
//!
//! Must never invent a value: an implementation without the data answers [`Unavailable`] with
//! what is missing.

use hashward_econ::Coin;

/// Why an input is missing, said to the client as the 503's `detail`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Unavailable(pub String);

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NetworkState {
    pub difficulty: f64,
    /// The tip's height.
    pub height: u64,
    /// Mean fees per block; 0 when the source does not know them (a node without
    /// `getblockstats`): the revenue is then the subsidy's alone, a lower bound.
    pub fees_per_block_coin: f64,
    /// Time of the current epoch's first block and of the tip (seconds since the epoch); None
    /// when the network source does not give it (the difficulty estimate then answers 503).
    pub epoch_start_unix_s: Option<i64>,
    pub tip_unix_s: Option<i64>,
}

/// One miner (rig, ASIC, pool worker) as the hub last saw it.
#[derive(Debug, Clone, PartialEq)]
pub struct MinerSnapshot {
    pub kind: MinerKind,
    /// A rig's id; an ASIC's is `RIG/MINER_ID` (the rig that polls it, the ASIC's miner id).
    pub id: String,
    /// The rig itself, or the rig that polls the ASIC.
    pub rig: String,
    pub site: String,
    pub coin: Coin,
    pub hashrate_hs: f64,
    pub power_w: f64,
}

/// Which kind of miner an id names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MinerKind {
    Rig,
    Asic,
}

/// A miner the fleet figures leave out, and why (no power known, an algorithm no coin uses...).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Excluded {
    pub id: String,
    pub reason: String,
}

/// The fleet's miners with what is known, and those left out with the reason.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FleetMiners {
    pub miners: Vec<MinerSnapshot>,
    pub excluded: Vec<Excluded>,
}

pub trait EconInputs: Send + Sync {
    fn price_usd(&self, coin: Coin) -> Result<f64, Unavailable>;
    fn network(&self, coin: Coin) -> Result<NetworkState, Unavailable>;
    fn tariff_usd_kwh(&self, site: &str) -> Result<f64, Unavailable>;
    /// `Ok(None)`: no such miner.
    fn miner(&self, kind: MinerKind, id: &str) -> Result<Option<MinerSnapshot>, Unavailable>;
    fn fleet(&self) -> Result<FleetMiners, Unavailable>;
    /// What the miner's hardware cost (for payback); unavailable unless configured.
    fn hardware_cost_usd(&self, _id: &str) -> Result<f64, Unavailable> {
        Err(Unavailable(
            "no hardware cost configured ([economics] hardware_cost_usd)".into(),
        ))
    }
}

/// What the hub has until the market, pool and network collectors store their data.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoMarketData;

impl EconInputs for NoMarketData {
    fn price_usd(&self, coin: Coin) -> Result<f64, Unavailable> {
        Err(Unavailable(format!(
            "no market data for {coin} yet: the market collector does not feed the economics yet"
        )))
    }
    fn network(&self, coin: Coin) -> Result<NetworkState, Unavailable> {
        Err(Unavailable(format!(
            "no network data for {coin} yet: the network collector does not feed the economics yet"
        )))
    }
    fn tariff_usd_kwh(&self, site: &str) -> Result<f64, Unavailable> {
        Err(Unavailable(format!(
            "no electricity tariff for site {site:?} yet"
        )))
    }
    fn miner(&self, _kind: MinerKind, _id: &str) -> Result<Option<MinerSnapshot>, Unavailable> {
        Err(Unavailable(
            "no miner hashrate and power for the economics yet: not wired to the telemetry store".into(),
        ))
    }
    fn fleet(&self) -> Result<FleetMiners, Unavailable> {
        Err(Unavailable(
            "no fleet hashrate and power for the economics yet: not wired to the telemetry store".into(),
        ))
    }
}

/// Tariffs and hardware cost from hub.toml's `[economics]` alone, no market, network or miner
/// state: for tests of the endpoints (the hub serves [`super::live::LiveInputs`]).
#[derive(Debug, Clone, Default)]
pub struct ConfiguredInputs {
    pub config: super::EconomicsConfig,
}

impl EconInputs for ConfiguredInputs {
    fn price_usd(&self, coin: Coin) -> Result<f64, Unavailable> {
        NoMarketData.price_usd(coin)
    }
    fn network(&self, coin: Coin) -> Result<NetworkState, Unavailable> {
        NoMarketData.network(coin)
    }
    fn tariff_usd_kwh(&self, site: &str) -> Result<f64, Unavailable> {
        self.config.tariff(site).ok_or_else(|| {
            Unavailable(format!(
                "no electricity tariff for site {site:?}: set [sites.{site}.tariff] or [economics] tariff_usd_kwh"
            ))
        })
    }
    fn miner(&self, kind: MinerKind, id: &str) -> Result<Option<MinerSnapshot>, Unavailable> {
        NoMarketData.miner(kind, id)
    }
    fn fleet(&self) -> Result<FleetMiners, Unavailable> {
        NoMarketData.fleet()
    }
    fn hardware_cost_usd(&self, _id: &str) -> Result<f64, Unavailable> {
        self.config
            .hardware_cost_usd
            .ok_or_else(|| Unavailable("no hardware cost configured ([economics] hardware_cost_usd)".into()))
    }
}
