//! The coins the fleet mines and their consensus constants: block subsidy schedule, block
//! spacing, retarget rule. Values are the coins' own (Bitcoin Core, Litecoin Core, Dogecoin Core
//! chainparams), not estimates.
//!
//! Must never guess a coin from an unknown name: parsing refuses it with the name in the error.

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Coin {
    Bitcoin,
    Litecoin,
    Dogecoin,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown coin {0:?}; known: bitcoin (btc), litecoin (ltc), dogecoin (doge)")]
pub struct UnknownCoin(pub String);

/// Proof-of-work family: the hash a miner's hashrate is counted in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Algorithm {
    Sha256d,
    Scrypt,
}

/// How the coin moves its difficulty.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetargetRule {
    /// Every `interval` blocks toward `interval * spacing` seconds, clamped to x4 / ÷4.
    Epoch { interval: u64 },
    /// Dogecoin's DigiShield: every block (see `retarget::digishield_next`).
    PerBlock,
}

const SATOSHI: f64 = 1e8;

impl Coin {
    pub const ALL: [Coin; 3] = [Coin::Bitcoin, Coin::Litecoin, Coin::Dogecoin];

    pub fn name(self) -> &'static str {
        match self {
            Coin::Bitcoin => "bitcoin",
            Coin::Litecoin => "litecoin",
            Coin::Dogecoin => "dogecoin",
        }
    }

    pub fn symbol(self) -> &'static str {
        match self {
            Coin::Bitcoin => "BTC",
            Coin::Litecoin => "LTC",
            Coin::Dogecoin => "DOGE",
        }
    }

    pub fn algorithm(self) -> Algorithm {
        match self {
            Coin::Bitcoin => Algorithm::Sha256d,
            Coin::Litecoin | Coin::Dogecoin => Algorithm::Scrypt,
        }
    }

    /// The target seconds between blocks.
    pub fn block_spacing_s(self) -> u64 {
        match self {
            Coin::Bitcoin => 600,
            Coin::Litecoin => 150,
            Coin::Dogecoin => 60,
        }
    }

    /// The retarget rule in force at `height` (Dogecoin switched to DigiShield at 145,000; before
    /// that it retargeted every 240 blocks, which is not modelled beyond its interval).
    pub fn retarget_rule(self, height: u64) -> RetargetRule {
        match self {
            Coin::Bitcoin | Coin::Litecoin => RetargetRule::Epoch { interval: 2016 },
            Coin::Dogecoin if height >= 145_000 => RetargetRule::PerBlock,
            Coin::Dogecoin => RetargetRule::Epoch { interval: 240 },
        }
    }

    /// Blocks between halvings, for the coins that halve.
    pub fn halving_interval(self) -> Option<u64> {
        match self {
            Coin::Bitcoin => Some(210_000),
            Coin::Litecoin => Some(840_000),
            Coin::Dogecoin => None,
        }
    }

    /// The block subsidy (new coins, fees excluded) of the block at `height`.
    ///
    /// Bitcoin and Litecoin: 50 coins halved every 210,000 / 840,000 blocks by a right shift of
    /// the amount in base units (so 50 BTC >> 33 rounds down to 0 satoshis, as in consensus), 0
    /// from the 64th halving. Dogecoin: 10,000 from block 600,000; before that 250,000 halved
    /// every 100,000 blocks from 145,000; blocks 1..144,999 paid a random amount in
    /// [0, 1,000,000) (below 100,000) or [0, 500,000), whose *expected* value (half the bound) is
    /// returned because it is what a miner earns on average.
    pub fn block_subsidy(self, height: u64) -> f64 {
        match self {
            Coin::Bitcoin | Coin::Litecoin => {
                let halvings = height / self.halving_interval().unwrap_or(u64::MAX);
                if halvings >= 64 {
                    return 0.0;
                }
                ((50 * SATOSHI as u64) >> halvings) as f64 / SATOSHI
            }
            Coin::Dogecoin => match height {
                0 => 0.0,
                1..=99_999 => 500_000.0,
                100_000..=144_999 => 250_000.0,
                145_000..=599_999 => 250_000.0 / f64::from(1u32 << ((height - 100_000) / 100_000)),
                _ => 10_000.0,
            },
        }
    }
}

impl std::str::FromStr for Coin {
    type Err = UnknownCoin;
    fn from_str(s: &str) -> Result<Coin, UnknownCoin> {
        match s.to_ascii_lowercase().as_str() {
            "bitcoin" | "btc" => Ok(Coin::Bitcoin),
            "litecoin" | "ltc" => Ok(Coin::Litecoin),
            "dogecoin" | "doge" => Ok(Coin::Dogecoin),
            _ => Err(UnknownCoin(s.to_string())),
        }
    }
}

impl fmt::Display for Coin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bitcoin_halvings_at_their_heights() {
        // 50 until 209,999; 25 from 210,000; 12.5 from 420,000; 6.25 from 630,000 (2020-05-11,
        // the README's Coin Metrics issuance step); 3.125 from 840,000 (2024-04-20).
        let b = Coin::Bitcoin;
        assert_eq!(b.block_subsidy(209_999), 50.0);
        assert_eq!(b.block_subsidy(210_000), 25.0);
        assert_eq!(b.block_subsidy(420_000), 12.5);
        assert_eq!(b.block_subsidy(630_000), 6.25);
        assert_eq!(b.block_subsidy(782_208), 6.25);
        assert_eq!(b.block_subsidy(840_000), 3.125);
        // 33rd halving: 5e9 sat >> 33 = 0 (5e9 / 8.59e9 < 1); the 32nd still pays 1 satoshi.
        assert_eq!(b.block_subsidy(32 * 210_000), 1e-8);
        assert_eq!(b.block_subsidy(33 * 210_000), 0.0);
        assert_eq!(b.block_subsidy(u64::MAX), 0.0);
    }

    #[test]
    fn litecoin_and_dogecoin_schedules() {
        let l = Coin::Litecoin;
        assert_eq!(l.block_subsidy(839_999), 50.0);
        assert_eq!(l.block_subsidy(840_000), 25.0); // 2015-08-25
        assert_eq!(l.block_subsidy(1_680_000), 12.5); // 2019-08-05
        assert_eq!(l.block_subsidy(2_520_000), 6.25); // 2023-08
        let d = Coin::Dogecoin;
        assert_eq!(d.block_subsidy(50_000), 500_000.0, "mean of the random [0, 1e6)");
        assert_eq!(d.block_subsidy(144_999), 250_000.0);
        assert_eq!(d.block_subsidy(145_000), 250_000.0);
        assert_eq!(d.block_subsidy(200_000), 125_000.0);
        assert_eq!(d.block_subsidy(599_999), 15_625.0);
        assert_eq!(d.block_subsidy(600_000), 10_000.0);
        assert_eq!(d.block_subsidy(5_000_000), 10_000.0);
    }

    #[test]
    fn names_parse_and_unknown_ones_are_refused() {
        assert_eq!("BTC".parse::<Coin>(), Ok(Coin::Bitcoin));
        assert_eq!("litecoin".parse::<Coin>(), Ok(Coin::Litecoin));
        let e = "monero".parse::<Coin>().expect_err("unknown");
        assert!(e.to_string().contains("\"monero\""), "{e}");
        assert_eq!(Coin::Dogecoin.retarget_rule(145_000), RetargetRule::PerBlock);
        assert_eq!(
            Coin::Litecoin.retarget_rule(1),
            RetargetRule::Epoch { interval: 2016 }
        );
    }
}
