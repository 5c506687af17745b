//! Work epochs ("generations") shared by all connections of one client, and the record of a
//! share dropped without being sent.
//!
//! What it is for: every job carries the generation it was issued in; a clean job, a new
//! extranonce or a new connection starts a new one, so a share can be told stale by its
//! generation alone, and a dropped share can still be charged to the pool that owned it.
//! What it must never do: I/O, or reuse a generation number.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use super::job::Share;
use super::stats::StatsHandle;
use super::{PoolEvent, ShareOutcome, ShareResult};

/// Owners remembered; a share older than this many pool switches is charged to the fallback.
const MAX_OWNERS: usize = 256;

/// Allocates work epochs (generations) and remembers which pool owned each.
#[derive(Debug, Default)]
pub struct Generations {
    next: u64,
    /// (first generation, pool), most recent last.
    owners: VecDeque<(u64, usize)>,
}

impl Generations {
    /// A new generation owned by `pool`.
    pub fn alloc(&mut self, pool: usize) -> u64 {
        self.next += 1;
        let g = self.next;
        if self.owners.back().map(|(_, p)| *p) != Some(pool) {
            self.owners.push_back((g, pool));
            if self.owners.len() > MAX_OWNERS {
                self.owners.pop_front();
            }
        }
        g
    }

    /// The pool that owned generation `g`, if still remembered.
    pub fn owner(&self, g: u64) -> Option<usize> {
        self.owners
            .iter()
            .rev()
            .find(|(start, _)| *start <= g)
            .map(|(_, p)| *p)
    }
}

pub type SharedGenerations = Arc<Mutex<Generations>>;

/// Lock the generations; a panic elsewhere while holding the lock leaves plain counters
/// behind, which are still valid, so a poisoned lock is used as is.
pub fn lock_gens(g: &SharedGenerations) -> MutexGuard<'_, Generations> {
    g.lock().unwrap_or_else(|e| e.into_inner())
}

/// Count a share that is dropped without being sent and return the event that reports it.
pub fn dropped_share(
    share: &Share,
    outcome: ShareOutcome,
    fallback_pool: usize,
    gens: &SharedGenerations,
    stats: &StatsHandle,
) -> PoolEvent {
    let pool = lock_gens(gens).owner(share.generation).unwrap_or(fallback_pool);
    log::debug!(
        "pool {pool}: dropping share for job {} (generation {}): {:?}",
        share.job_id,
        share.generation,
        outcome
    );
    stats.update(pool, |s| match outcome {
        ShareOutcome::DroppedInvalid => s.invalid_dropped += 1,
        _ => s.stale_dropped += 1,
    });
    PoolEvent::ShareResult(ShareResult {
        pool,
        job_id: share.job_id.clone(),
        generation: share.generation,
        nonce: share.nonce,
        outcome,
        latency: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generations_remember_owners() {
        let mut g = Generations::default();
        let a = g.alloc(0);
        let b = g.alloc(0);
        let c = g.alloc(1);
        let d = g.alloc(0);
        assert_eq!((a, b, c, d), (1, 2, 3, 4));
        assert_eq!(g.owner(1), Some(0));
        assert_eq!(g.owner(2), Some(0));
        assert_eq!(g.owner(3), Some(1));
        assert_eq!(g.owner(4), Some(0));
        assert_eq!(g.owner(0), None);
    }
}
