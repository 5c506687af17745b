//! Partial configs pushed by the hub: parsing, the pushable-key check and the merge
//! defaults < local file < fleet < site < rig. Pure.
//!
//! Must never: let a patch touch a key outside `hashward_protocol::command::is_pushable`, or
//! produce a config that did not pass `Config::validate`.

use crate::config::{Config, ConfigError};
use hashward_protocol::command::is_pushable;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatchError {
    #[error("not a config: payload is not UTF-8")]
    NotUtf8,
    #[error("not a config: {0}")]
    NotToml(String),
    #[error(
        "key {0:?} cannot be pushed (only telemetry.interval_ms, [miner], [watchdog] and [asic] settings)"
    )]
    NotPushable(String),
    #[error("empty patch: nothing to apply")]
    Empty,
    #[error("invalid: {0}")]
    Invalid(String),
}

/// Parses a pushed payload: UTF-8 TOML whose every key is pushable.
pub fn parse(payload: &[u8]) -> Result<toml::Table, PatchError> {
    let text = std::str::from_utf8(payload).map_err(|_| PatchError::NotUtf8)?;
    let table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| PatchError::NotToml(e.message().to_string()))?;
    if table.is_empty() {
        return Err(PatchError::Empty);
    }
    for (section, value) in &table {
        let toml::Value::Table(keys) = value else {
            return Err(PatchError::NotPushable(section.clone()));
        };
        for key in keys.keys() {
            if !is_pushable(section, key) {
                return Err(PatchError::NotPushable(format!("{section}.{key}")));
            }
        }
    }
    Ok(table)
}

/// Merges `patch` into `base`: tables recursively, every other value (arrays included: a pushed
/// pool list replaces the local one) replaced.
pub fn merge(base: &mut toml::Table, patch: &toml::Table) {
    for (k, v) in patch {
        match (base.get_mut(k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(p)) => merge(b, p),
            _ => {
                base.insert(k.clone(), v.clone());
            }
        }
    }
}

/// The config in force: `local` (defaults and the rig's own file) with `layers` merged on top in
/// order (fleet, site, rig), validated as a whole.
pub fn effective(local: &Config, layers: &[&toml::Table]) -> Result<Config, PatchError> {
    let mut table =
        toml::Table::try_from(local).map_err(|e| PatchError::Invalid(format!("local config: {e}")))?;
    for layer in layers {
        merge(&mut table, layer);
    }
    let cfg: Config = table
        .try_into()
        .map_err(|e: toml::de::Error| PatchError::Invalid(e.to_string().trim().to_string()))?;
    cfg.validate().map_err(|e| match e {
        ConfigError::Invalid(s) => PatchError::Invalid(s),
        other => PatchError::Invalid(other.to_string()),
    })?;
    Ok(cfg)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local() -> Config {
        Config::from_toml(
            "site = \"s\"\nrig = \"r\"\n[miner]\nthermal_soft_limit_c = 70\n[[miner.pools]]\nurl = \"stratum+tcp://local:3333\"\nuser = \"w.local\"\n",
        )
        .expect("local config")
    }

    fn patch(text: &str) -> toml::Table {
        parse(text.as_bytes()).expect("patch")
    }

    #[test]
    fn later_layers_win_and_untouched_keys_stay() {
        let fleet = patch("[miner]\nthermal_soft_limit_c = 75\nmax_batch_size = 16\n");
        let site = patch("[miner]\nthermal_soft_limit_c = 78\n");
        let rig = patch("[telemetry]\ninterval_ms = 2000\n");
        let cfg = effective(&local(), &[&fleet, &site, &rig]).expect("valid");
        assert_eq!(cfg.tune.thermal_soft_limit_c, 78.0);
        assert_eq!(cfg.tune.max_batch_size, 16);
        assert_eq!(cfg.telemetry.interval_ms, 2000);
        assert_eq!(cfg.miner.pools[0].url, "stratum+tcp://local:3333");
        assert_eq!((cfg.site.as_str(), cfg.rig.as_str()), ("s", "r"));
    }

    #[test]
    fn a_pushed_pool_list_replaces_the_local_one() {
        let p = patch("[[miner.pools]]\nurl = \"stratum+tcp://fleet:3333\"\nuser = \"w.fleet\"\n");
        let cfg = effective(&local(), &[&p]).expect("valid");
        assert_eq!(cfg.miner.pools.len(), 1);
        assert_eq!(cfg.miner.pools[0].user, "w.fleet");
    }

    #[test]
    fn refuses_what_is_not_a_pushable_config() {
        assert_eq!(parse(b"\xff\xfe"), Err(PatchError::NotUtf8));
        assert!(matches!(
            parse(b"this is = = not toml"),
            Err(PatchError::NotToml(_))
        ));
        assert_eq!(parse(b""), Err(PatchError::Empty));
        assert_eq!(
            parse(b"site = \"x\"\n"),
            Err(PatchError::NotPushable("site".into()))
        );
        assert_eq!(
            parse(b"[broker]\nurl = \"mqtt://evil:1883\"\n"),
            Err(PatchError::NotPushable("broker.url".into()))
        );
        assert_eq!(
            parse(b"[fleet]\nhub_public_key = \"00\"\n"),
            Err(PatchError::NotPushable("fleet.hub_public_key".into()))
        );
    }

    #[test]
    fn invalid_values_are_refused_as_a_whole() {
        for (text, needle) in [
            ("[miner]\nthermal_hard_limit_c = 120\n", "thermal"),
            ("[miner]\nthermal_soft_limit_c = 95\n", "thermal"),
            (
                "[[miner.pools]]\nurl = \"http://pool:1\"\nuser = \"w\"\n",
                "miner.pools[0].url",
            ),
            ("[miner]\nmax_batch_size = \"big\"\n", "max_batch_size"),
            ("[miner]\nno_such_key = 1\n", "no_such_key"),
        ] {
            let err = effective(&local(), &[&patch(text)]).expect_err(text).to_string();
            assert!(err.contains(needle), "{text}: {err}");
        }
    }
}
