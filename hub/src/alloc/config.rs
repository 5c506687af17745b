//! The `[allocation]` section of hub.toml: the mode (`advise` computes, stores and shows;
//! `auto` also applies through the fleet control), the cycle interval, how long a rig has to
//! ack, the pools a CPU rig may be moved between, the power presets offered to Vnish ASICs, and
//! the per-site thresholds (the pure crate's `RebalancePolicy` and `CurtailPolicy`) and caps.
//!
//! Must never accept a value the service could not act on: every error names its key as
//! written in the file (`allocation.pools[1].coin`).

use hashward_econ::alloc::{CurtailPolicy, Policy, RebalancePolicy, SitePolicy};
use hashward_econ::Coin;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// Cycle interval when not configured (seed 001 §3.3: every 15 minutes).
pub const DEFAULT_INTERVAL_S: u64 = 900;
/// How long a rig has to ack a push or command before it counts as rejected.
pub const DEFAULT_ACK_TIMEOUT_S: u64 = 120;
/// Seconds of lost work when a CPU rig changes pool (reconnect, new jobs), if not configured.
pub const DEFAULT_POOL_RESTART_S: f64 = 30.0;
/// Seconds an ASIC loses when its power preset changes (Vnish re-tunes the chains).
pub const DEFAULT_PRESET_RESTART_S: f64 = 120.0;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Decisions computed, stored and shown; nothing pushed.
    #[default]
    Advise,
    /// Decisions applied through signed config pushes and commands.
    Auto,
}

/// `[[allocation.pools]]`: one pool a CPU rig can be moved to.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoolOption {
    /// The target's name in decisions and the API.
    pub name: String,
    /// The coin it pays in (bitcoin, litecoin, dogecoin): its hashprice values the target.
    pub coin: String,
    /// The algorithm the rig's miner runs for it (sha256d, scrypt); default the coin's.
    pub algo: Option<String>,
    /// `stratum+tcp://host:port` or `stratum+ssl://host:port`.
    pub url: String,
    /// The worker name; `{rig}` is replaced by the rig's id.
    pub user: String,
    #[serde(default)]
    pub pass: Option<String>,
    #[serde(default)]
    pub fee_pct: f64,
    pub restart_s: Option<f64>,
}

/// `[allocation.sites.NAME]`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteSection {
    /// The site's power cap (a circuit, a contract), kW.
    pub power_cap_kw: Option<f64>,
    /// This site's thresholds; keys not given take the built-in defaults.
    pub rebalance: Option<RebalancePolicy>,
    pub curtail: Option<CurtailPolicy>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllocationConfig {
    #[serde(default)]
    pub mode: Mode,
    pub interval_s: Option<u64>,
    pub ack_timeout_s: Option<u64>,
    #[serde(default)]
    pub pools: Vec<PoolOption>,
    /// Power presets (W) offered to every Vnish ASIC besides the one it runs now.
    #[serde(default)]
    pub asic_presets_w: Vec<u32>,
    /// Thresholds of sites without their own (`[allocation.rebalance]`, `[allocation.curtail]`).
    pub rebalance: Option<RebalancePolicy>,
    pub curtail: Option<CurtailPolicy>,
    #[serde(default)]
    pub sites: BTreeMap<String, SiteSection>,
}

/// One pool option, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Pool {
    pub name: String,
    pub coin: Coin,
    pub algo: String,
    pub url: String,
    pub user: String,
    pub pass: String,
    pub fee_pct: f64,
    pub restart_s: f64,
}

impl Pool {
    /// The worker name for `rig`.
    pub fn user_for(&self, rig: &str) -> String {
        self.user.replace("{rig}", rig)
    }
}

/// The section, validated, as the service uses it.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub mode: Mode,
    pub interval: Duration,
    pub ack_timeout: Duration,
    pub pools: Vec<Pool>,
    pub asic_presets_w: Vec<u32>,
    pub policy: Policy,
    pub power_cap_kw: BTreeMap<String, f64>,
}

impl Settings {
    /// How often the service looks at the market for a large move (a cycle is cheap to skip).
    pub fn check_every(&self) -> Duration {
        (self.interval / 4).clamp(Duration::from_millis(250), Duration::from_secs(30))
    }
}

/// The name the agents' `[miner] algo` uses for the coin's algorithm.
pub fn algo_name(coin: Coin) -> &'static str {
    match coin.algorithm() {
        hashward_econ::Algorithm::Sha256d => "sha256d",
        hashward_econ::Algorithm::Scrypt => "scrypt",
    }
}

fn finite_nonneg(key: &str, v: f64) -> Result<f64, String> {
    if v.is_finite() && v >= 0.0 {
        Ok(v)
    } else {
        Err(format!("{key} must be a finite number >= 0, got {v}"))
    }
}

fn check_rebalance(key: &str, p: &RebalancePolicy) -> Result<(), String> {
    for (k, v) in [
        ("min_improvement_pct", p.min_improvement_pct),
        ("min_net_usd_h", p.min_net_usd_h),
        ("change_threshold", p.change_threshold),
        ("outlier_sigma", p.outlier_sigma),
        ("outlier_min_rel", p.outlier_min_rel),
        ("large_move_pct", p.large_move_pct),
    ] {
        finite_nonneg(&format!("{key}.{k}"), v)?;
    }
    if p.min_dwell_s < 0 {
        return Err(format!("{key}.min_dwell_s must be >= 0, got {}", p.min_dwell_s));
    }
    if p.outlier_window == 0 {
        return Err(format!("{key}.outlier_window must be at least 1"));
    }
    Ok(())
}

fn check_curtail(key: &str, p: &CurtailPolicy) -> Result<(), String> {
    for (k, v) in [
        ("strike_usd_kwh", p.strike_usd_kwh),
        ("high_strike_usd_kwh", p.high_strike_usd_kwh),
        ("max_site_power_kw", p.max_site_power_kw),
    ] {
        if let Some(v) = v {
            finite_nonneg(&format!("{key}.{k}"), v)?;
        }
    }
    Ok(())
}

impl AllocationConfig {
    /// Checks every key and builds the settings; the error names the key.
    pub fn settings(&self) -> Result<Settings, String> {
        let interval_s = self.interval_s.unwrap_or(DEFAULT_INTERVAL_S);
        if interval_s == 0 {
            return Err("allocation.interval_s must be at least 1".into());
        }
        let ack_s = self.ack_timeout_s.unwrap_or(DEFAULT_ACK_TIMEOUT_S);
        if ack_s == 0 {
            return Err("allocation.ack_timeout_s must be at least 1".into());
        }
        let mut pools = Vec::new();
        for (i, p) in self.pools.iter().enumerate() {
            let key = format!("allocation.pools[{i}]");
            if p.name.trim().is_empty() || p.name == hashward_econ::alloc::PAUSE {
                return Err(format!(
                    "{key}.name must be set and not {:?}",
                    hashward_econ::alloc::PAUSE
                ));
            }
            if pools.iter().any(|q: &Pool| q.name == p.name) {
                return Err(format!("{key}.name {:?} is used twice", p.name));
            }
            let coin: Coin = p.coin.parse().map_err(|e| format!("{key}.coin: {e}"))?;
            let coin_algo = algo_name(coin).to_string();
            let algo = p.algo.clone().unwrap_or_else(|| coin_algo.clone());
            if algo != coin_algo {
                return Err(format!("{key}.algo {algo:?}: {coin} is mined with {coin_algo}"));
            }
            if !(p.url.starts_with("stratum+tcp://") || p.url.starts_with("stratum+ssl://")) {
                return Err(format!(
                    "{key}.url {:?} must be stratum+tcp://host:port or stratum+ssl://host:port",
                    p.url
                ));
            }
            if p.user.is_empty() {
                return Err(format!("{key}.user is empty"));
            }
            if !(0.0..100.0).contains(&p.fee_pct) {
                return Err(format!("{key}.fee_pct must be 0 <= fee < 100, got {}", p.fee_pct));
            }
            let restart_s = finite_nonneg(
                &format!("{key}.restart_s"),
                p.restart_s.unwrap_or(DEFAULT_POOL_RESTART_S),
            )?;
            pools.push(Pool {
                name: p.name.clone(),
                coin,
                algo,
                url: p.url.clone(),
                user: p.user.clone(),
                pass: p.pass.clone().unwrap_or_else(|| "x".into()),
                fee_pct: p.fee_pct,
                restart_s,
            });
        }
        if let Some(i) = self.asic_presets_w.iter().position(|w| *w == 0) {
            return Err(format!("allocation.asic_presets_w[{i}] must be above 0"));
        }
        let mut default = SitePolicy::default();
        if let Some(r) = &self.rebalance {
            check_rebalance("allocation.rebalance", r)?;
            default.rebalance = *r;
        }
        if let Some(c) = &self.curtail {
            check_curtail("allocation.curtail", c)?;
            default.curtail = *c;
        }
        // Dwell, confirmation and the large-move test count in the service's cycles.
        default.rebalance.cycle_s = interval_s as i64;
        let mut policy = Policy {
            default,
            sites: BTreeMap::new(),
        };
        let mut caps = BTreeMap::new();
        for (name, s) in &self.sites {
            let key = format!("allocation.sites.{name}");
            if let Some(c) = s.power_cap_kw {
                caps.insert(name.clone(), finite_nonneg(&format!("{key}.power_cap_kw"), c)?);
            }
            let mut sp = default;
            if let Some(r) = &s.rebalance {
                check_rebalance(&format!("{key}.rebalance"), r)?;
                sp.rebalance = *r;
                sp.rebalance.cycle_s = interval_s as i64;
            }
            if let Some(c) = &s.curtail {
                check_curtail(&format!("{key}.curtail"), c)?;
                sp.curtail = *c;
            }
            policy.sites.insert(name.clone(), sp);
        }
        Ok(Settings {
            mode: self.mode,
            interval: Duration::from_secs(interval_s),
            ack_timeout: Duration::from_secs(ack_s),
            pools,
            asic_presets_w: self.asic_presets_w.clone(),
            policy,
            power_cap_kw: caps,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Settings, String> {
        toml::from_str::<AllocationConfig>(text)
            .map_err(|e| e.to_string())?
            .settings()
    }

    const POOL: &str = "[[pools]]\nname = \"ltc\"\ncoin = \"litecoin\"\nurl = \"stratum+tcp://ltc.example:3333\"\nuser = \"w.{rig}\"\n";

    #[test]
    fn defaults_and_a_full_section() {
        let s = parse("").expect("empty");
        assert_eq!(s.mode, Mode::Advise);
        assert_eq!(s.interval, Duration::from_secs(900));
        assert_eq!(s.policy.default.rebalance.cycle_s, 900);
        let s = parse(&format!(
            "mode = \"auto\"\ninterval_s = 60\nasic_presets_w = [2200, 3068]\n{POOL}\
             [rebalance]\nmin_net_usd_h = 0.0\n[sites.farm]\npower_cap_kw = 2.5\n[sites.farm.rebalance]\nrise_confirm_cycles = 3\n"
        ))
        .expect("full");
        assert_eq!(s.mode, Mode::Auto);
        assert_eq!(s.pools[0].algo, "scrypt");
        assert_eq!(s.pools[0].user_for("r1"), "w.r1");
        assert_eq!(s.pools[0].restart_s, DEFAULT_POOL_RESTART_S);
        assert_eq!(s.power_cap_kw.get("farm"), Some(&2.5));
        assert_eq!(s.policy.default.rebalance.min_net_usd_h, 0.0);
        let farm = s.policy.site("farm").rebalance;
        assert_eq!((farm.rise_confirm_cycles, farm.cycle_s), (3, 60));
        assert_eq!(s.check_every(), Duration::from_secs(15));
    }

    #[test]
    fn bad_values_name_their_key() {
        for (text, key) in [
            ("mode = \"sometimes\"\n", "mode"),
            ("interval_s = 0\n", "allocation.interval_s"),
            ("colour = 1\n", "colour"),
            (&POOL.replace("litecoin", "monero"), "allocation.pools[0].coin"),
            (&POOL.replace("stratum+tcp", "http"), "allocation.pools[0].url"),
            (&format!("{POOL}algo = \"sha256d\"\n"), "allocation.pools[0].algo"),
            (&format!("{POOL}{POOL}"), "allocation.pools[1].name"),
            ("asic_presets_w = [0]\n", "allocation.asic_presets_w[0]"),
            (
                "[sites.farm]\npower_cap_kw = -1.0\n",
                "allocation.sites.farm.power_cap_kw",
            ),
            (
                "[rebalance]\nmin_net_usd_h = -1.0\n",
                "allocation.rebalance.min_net_usd_h",
            ),
            (
                "[sites.x.curtail]\nstrike_usd_kwh = nan\n",
                "allocation.sites.x.curtail.strike_usd_kwh",
            ),
        ] {
            let e = parse(text).expect_err(text);
            assert!(e.contains(key), "{text:?}: {e}");
        }
    }
}
