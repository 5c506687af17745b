//! AVX-512F ROMix (N=1024, r=1) over 16 lanes, lane-sliced: zmm register k
//! holds word k of 16 independent hashes, Salsa20/8 uses `vprold`. The
//! scratchpad keeps each lane's 128-byte blocks contiguous (row i = 16 lanes'
//! V[i], 2 KiB) so the random V[j] reads touch two cache lines per lane; data
//! moves between the two layouts with in-register 16x16 transposes.
//!
//! Must never be constructed unless `avx512f` was detected at run time, and
//! never address the scratchpad with an index not masked to N - 1.

#![allow(clippy::needless_range_loop)] // fixed-size register arrays, fully unrolled

use core::arch::x86_64::*;

use super::scalar::{salsa20_8_rounds, salsa20_double_round};
use super::{scratchpad, Kernel, Line, BLOCK_WORDS, N};

const LANES: usize = 16;

pub(super) struct Avx512Kernel {
    v: Vec<Line>,
}

impl Avx512Kernel {
    pub(super) fn new() -> Option<Self> {
        if is_x86_feature_detected!("avx512f") {
            Some(Avx512Kernel { v: scratchpad(LANES) })
        } else {
            None
        }
    }
}

impl Kernel for Avx512Kernel {
    const NAME: &'static str = "scrypt-avx512x16";
    const LANES: usize = LANES;

    fn romix(&mut self, x: &mut [[u32; BLOCK_WORDS]]) {
        let x: &mut [[u32; BLOCK_WORDS]; LANES] =
            x.try_into().expect("the scanner passes exactly LANES blocks");
        // SAFETY: an Avx512Kernel only exists if avx512f was detected.
        unsafe { romix(x, &mut self.v) }
    }
}

macro_rules! step {
    ($x:ident, $d:expr, $a:expr, $b:expr, $r:expr) => {
        $x[$d] = _mm512_xor_si512($x[$d], _mm512_rol_epi32::<$r>(_mm512_add_epi32($x[$a], $x[$b])))
    };
}

/// scryptBlockMix for r = 1: B0 = Salsa(B0 ^ B1), B1 = Salsa(B1 ^ B0).
/// Salsa20/8 is expanded inline by macro (a helper fn would not be inlined
/// into both call sites and would force the state through memory).
#[inline]
#[target_feature(enable = "avx512f")]
fn block_mix(xs: &mut [__m512i; 32]) {
    let mut t = [_mm512_setzero_si512(); 16];
    t.copy_from_slice(&xs[16..]);
    for h in 0..2 {
        for k in 0..16 {
            t[k] = _mm512_xor_si512(t[k], xs[16 * h + k]);
        }
        let mut x = t;
        salsa20_8_rounds!(step, x);
        for k in 0..16 {
            t[k] = _mm512_add_epi32(t[k], x[k]);
            xs[16 * h + k] = t[k];
        }
    }
}

/// In-place 16x16 transpose of 32-bit elements (its own inverse).
#[inline]
#[target_feature(enable = "avx512f")]
fn transpose16(r: &mut [__m512i; 16]) {
    let mut t = [_mm512_setzero_si512(); 16];
    for k in 0..8 {
        t[2 * k] = _mm512_unpacklo_epi32(r[2 * k], r[2 * k + 1]);
        t[2 * k + 1] = _mm512_unpackhi_epi32(r[2 * k], r[2 * k + 1]);
    }
    // u[4m + c], 128-bit lane q: rows 4m..4m+4 of column 4q + c.
    let mut u = [_mm512_setzero_si512(); 16];
    for m in 0..4 {
        u[4 * m] = _mm512_unpacklo_epi64(t[4 * m], t[4 * m + 2]);
        u[4 * m + 1] = _mm512_unpackhi_epi64(t[4 * m], t[4 * m + 2]);
        u[4 * m + 2] = _mm512_unpacklo_epi64(t[4 * m + 1], t[4 * m + 3]);
        u[4 * m + 3] = _mm512_unpackhi_epi64(t[4 * m + 1], t[4 * m + 3]);
    }
    for c in 0..4 {
        let v0 = _mm512_shuffle_i32x4::<0x88>(u[c], u[4 + c]);
        let v1 = _mm512_shuffle_i32x4::<0xdd>(u[c], u[4 + c]);
        let w0 = _mm512_shuffle_i32x4::<0x88>(u[8 + c], u[12 + c]);
        let w1 = _mm512_shuffle_i32x4::<0xdd>(u[8 + c], u[12 + c]);
        r[c] = _mm512_shuffle_i32x4::<0x88>(v0, w0);
        r[8 + c] = _mm512_shuffle_i32x4::<0xdd>(v0, w0);
        r[4 + c] = _mm512_shuffle_i32x4::<0x88>(v1, w1);
        r[12 + c] = _mm512_shuffle_i32x4::<0xdd>(v1, w1);
    }
}

#[repr(C, align(64))]
struct Idx([u32; LANES]);

/// # Safety
/// The CPU must support avx512f.
#[target_feature(enable = "avx512f")]
unsafe fn romix(x: &mut [[u32; BLOCK_WORDS]; LANES], v: &mut [Line]) {
    assert!(v.len() >= LANES * N * 2, "scratchpad too small");
    let vp = v.as_mut_ptr().cast::<__m512i>();
    let zero = _mm512_setzero_si512();
    let mut xs = [zero; 32];
    for h in 0..2 {
        let mut r = [zero; 16];
        for l in 0..LANES {
            // SAFETY: x[l] has 32 words; reads words 16h..16h+16.
            r[l] = unsafe { _mm512_loadu_si512(x[l].as_ptr().add(16 * h).cast()) };
        }
        transpose16(&mut r);
        for k in 0..16 {
            xs[16 * h + k] = r[k];
        }
    }

    // One loop over both ROMix phases so that block_mix has a single call
    // site and is inlined (keeping the state in registers).
    let lane_ids = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    let mask = _mm512_set1_epi32(N as i32 - 1);
    let mut idx = Idx([0; LANES]);
    for i in 0..2 * N {
        if i < N {
            // V[i] = X
            for h in 0..2 {
                let mut r = [zero; 16];
                for k in 0..16 {
                    r[k] = xs[16 * h + k];
                }
                transpose16(&mut r);
                for l in 0..LANES {
                    // SAFETY: (i*16 + l)*2 + h < N*16*2 <= v.len(); Line is 64-byte aligned.
                    unsafe { _mm512_store_si512(vp.add((i * LANES + l) * 2 + h).cast(), r[l]) };
                }
            }
        } else {
            // X ^= V[j], line index of lane l's V[j_l]: (j_l * 16 + l) * 2.
            let j = _mm512_and_si512(xs[16], mask);
            let o = _mm512_slli_epi32::<1>(_mm512_or_si512(_mm512_slli_epi32::<4>(j), lane_ids));
            // SAFETY: idx is 64-byte aligned and 64 bytes long.
            unsafe { _mm512_store_si512(idx.0.as_mut_ptr().cast(), o) };
            for h in 0..2 {
                let mut r = [zero; 16];
                for l in 0..LANES {
                    // SAFETY: j_l <= N-1, so idx + h < N*16*2 <= v.len(); aligned Line.
                    r[l] = unsafe { _mm512_load_si512(vp.add(idx.0[l] as usize + h).cast()) };
                }
                transpose16(&mut r);
                for k in 0..16 {
                    xs[16 * h + k] = _mm512_xor_si512(xs[16 * h + k], r[k]);
                }
            }
        }
        block_mix(&mut xs);
    }

    for h in 0..2 {
        let mut r = [zero; 16];
        for k in 0..16 {
            r[k] = xs[16 * h + k];
        }
        transpose16(&mut r);
        for l in 0..LANES {
            // SAFETY: x[l] has 32 words; writes words 16h..16h+16.
            unsafe { _mm512_storeu_si512(x[l].as_mut_ptr().add(16 * h).cast(), r[l]) };
        }
    }
}
