//! AArch64 sha256d kernel using the ARMv8 SHA2 crypto extension (`vsha256hq_u32` etc.);
//! `LANES` nonces are interleaved for instruction-level parallelism.
//! Must only be called after run-time detection of `sha2`; it only proposes candidates
//! (hash word 7), which `Job::confirm` checks before anything is reported.

use core::arch::aarch64::*;

use super::{Job, IV, K, LEN1, LEN2, PAD};

/// Nonces hashed together per step.
pub(super) const LANES: u32 = 2;
const N: usize = LANES as usize;

#[inline]
#[target_feature(enable = "neon,sha2")]
fn v(x: [u32; 4]) -> uint32x4_t {
    // `vld1q_u32` would need a raw pointer; build from two 64-bit halves instead.
    let lo = (x[0] as u64) | ((x[1] as u64) << 32);
    let hi = (x[2] as u64) | ((x[3] as u64) << 32);
    vreinterpretq_u32_u64(vcombine_u64(vcreate_u64(lo), vcreate_u64(hi)))
}

#[inline]
#[target_feature(enable = "neon,sha2")]
fn kv(j: usize) -> uint32x4_t {
    v([K[4 * j], K[4 * j + 1], K[4 * j + 2], K[4 * j + 3]])
}

/// Four rounds on (ABCD, EFGH) with K+W in `wk`.
#[inline]
#[target_feature(enable = "neon,sha2")]
fn r4(abcd: &mut [uint32x4_t; N], efgh: &mut [uint32x4_t; N], wk: [uint32x4_t; N]) {
    for i in 0..N {
        let a0 = abcd[i];
        abcd[i] = vsha256hq_u32(a0, efgh[i], wk[i]);
        efgh[i] = vsha256h2q_u32(efgh[i], a0, wk[i]);
    }
}

/// 64 rounds over the message `m` (4 x 4 words), starting from `abcd`/`efgh`.
#[inline]
#[target_feature(enable = "neon,sha2")]
fn rounds64(abcd: &mut [uint32x4_t; N], efgh: &mut [uint32x4_t; N], m: [[uint32x4_t; N]; 4]) {
    let [mut m0, mut m1, mut m2, mut m3] = m;
    for j in 0..16 {
        let k = kv(j);
        r4(abcd, efgh, m0.map(|w| vaddq_u32(w, k)));
        if j < 12 {
            let m4: [uint32x4_t; N] =
                core::array::from_fn(|i| vsha256su1q_u32(vsha256su0q_u32(m0[i], m1[i]), m2[i], m3[i]));
            m0 = m1;
            m1 = m2;
            m2 = m3;
            m3 = m4;
        } else {
            m0 = m1;
            m1 = m2;
            m2 = m3;
        }
    }
}

#[target_feature(enable = "neon,sha2")]
pub(super) fn scan(job: &Job, start: u32, count: u32, hits: &mut Vec<u32>) {
    let mid = job.mid;
    let mid_abcd = v([mid[0], mid[1], mid[2], mid[3]]);
    let mid_efgh = v([mid[4], mid[5], mid[6], mid[7]]);
    let iv_abcd = v([IV[0], IV[1], IV[2], IV[3]]);
    let iv_efgh = v([IV[4], IV[5], IV[6], IV[7]]);
    let m1c = v([PAD, 0, 0, 0]);
    let m2c = v([0, 0, 0, 0]);
    let m3c = v([0, 0, 0, LEN1]);
    let n3c = v([0, 0, 0, LEN2]);
    let hw = |i: usize| {
        let b = &job.header[64 + 4 * i..68 + 4 * i];
        u32::from_be_bytes([b[0], b[1], b[2], b[3]])
    };
    let (w0, w1, w2) = (hw(0), hw(1), hw(2));

    let count = count as u64;
    let mut done = 0u64;
    while done < count {
        let base = start.wrapping_add(done as u32);
        let m0: [uint32x4_t; N] = core::array::from_fn(|i| {
            let w3 = base.wrapping_add(i as u32).swap_bytes();
            v([w0, w1, w2, w3])
        });
        let mut abcd = [mid_abcd; N];
        let mut efgh = [mid_efgh; N];
        rounds64(&mut abcd, &mut efgh, [m0, [m1c; N], [m2c; N], [m3c; N]]);
        let h0 = abcd.map(|x| vaddq_u32(x, mid_abcd));
        let h1 = efgh.map(|x| vaddq_u32(x, mid_efgh));
        let mut abcd = [iv_abcd; N];
        let mut efgh = [iv_efgh; N];
        rounds64(&mut abcd, &mut efgh, [h0, h1, [m1c; N], [n3c; N]]);

        let left = count - done;
        for (i, e) in efgh.iter().enumerate() {
            let h7 = vgetq_lane_u32::<3>(*e).wrapping_add(IV[7]);
            if (i as u64) < left && job.is_candidate(h7) {
                let nonce = base.wrapping_add(i as u32);
                if job.confirm(nonce) {
                    hits.push(nonce);
                }
            }
        }
        done += N as u64;
    }
}
