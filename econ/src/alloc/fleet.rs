//! The backtest's fleet file shape (`FLEET.toml`, parsed by the caller, e.g. with `toml`):
//! `[[miner]]` tables with `id`, `site`, `targets`, `hashrate_ths` and `power_w` (one value, or a
//! table by target), `restart_s`; `[sites.NAME]` with `tariff_usd_kwh`, an optional
//! `power_cap_kw` and optional `[sites.NAME.rebalance]` / `[sites.NAME.curtail]` thresholds;
//! optional `[targets.NAME]` with `kind` (mine | power_preset), `coin` (the daily history it
//! reads with `--data`) and `series` (the intraday series; default: the target's name);
//! optional `[policy]` (the default site thresholds). Unknown keys are refused by serde.
//!
//! Must never guess a missing figure: a target without its hashrate or power is an error that
//! names the miner and the target.

use super::optimise::{Rig, SiteLimits};
use super::target::{Resources, Target, TargetKind, PAUSE};
use super::{Policy, SitePolicy};
use crate::coin::Coin;
use crate::economics::quantity;
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FleetFile {
    #[serde(default)]
    pub policy: Option<SitePolicy>,
    pub sites: BTreeMap<String, SiteEntry>,
    #[serde(default)]
    pub targets: BTreeMap<String, TargetEntry>,
    pub miner: Vec<MinerEntry>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteEntry {
    pub tariff_usd_kwh: f64,
    #[serde(default)]
    pub power_cap_kw: Option<f64>,
    #[serde(default)]
    pub rebalance: Option<super::RebalancePolicy>,
    #[serde(default)]
    pub curtail: Option<super::CurtailPolicy>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FleetTargetKind {
    Mine,
    PowerPreset,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetEntry {
    #[serde(default)]
    pub kind: Option<FleetTargetKind>,
    #[serde(default)]
    pub coin: Option<String>,
    #[serde(default)]
    pub series: Option<String>,
}

/// One value for every target, or one per target.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum PerTarget {
    One(f64),
    Each(BTreeMap<String, f64>),
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MinerEntry {
    pub id: String,
    pub site: String,
    pub targets: Vec<String>,
    pub hashrate_ths: PerTarget,
    pub power_w: PerTarget,
    #[serde(default)]
    pub restart_s: f64,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FleetError {
    #[error("miner {miner:?}: {field}: {reason}")]
    Miner {
        miner: String,
        field: &'static str,
        reason: String,
    },
    #[error("sites.{site}: {field}: {reason}")]
    Site {
        site: String,
        field: &'static str,
        reason: String,
    },
    #[error("targets.{target}: {reason}")]
    Target { target: String, reason: String },
    #[error("the fleet has no [[miner]]")]
    NoMiners,
}

/// The fleet in the optimiser's terms.
#[derive(Debug, Clone, PartialEq)]
pub struct Fleet {
    pub rigs: Vec<Rig>,
    pub sites: BTreeMap<String, SiteLimits>,
    pub policy: Policy,
    /// Target name -> the series that prices it.
    pub series_of: BTreeMap<String, String>,
    /// Series -> the coin whose daily history gives it (for `--data`).
    pub coin_of_series: BTreeMap<String, Coin>,
}

fn per_target(v: &PerTarget, target: &str) -> Option<f64> {
    match v {
        PerTarget::One(x) => Some(*x),
        PerTarget::Each(m) => m.get(target).copied(),
    }
}

impl FleetFile {
    pub fn into_fleet(self) -> Result<Fleet, FleetError> {
        if self.miner.is_empty() {
            return Err(FleetError::NoMiners);
        }
        let default = self.policy.unwrap_or_default();
        let mut policy = Policy {
            default,
            sites: BTreeMap::new(),
        };
        let mut sites = BTreeMap::new();
        for (name, s) in &self.sites {
            let bad = |field, v: f64| FleetError::Site {
                site: name.clone(),
                field,
                reason: format!("must be a finite number >= 0, got {v}"),
            };
            quantity("tariff_usd_kwh", s.tariff_usd_kwh)
                .map_err(|_| bad("tariff_usd_kwh", s.tariff_usd_kwh))?;
            if let Some(c) = s.power_cap_kw {
                quantity("power_cap_kw", c).map_err(|_| bad("power_cap_kw", c))?;
            }
            sites.insert(
                name.clone(),
                SiteLimits {
                    tariff_usd_kwh: s.tariff_usd_kwh,
                    power_cap_kw: s.power_cap_kw,
                },
            );
            policy.sites.insert(
                name.clone(),
                SitePolicy {
                    rebalance: s.rebalance.unwrap_or(default.rebalance),
                    curtail: s.curtail.unwrap_or(default.curtail),
                },
            );
        }
        let mut series_of = BTreeMap::new();
        let mut coin_of_series = BTreeMap::new();
        for (name, t) in &self.targets {
            let coin = match &t.coin {
                Some(c) => Some(c.parse::<Coin>().map_err(|e| FleetError::Target {
                    target: name.clone(),
                    reason: e.to_string(),
                })?),
                None => None,
            };
            let series = t
                .series
                .clone()
                .or_else(|| coin.map(|c| c.symbol().to_ascii_lowercase()))
                .unwrap_or_else(|| name.clone());
            if let Some(c) = coin {
                if coin_of_series.insert(series.clone(), c).is_some_and(|o| o != c) {
                    return Err(FleetError::Target {
                        target: name.clone(),
                        reason: format!("series {series:?} is given two coins"),
                    });
                }
            }
            series_of.insert(name.clone(), series);
        }
        let mut rigs = Vec::new();
        for m in &self.miner {
            let err = |field, reason: String| FleetError::Miner {
                miner: m.id.clone(),
                field,
                reason,
            };
            if !sites.contains_key(&m.site) {
                return Err(err(
                    "site",
                    format!("{:?} has no [sites.{}] table", m.site, m.site),
                ));
            }
            if rigs.iter().any(|r: &Rig| r.id == m.id) {
                return Err(err("id", "appears twice".into()));
            }
            if m.targets.is_empty() {
                return Err(err("targets", "is empty".into()));
            }
            quantity("restart_s", m.restart_s).map_err(|e| err("restart_s", e.reason))?;
            for (field, v) in [("hashrate_ths", &m.hashrate_ths), ("power_w", &m.power_w)] {
                if let PerTarget::Each(map) = v {
                    if let Some(k) = map.keys().find(|k| !m.targets.contains(k)) {
                        return Err(err(field, format!("names {k:?}, which is not in targets")));
                    }
                }
            }
            let mut targets = Vec::new();
            for name in &m.targets {
                if name == PAUSE {
                    continue;
                }
                let ths = per_target(&m.hashrate_ths, name)
                    .ok_or_else(|| err("hashrate_ths", format!("no value for target {name:?}")))?;
                let w = per_target(&m.power_w, name)
                    .ok_or_else(|| err("power_w", format!("no value for target {name:?}")))?;
                quantity("hashrate_ths", ths).map_err(|e| err("hashrate_ths", e.reason))?;
                quantity("power_w", w).map_err(|e| err("power_w", e.reason))?;
                let kind = match self.targets.get(name).and_then(|t| t.kind) {
                    Some(FleetTargetKind::PowerPreset) => TargetKind::PowerPreset,
                    _ => TargetKind::Mine,
                };
                let series = series_of
                    .entry(name.clone())
                    .or_insert_with(|| name.clone())
                    .clone();
                targets.push(Target {
                    name: name.clone(),
                    kind,
                    series: Some(series),
                    units: ths,
                    power_w: w,
                    resources: Resources::default(),
                    min_allocation: 0.0,
                    max_allocation: 1.0,
                    restart_s: m.restart_s,
                });
            }
            rigs.push(Rig {
                id: m.id.clone(),
                site: m.site.clone(),
                capacity: Resources::default(),
                targets,
            });
        }
        Ok(Fleet {
            rigs,
            sites,
            policy,
            series_of,
            coin_of_series,
        })
    }
}
