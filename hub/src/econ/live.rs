//! The hub's live economics inputs: a coin's price from the market collectors' served record,
//! its network state from the node or explorer's latest snapshot (store), a site's electricity
//! price from `[sites.NAME.tariff]` at the current time (else `[economics] tariff_usd_kwh`), and
//! each miner's hashrate and power from the newest telemetry: a CPU rig's miner (power from
//! `[economics] rig_power_w`, since agents measure none) and each ASIC's reading.
//!
//! Must never hand out a value it does not have, or an old one as current: a stale price (its
//! sources down), an old network snapshot or silent telemetry is [`Unavailable`] naming what is
//! missing and why.

use super::which_coin::{asic_coin, rig_coin};
use super::{
    EconInputs, EconomicsConfig, Excluded, FleetMiners, MinerKind, MinerSnapshot, NetworkState, Unavailable,
};
use crate::collect::service::CollectState;
use crate::domain::rig::RigEntry;
use crate::fleetview::ASIC_FRESH_MS;
use crate::store::{RecordsRead, RigsRead, Store};
use hashward_econ::Coin;
use hashward_protocol::{AsicTelemetry, Body};
use std::sync::Arc;

/// ASIC readings read per rig per lookup (as the fleet view's snapshot).
const ASIC_READINGS_READ: usize = 20_000;

pub struct LiveInputs {
    pub config: EconomicsConfig,
    pub collect: Arc<CollectState>,
    pub store: Arc<Store>,
    /// Milliseconds since the epoch; a function so tests pin the clock.
    pub now_ms: fn() -> u64,
}

fn store_err(e: crate::store::StoreError) -> Unavailable {
    log::error!("economics: store unreadable: {e}");
    Unavailable(format!("the hub's store could not be read: {e}"))
}

impl LiveInputs {
    /// A rig's own miner as a snapshot; `Err` says what is missing.
    fn rig_snapshot(&self, entry: &RigEntry, now: u64) -> Result<MinerSnapshot, Unavailable> {
        let id = entry.rig.as_str();
        let Some(tele) = &entry.last_telemetry else {
            return Err(Unavailable(format!("rig {id:?} has sent no telemetry yet")));
        };
        let age = now.saturating_sub(entry.last_telemetry_ms);
        if age > ASIC_FRESH_MS {
            return Err(Unavailable(format!(
                "rig {id:?}'s last telemetry is {} s old: its hashrate now is not known",
                age / 1000
            )));
        }
        let Some(miner) = &tele.miner else {
            return Err(Unavailable(format!("rig {id:?} runs no miner")));
        };
        let pool = miner.pool.as_ref().map(|p| (p.url.as_str(), p.user.as_str()));
        let coin = rig_coin(&miner.algo, pool).ok_or_else(|| {
            Unavailable(format!(
                "rig {id:?} mines {:?}, which no known coin uses (sha256d: bitcoin, scrypt: litecoin or dogecoin)",
                miner.algo
            ))
        })?;
        let power_w = self.config.rig_power(id).ok_or_else(|| {
            Unavailable(format!(
                "no wall power for rig {id:?}: CPU rigs report none; set [economics] rig_power_w.{id} or default_rig_power_w"
            ))
        })?;
        Ok(MinerSnapshot {
            kind: MinerKind::Rig,
            id: id.to_string(),
            rig: id.to_string(),
            site: entry.site.as_str().to_string(),
            coin,
            // A paused miner's 60 s rate falls to 0 within the minute.
            hashrate_hs: if miner.paused {
                0.0
            } else {
                miner.hashrate_60s.hs()
            },
            power_w,
        })
    }

    /// The newest reading of each ASIC `rig` polled in the freshness window.
    fn asics_of(&self, rig: &str, now: u64) -> Result<Vec<AsicTelemetry>, Unavailable> {
        let mut newest = std::collections::BTreeMap::new();
        for r in self
            .store
            .records_of_kind(
                rig,
                "asic",
                now.saturating_sub(ASIC_FRESH_MS),
                u64::MAX,
                ASIC_READINGS_READ,
            )
            .map_err(store_err)?
        {
            if let Body::Asic(a) = r.body {
                newest.insert(a.miner_id.clone(), a);
            }
        }
        Ok(newest.into_values().collect())
    }

    fn asic_snapshot(entry: &RigEntry, a: &AsicTelemetry) -> Result<MinerSnapshot, Unavailable> {
        let rig = entry.rig.as_str();
        let id = format!("{rig}/{}", a.miner_id);
        let Some(power) = a.power.consumption else {
            return Err(Unavailable(format!("ASIC {id:?} reports no power consumption")));
        };
        let pool = a.pool.as_ref().map(|p| (p.url.as_str(), p.user.as_str()));
        Ok(MinerSnapshot {
            kind: MinerKind::Asic,
            id,
            rig: rig.to_string(),
            site: entry.site.as_str().to_string(),
            coin: asic_coin(a.model.as_deref(), pool),
            hashrate_hs: if a.reachable { a.hashrate.total.hs() } else { 0.0 },
            power_w: f64::from(power.0),
        })
    }
}

impl EconInputs for LiveInputs {
    fn price_usd(&self, coin: Coin) -> Result<f64, Unavailable> {
        let now = (self.now_ms)();
        let Some(v) = self.collect.market_coin(coin.name(), now) else {
            return Err(Unavailable(format!(
                "no price for {coin}: no market source has answered for it (see /sources; [collect] coins)"
            )));
        };
        if v.stale {
            return Err(Unavailable(format!(
                "the price of {coin} is stale ({} s old from {}): its market sources are down (see /sources)",
                v.age_s, v.data.source
            )));
        }
        v.data
            .price
            .usd
            .ok_or_else(|| Unavailable(format!("no USD price for {coin} from {}", v.data.source)))
    }

    fn network(&self, coin: Coin) -> Result<NetworkState, Unavailable> {
        let now = (self.now_ms)();
        let latest = self.store.network_latest().map_err(store_err)?;
        let Some(s) = latest.into_iter().find(|s| s.coin == coin.name()) else {
            return Err(Unavailable(format!(
                "no network data for {coin}: no node or explorer has answered (see /sources; [collect.node.{}])",
                coin.name()
            )));
        };
        let age = now.saturating_sub(s.fetched_at_ms);
        if age > self.config.network_max_age_ms() {
            return Err(Unavailable(format!(
                "the network data of {coin} is {} s old (from {}): its source is down (see /sources)",
                age / 1000,
                s.source
            )));
        }
        let secs = |ms: u64| i64::try_from(ms / 1000).ok();
        Ok(NetworkState {
            difficulty: s.network_difficulty,
            height: s.height,
            fees_per_block_coin: s.mean_fees_coins.unwrap_or(0.0),
            epoch_start_unix_s: s.epoch_start_time_ms.and_then(secs),
            tip_unix_s: s.tip_time_ms.and_then(secs),
        })
    }

    fn tariff_usd_kwh(&self, site: &str) -> Result<f64, Unavailable> {
        let now = (self.now_ms)();
        if let Some(q) = self.collect.tariffs(now).into_iter().find(|q| q.site == site) {
            return q.usd_per_kwh.ok_or_else(|| {
                Unavailable(format!(
                    "no electricity price for site {site:?} now: {}",
                    q.note.unwrap_or_else(|| "its tariff gives none".into())
                ))
            });
        }
        self.config.tariff(site).ok_or_else(|| {
            Unavailable(format!(
                "no electricity tariff for site {site:?}: set [sites.{site}.tariff] or [economics] tariff_usd_kwh"
            ))
        })
    }

    fn miner(&self, kind: MinerKind, id: &str) -> Result<Option<MinerSnapshot>, Unavailable> {
        let now = (self.now_ms)();
        match kind {
            MinerKind::Rig => match self.store.rig(id).map_err(store_err)? {
                None => Ok(None),
                Some(entry) => self.rig_snapshot(&entry, now).map(Some),
            },
            MinerKind::Asic => {
                // `RIG/MINER_ID`, or a bare miner id looked up on every rig.
                let (rigs, miner): (Vec<RigEntry>, &str) = match id.split_once('/') {
                    Some((rig, m)) => (self.store.rig(rig).map_err(store_err)?.into_iter().collect(), m),
                    None => (self.store.rigs().map_err(store_err)?, id),
                };
                for entry in rigs {
                    if let Some(a) = self
                        .asics_of(entry.rig.as_str(), now)?
                        .iter()
                        .find(|a| a.miner_id == miner)
                    {
                        return Self::asic_snapshot(&entry, a).map(Some);
                    }
                }
                Ok(None)
            }
        }
    }

    fn fleet(&self) -> Result<FleetMiners, Unavailable> {
        let now = (self.now_ms)();
        let mut f = FleetMiners::default();
        for entry in self.store.rigs().map_err(store_err)? {
            let asics = self.asics_of(entry.rig.as_str(), now)?;
            match self.rig_snapshot(&entry, now) {
                Ok(m) => f.miners.push(m),
                // A rig that only polls ASICs is not a miner of its own.
                Err(_)
                    if !asics.is_empty()
                        && entry.last_telemetry.as_ref().is_some_and(|t| t.miner.is_none()) => {}
                Err(why) => f.excluded.push(Excluded {
                    id: entry.rig.as_str().to_string(),
                    reason: why.0,
                }),
            }
            for a in &asics {
                match Self::asic_snapshot(&entry, a) {
                    Ok(m) => f.miners.push(m),
                    Err(why) => f.excluded.push(Excluded {
                        id: format!("{}/{}", entry.rig.as_str(), a.miner_id),
                        reason: why.0,
                    }),
                }
            }
        }
        Ok(f)
    }

    fn hardware_cost_usd(&self, _id: &str) -> Result<f64, Unavailable> {
        self.config
            .hardware_cost_usd
            .ok_or_else(|| Unavailable("no hardware cost configured ([economics] hardware_cost_usd)".into()))
    }
}
