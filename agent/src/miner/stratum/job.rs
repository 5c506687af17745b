//! Mining jobs: from `mining.notify` to 80-byte headers, and from found nonces to
//! `mining.submit` params.
//!
//! What it is for: the byte-exact rules of Stratum v1 work construction —
//! coinbase = coinb1 + extranonce1 + extranonce2 + coinb2; merkle root = fold of double-SHA256
//! over the branch starting from the coinbase hash; prevhash arrives with each 4-byte word
//! byte-swapped; version, ntime and nbits go into the header little-endian; the nonce sits
//! little-endian at `header[76..80]`; submit sends ntime and nonce as big-endian hex (as
//! cpuminer does) and extranonce2 as its raw bytes in hex.
//! What it must never do: I/O, panicking on anything a pool sent, or hashing in a hot loop
//! (it runs once per extranonce2, not per nonce).

use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{json, Value};

use super::message::{Notify, Subscribed};
use super::{Target, Work};

/// Double SHA-256.
pub use crate::miner::hash::sha256d::sha256d;

/// Merkle root from the coinbase hash and the branch (all in internal byte order).
pub fn merkle_root(coinbase_hash: [u8; 32], branch: &[[u8; 32]]) -> [u8; 32] {
    branch.iter().fold(coinbase_hash, |acc, node| {
        let mut buf = [0u8; 64];
        buf[..32].copy_from_slice(&acc);
        buf[32..].copy_from_slice(node);
        sha256d(&buf)
    })
}

/// Byte-swap each 4-byte word: Stratum's prevhash encoding <-> header order.
pub fn swap_words(input: &[u8; 32]) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (o, i) in out.chunks_exact_mut(4).zip(input.chunks_exact(4)) {
        o.copy_from_slice(&[i[3], i[2], i[1], i[0]]);
    }
    out
}

/// Extranonce2 as bytes: the value big-endian in exactly `size` bytes (leading zero bytes
/// when `size > 8`; only the low `size` bytes when `size < 8`). So extranonce2 `1` with
/// size 4 is `00000001`.
pub fn extranonce2_bytes(extranonce2: u64, size: usize) -> Vec<u8> {
    let be = extranonce2.to_be_bytes();
    if size >= 8 {
        let mut v = vec![0u8; size - 8];
        v.extend_from_slice(&be);
        v
    } else {
        be[8 - size..].to_vec()
    }
}

/// Largest extranonce2 value representable in `size` bytes (capped at `u64::MAX`).
pub fn extranonce2_max(size: usize) -> u64 {
    if size >= 8 {
        u64::MAX
    } else {
        (1u64 << (8 * size)) - 1
    }
}

/// A share the engine found, to be submitted through the client handle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Share {
    pub job_id: String,
    /// The [`MiningJob::generation`] of the job the share was found for.
    pub generation: u64,
    pub extranonce2: u64,
    /// ntime as used in the header (native value; the client sends it as BE hex).
    pub ntime: u32,
    /// The nonce as a number; the header holds `nonce.to_le_bytes()` at `[76..80]`.
    pub nonce: u32,
    /// Rolled version bits (BIP310) when the header version was rolled, else `None`.
    pub version_bits: Option<u32>,
}

/// One job from a pool, ready for the engine.
///
/// Cheap to share (`Arc<MiningJob>`); every method takes `&self` and is thread-safe.
#[derive(Debug)]
pub struct MiningJob {
    /// Index of the pool (in the configured order) that sent the job.
    pub pool: usize,
    pub job_id: String,
    /// The pool asked to abandon all earlier work (`clean_jobs`), or the client starts a new
    /// work epoch (new connection, new extranonce1).
    pub clean: bool,
    /// Work epoch. Shares carry it back; the client drops shares whose generation is no longer
    /// current (after clean_jobs, reconnect, pool switch or extranonce change).
    pub generation: u64,
    /// Share target in force for this job.
    pub target: Target,
    /// Pool difficulty behind `target`.
    pub difficulty: f64,
    /// Header version from the pool (before any rolling).
    pub version: u32,
    /// BIP310 version-rolling mask granted by the pool, if any.
    pub version_mask: Option<u32>,
    pub nbits: u32,
    /// ntime from the pool.
    pub ntime: u32,
    prevhash: [u8; 32],
    coinb1: Vec<u8>,
    extranonce1: Vec<u8>,
    extranonce2_size: usize,
    coinb2: Vec<u8>,
    merkle_branch: Vec<[u8; 32]>,
    next_extranonce2: AtomicU64,
}

/// Everything besides the notify that defines a job.
#[derive(Debug, Clone)]
pub struct JobContext {
    pub pool: usize,
    pub generation: u64,
    pub clean: bool,
    pub target: Target,
    pub difficulty: f64,
    pub version_mask: Option<u32>,
}

impl MiningJob {
    /// Build a job from a parsed `mining.notify` and the connection's extranonce.
    pub fn new(notify: &Notify, extranonce: &Subscribed, ctx: JobContext) -> MiningJob {
        MiningJob {
            pool: ctx.pool,
            job_id: notify.job_id.clone(),
            clean: ctx.clean,
            generation: ctx.generation,
            target: ctx.target,
            difficulty: ctx.difficulty,
            version: notify.version,
            version_mask: ctx.version_mask,
            nbits: notify.nbits,
            ntime: notify.ntime,
            prevhash: swap_words(&notify.prevhash_stratum),
            coinb1: notify.coinb1.clone(),
            extranonce1: extranonce.extranonce1.clone(),
            extranonce2_size: extranonce.extranonce2_size,
            coinb2: notify.coinb2.clone(),
            merkle_branch: notify.merkle_branch.clone(),
            next_extranonce2: AtomicU64::new(0),
        }
    }

    /// Extranonce2 size in bytes, as set by the pool.
    pub fn extranonce2_size(&self) -> usize {
        self.extranonce2_size
    }

    /// A fresh extranonce2 value, unique for this job across all callers (engine threads)
    /// until the space of `extranonce2_size` bytes wraps.
    pub fn next_extranonce2(&self) -> u64 {
        self.next_extranonce2.fetch_add(1, Ordering::Relaxed) & extranonce2_max(self.extranonce2_size)
    }

    /// The full coinbase transaction for `extranonce2`.
    pub fn coinbase(&self, extranonce2: u64) -> Vec<u8> {
        let en2 = extranonce2_bytes(extranonce2, self.extranonce2_size);
        let mut cb =
            Vec::with_capacity(self.coinb1.len() + self.extranonce1.len() + en2.len() + self.coinb2.len());
        cb.extend_from_slice(&self.coinb1);
        cb.extend_from_slice(&self.extranonce1);
        cb.extend_from_slice(&en2);
        cb.extend_from_slice(&self.coinb2);
        cb
    }

    /// Merkle root (internal byte order, as placed in the header) for `extranonce2`.
    pub fn merkle_root(&self, extranonce2: u64) -> [u8; 32] {
        merkle_root(sha256d(&self.coinbase(extranonce2)), &self.merkle_branch)
    }

    /// Work for `extranonce2` and `ntime` with the pool's version; nonce bytes are zero.
    pub fn work_for(&self, extranonce2: u64, ntime: u32) -> Work {
        self.build(extranonce2, ntime, self.version)
    }

    /// Work with rolled version bits: version = (pool version & !mask) | (bits & mask).
    /// Without a granted mask this is [`MiningJob::work_for`] (the bits are ignored).
    pub fn work_for_rolled(&self, extranonce2: u64, ntime: u32, version_bits: u32) -> Work {
        self.build(extranonce2, ntime, self.rolled_version(version_bits))
    }

    /// The header version for `version_bits` under the granted mask.
    pub fn rolled_version(&self, version_bits: u32) -> u32 {
        match self.version_mask {
            Some(mask) => (self.version & !mask) | (version_bits & mask),
            None => self.version,
        }
    }

    fn build(&self, extranonce2: u64, ntime: u32, version: u32) -> Work {
        let mut header = [0u8; 80];
        header[0..4].copy_from_slice(&version.to_le_bytes());
        header[4..36].copy_from_slice(&self.prevhash);
        header[36..68].copy_from_slice(&self.merkle_root(extranonce2));
        header[68..72].copy_from_slice(&ntime.to_le_bytes());
        header[72..76].copy_from_slice(&self.nbits.to_le_bytes());
        Work {
            header,
            target: self.target,
        }
    }

    /// A [`Share`] for this job.
    pub fn share(&self, extranonce2: u64, ntime: u32, nonce: u32, version_bits: Option<u32>) -> Share {
        Share {
            job_id: self.job_id.clone(),
            generation: self.generation,
            extranonce2,
            ntime,
            nonce,
            version_bits,
        }
    }

    /// `mining.submit` params for `share`:
    /// `[worker, job_id, extranonce2_hex, ntime_hex, nonce_hex(, version_bits_hex)]`.
    /// Version bits are sent (masked) only when the pool granted a mask.
    pub fn submit_params(&self, worker: &str, share: &Share) -> Value {
        let en2 = hex::encode(extranonce2_bytes(share.extranonce2, self.extranonce2_size));
        let mut params = vec![
            json!(worker),
            json!(share.job_id),
            json!(en2),
            json!(format!("{:08x}", share.ntime)),
            json!(format!("{:08x}", share.nonce)),
        ];
        if let (Some(bits), Some(mask)) = (share.version_bits, self.version_mask) {
            params.push(json!(format!("{:08x}", bits & mask)));
        }
        Value::Array(params)
    }

    /// The same job re-keyed for a new extranonce (after `mining.set_extranonce`).
    pub fn with_extranonce(&self, extranonce: &Subscribed, generation: u64) -> MiningJob {
        MiningJob {
            pool: self.pool,
            job_id: self.job_id.clone(),
            clean: true,
            generation,
            target: self.target,
            difficulty: self.difficulty,
            version: self.version,
            version_mask: self.version_mask,
            nbits: self.nbits,
            ntime: self.ntime,
            prevhash: self.prevhash,
            coinb1: self.coinb1.clone(),
            extranonce1: extranonce.extranonce1.clone(),
            extranonce2_size: extranonce.extranonce2_size,
            coinb2: self.coinb2.clone(),
            merkle_branch: self.merkle_branch.clone(),
            next_extranonce2: AtomicU64::new(0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::message::{parse_line, parse_notify, parse_subscribe_result, Incoming};
    use super::super::target::{hash_meets_target, target_from_difficulty, DIFF1_SHA256D};
    use super::*;

    fn rev(mut b: [u8; 32]) -> [u8; 32] {
        b.reverse();
        b
    }

    fn h32(s: &str) -> [u8; 32] {
        let v = hex::decode(s).expect("test hex");
        v.try_into().expect("32 bytes")
    }

    /// The worked example of the slush/Braiins Stratum v1 documentation.
    fn braiins_job() -> MiningJob {
        let Ok(Incoming::Response { result, .. }) = parse_line(
            r#"{"id": 1, "result": [ [ ["mining.set_difficulty", "b4b6693b72a50c7116db18d6497cac52"], ["mining.notify", "ae6812eb4cd7735a302a8a9dd95cf71f"]], "08000002", 4], "error": null}"#,
        ) else {
            panic!("subscribe response")
        };
        let sub = parse_subscribe_result(&result).expect("subscribe");
        let Ok(Incoming::Call { params, .. }) = parse_line(
            r#"{"params": ["bf", "4d16b6f85af6e2198f44ae2a6de67f78487ae5611b77c6c0440b921e00000000", "01000000010000000000000000000000000000000000000000000000000000000000000000ffffffff20020862062f503253482f04b8864e5008", "072f736c7573682f000000000100f2052a010000001976a914d23fcdf86f7e756a64a7a9688ef9903327048ed988ac00000000", [], "00000002", "1c2ac4af", "504e86b9", false], "id": null, "method": "mining.notify"}"#,
        ) else {
            panic!("notify")
        };
        let notify = parse_notify(&params).expect("notify");
        let target = target_from_difficulty(&DIFF1_SHA256D, 1.0).expect("diff 1");
        MiningJob::new(
            &notify,
            &sub,
            JobContext {
                pool: 0,
                generation: 1,
                clean: false,
                target,
                difficulty: 1.0,
                version_mask: None,
            },
        )
    }

    #[test]
    fn braiins_docs_example_header_and_submit() {
        let job = braiins_job();
        // The documented share: extranonce2 00000001, ntime 504e86ed, nonce b2957c02.
        // (The brief mentioned extranonce2 00000000; the docs' submit uses 00000001, and only
        // that one gives the documented header and a hash below the difficulty-1 target.)
        let en2 = 1u64;
        let ntime = u32::from_str_radix("504e86ed", 16).expect("hex");
        let nonce = u32::from_str_radix("b2957c02", 16).expect("hex");
        assert_eq!(
            hex::encode(job.coinbase(en2)),
            "01000000010000000000000000000000000000000000000000000000000000000000000000ffffffff20020862062f503253482f04b8864e50080800000200000001072f736c7573682f000000000100f2052a010000001976a914d23fcdf86f7e756a64a7a9688ef9903327048ed988ac00000000"
        );
        let mut work = job.work_for(en2, ntime);
        work.header[76..80].copy_from_slice(&nonce.to_le_bytes());
        let hx = hex::encode(work.header);
        assert!(hx.starts_with("02000000f8b6164d"), "{hx}");
        assert!(hx.ends_with("027c95b2"), "{hx}");
        assert_eq!(
            hx,
            "02000000f8b6164d19e2f65a2aae448f787fe66d61e57a48c0c6771b1e920b440000000032414daa9ddac879fd2c62839b9ba710a3546363a5f5e22915d90dc3b1699deced864e50afc42a1c027c95b2"
        );
        let hash = sha256d(&work.header);
        assert_eq!(
            hex::encode(rev(hash)),
            "000000002076870fe65a2b6eeed84fa892c0db924f1482243a6247d931dcab32"
        );
        assert!(
            hash_meets_target(&hash, &work.target),
            "documented share meets difficulty 1"
        );
        // At difficulty 2^32 the same hash must not meet the target.
        let hard = target_from_difficulty(&DIFF1_SHA256D, 4294967296.0).expect("valid");
        assert!(!hash_meets_target(&hash, &hard));

        let share = job.share(en2, ntime, nonce, None);
        assert_eq!(
            job.submit_params("slush.miner1", &share),
            json!(["slush.miner1", "bf", "00000001", "504e86ed", "b2957c02"])
        );
        // Extranonce2 00000000 gives a different header that does not meet difficulty 1.
        let mut w0 = job.work_for(0, ntime);
        w0.header[76..80].copy_from_slice(&nonce.to_le_bytes());
        assert!(!hash_meets_target(&sha256d(&w0.header), &w0.target));
    }

    #[test]
    fn merkle_root_bitcoin_block_100000() {
        // Block 100000 has 4 transactions; txids as displayed (reversed byte order).
        let txids = [
            "8c14f0db3df150123e6f3dbbf30f8b955a8249b62ac1d1ff16284aefa3d06d87",
            "fff2525b8931402dd09222c50775608f75787bd2b87e56995a7bdd30f79702c4",
            "6359f0868171b1d194cbee1af2f16ea598ae8fad666d9b012c8ed2b79a236ec4",
            "e9a66845e05d5abc0ad04ec80f774a7e585c6e8db975962d069a522137b80c1d",
        ]
        .map(|s| rev(h32(s)));
        let pair = |a: &[u8; 32], b: &[u8; 32]| {
            let mut v = a.to_vec();
            v.extend_from_slice(b);
            sha256d(&v)
        };
        // Branch for the coinbase (leaf 0): sibling leaf 1, then hash of leaves 2 and 3.
        let branch = [txids[1], pair(&txids[2], &txids[3])];
        let root = merkle_root(txids[0], &branch);
        assert_eq!(
            hex::encode(rev(root)),
            "f3e94742aca4b5ef85488dc37c06c3282295ffec960994b2c0d5ac2a25a95766"
        );
    }

    #[test]
    fn merkle_root_matches_full_tree_for_hand_built_8_tx_block() {
        // Independent computation: build the full tree level by level (Bitcoin rules,
        // duplicating the last node on odd levels) and compare with the branch fold.
        let leaves: Vec<[u8; 32]> = (0u8..7).map(|i| sha256d(&[i, 0xab, i])).collect();
        let pair = |a: &[u8; 32], b: &[u8; 32]| {
            let mut v = a.to_vec();
            v.extend_from_slice(b);
            sha256d(&v)
        };
        let mut level = leaves.clone();
        let mut branch = Vec::new();
        while level.len() > 1 {
            if level.len() % 2 == 1 {
                let last = level[level.len() - 1];
                level.push(last);
            }
            branch.push(level[1]); // sibling of the leftmost (coinbase) path
            level = level.chunks(2).map(|c| pair(&c[0], &c[1])).collect();
        }
        assert_eq!(branch.len(), 3);
        assert_eq!(merkle_root(leaves[0], &branch), level[0]);
        // A different coinbase hash must give a different root.
        assert_ne!(merkle_root(leaves[1], &branch), level[0]);
    }

    #[test]
    fn version_rolling_and_submit_hex() {
        let mut job = braiins_job();
        job.version = 0x2000_0000;
        job.version_mask = Some(0x1fff_e000);
        let w = job.work_for_rolled(5, 0x0102_0304, 0xffff_ffff);
        assert_eq!(&w.header[0..4], &(0x3fff_e000u32).to_le_bytes());
        assert_eq!(&w.header[68..72], &[4, 3, 2, 1]);
        assert_eq!(&w.header[72..76], &[0xaf, 0xc4, 0x2a, 0x1c]);
        let share = job.share(5, 0x0102_0304, 0x0a0b_0c0d, Some(0xffff_ffff));
        assert_eq!(
            job.submit_params("w", &share),
            json!(["w", "bf", "00000005", "01020304", "0a0b0c0d", "1fffe000"])
        );
        job.version_mask = None;
        assert_eq!(
            job.work_for_rolled(5, 1, 0xffff_ffff).header[0..4],
            0x2000_0000u32.to_le_bytes()
        );
        assert_eq!(job.submit_params("w", &share).as_array().map(Vec::len), Some(5));
    }

    #[test]
    fn extranonce2_encoding_and_uniqueness() {
        assert_eq!(extranonce2_bytes(1, 4), vec![0, 0, 0, 1]);
        assert_eq!(extranonce2_bytes(0x0102, 2), vec![1, 2]);
        assert_eq!(extranonce2_bytes(0x010203, 2), vec![2, 3]);
        assert_eq!(extranonce2_bytes(7, 10), vec![0, 0, 0, 0, 0, 0, 0, 0, 0, 7]);
        assert_eq!(extranonce2_max(1), 255);
        assert_eq!(extranonce2_max(8), u64::MAX);
        let job = std::sync::Arc::new(braiins_job());
        let mut handles = Vec::new();
        for _ in 0..4 {
            let j = job.clone();
            handles.push(std::thread::spawn(move || {
                (0..1000).map(|_| j.next_extranonce2()).collect::<Vec<_>>()
            }));
        }
        let mut all: Vec<u64> = handles
            .into_iter()
            .flat_map(|h| h.join().expect("thread"))
            .collect();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), 4000);
    }
}
