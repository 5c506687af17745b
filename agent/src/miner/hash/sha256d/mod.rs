//! sha256d (Bitcoin double-SHA256) CPU mining kernels: per-job precomputation and the shared
//! round/schedule macros; kernel selection (`available`, `best`, `by_name`) and the
//! `Scanner` implementation are in `kernel`.
//!
//! Every kernel only *proposes* candidate nonces (from hash word 7); a nonce is reported as
//! a hit only after the portable reference `sha256d` confirms it meets the target. Never
//! report a hit that the reference did not confirm, and never call a `#[target_feature]`
//! kernel without having detected that feature at run time.

use crate::miner::work::{Target, Work};

// ---------------------------------------------------------------------------------------
// Constants
// ---------------------------------------------------------------------------------------

pub(crate) const K: [u32; 64] = [
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
];

pub(crate) const IV: [u32; 8] = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];

pub(crate) const fn big_sigma0(x: u32) -> u32 {
    x.rotate_right(2) ^ x.rotate_right(13) ^ x.rotate_right(22)
}
pub(crate) const fn big_sigma1(x: u32) -> u32 {
    x.rotate_right(6) ^ x.rotate_right(11) ^ x.rotate_right(25)
}
pub(crate) const fn small_sigma0(x: u32) -> u32 {
    x.rotate_right(7) ^ x.rotate_right(18) ^ (x >> 3)
}
pub(crate) const fn small_sigma1(x: u32) -> u32 {
    x.rotate_right(17) ^ x.rotate_right(19) ^ (x >> 10)
}
pub(crate) const fn ch32(e: u32, f: u32, g: u32) -> u32 {
    (e & f) ^ (!e & g)
}
pub(crate) const fn maj32(a: u32, b: u32, c: u32) -> u32 {
    (a & b) ^ (a & c) ^ (b & c)
}

/// Padding word right after the 16 data bytes of the header's second block.
pub(crate) const PAD: u32 = 0x8000_0000;
/// Bit length of the 80-byte header (last word of its second block).
pub(crate) const LEN1: u32 = 640;
/// Bit length of the 32-byte first hash (last word of the second hash's block).
pub(crate) const LEN2: u32 = 256;

/// K[t] + W[t] of the header's second block for the nonce-free rounds 4..15
/// (W4 = padding, W5..W14 = 0, W15 = length). Entries 0..3 are unused.
pub(crate) const KW1: [u32; 16] = {
    let mut kw = [0u32; 16];
    let mut t = 4;
    while t < 16 {
        kw[t] = K[t];
        t += 1;
    }
    kw[4] = K[4].wrapping_add(PAD);
    kw[15] = K[15].wrapping_add(LEN1);
    kw
};

/// K[t] + W[t] of the second hash's block for the constant rounds 8..15
/// (W8 = padding, W9..W14 = 0, W15 = length). Entries 0..7 are unused.
pub(crate) const KW2: [u32; 16] = {
    let mut kw = [0u32; 16];
    let mut t = 8;
    while t < 16 {
        kw[t] = K[t];
        t += 1;
    }
    kw[8] = K[8].wrapping_add(PAD);
    kw[15] = K[15].wrapping_add(LEN2);
    kw
};

/// Second hash, round 0 (state = IV): T1 without W0.
const T1_0: u32 = IV[7]
    .wrapping_add(big_sigma1(IV[4]))
    .wrapping_add(ch32(IV[4], IV[5], IV[6]))
    .wrapping_add(K[0]);
/// Second hash: a after round 0 is `A1 + W0`.
pub(crate) const A1: u32 = T1_0
    .wrapping_add(big_sigma0(IV[0]))
    .wrapping_add(maj32(IV[0], IV[1], IV[2]));
/// Second hash: e after round 0 is `E1 + W0`.
pub(crate) const E1: u32 = IV[3].wrapping_add(T1_0);

pub(crate) const SS0_PAD: u32 = small_sigma0(PAD);
pub(crate) const SS0_LEN1: u32 = small_sigma0(LEN1);
pub(crate) const SS1_LEN1: u32 = small_sigma1(LEN1);
pub(crate) const SS0_LEN2: u32 = small_sigma0(LEN2);
pub(crate) const SS1_LEN2: u32 = small_sigma1(LEN2);

/// Plain SHA-256 compression of one 64-byte block (used for the per-job midstate).
fn compress(state: &[u32; 8], block: &[u8]) -> [u32; 8] {
    let mut w = [0u32; 64];
    for (t, word) in block.chunks_exact(4).take(16).enumerate() {
        w[t] = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
    }
    for t in 16..64 {
        w[t] = small_sigma1(w[t - 2])
            .wrapping_add(w[t - 7])
            .wrapping_add(small_sigma0(w[t - 15]))
            .wrapping_add(w[t - 16]);
    }
    let mut s = *state;
    for t in 0..64 {
        s = round32(s, K[t].wrapping_add(w[t]));
    }
    let mut out = *state;
    for (o, x) in out.iter_mut().zip(s) {
        *o = o.wrapping_add(x);
    }
    out
}

/// One scalar SHA-256 round on an [a..h] state.
fn round32(s: [u32; 8], kw: u32) -> [u32; 8] {
    let [a, b, c, d, e, f, g, h] = s;
    let t1 = h
        .wrapping_add(big_sigma1(e))
        .wrapping_add(ch32(e, f, g))
        .wrapping_add(kw);
    let t2 = big_sigma0(a).wrapping_add(maj32(a, b, c));
    [t1.wrapping_add(t2), a, b, c, d.wrapping_add(t1), e, f, g]
}

// ---------------------------------------------------------------------------------------
// Per-job precomputation
// ---------------------------------------------------------------------------------------

/// Everything about a job that does not depend on the nonce.
///
/// Second block of the header: W0..W2 = header bytes 64..76, W3 = nonce (big-endian word),
/// W4 = padding, W5..W14 = 0, W15 = 640.
#[derive(Clone, Debug)]
pub(crate) struct Job {
    pub header: [u8; 80],
    pub target: Target,
    /// Top 32 bits of the target (its bytes 28..32 read little-endian). A nonce is a
    /// candidate iff byte-swapped hash word 7 is <= this.
    pub t7: u32,
    /// State after the first 64 header bytes.
    pub mid: [u32; 8],
    /// State a..h before round 4 of the second block, except that `a` and `e` still lack
    /// the `+ W3` (nonce) term of round 3.
    pub st4: [u32; 8],
    /// W16 and W17 (nonce independent) and K + W for rounds 16 and 17.
    pub w16: u32,
    pub w17: u32,
    pub kw16: u32,
    pub kw17: u32,
    /// W18 = p18 + σ0(W3); W19 = p19 + W3; W31 = σ1(W29) + W24 + p31;
    /// W32 = σ1(W30) + W25 + p32.
    pub p18: u32,
    pub p19: u32,
    pub p31: u32,
    pub p32: u32,
}

impl Job {
    pub(crate) fn new(work: &Work) -> Job {
        let header = work.header;
        let mid = compress(&IV, &header[..64]);
        let word = |i: usize| {
            u32::from_be_bytes([
                header[64 + 4 * i],
                header[65 + 4 * i],
                header[66 + 4 * i],
                header[67 + 4 * i],
            ])
        };
        let w = [word(0), word(1), word(2)];
        let mut s = mid;
        for (t, &wt) in w.iter().enumerate() {
            s = round32(s, K[t].wrapping_add(wt));
        }
        // Round 3 without W3: T1 = t1 + W3, a' = t1 + T2 + W3, e' = d + t1 + W3.
        let [a, b, c, d, e, f, g, h] = s;
        let t1 = h
            .wrapping_add(big_sigma1(e))
            .wrapping_add(ch32(e, f, g))
            .wrapping_add(K[3]);
        let t2 = big_sigma0(a).wrapping_add(maj32(a, b, c));
        let st4 = [t1.wrapping_add(t2), a, b, c, d.wrapping_add(t1), e, f, g];

        let w16 = small_sigma0(w[1]).wrapping_add(w[0]);
        let w17 = SS1_LEN1.wrapping_add(small_sigma0(w[2])).wrapping_add(w[1]);
        let t7 = u32::from_le_bytes([
            work.target.0[28],
            work.target.0[29],
            work.target.0[30],
            work.target.0[31],
        ]);
        Job {
            header,
            target: work.target,
            t7,
            mid,
            st4,
            w16,
            w17,
            kw16: K[16].wrapping_add(w16),
            kw17: K[17].wrapping_add(w17),
            p18: small_sigma1(w16).wrapping_add(w[2]),
            p19: small_sigma1(w17).wrapping_add(SS0_PAD),
            p31: small_sigma0(w16).wrapping_add(LEN1),
            p32: small_sigma0(w17).wrapping_add(w16),
        }
    }

    /// Full check of a candidate with the portable reference implementation.
    #[inline(never)]
    pub(crate) fn confirm(&self, nonce: u32) -> bool {
        let mut header = self.header;
        header[76..80].copy_from_slice(&nonce.to_le_bytes());
        self.target.is_met_by(&sha256d(&header))
    }

    /// Scalar candidate filter on the final hash word 7 (`IV[7] + e61`).
    #[inline(always)]
    pub(crate) fn is_candidate(&self, h7: u32) -> bool {
        h7.swap_bytes() <= self.t7
    }
}

/// The nonce-independent job values broadcast to a lane type `V` (u32 or a SIMD vector).
#[derive(Clone, Copy)]
pub(crate) struct JobV<V> {
    pub mid: [V; 8],
    pub st4: [V; 8],
    pub w16: V,
    pub w17: V,
    pub kw16: V,
    pub kw17: V,
    pub p18: V,
    pub p19: V,
    pub p31: V,
    pub p32: V,
}

impl<V: Copy> JobV<V> {
    #[inline(always)]
    pub(crate) fn new(j: &Job, splat: impl Fn(u32) -> V) -> Self {
        JobV {
            mid: j.mid.map(&splat),
            st4: j.st4.map(&splat),
            w16: splat(j.w16),
            w17: splat(j.w17),
            kw16: splat(j.kw16),
            kw17: splat(j.kw17),
            p18: splat(j.p18),
            p19: splat(j.p19),
            p31: splat(j.p31),
            p32: splat(j.p32),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Shared lane-generic round code.
//
// These macros expand inside a kernel module that provides, for its lane type V:
// `add(V, V)`, `splat(u32)`, `bsig0`, `bsig1` (Σ0, Σ1), `ssig0`, `ssig1` (σ0, σ1),
// `ch(e, f, g)` and `maj(a, b, c)`. All indices are compile-time constants, so the
// state/schedule arrays live in registers and carry no bounds checks.
// ---------------------------------------------------------------------------------------

/// One round `t` on the rolling state array `s`: before round t, word x (a = 0 .. h = 7)
/// of the state is `s[(x + 64 - t) % 8]`.
macro_rules! sha256d_round {
    ($s:ident, $t:literal, $kw:expr) => {{
        let kw = $kw;
        let a = $s[(64 - $t) % 8];
        let b = $s[(65 - $t) % 8];
        let c = $s[(66 - $t) % 8];
        let e = $s[(68 - $t) % 8];
        let f = $s[(69 - $t) % 8];
        let g = $s[(70 - $t) % 8];
        let h = $s[(71 - $t) % 8];
        let t1 = add(add(add(h, kw), ch(e, f, g)), bsig1(e));
        $s[(67 - $t) % 8] = add($s[(67 - $t) % 8], t1);
        $s[(71 - $t) % 8] = add(add(bsig0(a), maj(a, b, c)), t1);
    }};
}

/// Message schedule step `t` on the rolling array `w` (W[t] lives in `w[t % 16]`).
macro_rules! sha256d_sched {
    ($w:ident, $t:literal) => {{
        $w[$t % 16] = add(
            add(
                add(ssig1($w[($t - 2) % 16]), $w[($t - 7) % 16]),
                ssig0($w[($t - 15) % 16]),
            ),
            $w[$t % 16],
        );
    }};
}

/// Rounds whose W is already in `w`.
macro_rules! sha256d_rounds_w {
    ($s:ident, $w:ident; $($t:literal)*) => {
        $( sha256d_round!($s, $t, add($w[$t % 16], splat(K[$t]))); )*
    };
}

/// Rounds with the general message schedule.
macro_rules! sha256d_rounds_sched {
    ($s:ident, $w:ident; $($t:literal)*) => {
        $(
            sha256d_sched!($w, $t);
            sha256d_round!($s, $t, add($w[$t % 16], splat(K[$t])));
        )*
    };
}

/// Rounds whose K + W is a compile-time constant in `$kw[t]`.
macro_rules! sha256d_rounds_const {
    ($s:ident, $kw:ident; $($t:literal)*) => {
        $( sha256d_round!($s, $t, splat($kw[$t])); )*
    };
}

/// sha256d of the header for the lane vector `$w3` (big-endian nonce words), using the
/// per-job values `$jv: JobV<V>`. Evaluates to e61 of the second hash: the final hash word 7
/// is `IV[7] + e61`. Rounds 0..3 of the header's second block and the nonce-independent
/// parts of its schedule are precomputed; the second hash stops after what round 60 needs
/// for e (rounds 57..60 compute only e).
macro_rules! sha256d_lanes {
    ($jv:expr, $w3:expr) => {{
        let jv = &$jv;
        let w3 = $w3;
        // ---- first hash, header block 2, from the state before round 4.
        let mut s = [
            add(jv.st4[4], w3),
            jv.st4[5],
            jv.st4[6],
            jv.st4[7],
            add(jv.st4[0], w3),
            jv.st4[1],
            jv.st4[2],
            jv.st4[3],
        ];
        sha256d_rounds_const!(s, KW1; 4 5 6 7 8 9 10 11 12 13 14 15);
        sha256d_round!(s, 16, jv.kw16);
        sha256d_round!(s, 17, jv.kw17);
        let mut w = [w3; 16];
        w[2] = add(jv.p18, ssig0(w3)); // W18
        sha256d_rounds_w!(s, w; 18);
        w[3] = add(jv.p19, w3); // W19
        sha256d_rounds_w!(s, w; 19);
        w[4] = add(ssig1(w[2]), splat(PAD)); // W20
        sha256d_rounds_w!(s, w; 20);
        w[5] = ssig1(w[3]); // W21
        sha256d_rounds_w!(s, w; 21);
        w[6] = add(ssig1(w[4]), splat(LEN1)); // W22
        sha256d_rounds_w!(s, w; 22);
        w[7] = add(ssig1(w[5]), jv.w16); // W23
        sha256d_rounds_w!(s, w; 23);
        w[8] = add(ssig1(w[6]), jv.w17); // W24
        sha256d_rounds_w!(s, w; 24);
        w[9] = add(ssig1(w[7]), w[2]); // W25
        sha256d_rounds_w!(s, w; 25);
        w[10] = add(ssig1(w[8]), w[3]); // W26
        sha256d_rounds_w!(s, w; 26);
        w[11] = add(ssig1(w[9]), w[4]); // W27
        sha256d_rounds_w!(s, w; 27);
        w[12] = add(ssig1(w[10]), w[5]); // W28
        sha256d_rounds_w!(s, w; 28);
        w[13] = add(ssig1(w[11]), w[6]); // W29
        sha256d_rounds_w!(s, w; 29);
        w[14] = add(add(ssig1(w[12]), w[7]), splat(SS0_LEN1)); // W30
        sha256d_rounds_w!(s, w; 30);
        w[15] = add(add(ssig1(w[13]), w[8]), jv.p31); // W31
        sha256d_rounds_w!(s, w; 31);
        w[0] = add(add(ssig1(w[14]), w[9]), jv.p32); // W32
        sha256d_rounds_w!(s, w; 32);
        w[1] = add(add(add(ssig1(w[15]), w[10]), ssig0(w[2])), jv.w17); // W33
        sha256d_rounds_w!(s, w; 33);
        sha256d_rounds_sched!(s, w;
            34 35 36 37 38 39 40 41 42 43 44 45 46 47 48 49
            50 51 52 53 54 55 56 57 58 59 60 61 62 63);

        // ---- second hash: W0..W7 = first hash, then padding; state after round 0.
        let mut w = [
            add(s[0], jv.mid[0]),
            add(s[1], jv.mid[1]),
            add(s[2], jv.mid[2]),
            add(s[3], jv.mid[3]),
            add(s[4], jv.mid[4]),
            add(s[5], jv.mid[5]),
            add(s[6], jv.mid[6]),
            add(s[7], jv.mid[7]),
            w3,
            w3,
            w3,
            w3,
            w3,
            w3,
            w3,
            w3,
        ];
        let mut s = [
            splat(IV[0]),
            splat(IV[1]),
            splat(IV[2]),
            add(splat(E1), w[0]),
            splat(IV[4]),
            splat(IV[5]),
            splat(IV[6]),
            add(splat(A1), w[0]),
        ];
        sha256d_rounds_w!(s, w; 1 2 3 4 5 6 7);
        sha256d_rounds_const!(s, KW2; 8 9 10 11 12 13 14 15);
        w[0] = add(ssig0(w[1]), w[0]); // W16
        sha256d_rounds_w!(s, w; 16);
        w[1] = add(add(ssig0(w[2]), w[1]), splat(SS1_LEN2)); // W17
        sha256d_rounds_w!(s, w; 17);
        w[2] = add(add(ssig1(w[0]), ssig0(w[3])), w[2]); // W18
        sha256d_rounds_w!(s, w; 18);
        w[3] = add(add(ssig1(w[1]), ssig0(w[4])), w[3]); // W19
        sha256d_rounds_w!(s, w; 19);
        w[4] = add(add(ssig1(w[2]), ssig0(w[5])), w[4]); // W20
        sha256d_rounds_w!(s, w; 20);
        w[5] = add(add(ssig1(w[3]), ssig0(w[6])), w[5]); // W21
        sha256d_rounds_w!(s, w; 21);
        w[6] = add(add(add(ssig1(w[4]), ssig0(w[7])), w[6]), splat(LEN2)); // W22
        sha256d_rounds_w!(s, w; 22);
        w[7] = add(add(add(ssig1(w[5]), w[0]), w[7]), splat(SS0_PAD)); // W23
        sha256d_rounds_w!(s, w; 23);
        w[8] = add(add(ssig1(w[6]), w[1]), splat(PAD)); // W24
        sha256d_rounds_w!(s, w; 24);
        w[9] = add(ssig1(w[7]), w[2]); // W25
        sha256d_rounds_w!(s, w; 25);
        w[10] = add(ssig1(w[8]), w[3]); // W26
        sha256d_rounds_w!(s, w; 26);
        w[11] = add(ssig1(w[9]), w[4]); // W27
        sha256d_rounds_w!(s, w; 27);
        w[12] = add(ssig1(w[10]), w[5]); // W28
        sha256d_rounds_w!(s, w; 28);
        w[13] = add(ssig1(w[11]), w[6]); // W29
        sha256d_rounds_w!(s, w; 29);
        w[14] = add(add(ssig1(w[12]), w[7]), splat(SS0_LEN2)); // W30
        sha256d_rounds_w!(s, w; 30);
        w[15] = add(add(add(ssig1(w[13]), w[8]), ssig0(w[0])), splat(LEN2)); // W31
        sha256d_rounds_w!(s, w; 31);
        sha256d_rounds_sched!(s, w;
            32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47
            48 49 50 51 52 53 54 55 56);
        // State before round 57; from here on only e is needed.
        let (a57, b57, c57, d57) = (s[7], s[0], s[1], s[2]);
        let (e57, f57, g57, h57) = (s[3], s[4], s[5], s[6]);
        sha256d_sched!(w, 57);
        let e58 = add(
            add(add(add(h57, add(w[57 % 16], splat(K[57]))), ch(e57, f57, g57)), bsig1(e57)),
            d57,
        );
        sha256d_sched!(w, 58);
        let e59 = add(
            add(add(add(g57, add(w[58 % 16], splat(K[58]))), ch(e58, e57, f57)), bsig1(e58)),
            c57,
        );
        sha256d_sched!(w, 59);
        let e60 = add(
            add(add(add(f57, add(w[59 % 16], splat(K[59]))), ch(e59, e58, e57)), bsig1(e59)),
            b57,
        );
        sha256d_sched!(w, 60);
        add(
            add(add(add(e57, add(w[60 % 16], splat(K[60]))), ch(e60, e59, e58)), bsig1(e60)),
            a57,
        )
    }};
}

#[cfg(target_arch = "aarch64")]
mod armv8;
#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
mod avx512;
mod scalar;
#[cfg(target_arch = "x86_64")]
mod shani;
#[cfg(test)]
mod tests;

mod kernel;
pub use kernel::{available, best, by_name, Kernel, Sha256dScanner};

/// Reference double SHA-256 (`sha256(sha256(data))`) from the `sha2` crate: an implementation
/// independent of the kernels, which are checked against it (and confirm every hit with it).
pub fn sha256d(data: &[u8]) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    Sha256::digest(Sha256::digest(data)).into()
}
