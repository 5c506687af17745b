//! AVX2 ROMix (N=1024, r=1) over 8 lanes, lane-sliced: ymm register k holds
//! word k of 8 independent hashes (rotates are shift/shift/or). The scratchpad
//! keeps each lane's 128-byte blocks contiguous (row i = 8 lanes' V[i], 1 KiB);
//! data moves between the layouts with in-register 8x8 transposes.
//!
//! Must never be constructed unless `avx2` was detected at run time, and never
//! address the scratchpad with an index not masked to N - 1.

#![allow(clippy::needless_range_loop)] // fixed-size register arrays, fully unrolled

use core::arch::x86_64::*;

use super::scalar::{salsa20_8_rounds, salsa20_double_round};
use super::{scratchpad, Kernel, Line, BLOCK_WORDS, N};

const LANES: usize = 8;

pub(super) struct Avx2Kernel {
    v: Vec<Line>,
}

impl Avx2Kernel {
    pub(super) fn new() -> Option<Self> {
        if is_x86_feature_detected!("avx2") {
            Some(Avx2Kernel { v: scratchpad(LANES) })
        } else {
            None
        }
    }
}

impl Kernel for Avx2Kernel {
    const NAME: &'static str = "scrypt-avx2x8";
    const LANES: usize = LANES;

    fn romix(&mut self, x: &mut [[u32; BLOCK_WORDS]]) {
        let x: &mut [[u32; BLOCK_WORDS]; LANES] =
            x.try_into().expect("the scanner passes exactly LANES blocks");
        // SAFETY: an Avx2Kernel only exists if avx2 was detected.
        unsafe { romix(x, &mut self.v) }
    }
}

macro_rules! step {
    ($x:ident, $d:expr, $a:expr, $b:expr, $r:expr) => {{
        let t = _mm256_add_epi32($x[$a], $x[$b]);
        let t = _mm256_or_si256(_mm256_slli_epi32::<$r>(t), _mm256_srli_epi32::<{ 32 - $r }>(t));
        $x[$d] = _mm256_xor_si256($x[$d], t);
    }};
}

/// scryptBlockMix for r = 1: B0 = Salsa(B0 ^ B1), B1 = Salsa(B1 ^ B0).
/// Salsa20/8 is expanded inline by macro (a helper fn would not be inlined
/// into both call sites and would force the state through memory).
#[inline]
#[target_feature(enable = "avx2")]
fn block_mix(xs: &mut [__m256i; 32]) {
    let mut t = [_mm256_setzero_si256(); 16];
    t.copy_from_slice(&xs[16..]);
    for h in 0..2 {
        for k in 0..16 {
            t[k] = _mm256_xor_si256(t[k], xs[16 * h + k]);
        }
        let mut x = t;
        salsa20_8_rounds!(step, x);
        for k in 0..16 {
            t[k] = _mm256_add_epi32(t[k], x[k]);
            xs[16 * h + k] = t[k];
        }
    }
}

/// In-place 8x8 transpose of 32-bit elements (its own inverse).
#[inline]
#[target_feature(enable = "avx2")]
fn transpose8(r: &mut [__m256i; 8]) {
    let mut t = [_mm256_setzero_si256(); 8];
    for k in 0..4 {
        t[2 * k] = _mm256_unpacklo_epi32(r[2 * k], r[2 * k + 1]);
        t[2 * k + 1] = _mm256_unpackhi_epi32(r[2 * k], r[2 * k + 1]);
    }
    let mut u = [_mm256_setzero_si256(); 8];
    for m in 0..2 {
        u[4 * m] = _mm256_unpacklo_epi64(t[4 * m], t[4 * m + 2]);
        u[4 * m + 1] = _mm256_unpackhi_epi64(t[4 * m], t[4 * m + 2]);
        u[4 * m + 2] = _mm256_unpacklo_epi64(t[4 * m + 1], t[4 * m + 3]);
        u[4 * m + 3] = _mm256_unpackhi_epi64(t[4 * m + 1], t[4 * m + 3]);
    }
    for c in 0..4 {
        r[c] = _mm256_permute2x128_si256::<0x20>(u[c], u[4 + c]);
        r[4 + c] = _mm256_permute2x128_si256::<0x31>(u[c], u[4 + c]);
    }
}

#[repr(C, align(32))]
struct Idx([u32; LANES]);

/// # Safety
/// The CPU must support avx2.
#[target_feature(enable = "avx2")]
unsafe fn romix(x: &mut [[u32; BLOCK_WORDS]; LANES], v: &mut [Line]) {
    assert!(v.len() >= LANES * N * 2, "scratchpad too small");
    // 4 ymm per 128-byte block.
    let vp = v.as_mut_ptr().cast::<__m256i>();
    let zero = _mm256_setzero_si256();
    let mut xs = [zero; 32];
    for c in 0..4 {
        let mut r = [zero; 8];
        for l in 0..LANES {
            // SAFETY: x[l] has 32 words; reads words 8c..8c+8.
            r[l] = unsafe { _mm256_loadu_si256(x[l].as_ptr().add(8 * c).cast()) };
        }
        transpose8(&mut r);
        for k in 0..8 {
            xs[8 * c + k] = r[k];
        }
    }

    for i in 0..N {
        for c in 0..4 {
            let mut r = [zero; 8];
            for k in 0..8 {
                r[k] = xs[8 * c + k];
            }
            transpose8(&mut r);
            for l in 0..LANES {
                // SAFETY: (i*8 + l)*4 + c < N*8*4 ymm = v's size; 32-byte aligned.
                unsafe { _mm256_store_si256(vp.add((i * LANES + l) * 4 + c), r[l]) };
            }
        }
        block_mix(&mut xs);
    }

    let lane_ids = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    let mask = _mm256_set1_epi32(N as i32 - 1);
    let mut idx = Idx([0; LANES]);
    for _ in 0..N {
        // ymm index of lane l's V[j_l]: (j_l * 8 + l) * 4.
        let j = _mm256_and_si256(xs[16], mask);
        let o = _mm256_slli_epi32::<2>(_mm256_or_si256(_mm256_slli_epi32::<3>(j), lane_ids));
        // SAFETY: idx is 32-byte aligned and 32 bytes long.
        unsafe { _mm256_store_si256(idx.0.as_mut_ptr().cast(), o) };
        for c in 0..4 {
            let mut r = [zero; 8];
            for l in 0..LANES {
                // SAFETY: j_l <= N-1, so idx + c < N*8*4; aligned.
                r[l] = unsafe { _mm256_load_si256(vp.add(idx.0[l] as usize + c)) };
            }
            transpose8(&mut r);
            for k in 0..8 {
                xs[8 * c + k] = _mm256_xor_si256(xs[8 * c + k], r[k]);
            }
        }
        block_mix(&mut xs);
    }

    for c in 0..4 {
        let mut r = [zero; 8];
        for k in 0..8 {
            r[k] = xs[8 * c + k];
        }
        transpose8(&mut r);
        for l in 0..LANES {
            // SAFETY: x[l] has 32 words; writes words 8c..8c+8.
            unsafe { _mm256_storeu_si256(x[l].as_mut_ptr().add(8 * c).cast(), r[l]) };
        }
    }
}
