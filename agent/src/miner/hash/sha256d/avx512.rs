//! AVX-512F sha256d kernel: 16 nonces per step in one zmm register per state word, using
//! `vprord` for the rotations and `vpternlogd` for Σ/σ, Ch and Maj.
//! Must only be called after run-time detection of `avx512f`; it only proposes candidates
//! (hash word 7), which `Job::confirm` checks before anything is reported.

use core::arch::x86_64::*;

use super::{Job, JobV, A1, E1, IV, K, KW1, KW2, LEN1, LEN2, PAD, SS0_LEN1, SS0_LEN2, SS0_PAD, SS1_LEN2};

type V = __m512i;

#[inline]
#[target_feature(enable = "avx512f")]
fn add(a: V, b: V) -> V {
    _mm512_add_epi32(a, b)
}
#[inline]
#[target_feature(enable = "avx512f")]
fn splat(x: u32) -> V {
    _mm512_set1_epi32(x as i32)
}
#[inline]
#[target_feature(enable = "avx512f")]
fn xor3(a: V, b: V, c: V) -> V {
    _mm512_ternarylogic_epi32::<0x96>(a, b, c)
}
#[inline]
#[target_feature(enable = "avx512f")]
fn bsig0(x: V) -> V {
    xor3(
        _mm512_ror_epi32::<2>(x),
        _mm512_ror_epi32::<13>(x),
        _mm512_ror_epi32::<22>(x),
    )
}
#[inline]
#[target_feature(enable = "avx512f")]
fn bsig1(x: V) -> V {
    xor3(
        _mm512_ror_epi32::<6>(x),
        _mm512_ror_epi32::<11>(x),
        _mm512_ror_epi32::<25>(x),
    )
}
#[inline]
#[target_feature(enable = "avx512f")]
fn ssig0(x: V) -> V {
    xor3(
        _mm512_ror_epi32::<7>(x),
        _mm512_ror_epi32::<18>(x),
        _mm512_srli_epi32::<3>(x),
    )
}
#[inline]
#[target_feature(enable = "avx512f")]
fn ssig1(x: V) -> V {
    xor3(
        _mm512_ror_epi32::<17>(x),
        _mm512_ror_epi32::<19>(x),
        _mm512_srli_epi32::<10>(x),
    )
}
/// e ? f : g
#[inline]
#[target_feature(enable = "avx512f")]
fn ch(e: V, f: V, g: V) -> V {
    _mm512_ternarylogic_epi32::<0xca>(e, f, g)
}
#[inline]
#[target_feature(enable = "avx512f")]
fn maj(a: V, b: V, c: V) -> V {
    _mm512_ternarylogic_epi32::<0xe8>(a, b, c)
}
/// Byte swap of every 32-bit lane (AVX-512F only, no `vpshufb`).
#[inline]
#[target_feature(enable = "avx512f")]
fn bswap(x: V) -> V {
    // bytes [b3 b2 b1 b0] -> ror 8 = [b0 b3 b2 b1], rol 8 = [b2 b1 b0 b3]; take bytes 3,1
    // of the first and bytes 2,0 of the second.
    _mm512_ternarylogic_epi32::<0xca>(
        splat(0xff00_ff00),
        _mm512_ror_epi32::<8>(x),
        _mm512_rol_epi32::<8>(x),
    )
}

#[target_feature(enable = "avx512f")]
pub(super) fn scan(job: &Job, start: u32, count: u32, hits: &mut Vec<u32>) {
    let jv = JobV::new(job, |x| splat(x));
    let lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    let t7 = splat(job.t7);
    let iv7 = splat(IV[7]);
    let count = count as u64;
    let mut done = 0u64;
    while done < count {
        let base = start.wrapping_add(done as u32);
        let w3 = bswap(add(splat(base), lane));
        let e61 = sha256d_lanes!(jv, w3);
        let mut m = _mm512_cmple_epu32_mask(bswap(add(e61, iv7)), t7) as u32;
        if m != 0 {
            let left = count - done;
            if left < 16 {
                m &= (1u32 << left) - 1;
            }
            while m != 0 {
                let nonce = base.wrapping_add(m.trailing_zeros());
                m &= m - 1;
                if job.confirm(nonce) {
                    hits.push(nonce);
                }
            }
        }
        done += 16;
    }
}
