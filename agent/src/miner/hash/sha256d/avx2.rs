//! AVX2 sha256d kernel: 8 nonces per step in one ymm register per state word (AVX2 has no
//! vector rotate, so rotations are shift/shift/xor).
//! Must only be called after run-time detection of `avx2`; it only proposes candidates
//! (hash word 7), which `Job::confirm` checks before anything is reported.

use core::arch::x86_64::*;

use super::{Job, JobV, A1, E1, IV, K, KW1, KW2, LEN1, LEN2, PAD, SS0_LEN1, SS0_LEN2, SS0_PAD, SS1_LEN2};

type V = __m256i;

#[inline]
#[target_feature(enable = "avx2")]
fn add(a: V, b: V) -> V {
    _mm256_add_epi32(a, b)
}
#[inline]
#[target_feature(enable = "avx2")]
fn splat(x: u32) -> V {
    _mm256_set1_epi32(x as i32)
}
#[inline]
#[target_feature(enable = "avx2")]
fn xor(a: V, b: V) -> V {
    _mm256_xor_si256(a, b)
}
#[inline]
#[target_feature(enable = "avx2")]
fn bsig0(x: V) -> V {
    // ror2 ^ ror13 ^ ror22
    let r = xor(
        xor(_mm256_srli_epi32::<2>(x), _mm256_srli_epi32::<13>(x)),
        _mm256_srli_epi32::<22>(x),
    );
    let l = xor(
        xor(_mm256_slli_epi32::<30>(x), _mm256_slli_epi32::<19>(x)),
        _mm256_slli_epi32::<10>(x),
    );
    xor(r, l)
}
#[inline]
#[target_feature(enable = "avx2")]
fn bsig1(x: V) -> V {
    // ror6 ^ ror11 ^ ror25
    let r = xor(
        xor(_mm256_srli_epi32::<6>(x), _mm256_srli_epi32::<11>(x)),
        _mm256_srli_epi32::<25>(x),
    );
    let l = xor(
        xor(_mm256_slli_epi32::<26>(x), _mm256_slli_epi32::<21>(x)),
        _mm256_slli_epi32::<7>(x),
    );
    xor(r, l)
}
#[inline]
#[target_feature(enable = "avx2")]
fn ssig0(x: V) -> V {
    // ror7 ^ ror18 ^ shr3
    let r = xor(
        xor(_mm256_srli_epi32::<7>(x), _mm256_srli_epi32::<18>(x)),
        _mm256_srli_epi32::<3>(x),
    );
    xor(r, xor(_mm256_slli_epi32::<25>(x), _mm256_slli_epi32::<14>(x)))
}
#[inline]
#[target_feature(enable = "avx2")]
fn ssig1(x: V) -> V {
    // ror17 ^ ror19 ^ shr10
    let r = xor(
        xor(_mm256_srli_epi32::<17>(x), _mm256_srli_epi32::<19>(x)),
        _mm256_srli_epi32::<10>(x),
    );
    xor(r, xor(_mm256_slli_epi32::<15>(x), _mm256_slli_epi32::<13>(x)))
}
#[inline]
#[target_feature(enable = "avx2")]
fn ch(e: V, f: V, g: V) -> V {
    xor(_mm256_and_si256(xor(f, g), e), g)
}
/// ((a ^ b) & (b ^ c)) ^ b: the `b ^ c` of this round is the `a ^ b` of the previous one,
/// which the compiler reuses.
#[inline]
#[target_feature(enable = "avx2")]
fn maj(a: V, b: V, c: V) -> V {
    xor(_mm256_and_si256(xor(a, b), xor(b, c)), b)
}
#[inline]
#[target_feature(enable = "avx2")]
fn bswap(x: V) -> V {
    let m = _mm256_setr_epi8(
        3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8, 15, 14, 13, 12, 3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8, 15, 14,
        13, 12,
    );
    _mm256_shuffle_epi8(x, m)
}

#[target_feature(enable = "avx2")]
pub(super) fn scan(job: &Job, start: u32, count: u32, hits: &mut Vec<u32>) {
    let jv = JobV::new(job, |x| splat(x));
    let lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    let t7 = splat(job.t7);
    let iv7 = splat(IV[7]);
    let count = count as u64;
    let mut done = 0u64;
    while done < count {
        let base = start.wrapping_add(done as u32);
        let w3 = bswap(add(splat(base), lane));
        let e61 = sha256d_lanes!(jv, w3);
        let h = bswap(add(e61, iv7));
        // h <= t7 (unsigned) <=> max(h, t7) == t7
        let le = _mm256_cmpeq_epi32(_mm256_max_epu32(h, t7), t7);
        let mut m = _mm256_movemask_ps(_mm256_castsi256_ps(le)) as u32;
        if m != 0 {
            let left = count - done;
            if left < 8 {
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
        done += 8;
    }
}
