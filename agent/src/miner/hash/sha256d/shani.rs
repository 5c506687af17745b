//! x86 SHA-NI sha256d kernel: `sha256rnds2` does two rounds at a time on the ABEF/CDGH
//! state halves.
//! Must only be called after run-time detection of `sha`, `sse2`, `ssse3` and `sse4.1`; it
//! only proposes candidates (hash word 7), which `Job::confirm` checks before anything is
//! reported. Must never touch ymm/zmm registers: `sha256rnds2` only has a legacy-SSE
//! encoding, and mixing it with dirty upper vector state costs ~100 cycles per instruction.
//!
//! Per nonce it runs 60 `sha256rnds2` (the bottleneck: one per 3 cycles on the Xeon this
//! was tuned on): header block 2 starts from the precomputed state before round 4 (the
//! nonce enters round 3 only as `+ W3` on a and e) with W16..W19 built without the SHA
//! message instructions, and the second hash folds round 0 into two additions and stops
//! after round 60. Speed-ups that were measured, not guessed:
//! - software pipelining: the first hash of one batch of `LANES` nonces is interleaved with
//!   the second hash of the previous batch (the second hash alone stalls on its schedule);
//! - about half of the `sha256msg1` are done with SSE2 shifts instead (`sched_sse`): with
//!   every group on `sha256msg1`/`sha256msg2` the message unit slows `sha256rnds2` down.

use core::arch::x86_64::*;

use super::{small_sigma0, Job, A1, E1, IV, K, LEN1, LEN2, PAD};

/// Nonces hashed together per step.
pub(super) const LANES: u32 = 2;
const N: usize = LANES as usize;

#[inline]
#[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
fn v(x: [u32; 4]) -> __m128i {
    _mm_setr_epi32(x[0] as i32, x[1] as i32, x[2] as i32, x[3] as i32)
}

/// K[4j..4j+4]
#[inline]
#[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
fn kv(j: usize) -> __m128i {
    v([K[4 * j], K[4 * j + 1], K[4 * j + 2], K[4 * j + 3]])
}

/// W[t..t+4] from W[t-16..], W[t-12..], W[t-8..], W[t-4..].
#[inline]
#[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
fn sched(m0: __m128i, m1: __m128i, m2: __m128i, m3: __m128i) -> __m128i {
    _mm_sha256msg2_epu32(
        _mm_add_epi32(_mm_sha256msg1_epu32(m0, m1), _mm_alignr_epi8::<4>(m3, m2)),
        m3,
    )
}

/// `sha256msg1(a, b)` (a + σ0 of the next four words) with plain SSE2 shifts, to take load
/// off the SHA message unit in some groups.
#[inline]
#[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
fn msg1_sse(a: __m128i, b: __m128i) -> __m128i {
    let t = _mm_alignr_epi8::<4>(b, a);
    let r = _mm_xor_si128(
        _mm_xor_si128(_mm_srli_epi32::<7>(t), _mm_slli_epi32::<25>(t)),
        _mm_xor_si128(_mm_srli_epi32::<18>(t), _mm_slli_epi32::<14>(t)),
    );
    _mm_add_epi32(a, _mm_xor_si128(r, _mm_srli_epi32::<3>(t)))
}

/// Like [`sched`] but with [`msg1_sse`].
#[inline]
#[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
fn sched_sse(m0: __m128i, m1: __m128i, m2: __m128i, m3: __m128i) -> __m128i {
    _mm_sha256msg2_epu32(_mm_add_epi32(msg1_sse(m0, m1), _mm_alignr_epi8::<4>(m3, m2)), m3)
}

/// Two rounds with K+W in the low two dwords of `wk`; `x` stays ABEF, `y` CDGH.
#[inline]
#[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
fn r2(x: &mut [__m128i; N], y: &mut [__m128i; N], wk: [__m128i; N]) {
    for i in 0..N {
        let n = _mm_sha256rnds2_epu32(y[i], x[i], wk[i]);
        y[i] = x[i];
        x[i] = n;
    }
}

/// Four rounds with K+W in `wk`.
#[inline]
#[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
fn r4(x: &mut [__m128i; N], y: &mut [__m128i; N], wk: [__m128i; N]) {
    r2(x, y, wk);
    r2(x, y, wk.map(|w| _mm_shuffle_epi32::<0x0e>(w)));
}

#[inline]
#[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
fn map2(a: [__m128i; N], b: [__m128i; N], f: impl Fn(__m128i, __m128i) -> __m128i) -> [__m128i; N] {
    core::array::from_fn(|i| f(a[i], b[i]))
}

#[inline]
#[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
fn add_k(m: [__m128i; N], j: usize) -> [__m128i; N] {
    let k = kv(j);
    m.map(|x| _mm_add_epi32(x, k))
}

/// First hash: message group `j` (W[4j..4j+4]) and its four rounds.
macro_rules! first_group {
    ($sched:ident, $x:ident, $y:ident, $m0:ident, $m1:ident, $m2:ident, $m3:ident; $($j:literal)*) => { $(
        let m4: [__m128i; N] = core::array::from_fn(|i| $sched($m0[i], $m1[i], $m2[i], $m3[i]));
        r4(&mut $x, &mut $y, add_k(m4, $j));
        $m0 = $m1;
        $m1 = $m2;
        $m2 = $m3;
        $m3 = m4;
    )* };
}

/// Second hash: message group `j` and rounds (4j-1, 4j), (4j+1, 4j+2).
macro_rules! second_group {
    ($sched:ident, $x:ident, $y:ident, $m0:ident, $m1:ident, $m2:ident, $m3:ident; $($j:literal)*) => { $(
        let m4: [__m128i; N] = core::array::from_fn(|i| $sched($m0[i], $m1[i], $m2[i], $m3[i]));
        let ka = v([K[4 * $j - 1], K[4 * $j], 0, 0]);
        let kb = v([K[4 * $j + 1], K[4 * $j + 2], 0, 0]);
        r2(&mut $x, &mut $y, map2(m4, $m3, |a, b| _mm_add_epi32(_mm_alignr_epi8::<12>(a, b), ka)));
        r2(&mut $x, &mut $y, m4.map(|w| _mm_add_epi32(_mm_shuffle_epi32::<0x09>(w), kb)));
        $m0 = $m1;
        $m1 = $m2;
        $m2 = $m3;
        $m3 = m4;
    )* };
}

// The rolling message window is updated after the last group too.
#[allow(unused_assignments)]
#[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
pub(super) fn scan(job: &Job, start: u32, count: u32, hits: &mut Vec<u32>) {
    let st = job.st4;
    let abef4 = v([st[5], st[4], st[1], st[0]]);
    let cdgh4 = v([st[7], st[6], st[3], st[2]]);
    let mid = job.mid;
    let mid_abef = v([mid[5], mid[4], mid[1], mid[0]]);
    let mid_cdgh = v([mid[7], mid[6], mid[3], mid[2]]);
    let m1c = v([PAD, 0, 0, 0]);
    let m2c = _mm_setzero_si128();
    let m3c = v([0, 0, 0, LEN1]);
    // K + W of header block 2, rounds 4..15 (nonce independent).
    let kw1 = _mm_add_epi32(m1c, kv(1));
    let kw2 = _mm_add_epi32(m2c, kv(2));
    let kw3 = _mm_add_epi32(m3c, kv(3));
    // W16..W19 = c4 + [0, 0, σ0(W3), W3]; msg1 parts of groups 5..7 are nonce independent.
    let c4 = v([job.w16, job.w17, job.p18, job.p19]);
    let x5 = _mm_sha256msg1_epu32(m1c, m2c);
    let x6 = _mm_sha256msg1_epu32(m2c, m3c);
    let x7 = _mm_sha256msg1_epu32(m3c, c4);
    // Second hash: state after round 0 without W0, and its constant message words.
    let abef1 = v([IV[4], E1, IV[0], A1]);
    let cdgh1 = v([IV[6], IV[5], IV[2], IV[1]]);
    let mask_w0 = v([0, u32::MAX, 0, u32::MAX]);
    let n2c = v([PAD, 0, 0, 0]);
    let n3c = v([0, 0, 0, LEN2]);
    let wk2c = _mm_add_epi32(n2c, kv(2));
    let wk3c = _mm_add_epi32(n3c, kv(3));

    let count = count as u64;
    // Software pipeline: iteration k runs the first hash of batch k interleaved with the
    // second hash of batch k-1, so the SHA unit always has independent chains to work on
    // (the second hash alone stalls on its message schedule). Iteration 0's second hash
    // and the last iteration's first hash are throw-away work.
    let batches = count.div_ceil(N as u64);
    let mut n0 = [_mm_setzero_si128(); N];
    let mut n1 = [_mm_setzero_si128(); N];
    for k in 0..=batches {
        let base = start.wrapping_add((k * N as u64) as u32);
        let w3: [u32; N] = core::array::from_fn(|i| base.wrapping_add(i as u32).swap_bytes());

        // step 0: first hash from the state before round 4; second hash after round 0.
        let mut fx: [__m128i; N] =
            core::array::from_fn(|i| _mm_add_epi32(abef4, _mm_set_epi32(w3[i] as i32, 0, w3[i] as i32, 0)));
        let mut fy = [cdgh4; N];
        let mut sx: [__m128i; N] = core::array::from_fn(|i| {
            _mm_add_epi32(abef1, _mm_and_si128(_mm_shuffle_epi32::<0x00>(n0[i]), mask_w0))
        });
        let mut sy = [cdgh1; N];
        r4(&mut fx, &mut fy, [kw1; N]);
        let wk0 = add_k(n0, 0);
        r2(&mut sx, &mut sy, wk0.map(|w| _mm_shuffle_epi32::<0x09>(w))); // 1, 2
                                                                         // step 1
        r4(&mut fx, &mut fy, [kw2; N]);
        let wk1 = add_k(n1, 1);
        r2(
            &mut sx,
            &mut sy,
            map2(wk1, wk0, |a, b| _mm_alignr_epi8::<12>(a, b)),
        ); // 3, 4
        r2(&mut sx, &mut sy, wk1.map(|w| _mm_shuffle_epi32::<0x09>(w))); // 5, 6
                                                                         // step 2
        r4(&mut fx, &mut fy, [kw3; N]);
        r2(&mut sx, &mut sy, wk1.map(|w| _mm_alignr_epi8::<12>(wk2c, w))); // 7, 8
        r2(&mut sx, &mut sy, [_mm_shuffle_epi32::<0x09>(wk2c); N]); // 9, 10
                                                                    // step 3
        let m4: [__m128i; N] = core::array::from_fn(|i| {
            let w = w3[i];
            _mm_add_epi32(c4, _mm_set_epi32(w as i32, small_sigma0(w) as i32, 0, 0))
        });
        r4(&mut fx, &mut fy, add_k(m4, 4));
        r2(&mut sx, &mut sy, [_mm_alignr_epi8::<12>(wk3c, wk2c); N]); // 11, 12
        r2(&mut sx, &mut sy, [_mm_shuffle_epi32::<0x09>(wk3c); N]); // 13, 14
        let (mut sm0, mut sm1, mut sm2, mut sm3) = (n0, n1, [n2c; N], [n3c; N]);
        // step 4
        let m5: [__m128i; N] = core::array::from_fn(|i| {
            _mm_sha256msg2_epu32(_mm_add_epi32(x5, _mm_alignr_epi8::<4>(m4[i], m3c)), m4[i])
        });
        r4(&mut fx, &mut fy, add_k(m5, 5));
        second_group!(sched, sx, sy, sm0, sm1, sm2, sm3; 4);
        // step 5
        let m6: [__m128i; N] = core::array::from_fn(|i| {
            _mm_sha256msg2_epu32(_mm_add_epi32(x6, _mm_alignr_epi8::<4>(m5[i], m4[i])), m5[i])
        });
        r4(&mut fx, &mut fy, add_k(m6, 6));
        second_group!(sched, sx, sy, sm0, sm1, sm2, sm3; 5);
        // step 6
        let m7: [__m128i; N] = core::array::from_fn(|i| {
            _mm_sha256msg2_epu32(_mm_add_epi32(x7, _mm_alignr_epi8::<4>(m6[i], m5[i])), m6[i])
        });
        r4(&mut fx, &mut fy, add_k(m7, 7));
        second_group!(sched, sx, sy, sm0, sm1, sm2, sm3; 6);
        // steps 7..14; first-hash rolling window W[4j-16..], .., W[4j-4..]
        let (mut fm0, mut fm1, mut fm2, mut fm3) = (m4, m5, m6, m7);
        first_group!(sched_sse, fx, fy, fm0, fm1, fm2, fm3; 8);
        second_group!(sched_sse, sx, sy, sm0, sm1, sm2, sm3; 7);
        first_group!(sched_sse, fx, fy, fm0, fm1, fm2, fm3; 9);
        second_group!(sched, sx, sy, sm0, sm1, sm2, sm3; 8);
        first_group!(sched_sse, fx, fy, fm0, fm1, fm2, fm3; 10);
        second_group!(sched_sse, sx, sy, sm0, sm1, sm2, sm3; 9);
        first_group!(sched, fx, fy, fm0, fm1, fm2, fm3; 11);
        second_group!(sched, sx, sy, sm0, sm1, sm2, sm3; 10);
        first_group!(sched_sse, fx, fy, fm0, fm1, fm2, fm3; 12);
        second_group!(sched_sse, sx, sy, sm0, sm1, sm2, sm3; 11);
        first_group!(sched, fx, fy, fm0, fm1, fm2, fm3; 13);
        second_group!(sched, sx, sy, sm0, sm1, sm2, sm3; 12);
        first_group!(sched_sse, fx, fy, fm0, fm1, fm2, fm3; 14);
        second_group!(sched_sse, sx, sy, sm0, sm1, sm2, sm3; 13);
        first_group!(sched, fx, fy, fm0, fm1, fm2, fm3; 15);
        second_group!(sched, sx, sy, sm0, sm1, sm2, sm3; 14);
        // step 15: feed forward (ABEF/CDGH -> W0..3, W4..7 of this batch's second hash);
        // rounds 59, 60 of the previous batch's second hash.
        let fx = fx.map(|a| _mm_shuffle_epi32::<0x1b>(_mm_add_epi32(a, mid_abef)));
        let fy = fy.map(|c| _mm_shuffle_epi32::<0xb1>(_mm_add_epi32(c, mid_cdgh)));
        let m15: [__m128i; N] = core::array::from_fn(|i| sched(sm0[i], sm1[i], sm2[i], sm3[i]));
        let ka = v([K[59], K[60], 0, 0]);
        r2(
            &mut sx,
            &mut sy,
            map2(m15, sm3, |a, b| _mm_add_epi32(_mm_alignr_epi8::<12>(a, b), ka)),
        );
        n0 = map2(fx, fy, |a, c| _mm_blend_epi16::<0xf0>(a, c));
        n1 = map2(fx, fy, |a, c| _mm_alignr_epi8::<8>(c, a));

        if k == 0 {
            continue;
        }
        let done = (k - 1) * N as u64;
        let prev = start.wrapping_add(done as u32);
        for (i, xi) in sx.iter().enumerate() {
            let h7 = (_mm_extract_epi32::<1>(*xi) as u32).wrapping_add(IV[7]);
            if done + (i as u64) < count && job.is_candidate(h7) {
                let nonce = prev.wrapping_add(i as u32);
                if job.confirm(nonce) {
                    hits.push(nonce);
                }
            }
        }
    }
}
