//! Expected mining revenue of a hashrate on a proof-of-work coin, from the network's difficulty
//! and the block reward: coins/day = hashrate * 86400 * reward / (difficulty * 2^32).
//!
//! Must never return a number for a difficulty of zero (no network to share with): that is an
//! error, not infinity.

use crate::units::{Difficulty, Hashrate};

const SECONDS_PER_DAY: f64 = 86_400.0;
/// Expected hashes per block per unit of difficulty (Bitcoin's definition, shared by its forks).
const HASHES_PER_DIFFICULTY: f64 = 4_294_967_296.0;

#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
pub enum RevenueError {
    #[error("difficulty is zero; expected revenue is undefined")]
    ZeroDifficulty,
    #[error("block reward must be finite and non-negative, got {0}")]
    Reward(f64),
}

/// Coins a hashrate is expected to earn per day at this difficulty and block reward (in coins,
/// before pool fees; transaction fees are part of `block_reward_coins` if the caller adds them).
pub fn expected_coins_per_day(
    hashrate: Hashrate,
    difficulty: Difficulty,
    block_reward_coins: f64,
) -> Result<f64, RevenueError> {
    if !block_reward_coins.is_finite() || block_reward_coins < 0.0 {
        return Err(RevenueError::Reward(block_reward_coins));
    }
    if difficulty.get() == 0.0 {
        return Err(RevenueError::ZeroDifficulty);
    }
    Ok(hashrate.get() * SECONDS_PER_DAY * block_reward_coins / (difficulty.get() * HASHES_PER_DIFFICULTY))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bitcoin_at_72e12_difficulty() {
        // A difficulty of 72,006,146,478,567.1 (Bitcoin's in early 2024), subsidy 6.25 BTC.
        // By hand: 1e14 * 86400 * 6.25 = 5.4e19; 72,006,146,478,567.1 * 2^32 = 3.09263e26;
        // 5.4e19 / 3.09263e26 = 1.74608e-4 BTC/day for 100 TH/s.
        let coins = expected_coins_per_day(
            Hashrate::from_terahashes(100.0).expect("rate"),
            Difficulty::new(72_006_146_478_567.1).expect("difficulty"),
            6.25,
        )
        .expect("revenue");
        assert!((coins - 1.74608e-4).abs() < 1e-9, "{coins}");
    }

    #[test]
    fn revenue_scales_with_hashrate_and_inversely_with_difficulty() {
        let d = Difficulty::new(1e12).expect("d");
        let one = expected_coins_per_day(Hashrate::new(1e12).expect("h"), d, 3.125).expect("r");
        let two = expected_coins_per_day(Hashrate::new(2e12).expect("h"), d, 3.125).expect("r");
        assert!((two / one - 2.0).abs() < 1e-12);
        let harder = expected_coins_per_day(
            Hashrate::new(1e12).expect("h"),
            Difficulty::new(4e12).expect("d"),
            3.125,
        )
        .expect("r");
        assert!((one / harder - 4.0).abs() < 1e-12);
    }

    #[test]
    fn undefined_inputs_are_errors() {
        let h = Hashrate::new(1.0).expect("h");
        assert_eq!(
            expected_coins_per_day(h, Difficulty::ZERO, 1.0),
            Err(RevenueError::ZeroDifficulty)
        );
        assert_eq!(
            expected_coins_per_day(h, Difficulty::new(1.0).expect("d"), f64::NAN).map_err(|e| e.to_string()),
            Err("block reward must be finite and non-negative, got NaN".to_string())
        );
    }
}
