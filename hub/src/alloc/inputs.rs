//! One cycle's `hashward_econ::alloc::Inputs` from what the hub observed: each CPU rig with its
//! pool options (`[[allocation.pools]]` of the algorithm it runs), each ASIC with its power
//! presets, each site's tariff and cap, and the market series valued from prices and network
//! state. Pure: the service gathers the observations (store, collectors) and hands them here.
//!
//! Series: `pool:NAME` (a pool's hashprice after its fee, USD per TH/s per day) and `coin:COIN`
//! (an ASIC's coin, no pool fee known). Must never price a target it has no value for (the
//! series is left out and the target stays unpriced), nor invent a rig's hashrate: a rig that
//! never reported one is excluded with the reason.

use super::config::{Pool, Settings};
use crate::econ::{Excluded, NetworkState};
use hashward_econ::alloc::{
    Allocation, Inputs, Market, Rig, RigAllocation, SiteLimits, Target, TargetKind, PAUSE,
};
use hashward_econ::Coin;
use std::collections::BTreeMap;

/// A CPU rig as its latest telemetry shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct ObservedRig {
    pub id: String,
    pub site: String,
    pub algo: String,
    pub pool_url: Option<String>,
    pub paused: bool,
    pub hashrate_ths: f64,
    pub power_w: f64,
}

/// An ASIC (`RIG/MINER_ID`) as its latest reading shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct ObservedAsic {
    pub id: String,
    pub site: String,
    pub coin: Coin,
    /// Only Vnish takes `set-power-target`; others keep what they run.
    pub presets: bool,
    pub hashrate_ths: f64,
    pub power_w: f64,
}

/// Everything one cycle starts from.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    pub now_unix: i64,
    pub rigs: Vec<ObservedRig>,
    pub asics: Vec<ObservedAsic>,
    /// Miners the economics inputs left out, with the reason.
    pub excluded: Vec<Excluded>,
    /// Per site: the tariff now, or why there is none.
    pub tariffs: BTreeMap<String, Result<f64, String>>,
    /// Per coin: (price USD, network), or why it is missing.
    pub coins: BTreeMap<String, Result<(f64, NetworkState), String>>,
}

/// What one target means for the apply step.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Pool(Pool),
    /// A Vnish power preset, in watts.
    Preset(u32),
    Pause,
}

#[derive(Debug, Clone)]
pub struct Built {
    pub inputs: Inputs,
    pub excluded: Vec<Excluded>,
    /// Per miner id and target name: what applying it means.
    pub actions: BTreeMap<String, BTreeMap<String, Action>>,
    /// Why a coin or a site tariff is missing (shown with the decision).
    pub missing: Vec<String>,
}

pub fn pool_series(name: &str) -> String {
    format!("pool:{name}")
}

pub fn coin_series(coin: Coin) -> String {
    format!("coin:{}", coin.name())
}

/// Market series from the coins' prices and networks.
fn market(settings: &Settings, obs: &Observed, asic_coins: &[Coin], missing: &mut Vec<String>) -> Market {
    let mut m = Market::new();
    let mut value = |coin: Coin, fee: f64| -> Option<f64> {
        match obs.coins.get(coin.name()) {
            Some(Ok((price, n))) => {
                match hashward_econ::alloc::target::usd_per_th_day(
                    coin,
                    n.difficulty,
                    *price,
                    n.height,
                    n.fees_per_block_coin,
                    fee,
                ) {
                    Ok(v) => Some(v),
                    Err(e) => {
                        missing.push(format!("{coin}: {e}"));
                        None
                    }
                }
            }
            Some(Err(why)) => {
                missing.push(why.clone());
                None
            }
            None => {
                missing.push(format!("{coin}: not looked up"));
                None
            }
        }
    };
    for p in &settings.pools {
        if let Some(v) = value(p.coin, p.fee_pct) {
            m.insert(pool_series(&p.name), v);
        }
    }
    for c in asic_coins {
        if let Some(v) = value(*c, 0.0) {
            m.insert(coin_series(*c), v);
        }
    }
    missing.sort();
    missing.dedup();
    m
}

fn preset_name(w: u32) -> String {
    format!("{w}w")
}

/// Builds the cycle's inputs. `hashrate_memory` keeps each rig's last non-zero hashrate, so a
/// paused rig can still be priced on resuming; `assumed` overrides what a miner runs now while
/// a push or command to it is in flight or not yet visible in its telemetry.
pub fn build(
    settings: &Settings,
    obs: &Observed,
    hashrate_memory: &mut BTreeMap<String, f64>,
    assumed: &BTreeMap<String, String>,
) -> Built {
    let mut excluded = obs.excluded.clone();
    let mut rigs = Vec::new();
    let mut current = Allocation::new();
    let mut actions: BTreeMap<String, BTreeMap<String, Action>> = BTreeMap::new();
    let mut missing = Vec::new();
    for r in &obs.rigs {
        if r.hashrate_ths > 0.0 {
            hashrate_memory.insert(r.id.clone(), r.hashrate_ths);
        }
        let Some(ths) = hashrate_memory.get(&r.id).copied() else {
            excluded.push(Excluded {
                id: r.id.clone(),
                reason: "has reported no hashrate yet: its pools cannot be priced".into(),
            });
            continue;
        };
        let pools: Vec<&Pool> = settings.pools.iter().filter(|p| p.algo == r.algo).collect();
        if pools.is_empty() {
            excluded.push(Excluded {
                id: r.id.clone(),
                reason: format!("no [[allocation.pools]] entry mines {}", r.algo),
            });
            continue;
        }
        let now = if r.paused {
            Some(PAUSE.to_string())
        } else {
            r.pool_url
                .as_deref()
                .and_then(|u| pools.iter().find(|p| p.url == u))
                .map(|p| p.name.clone())
        };
        let Some(now) = assumed.get(&r.id).cloned().or(now) else {
            excluded.push(Excluded {
                id: r.id.clone(),
                reason: format!(
                    "mines on {}, which is not in [[allocation.pools]]: the allocation does not move it",
                    r.pool_url.as_deref().unwrap_or("no pool")
                ),
            });
            continue;
        };
        let mut acts = BTreeMap::from([(PAUSE.to_string(), Action::Pause)]);
        let targets = pools
            .iter()
            .map(|p| {
                acts.insert(p.name.clone(), Action::Pool((*p).clone()));
                Target {
                    name: p.name.clone(),
                    kind: TargetKind::Mine,
                    series: Some(pool_series(&p.name)),
                    units: ths,
                    power_w: r.power_w,
                    resources: Default::default(),
                    min_allocation: 0.0,
                    max_allocation: 1.0,
                    restart_s: p.restart_s,
                }
            })
            .collect();
        rigs.push(Rig {
            id: r.id.clone(),
            site: r.site.clone(),
            capacity: Default::default(),
            targets,
        });
        current.insert(
            r.id.clone(),
            RigAllocation {
                target: now,
                side: BTreeMap::new(),
            },
        );
        actions.insert(r.id.clone(), acts);
    }
    let mut asic_coins = Vec::new();
    for a in &obs.asics {
        if !(a.hashrate_ths > 0.0 && a.power_w > 0.0) {
            excluded.push(Excluded {
                id: a.id.clone(),
                reason: "reports no hashrate or no power: its presets cannot be priced".into(),
            });
            continue;
        }
        // Presets are valued at the efficiency it shows now (J/TH held constant): a lower
        // preset is usually more efficient, so this understates what a cut keeps.
        let measured = a.power_w.round() as u32;
        let mut watts: Vec<u32> = if a.presets {
            settings.asic_presets_w.clone()
        } else {
            Vec::new()
        };
        let near = watts
            .iter()
            .copied()
            .filter(|w| (f64::from(*w) - a.power_w).abs() <= 0.03 * a.power_w)
            .min_by_key(|w| w.abs_diff(measured));
        let now_w = near.unwrap_or(measured);
        if !watts.contains(&now_w) {
            watts.push(now_w);
        }
        watts.sort_unstable();
        let series = coin_series(a.coin);
        let mut acts = BTreeMap::from([(PAUSE.to_string(), Action::Pause)]);
        let targets = watts
            .iter()
            .map(|w| {
                acts.insert(preset_name(*w), Action::Preset(*w));
                Target {
                    name: preset_name(*w),
                    kind: TargetKind::PowerPreset,
                    series: Some(series.clone()),
                    units: a.hashrate_ths * f64::from(*w) / a.power_w,
                    power_w: f64::from(*w),
                    resources: Default::default(),
                    min_allocation: 0.0,
                    max_allocation: 1.0,
                    restart_s: super::config::DEFAULT_PRESET_RESTART_S,
                }
            })
            .collect();
        if !asic_coins.contains(&a.coin) {
            asic_coins.push(a.coin);
        }
        rigs.push(Rig {
            id: a.id.clone(),
            site: a.site.clone(),
            capacity: Default::default(),
            targets,
        });
        let now = assumed.get(&a.id).cloned().unwrap_or_else(|| preset_name(now_w));
        current.insert(
            a.id.clone(),
            RigAllocation {
                target: now,
                side: BTreeMap::new(),
            },
        );
        actions.insert(a.id.clone(), acts);
    }
    // Sites: a tariff is required (the optimiser refuses a rig on a site without one).
    let mut sites = BTreeMap::new();
    let mut keep = Vec::new();
    for rig in rigs {
        match obs.tariffs.get(&rig.site) {
            Some(Ok(t)) => {
                sites.insert(
                    rig.site.clone(),
                    SiteLimits {
                        tariff_usd_kwh: *t,
                        power_cap_kw: settings.power_cap_kw.get(&rig.site).copied(),
                    },
                );
                keep.push(rig);
            }
            other => {
                let why = match other {
                    Some(Err(w)) => w.clone(),
                    _ => format!("no tariff looked up for site {:?}", rig.site),
                };
                current.remove(&rig.id);
                actions.remove(&rig.id);
                excluded.push(Excluded {
                    id: rig.id,
                    reason: why,
                });
            }
        }
    }
    let market = market(settings, obs, &asic_coins, &mut missing);
    Built {
        inputs: Inputs {
            now_unix: obs.now_unix,
            rigs: keep,
            sites,
            market,
            current,
        },
        excluded,
        actions,
        missing,
    }
}

#[cfg(test)]
#[path = "inputs_tests.rs"]
mod tests;
