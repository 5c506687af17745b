//! Which coin a miner's hashes are valued in, from what its telemetry says (the rule is in
//! docs/ARCHITECTURE.md#economics):
//!
//! - a CPU rig: its miner's algorithm: `sha256d` -> bitcoin; `scrypt` -> dogecoin when the pool
//!   URL or user names doge, else litecoin (scrypt pools merge-mine DOGE with LTC; only the coin
//!   named is valued, so merged-mining income is left out, not guessed);
//! - an ASIC: the pool URL or user naming doge -> dogecoin, naming ltc/litecoin -> litecoin; else
//!   a scrypt model (Antminer L-series) -> litecoin; else bitcoin (the fleet's Vnish ASICs are
//!   sha256d S-series).
//!
//! Must never value an algorithm no known coin uses: that is `None` and the miner is left out
//! with the reason.

use hashward_econ::Coin;

fn names(text: &str, word: &str) -> bool {
    text.to_ascii_lowercase().contains(word)
}

/// A CPU rig's coin from its miner's algorithm and pool (URL and user).
pub fn rig_coin(algo: &str, pool: Option<(&str, &str)>) -> Option<Coin> {
    let algo = algo.to_ascii_lowercase().replace(['-', '_'], "");
    match algo.as_str() {
        "sha256d" | "sha256" => Some(Coin::Bitcoin),
        "scrypt" => Some(match pool {
            Some((url, user)) if names(url, "doge") || names(user, "doge") => Coin::Dogecoin,
            _ => Coin::Litecoin,
        }),
        _ => None,
    }
}

/// An ASIC's coin from its pool (URL and user) and model.
pub fn asic_coin(model: Option<&str>, pool: Option<(&str, &str)>) -> Coin {
    if let Some((url, user)) = pool {
        if names(url, "doge") || names(user, "doge") {
            return Coin::Dogecoin;
        }
        if names(url, "litecoin") || names(url, "ltc") || names(user, "ltc") {
            return Coin::Litecoin;
        }
    }
    let scrypt_model = model.is_some_and(|m| {
        let m = m.to_ascii_lowercase();
        m.split_whitespace()
            .any(|w| w.starts_with('l') && w[1..].chars().next().is_some_and(|c| c.is_ascii_digit()))
    });
    if scrypt_model {
        Coin::Litecoin
    } else {
        Coin::Bitcoin
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rigs_by_algorithm_and_pool() {
        assert_eq!(rig_coin("sha256d", None), Some(Coin::Bitcoin));
        assert_eq!(rig_coin("SHA-256", None), Some(Coin::Bitcoin));
        assert_eq!(
            rig_coin("scrypt", Some(("stratum+tcp://ltc.pool.example:3333", "me.rig1"))),
            Some(Coin::Litecoin)
        );
        assert_eq!(
            rig_coin("scrypt", Some(("stratum+tcp://doge.pool.example:3333", "me"))),
            Some(Coin::Dogecoin)
        );
        assert_eq!(rig_coin("scrypt", None), Some(Coin::Litecoin));
        assert_eq!(rig_coin("randomx", None), None);
    }

    #[test]
    fn asics_by_pool_then_model() {
        assert_eq!(asic_coin(Some("Antminer S19j Pro"), None), Coin::Bitcoin);
        assert_eq!(asic_coin(Some("Antminer L7"), None), Coin::Litecoin);
        assert_eq!(
            asic_coin(Some("Antminer S9"), Some(("stratum+tcp://ltc.example:3333", "x"))),
            Coin::Litecoin
        );
        assert_eq!(
            asic_coin(
                Some("Antminer L7"),
                Some(("stratum+tcp://pool.example:3333", "doge.worker"))
            ),
            Coin::Dogecoin
        );
        assert_eq!(asic_coin(None, None), Coin::Bitcoin);
    }
}
