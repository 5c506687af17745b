//! Benchmark mode: the engine hashes random headers against an impossible target, so the
//! hashrate of a kernel and thread count can be measured with no pool. Used by `bench` and by
//! `run` when no pool is configured (it says so).

use crate::miner::engine::{JobSource, WorkUnit};
use crate::miner::work::{Target, Work};
use std::sync::atomic::{AtomicU64, Ordering};

/// Hands out distinct pseudo-random headers; nothing can meet its all-zero target.
#[derive(Default)]
pub struct BenchJob {
    counter: AtomicU64,
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

impl JobSource for BenchJob {
    fn next_work(&self) -> WorkUnit {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let mut header = [0u8; 80];
        for (i, chunk) in header.chunks_mut(8).enumerate() {
            let v = splitmix(n.wrapping_mul(16).wrapping_add(i as u64)).to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
        WorkUnit {
            work: Work {
                header,
                target: Target([0; 32]),
            },
            extranonce2: n,
            ntime: 0,
        }
    }
}
