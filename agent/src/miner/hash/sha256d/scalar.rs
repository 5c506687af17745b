//! Portable scalar sha256d kernel (one nonce at a time), built from the shared lane macros
//! with `u32` lanes. It is the fallback on every CPU and the baseline the SIMD kernels are
//! tested against; it must never use architecture-specific code.

use super::{Job, JobV, A1, E1, IV, K, KW1, KW2, LEN1, LEN2, PAD, SS0_LEN1, SS0_LEN2, SS0_PAD, SS1_LEN2};

type V = u32;

#[inline(always)]
fn add(a: V, b: V) -> V {
    a.wrapping_add(b)
}
#[inline(always)]
fn splat(x: u32) -> V {
    x
}
#[inline(always)]
fn bsig0(x: V) -> V {
    super::big_sigma0(x)
}
#[inline(always)]
fn bsig1(x: V) -> V {
    super::big_sigma1(x)
}
#[inline(always)]
fn ssig0(x: V) -> V {
    super::small_sigma0(x)
}
#[inline(always)]
fn ssig1(x: V) -> V {
    super::small_sigma1(x)
}
#[inline(always)]
fn ch(e: V, f: V, g: V) -> V {
    ((f ^ g) & e) ^ g
}
#[inline(always)]
fn maj(a: V, b: V, c: V) -> V {
    ((a ^ b) & (b ^ c)) ^ b
}

/// Final hash word 7 (`IV[7] + e61`) for one nonce.
#[inline(always)]
fn hash_word7(jv: &JobV<V>, nonce: u32) -> u32 {
    let e61: V = sha256d_lanes!(*jv, nonce.swap_bytes());
    e61.wrapping_add(IV[7])
}

pub(super) fn scan(job: &Job, start: u32, count: u32, hits: &mut Vec<u32>) {
    let jv = JobV::new(job, splat);
    for i in 0..count {
        let nonce = start.wrapping_add(i);
        if job.is_candidate(hash_word7(&jv, nonce)) && job.confirm(nonce) {
            hits.push(nonce);
        }
    }
}
