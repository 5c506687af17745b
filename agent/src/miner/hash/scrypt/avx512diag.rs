//! AVX-512F ROMix (N=1024, r=1), "SIMD128" diagonal layout: each 128-bit
//! lane of a zmm register holds one hash's Salsa20 block in diagonal order, so
//! one zmm carries 4 hashes and `G` register groups are interleaved for ILP.
//! The alternative to the lane-sliced `avx512` kernel. Measured on Sapphire
//! Rapids it is ~12% slower with G = 2 (8 hashes, 1 MiB scratchpad) and ~25%
//! slower with G = 4 (register spills); the 8-lane form is kept because its
//! scratchpad fits a 1 MiB L2 (Skylake-SP class) where 16 x 128 KiB does not.
//!
//! Must never be constructed unless `avx512f` was detected at run time, and
//! never address the scratchpad with an index not masked to N - 1.

#![allow(clippy::needless_range_loop)] // fixed-size register arrays, fully unrolled

use core::arch::x86_64::*;

use super::{scratchpad, Kernel, Line, BLOCK_WORDS, N};

/// Word order of the diagonal layout: chunk c of a 16-word block holds words
/// DIAG[c][0..4] (X0 = 0,5,10,15; X1 = 12,1,6,11; X2 = 8,13,2,7; X3 = 4,9,14,3).
const DIAG: [[usize; 4]; 4] = [[0, 5, 10, 15], [12, 1, 6, 11], [8, 13, 2, 7], [4, 9, 14, 3]];

pub(super) struct Avx512DiagKernel<const G: usize> {
    v: Vec<Line>,
}

impl<const G: usize> Avx512DiagKernel<G> {
    pub(super) fn new() -> Option<Self> {
        if is_x86_feature_detected!("avx512f") {
            Some(Avx512DiagKernel { v: scratchpad(4 * G) })
        } else {
            None
        }
    }
}

impl Kernel for Avx512DiagKernel<2> {
    const NAME: &'static str = "scrypt-avx512diag8";
    const LANES: usize = 8;

    fn romix(&mut self, x: &mut [[u32; BLOCK_WORDS]]) {
        // SAFETY: an Avx512DiagKernel only exists if avx512f was detected.
        unsafe { romix::<2>(x, &mut self.v) }
    }
}

/// `a ^= rotl(b + c, R)` on all groups.
macro_rules! qstep {
    ($s:ident, $a:expr, $b:expr, $c:expr, $r:expr) => {
        for g in 0..G {
            $s[g][$a] = _mm512_xor_si512(
                $s[g][$a],
                _mm512_rol_epi32::<$r>(_mm512_add_epi32($s[g][$b], $s[g][$c])),
            );
        }
    };
}

/// Salsa20/8 on G groups of 4 diagonal registers (4 hashes each), in place.
#[inline]
#[target_feature(enable = "avx512f")]
fn salsa<const G: usize>(b: &mut [[__m512i; 4]; G]) {
    let mut s = *b;
    for _ in 0..4 {
        qstep!(s, 3, 0, 1, 7);
        qstep!(s, 2, 3, 0, 9);
        qstep!(s, 1, 2, 3, 13);
        qstep!(s, 0, 1, 2, 18);
        for g in 0..G {
            s[g][3] = _mm512_shuffle_epi32::<0x93>(s[g][3]);
            s[g][2] = _mm512_shuffle_epi32::<0x4e>(s[g][2]);
            s[g][1] = _mm512_shuffle_epi32::<0x39>(s[g][1]);
        }
        qstep!(s, 1, 0, 3, 7);
        qstep!(s, 2, 1, 0, 9);
        qstep!(s, 3, 2, 1, 13);
        qstep!(s, 0, 3, 2, 18);
        for g in 0..G {
            s[g][1] = _mm512_shuffle_epi32::<0x93>(s[g][1]);
            s[g][2] = _mm512_shuffle_epi32::<0x4e>(s[g][2]);
            s[g][3] = _mm512_shuffle_epi32::<0x39>(s[g][3]);
        }
    }
    for g in 0..G {
        for k in 0..4 {
            b[g][k] = _mm512_add_epi32(b[g][k], s[g][k]);
        }
    }
}

/// BlockMix r = 1 on G groups; registers 0..4 = B0, 4..8 = B1.
#[inline]
#[target_feature(enable = "avx512f")]
fn block_mix<const G: usize>(xs: &mut [[__m512i; 8]; G]) {
    let mut t = [[_mm512_setzero_si512(); 4]; G];
    for g in 0..G {
        for k in 0..4 {
            t[g][k] = _mm512_xor_si512(xs[g][k], xs[g][4 + k]);
        }
    }
    salsa(&mut t);
    for g in 0..G {
        for k in 0..4 {
            xs[g][k] = t[g][k];
            t[g][k] = _mm512_xor_si512(t[g][k], xs[g][4 + k]);
        }
    }
    salsa(&mut t);
    for g in 0..G {
        for k in 0..4 {
            xs[g][4 + k] = t[g][k];
        }
    }
}

/// # Safety
/// The CPU must support avx512f.
#[target_feature(enable = "avx512f")]
unsafe fn romix<const G: usize>(x: &mut [[u32; BLOCK_WORDS]], v: &mut [Line]) {
    assert!(x.len() == 4 * G, "the scanner passes exactly LANES blocks");
    assert!(v.len() >= 4 * G * N * 2, "scratchpad too small");
    // Row i, group g, chunk c (one zmm = chunk c of the group's 4 hashes) at
    // zmm index (i * G + g) * 8 + c.
    let vp = v.as_mut_ptr().cast::<__m512i>();
    let mut xs = [[_mm512_setzero_si512(); 8]; G];
    for g in 0..G {
        for c in 0..8 {
            let mut w = [0u32; 16];
            for h in 0..4 {
                for e in 0..4 {
                    w[4 * h + e] = x[4 * g + h][16 * (c / 4) + DIAG[c % 4][e]];
                }
            }
            // SAFETY: reads the 16-word local array.
            xs[g][c] = unsafe { _mm512_loadu_si512(w.as_ptr().cast()) };
        }
    }
    let masks: [__mmask16; 4] = [0x000f, 0x00f0, 0x0f00, 0xf000];
    for i in 0..2 * N {
        if i < N {
            for g in 0..G {
                for c in 0..8 {
                    // SAFETY: (i*G + g)*8 + c < N*G*8 zmm = v's size; aligned.
                    unsafe { _mm512_store_si512(vp.add((i * G + g) * 8 + c).cast(), xs[g][c]) };
                }
            }
        } else {
            for g in 0..G {
                let mut jw = [0u32; 16];
                // SAFETY: writes the 16-word local array.
                unsafe { _mm512_storeu_si512(jw.as_mut_ptr().cast(), xs[g][4]) };
                let base: [usize; 4] = core::array::from_fn(|h| ((jw[4 * h] as usize & (N - 1)) * G + g) * 8);
                for c in 0..8 {
                    // SAFETY: j <= N-1 so every index < N*G*8 zmm = v's size; aligned.
                    let mut r = unsafe { _mm512_load_si512(vp.add(base[0] + c).cast()) };
                    for h in 1..4 {
                        r = unsafe { _mm512_mask_load_epi32(r, masks[h], vp.add(base[h] + c).cast()) };
                    }
                    xs[g][c] = _mm512_xor_si512(xs[g][c], r);
                }
            }
        }
        block_mix(&mut xs);
    }
    for g in 0..G {
        for c in 0..8 {
            let mut w = [0u32; 16];
            // SAFETY: writes the 16-word local array.
            unsafe { _mm512_storeu_si512(w.as_mut_ptr().cast(), xs[g][c]) };
            for h in 0..4 {
                for e in 0..4 {
                    x[4 * g + h][16 * (c / 4) + DIAG[c % 4][e]] = w[4 * h + e];
                }
            }
        }
    }
}
