//! What the hub knows of each chain without asking anyone: the block subsidy schedule, the
//! target block time, the mining algorithm and the difficulty retarget period, for the coins
//! the network sources follow (bitcoin, litecoin, dogecoin). Pure, tested with values.
//!
//! Must never guess for a coin it does not know: [`Coin::parse`] refuses it by name.

use hashward_protocol::market::Quality;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Coin {
    Bitcoin,
    Litecoin,
    Dogecoin,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown coin {0:?} (known: bitcoin, litecoin, dogecoin)")]
pub struct UnknownCoin(pub String);

impl Coin {
    pub const ALL: [Coin; 3] = [Coin::Bitcoin, Coin::Litecoin, Coin::Dogecoin];

    pub fn parse(s: &str) -> Result<Coin, UnknownCoin> {
        match s {
            "bitcoin" => Ok(Coin::Bitcoin),
            "litecoin" => Ok(Coin::Litecoin),
            "dogecoin" => Ok(Coin::Dogecoin),
            other => Err(UnknownCoin(other.to_string())),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Coin::Bitcoin => "bitcoin",
            Coin::Litecoin => "litecoin",
            Coin::Dogecoin => "dogecoin",
        }
    }

    /// Target seconds between blocks.
    pub fn block_time_s(self) -> f64 {
        match self {
            Coin::Bitcoin => 600.0,
            Coin::Litecoin => 150.0,
            Coin::Dogecoin => 60.0,
        }
    }

    pub fn algorithm(self) -> &'static str {
        match self {
            Coin::Bitcoin => "SHA-256",
            Coin::Litecoin | Coin::Dogecoin => "Scrypt",
        }
    }

    /// Blocks per difficulty period; None where difficulty moves every block (Dogecoin's
    /// DigiShield since height 145,000).
    pub fn retarget_interval(self) -> Option<u64> {
        match self {
            Coin::Bitcoin | Coin::Litecoin => Some(2016),
            Coin::Dogecoin => None,
        }
    }

    /// Blocks from a tip at `height` to the next retarget height (the first block of the next
    /// period, a multiple of the interval), as mempool.space's `remainingBlocks` counts them.
    pub fn blocks_to_retarget(self, height: u64) -> Option<u64> {
        self.retarget_interval().map(|n| n - height % n)
    }

    /// Smallest units per coin.
    pub fn units_per_coin(self) -> f64 {
        1e8
    }

    /// The block subsidy (coins) of the block at `height`.
    ///
    /// Bitcoin: 50 halved every 210,000 blocks. Litecoin: 50 halved every 840,000 blocks.
    /// Dogecoin: fixed 10,000 from block 600,000; 500,000 / 2^k for periods of 100,000 blocks
    /// from 145,000 (250,000 up to 199,999, 125,000 up to 299,999...); before 145,000 the
    /// subsidy was random (0 to 1,000,000, then 0 to 500,000 from 100,000) and this returns its
    /// mean (500,000 and 250,000).
    pub fn subsidy(self, height: u64) -> f64 {
        let halved = |initial: f64, interval: u64| {
            let halvings = height / interval;
            if halvings >= 64 {
                0.0
            } else {
                // Integer satoshi arithmetic, as the nodes do it.
                ((initial * 1e8) as u64 >> halvings) as f64 / 1e8
            }
        };
        match self {
            Coin::Bitcoin => halved(50.0, 210_000),
            Coin::Litecoin => halved(50.0, 840_000),
            Coin::Dogecoin => match height {
                0..=99_999 => 500_000.0,
                100_000..=144_999 => 250_000.0,
                145_000..=199_999 => 250_000.0,
                200_000..=299_999 => 125_000.0,
                300_000..=399_999 => 62_500.0,
                400_000..=499_999 => 31_250.0,
                500_000..=599_999 => 15_625.0,
                _ => 10_000.0,
            },
        }
    }

    /// Network hashrate (H/s) implied by `difficulty` at the target block time:
    /// `difficulty x 2^32 / block_time` (Scrypt chains use the same 2^32 scale for their
    /// difficulty-1 target as Bitcoin).
    pub fn implied_hashrate(self, difficulty: f64) -> f64 {
        difficulty * 4_294_967_296.0 / self.block_time_s()
    }
}

/// A single-source quality: `score = completeness x freshness` (agreement is 1: one source per
/// coin at a time).
pub fn quality(completeness: f64, freshness: f64) -> Quality {
    Quality {
        score: completeness * freshness,
        completeness,
        freshness,
        agreement: 1.0,
    }
}

/// The quality of a network snapshot: completeness is the share of the optional fields known;
/// freshness is 1 while the tip is younger than 4 block times, falling to 0 at 24 block times.
pub fn network_quality(
    coin: Coin,
    known_optional: usize,
    optional: usize,
    tip_age_s: Option<u64>,
) -> Quality {
    let completeness = if optional == 0 {
        1.0
    } else {
        known_optional as f64 / optional as f64
    };
    let freshness = match tip_age_s {
        None => 1.0,
        Some(age) => {
            let bt = coin.block_time_s();
            let (full, zero) = (4.0 * bt, 24.0 * bt);
            (1.0 - ((age as f64 - full) / (zero - full)).clamp(0.0, 1.0)).clamp(0.0, 1.0)
        }
    };
    quality(completeness, freshness)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subsidy_schedules() {
        assert_eq!(Coin::Bitcoin.subsidy(0), 50.0);
        assert_eq!(Coin::Bitcoin.subsidy(209_999), 50.0);
        assert_eq!(Coin::Bitcoin.subsidy(210_000), 25.0);
        assert_eq!(Coin::Bitcoin.subsidy(840_000), 3.125);
        assert_eq!(Coin::Bitcoin.subsidy(1_050_000), 1.5625);
        assert_eq!(Coin::Bitcoin.subsidy(64 * 210_000), 0.0);
        // After 33 halvings the satoshi subsidy shifts to 0 exactly as the node computes.
        assert_eq!(Coin::Bitcoin.subsidy(33 * 210_000), 0.0);
        assert_eq!(Coin::Bitcoin.subsidy(32 * 210_000), 1e-8);
        assert_eq!(Coin::Litecoin.subsidy(2_520_000), 6.25);
        assert_eq!(Coin::Litecoin.subsidy(2_519_999), 12.5);
        assert_eq!(Coin::Dogecoin.subsidy(5_000_000), 10_000.0);
        assert_eq!(Coin::Dogecoin.subsidy(250_000), 125_000.0);
    }

    #[test]
    fn retarget_and_parameters() {
        // Tip 2015: block 2016, the next one, is the first at the new difficulty.
        assert_eq!(Coin::Bitcoin.blocks_to_retarget(2015), Some(1));
        assert_eq!(Coin::Bitcoin.blocks_to_retarget(2016), Some(2016));
        // 870,000 = 431 x 2016 + 1,104: 912 blocks to height 870,912.
        assert_eq!(Coin::Bitcoin.blocks_to_retarget(870_000), Some(912));
        assert_eq!(Coin::Dogecoin.blocks_to_retarget(5_000_000), None);
        assert_eq!(Coin::parse("litecoin"), Ok(Coin::Litecoin));
        assert!(Coin::parse("ethereum")
            .expect_err("unknown")
            .to_string()
            .contains("ethereum"));
        // 100 T difficulty at 600 s is ~716 EH/s.
        let h = Coin::Bitcoin.implied_hashrate(100e12);
        assert!((h / 1e18 - 715.8).abs() < 0.1, "{h}");
    }

    #[test]
    fn quality_falls_with_missing_fields_and_age() {
        assert_eq!(network_quality(Coin::Bitcoin, 2, 2, Some(60)).score, 1.0);
        assert_eq!(network_quality(Coin::Bitcoin, 1, 2, Some(60)).score, 0.5);
        assert_eq!(network_quality(Coin::Bitcoin, 2, 2, Some(24 * 600)).score, 0.0);
        let mid = network_quality(Coin::Bitcoin, 2, 2, Some(14 * 600)).freshness;
        assert!((mid - 0.5).abs() < 1e-9, "{mid}");
    }
}
