//! Which chain an alert's rig mines (seed 003's "network"): from the CPU miner's algorithm, the
//! ASIC's model and the pool's host. Pure.
//!
//! Must never guess from nothing: `None` when nothing says, and the batch then uses the hub's
//! default network.

/// A network name as configured: lowercase ASCII letters, digits, `-` or `_`, 1..=32 bytes.
pub fn valid_network(name: &str) -> bool {
    (1..=32).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// The pool's host from a stratum URL (`stratum+tcp://btc.pool.example:3333` -> `btc.pool.example`).
pub fn pool_host(url: &str) -> Option<String> {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
    let host = rest.split([':', '/']).next()?.trim().to_ascii_lowercase();
    (!host.is_empty()).then_some(host)
}

/// The chain mined, from what the rig or ASIC reported.
pub fn network_of(algo: Option<&str>, pool: Option<&str>, asic_model: Option<&str>) -> Option<&'static str> {
    let pool = pool.unwrap_or_default();
    let scrypt = |pool: &str| {
        if pool.contains("doge") {
            "dogecoin"
        } else {
            "litecoin"
        }
    };
    if let Some(a) = algo.map(str::to_ascii_lowercase) {
        if a.starts_with("sha256") {
            return Some("bitcoin");
        }
        if a == "scrypt" {
            return Some(scrypt(pool));
        }
    }
    if let Some(m) = asic_model.map(str::to_ascii_lowercase) {
        // Antminer L-series and Elphapex/Goldshell scrypt machines; S/T-series, Whatsminer and
        // Avalon are SHA-256.
        let scrypt_model = m.contains(" l3") || m.contains(" l7") || m.contains(" l9") || m.contains("dg1");
        if scrypt_model {
            return Some(scrypt(pool));
        }
        if m.contains("antminer s")
            || m.contains("antminer t")
            || m.contains("whatsminer")
            || m.contains("avalon")
        {
            return Some("bitcoin");
        }
    }
    if pool.contains("doge") {
        return Some("dogecoin");
    }
    if pool.contains("ltc") || pool.contains("litecoin") {
        return Some("litecoin");
    }
    if pool.contains("btc") || pool.contains("bitcoin") {
        return Some("bitcoin");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_algorithm_then_asic_model_then_pool() {
        assert_eq!(network_of(Some("sha256d"), None, None), Some("bitcoin"));
        assert_eq!(
            network_of(Some("scrypt"), Some("doge.pool.example"), None),
            Some("dogecoin")
        );
        assert_eq!(network_of(Some("scrypt"), None, None), Some("litecoin"));
        assert_eq!(network_of(None, None, Some("Antminer S19j Pro")), Some("bitcoin"));
        assert_eq!(network_of(None, None, Some("Antminer L7")), Some("litecoin"));
        assert_eq!(
            network_of(None, Some("ltc.viabtc.example"), None),
            Some("litecoin")
        );
        assert_eq!(network_of(None, Some("pool.example"), Some("mystery")), None);
        assert_eq!(
            pool_host("stratum+tcp://user@BTC.pool.example:3333/x").as_deref(),
            Some("btc.pool.example")
        );
        assert_eq!(pool_host("pool.example:25").as_deref(), Some("pool.example"));
        assert_eq!(pool_host("stratum+tcp://:3333"), None);
        assert!(valid_network("bitcoin") && !valid_network("Bitcoin") && !valid_network(""));
    }
}
