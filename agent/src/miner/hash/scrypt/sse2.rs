//! SSE2 ROMix (N=1024, r=1) over 4 lanes, lane-sliced: xmm register k holds
//! word k of 4 independent hashes. The x86_64 baseline kernel. The scratchpad
//! keeps each lane's 128-byte blocks contiguous (row i = 4 lanes' V[i]); data
//! moves between the layouts with 4x4 transposes.
//!
//! Must never use instructions beyond SSE2 (it is the fallback for every
//! x86_64 CPU), and never address the scratchpad with an index not masked to N - 1.

#![allow(clippy::needless_range_loop)] // fixed-size register arrays, fully unrolled

use core::arch::x86_64::*;

use super::scalar::{salsa20_8_rounds, salsa20_double_round};
use super::{scratchpad, Kernel, Line, BLOCK_WORDS, N};

const LANES: usize = 4;

pub(super) struct Sse2Kernel {
    v: Vec<Line>,
}

impl Sse2Kernel {
    pub(super) fn new() -> Option<Self> {
        if is_x86_feature_detected!("sse2") {
            Some(Sse2Kernel { v: scratchpad(LANES) })
        } else {
            None
        }
    }
}

impl Kernel for Sse2Kernel {
    const NAME: &'static str = "scrypt-sse2x4";
    const LANES: usize = LANES;

    fn romix(&mut self, x: &mut [[u32; BLOCK_WORDS]]) {
        let x: &mut [[u32; BLOCK_WORDS]; LANES] =
            x.try_into().expect("the scanner passes exactly LANES blocks");
        // SAFETY: an Sse2Kernel only exists if sse2 was detected.
        unsafe { romix(x, &mut self.v) }
    }
}

macro_rules! step {
    ($x:ident, $d:expr, $a:expr, $b:expr, $r:expr) => {{
        let t = _mm_add_epi32($x[$a], $x[$b]);
        let t = _mm_or_si128(_mm_slli_epi32::<$r>(t), _mm_srli_epi32::<{ 32 - $r }>(t));
        $x[$d] = _mm_xor_si128($x[$d], t);
    }};
}

/// scryptBlockMix for r = 1: B0 = Salsa(B0 ^ B1), B1 = Salsa(B1 ^ B0).
/// Salsa20/8 is expanded inline by macro (a helper fn would not be inlined
/// into both call sites and would force the state through memory).
#[inline]
#[target_feature(enable = "sse2")]
fn block_mix(xs: &mut [__m128i; 32]) {
    let mut t = [_mm_setzero_si128(); 16];
    t.copy_from_slice(&xs[16..]);
    for h in 0..2 {
        for k in 0..16 {
            t[k] = _mm_xor_si128(t[k], xs[16 * h + k]);
        }
        let mut x = t;
        salsa20_8_rounds!(step, x);
        for k in 0..16 {
            t[k] = _mm_add_epi32(t[k], x[k]);
            xs[16 * h + k] = t[k];
        }
    }
}

/// In-place 4x4 transpose of 32-bit elements (its own inverse).
#[inline]
#[target_feature(enable = "sse2")]
fn transpose4(r: &mut [__m128i; 4]) {
    let t0 = _mm_unpacklo_epi32(r[0], r[1]);
    let t1 = _mm_unpackhi_epi32(r[0], r[1]);
    let t2 = _mm_unpacklo_epi32(r[2], r[3]);
    let t3 = _mm_unpackhi_epi32(r[2], r[3]);
    r[0] = _mm_unpacklo_epi64(t0, t2);
    r[1] = _mm_unpackhi_epi64(t0, t2);
    r[2] = _mm_unpacklo_epi64(t1, t3);
    r[3] = _mm_unpackhi_epi64(t1, t3);
}

/// # Safety
/// The CPU must support sse2.
#[target_feature(enable = "sse2")]
unsafe fn romix(x: &mut [[u32; BLOCK_WORDS]; LANES], v: &mut [Line]) {
    assert!(v.len() >= LANES * N * 2, "scratchpad too small");
    // 8 xmm per 128-byte block.
    let vp = v.as_mut_ptr().cast::<__m128i>();
    let zero = _mm_setzero_si128();
    let mut xs = [zero; 32];
    for c in 0..8 {
        let mut r = [zero; 4];
        for l in 0..LANES {
            // SAFETY: x[l] has 32 words; reads words 4c..4c+4.
            r[l] = unsafe { _mm_loadu_si128(x[l].as_ptr().add(4 * c).cast()) };
        }
        transpose4(&mut r);
        for k in 0..4 {
            xs[4 * c + k] = r[k];
        }
    }

    for i in 0..N {
        for c in 0..8 {
            let mut r = [zero; 4];
            for k in 0..4 {
                r[k] = xs[4 * c + k];
            }
            transpose4(&mut r);
            for l in 0..LANES {
                // SAFETY: (i*4 + l)*8 + c < N*4*8 xmm = v's size; aligned.
                unsafe { _mm_store_si128(vp.add((i * LANES + l) * 8 + c), r[l]) };
            }
        }
        block_mix(&mut xs);
    }

    for _ in 0..N {
        let j = _mm_and_si128(xs[16], _mm_set1_epi32(N as i32 - 1));
        let mut idx = [0u32; LANES];
        // SAFETY: idx is 16 bytes long (unaligned store).
        unsafe { _mm_storeu_si128(idx.as_mut_ptr().cast(), j) };
        let base: [usize; LANES] = core::array::from_fn(|l| (idx[l] as usize * LANES + l) * 8);
        for c in 0..8 {
            let mut r = [zero; 4];
            for l in 0..LANES {
                // SAFETY: j_l <= N-1, so base + c < N*4*8; aligned.
                r[l] = unsafe { _mm_load_si128(vp.add(base[l] + c)) };
            }
            transpose4(&mut r);
            for k in 0..4 {
                xs[4 * c + k] = _mm_xor_si128(xs[4 * c + k], r[k]);
            }
        }
        block_mix(&mut xs);
    }

    for c in 0..8 {
        let mut r = [zero; 4];
        for k in 0..4 {
            r[k] = xs[4 * c + k];
        }
        transpose4(&mut r);
        for l in 0..LANES {
            // SAFETY: x[l] has 32 words; writes words 4c..4c+4.
            unsafe { _mm_storeu_si128(x[l].as_mut_ptr().add(4 * c).cast(), r[l]) };
        }
    }
}
