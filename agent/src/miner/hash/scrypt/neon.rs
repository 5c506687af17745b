//! AArch64 NEON ROMix (N=1024, r=1) over 4 lanes, lane-sliced: q register k
//! holds word k of 4 independent hashes. NEON is part of the aarch64 baseline,
//! so this kernel needs no runtime detection. Scratchpad layout as in the SSE2
//! kernel: each lane's 128-byte blocks contiguous, row i = 4 lanes' V[i].
//!
//! Must never be compiled for anything but aarch64, and never address the
//! scratchpad with an index not masked to N - 1.

#![allow(clippy::needless_range_loop)] // fixed-size register arrays, fully unrolled

use core::arch::aarch64::*;

use super::scalar::{salsa20_8_rounds, salsa20_double_round};
use super::{scratchpad, Kernel, Line, BLOCK_WORDS, N};

const LANES: usize = 4;

pub(super) struct NeonKernel {
    v: Vec<Line>,
}

impl NeonKernel {
    pub(super) fn new() -> Self {
        NeonKernel { v: scratchpad(LANES) }
    }
}

impl Kernel for NeonKernel {
    const NAME: &'static str = "scrypt-neonx4";
    const LANES: usize = LANES;

    fn romix(&mut self, x: &mut [[u32; BLOCK_WORDS]]) {
        let x: &mut [[u32; BLOCK_WORDS]; LANES] =
            x.try_into().expect("the scanner passes exactly LANES blocks");
        // SAFETY: NEON is part of the aarch64 baseline (always enabled).
        unsafe { romix(x, &mut self.v) }
    }
}

macro_rules! step {
    ($x:ident, $d:expr, $a:expr, $b:expr, $r:expr) => {{
        let t = vaddq_u32($x[$a], $x[$b]);
        let t = vsriq_n_u32::<{ 32 - $r }>(vshlq_n_u32::<$r>(t), t);
        $x[$d] = veorq_u32($x[$d], t);
    }};
}

/// scryptBlockMix for r = 1: B0 = Salsa(B0 ^ B1), B1 = Salsa(B1 ^ B0).
/// Salsa20/8 is expanded inline by macro (a helper fn would not be inlined
/// into both call sites and would force the state through memory).
#[inline]
#[target_feature(enable = "neon")]
fn block_mix(xs: &mut [uint32x4_t; 32]) {
    let mut t = [vdupq_n_u32(0); 16];
    t.copy_from_slice(&xs[16..]);
    for h in 0..2 {
        for k in 0..16 {
            t[k] = veorq_u32(t[k], xs[16 * h + k]);
        }
        let mut x = t;
        salsa20_8_rounds!(step, x);
        for k in 0..16 {
            t[k] = vaddq_u32(t[k], x[k]);
            xs[16 * h + k] = t[k];
        }
    }
}

/// In-place 4x4 transpose of 32-bit elements (its own inverse).
#[inline]
#[target_feature(enable = "neon")]
fn transpose4(r: &mut [uint32x4_t; 4]) {
    let a = vtrnq_u32(r[0], r[1]);
    let b = vtrnq_u32(r[2], r[3]);
    r[0] = vcombine_u32(vget_low_u32(a.0), vget_low_u32(b.0));
    r[1] = vcombine_u32(vget_low_u32(a.1), vget_low_u32(b.1));
    r[2] = vcombine_u32(vget_high_u32(a.0), vget_high_u32(b.0));
    r[3] = vcombine_u32(vget_high_u32(a.1), vget_high_u32(b.1));
}

#[target_feature(enable = "neon")]
fn romix(x: &mut [[u32; BLOCK_WORDS]; LANES], v: &mut [Line]) {
    assert!(v.len() >= LANES * N * 2, "scratchpad too small");
    // 8 q registers (4 words each) per 128-byte block.
    let vp = v.as_mut_ptr().cast::<u32>();
    let zero = vdupq_n_u32(0);
    let mut xs = [zero; 32];
    for c in 0..8 {
        let mut r = [zero; 4];
        for l in 0..LANES {
            // SAFETY: x[l] has 32 words; reads words 4c..4c+4.
            r[l] = unsafe { vld1q_u32(x[l].as_ptr().add(4 * c)) };
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
                // SAFETY: ((i*4 + l)*8 + c)*4 + 4 <= N*4*32 words = v's size.
                unsafe { vst1q_u32(vp.add(((i * LANES + l) * 8 + c) * 4), r[l]) };
            }
        }
        block_mix(&mut xs);
    }

    for _ in 0..N {
        let j = vandq_u32(xs[16], vdupq_n_u32(N as u32 - 1));
        let js = [
            vgetq_lane_u32::<0>(j),
            vgetq_lane_u32::<1>(j),
            vgetq_lane_u32::<2>(j),
            vgetq_lane_u32::<3>(j),
        ];
        for c in 0..8 {
            let mut r = [zero; 4];
            for l in 0..LANES {
                let at = ((js[l] as usize * LANES + l) * 8 + c) * 4;
                // SAFETY: j_l <= N-1, so at + 4 <= N*4*32 words = v's size.
                r[l] = unsafe { vld1q_u32(vp.add(at)) };
            }
            transpose4(&mut r);
            for k in 0..4 {
                xs[4 * c + k] = veorq_u32(xs[4 * c + k], r[k]);
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
            unsafe { vst1q_u32(x[l].as_mut_ptr().add(4 * c), r[l]) };
        }
    }
}
