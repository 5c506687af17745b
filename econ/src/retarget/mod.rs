//! Difficulty retargeting, exactly as the coins' consensus code does it, plus the current
//! epoch's estimate as mempool.space shows it.
//!
//! - Bitcoin: at every height multiple of 2016, the timespan is last block time minus the time
//!   of the epoch's FIRST block: 2015 intervals, not 2016 (Satoshi's off-by-one, kept by
//!   consensus). Clamped to [T/4, 4T], T = 1,209,600 s; new target = old x timespan / T, capped
//!   at the proof-of-work limit, then rounded down by the compact encoding.
//! - Litecoin: the same with T = 302,400 s, but it goes back 2016 blocks (to the previous
//!   epoch's last block), so 2016 intervals, except at the first retarget (height 2016), where
//!   only 2015 blocks exist before it ("Art Forz" fix against time-warp). Its 256-bit product can
//!   overflow by one bit, so Litecoin shifts right by one before and left after when the target
//!   is over 235 bits: reproduced, since it drops a low bit.
//! - Dogecoin since 145,000: DigiShield, every block: timespan = this block time minus the
//!   previous one; modulated = 60 + (timespan - 60) / 8 (integer division toward zero),
//!   clamped to [45, 90]; target x modulated / 60, capped at the limit.
//!
//! Must never invent a timestamp: every time is an argument.

pub mod epoch;
pub mod target;

pub use epoch::EpochEstimate;
pub use target::{CompactError, Target};

use crate::coin::{Coin, RetargetRule};

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RetargetError {
    #[error("bits: {0}")]
    Bits(#[from] CompactError),
    #[error("height {height} is not a retarget height of {coin} (every {interval} blocks)")]
    NotARetarget { coin: Coin, height: u64, interval: u64 },
    #[error("{coin} retargets every block at height {height}; use digishield_next")]
    PerBlock { coin: Coin, height: u64 },
}

/// The seconds an epoch should last (interval x spacing).
pub fn target_timespan_s(coin: Coin) -> u64 {
    match coin {
        Coin::Bitcoin => 1_209_600,
        Coin::Litecoin => 302_400,
        Coin::Dogecoin => 60,
    }
}

/// The largest (easiest) target the coin allows: 2^224 - 1 (Bitcoin), 2^236 - 1 (Litecoin,
/// Dogecoin).
pub fn pow_limit(coin: Coin) -> Target {
    let top = match coin {
        Coin::Bitcoin => 0xffff_ffff,
        Coin::Litecoin | Coin::Dogecoin => 0x0fff_ffff_ffff,
    };
    Target::from_words([u64::MAX, u64::MAX, u64::MAX, top])
}

/// The height whose timestamp starts the timespan measured at retarget height `height`.
pub fn timespan_start_height(coin: Coin, height: u64) -> u64 {
    match coin {
        Coin::Litecoin if height != 2016 => height.saturating_sub(2017),
        _ => height.saturating_sub(2016),
    }
}

/// The compact bits of the epoch starting at `height`, from the previous epoch's bits, the
/// time of its last block (`height - 1`) and the time of `timespan_start_height(coin, height)`.
pub fn next_epoch_bits(
    coin: Coin,
    height: u64,
    prev_bits: u32,
    start_time_s: i64,
    last_time_s: i64,
) -> Result<u32, RetargetError> {
    let interval = match coin.retarget_rule(height) {
        RetargetRule::Epoch { interval } => interval,
        RetargetRule::PerBlock => return Err(RetargetError::PerBlock { coin, height }),
    };
    if height == 0 || !height.is_multiple_of(interval) {
        return Err(RetargetError::NotARetarget {
            coin,
            height,
            interval,
        });
    }
    let span = target_timespan_s(coin) as i64;
    let actual = (last_time_s - start_time_s).clamp(span / 4, span * 4) as u64;
    let old = Target::from_compact(prev_bits)?;
    let limit = pow_limit(coin);
    let shift = coin == Coin::Litecoin && old.bits() > limit.bits() - 1;
    let mut new = if shift { old.shr_bits(1) } else { old };
    new = new.mul_u64(actual).truncate_256().div_u64(span as u64);
    if shift {
        new = new.shl_bits(1).truncate_256();
    }
    Ok(new.min(limit).to_compact())
}

/// Dogecoin's DigiShield: the next block's bits from this block's bits and the seconds between
/// this block and the one before it.
pub fn digishield_next(prev_bits: u32, actual_timespan_s: i64) -> Result<u32, RetargetError> {
    let span = target_timespan_s(Coin::Dogecoin) as i64;
    let modulated = (span + (actual_timespan_s - span) / 8).clamp(span - span / 4, span + span / 2);
    let old = Target::from_compact(prev_bits)?;
    let new = old.mul_u64(modulated as u64).truncate_256().div_u64(span as u64);
    Ok(new.min(pow_limit(Coin::Dogecoin)).to_compact())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pow_limits() {
        assert_eq!(pow_limit(Coin::Bitcoin).bits(), 224);
        assert_eq!(pow_limit(Coin::Bitcoin).to_compact(), 0x1d00_ffff);
        assert_eq!(pow_limit(Coin::Litecoin).to_compact(), 0x1e0f_ffff);
    }

    #[test]
    fn bitcoin_half_timespan_doubles_difficulty() {
        // 604,800 s = T / 2: target 0xffff x 2^208 / 2 = 0x7fff80 x 2^201... in compact: the
        // mantissa 0x7fff80 at size 0x1c (0x7fff80 x 2^(8 x 25) = 0xffff x 2^207): 0x1c7fff80,
        // difficulty exactly 2.
        let bits =
            next_epoch_bits(Coin::Bitcoin, 32_256, 0x1d00_ffff, 1_000_000, 1_604_800).expect("retarget");
        assert_eq!(bits, 0x1c7f_ff80);
        assert_eq!(Target::from_compact(bits).expect("t").difficulty(), 2.0);
        // A slow epoch cannot go easier than the limit.
        assert_eq!(
            next_epoch_bits(Coin::Bitcoin, 2016, 0x1d00_ffff, 0, 10_000_000),
            Ok(0x1d00_ffff)
        );
    }

    #[test]
    fn clamps_and_refusals() {
        // Four times faster than the clamp still only multiplies difficulty by 4.
        let t = Target::from_compact(0x1705_606d).expect("t");
        let fast = next_epoch_bits(Coin::Bitcoin, 796_320, 0x1705_606d, 0, 1).expect("fast");
        let ratio = t.to_f64() / Target::from_compact(fast).expect("t").to_f64();
        assert!((ratio - 4.0).abs() < 1e-4, "{ratio}");
        assert!(matches!(
            next_epoch_bits(Coin::Bitcoin, 796_321, 0x1705_606d, 0, 1),
            Err(RetargetError::NotARetarget { .. })
        ));
        assert!(matches!(
            next_epoch_bits(Coin::Dogecoin, 200_000, 0x1b00_ffff, 0, 1),
            Err(RetargetError::PerBlock { .. })
        ));
        assert_eq!(timespan_start_height(Coin::Bitcoin, 4032), 2016);
        assert_eq!(timespan_start_height(Coin::Litecoin, 4032), 2015);
        assert_eq!(timespan_start_height(Coin::Litecoin, 2016), 0);
    }

    #[test]
    fn digishield_golden() {
        // On time (60 s): modulated 60, bits unchanged. 0x1b0404cb stays 0x1b0404cb.
        assert_eq!(digishield_next(0x1b04_04cb, 60), Ok(0x1b04_04cb));
        // A 300 s block: 60 + 240/8 = 90 (the upper clamp): target x 1.5 = 0x1b0607 30.8 ->
        // 0x0404cb x 3 / 2 = 0x060730 (0x0404cb = 263,371; x1.5 = 395,056.5 -> 395,056 =
        // 0x060730).
        assert_eq!(digishield_next(0x1b04_04cb, 300), Ok(0x1b06_0730));
        // A 1 s block: 60 + (-59)/8 = 60 - 7 = 53 (truncation toward zero), inside [45, 90]:
        // 263,371 x 53 / 60 = 232,644.38 -> 232,644 = 0x038cc4.
        assert_eq!(digishield_next(0x1b04_04cb, 1), Ok(0x1b03_8cc4));
        // Timestamps may go backwards: -600 s -> 60 - 82 = -22 -> clamped to 45: x 0.75 =
        // 197,528.25 -> 197,528 = 0x030398.
        assert_eq!(digishield_next(0x1b04_04cb, -600), Ok(0x1b03_0398));
    }
}
