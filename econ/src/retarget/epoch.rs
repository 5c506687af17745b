//! The current epoch's progress and expected difficulty change, as mempool.space's backend
//! computes its "difficulty adjustment" (`calcDifficultyAdjustment`): from the tip height, the
//! time of the epoch's first block and the current time.
//!
//! - blocks in epoch = tip height mod interval; progress = that / interval x 100
//! - remaining blocks = interval - blocks in epoch; next retarget height = tip + remaining
//! - elapsed = max(0, now - epoch start time); the timespan is up to the tip's own time once
//!   the epoch's last block is in (blocks in epoch = interval - 1), else up to now
//! - change % = (spacing / (timespan / (blocks in epoch + 1)) - 1) x 100, clamped to
//!   [-75, +300] (the retarget's /4 and x4)
//! - mean block time = elapsed / blocks in epoch (spacing when none yet); ETA = now +
//!   remaining x mean block time
//!
//! Must never divide by zero blocks: the first block of an epoch uses the target spacing.

use crate::coin::{Coin, RetargetRule};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct EpochEstimate {
    pub tip_height: u64,
    pub blocks_in_epoch: u64,
    pub progress_pct: f64,
    pub remaining_blocks: u64,
    pub next_retarget_height: u64,
    pub expected_blocks: f64,
    pub difficulty_change_pct: f64,
    pub mean_block_time_s: f64,
    pub remaining_time_s: f64,
    pub estimated_retarget_unix_s: f64,
}

impl EpochEstimate {
    /// None for a coin that retargets every block (no epoch to be in).
    pub fn compute(
        coin: Coin,
        tip_height: u64,
        epoch_start_time_s: i64,
        tip_time_s: i64,
        now_s: i64,
    ) -> Option<EpochEstimate> {
        let RetargetRule::Epoch { interval } = coin.retarget_rule(tip_height) else {
            return None;
        };
        let spacing = coin.block_spacing_s() as f64;
        let blocks = tip_height % interval;
        let remaining = interval - blocks;
        let elapsed = (now_s - epoch_start_time_s).max(0) as f64;
        let end = if blocks == interval - 1 { tip_time_s } else { now_s };
        let timespan = (end - epoch_start_time_s) as f64;
        let change = if timespan > 0.0 {
            ((spacing / (timespan / (blocks + 1) as f64) - 1.0) * 100.0).clamp(-75.0, 300.0)
        } else {
            300.0
        };
        let mean = if blocks > 0 {
            elapsed / blocks as f64
        } else {
            spacing
        };
        let remaining_time = remaining as f64 * mean;
        Some(EpochEstimate {
            tip_height,
            blocks_in_epoch: blocks,
            progress_pct: blocks as f64 / interval as f64 * 100.0,
            remaining_blocks: remaining,
            next_retarget_height: tip_height + remaining,
            expected_blocks: elapsed / spacing,
            difficulty_change_pct: change,
            mean_block_time_s: mean,
            remaining_time_s: remaining_time,
            estimated_retarget_unix_s: now_s as f64 + remaining_time,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_way_through_a_fast_epoch() {
        // Tip 795,312 = 794,304 + 1,008: half of the epoch. Epoch start 1,000,000; now
        // 1,000,000 + 1,008 x 540 = 1,544,320 (blocks every 9 min). Change: timespan 544,320 /
        // 1,009 blocks = 539.465 s; 600 / 539.465 - 1 = +11.2214 %. Mean 540 s; 1,008 blocks
        // left -> 544,320 s; ETA 2,088,640.
        let e =
            EpochEstimate::compute(Coin::Bitcoin, 795_312, 1_000_000, 1_544_000, 1_544_320).expect("epoch");
        assert_eq!(
            (e.blocks_in_epoch, e.remaining_blocks, e.next_retarget_height),
            (1008, 1008, 796_320)
        );
        assert_eq!(e.progress_pct, 50.0);
        assert!(
            (e.difficulty_change_pct - 11.2214).abs() < 1e-3,
            "{}",
            e.difficulty_change_pct
        );
        assert_eq!(e.mean_block_time_s, 540.0);
        assert_eq!(e.estimated_retarget_unix_s, 2_088_640.0);
        assert!((e.expected_blocks - 907.2).abs() < 1e-9);
    }

    #[test]
    fn first_block_clamps_and_per_block_coins() {
        // At the epoch's first block, now = start: no time elapsed -> the +300 % clamp; the
        // mean is the target spacing (150 s for Litecoin), ETA 2,016 x 150 s away.
        let e = EpochEstimate::compute(Coin::Litecoin, 4032, 500, 500, 500).expect("epoch");
        assert_eq!(
            (e.blocks_in_epoch, e.difficulty_change_pct, e.mean_block_time_s),
            (0, 300.0, 150.0)
        );
        assert_eq!(e.remaining_time_s, 302_400.0);
        // Very slow: 10 blocks in 2 days -> -75 % clamp.
        let e = EpochEstimate::compute(Coin::Bitcoin, 2026, 0, 0, 172_800).expect("epoch");
        assert_eq!(e.difficulty_change_pct, -75.0);
        assert_eq!(EpochEstimate::compute(Coin::Dogecoin, 5_000_000, 0, 0, 1), None);
    }
}
