//! The coin-id reconciliation table: one row per coin with its CoinGecko id (the hub's own id),
//! ticker symbol, name, CoinMarketCap numeric id and mining algorithm.
//!
//! Must never guess: a coin not in the table is refused at config time, by name.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CoinRow {
    /// CoinGecko id; the id everything in the hub uses.
    pub id: &'static str,
    pub symbol: &'static str,
    pub name: &'static str,
    pub cmc_id: u32,
    pub algorithm: Option<&'static str>,
}

pub const COINS: &[CoinRow] = &[
    CoinRow {
        id: "bitcoin",
        symbol: "BTC",
        name: "Bitcoin",
        cmc_id: 1,
        algorithm: Some("sha256d"),
    },
    CoinRow {
        id: "litecoin",
        symbol: "LTC",
        name: "Litecoin",
        cmc_id: 2,
        algorithm: Some("scrypt"),
    },
    CoinRow {
        id: "dogecoin",
        symbol: "DOGE",
        name: "Dogecoin",
        cmc_id: 74,
        algorithm: Some("scrypt"),
    },
    CoinRow {
        id: "ethereum",
        symbol: "ETH",
        name: "Ethereum",
        cmc_id: 1027,
        algorithm: None,
    },
    CoinRow {
        id: "bitcoin-cash",
        symbol: "BCH",
        name: "Bitcoin Cash",
        cmc_id: 1831,
        algorithm: Some("sha256d"),
    },
];

/// The default coins followed (the ones the fleet can mine).
pub const DEFAULT_COINS: &[&str] = &["bitcoin", "litecoin", "dogecoin"];

/// By CoinGecko id, symbol (any case) or CoinMarketCap id written in decimal.
pub fn lookup(key: &str) -> Option<&'static CoinRow> {
    COINS
        .iter()
        .find(|c| c.id == key || c.symbol.eq_ignore_ascii_case(key) || c.cmc_id.to_string() == key)
}

pub fn by_cmc_id(id: u64) -> Option<&'static CoinRow> {
    COINS.iter().find(|c| u64::from(c.cmc_id) == id)
}

/// The rows for `ids`, or the first id the table does not know.
pub fn resolve(ids: &[String]) -> Result<Vec<&'static CoinRow>, String> {
    ids.iter()
        .map(|id| {
            lookup(id).ok_or_else(|| {
                let known: Vec<&str> = COINS.iter().map(|c| c.id).collect();
                format!("collect.coins: unknown coin {id:?} (known: {})", known.join(", "))
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_naming_finds_the_same_row_and_unknowns_are_named() {
        for key in ["litecoin", "LTC", "ltc", "2"] {
            assert_eq!(lookup(key).map(|c| c.id), Some("litecoin"), "{key}");
        }
        assert_eq!(by_cmc_id(74).map(|c| c.symbol), Some("DOGE"));
        let e = resolve(&["bitcoin".into(), "monero".into()]).expect_err("unknown");
        assert!(e.contains("\"monero\""), "{e}");
    }
}
