//! Portable Salsa20/8, BlockMix and ROMix: the generic slow scrypt reference
//! (any N, r, p) and the one-lane N=1024, r=1 kernel used where no SIMD
//! kernel applies. Also defines `salsa20_8_rounds!`, the round schedule the
//! lane-sliced SIMD kernels share.
//!
//! Must never use `unsafe`, architecture intrinsics or runtime feature
//! detection: this is the ground truth the SIMD kernels are tested against.

use super::pbkdf2::pbkdf2_sha256;
use super::Kernel;

/// The 8 rounds (4 double rounds, fully unrolled) of Salsa20/8 on a 16-word
/// state `$x`, written as 128 invocations of `$step!($x, dst, a, b, rot)` meaning
/// `x[dst] ^= rotl(x[a] + x[b], rot)`. Each kernel supplies its own `$step`.
macro_rules! salsa20_8_rounds {
    ($step:ident, $x:ident) => {
        salsa20_double_round!($step, $x);
        salsa20_double_round!($step, $x);
        salsa20_double_round!($step, $x);
        salsa20_double_round!($step, $x);
    };
}

/// One Salsa20 double round (column round then row round); see `salsa20_8_rounds!`.
macro_rules! salsa20_double_round {
    ($step:ident, $x:ident) => {{
        // columns
        $step!($x, 4, 0, 12, 7);
        $step!($x, 9, 5, 1, 7);
        $step!($x, 14, 10, 6, 7);
        $step!($x, 3, 15, 11, 7);
        $step!($x, 8, 4, 0, 9);
        $step!($x, 13, 9, 5, 9);
        $step!($x, 2, 14, 10, 9);
        $step!($x, 7, 3, 15, 9);
        $step!($x, 12, 8, 4, 13);
        $step!($x, 1, 13, 9, 13);
        $step!($x, 6, 2, 14, 13);
        $step!($x, 11, 7, 3, 13);
        $step!($x, 0, 12, 8, 18);
        $step!($x, 5, 1, 13, 18);
        $step!($x, 10, 6, 2, 18);
        $step!($x, 15, 11, 7, 18);
        // rows
        $step!($x, 1, 0, 3, 7);
        $step!($x, 6, 5, 4, 7);
        $step!($x, 11, 10, 9, 7);
        $step!($x, 12, 15, 14, 7);
        $step!($x, 2, 1, 0, 9);
        $step!($x, 7, 6, 5, 9);
        $step!($x, 8, 11, 10, 9);
        $step!($x, 13, 12, 15, 9);
        $step!($x, 3, 2, 1, 13);
        $step!($x, 4, 7, 6, 13);
        $step!($x, 9, 8, 11, 13);
        $step!($x, 14, 13, 12, 13);
        $step!($x, 0, 3, 2, 18);
        $step!($x, 5, 4, 7, 18);
        $step!($x, 10, 9, 8, 18);
        $step!($x, 15, 14, 13, 18);
    }};
}
// The SIMD kernels' lane-wise rounds; armv7 has only this scalar kernel.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
pub(super) use {salsa20_8_rounds, salsa20_double_round};

macro_rules! step {
    ($x:ident, $d:expr, $a:expr, $b:expr, $r:expr) => {
        $x[$d] ^= $x[$a].wrapping_add($x[$b]).rotate_left($r)
    };
}

/// Salsa20/8 core: `b = b + rounds(b)`.
#[inline]
pub fn salsa20_8(b: &mut [u32; 16]) {
    let mut x = *b;
    salsa20_8_rounds!(step, x);
    for (o, v) in b.iter_mut().zip(x) {
        *o = o.wrapping_add(v);
    }
}

/// scryptBlockMix with Salsa20/8 on 2r 16-word blocks (generic r).
fn block_mix(b: &mut [u32], y: &mut [u32], r: usize) {
    let mut x = [0u32; 16];
    x.copy_from_slice(&b[(2 * r - 1) * 16..]);
    for i in 0..2 * r {
        for (xv, bv) in x.iter_mut().zip(&b[i * 16..i * 16 + 16]) {
            *xv ^= bv;
        }
        salsa20_8(&mut x);
        // Y_i goes to position i/2 (even i) or r + i/2 (odd i).
        let pos = if i % 2 == 0 { i / 2 } else { r + i / 2 };
        y[pos * 16..pos * 16 + 16].copy_from_slice(&x);
    }
    b.copy_from_slice(y);
}

/// scryptROMix (generic N, r) on 32r little-endian words.
fn romix(b: &mut [u32], n: usize, r: usize) {
    let words = 32 * r;
    let mut v = vec![0u32; n * words];
    let mut y = vec![0u32; words];
    for i in 0..n {
        v[i * words..(i + 1) * words].copy_from_slice(b);
        block_mix(b, &mut y, r);
    }
    for _ in 0..n {
        let j = (b[(2 * r - 1) * 16] as usize) & (n - 1);
        for (bv, vv) in b.iter_mut().zip(&v[j * words..(j + 1) * words]) {
            *bv ^= vv;
        }
        block_mix(b, &mut y, r);
    }
}

/// Generic scrypt(P, S, N, r, p, dkLen) per RFC 7914. Slow and allocating;
/// for reference and tests. `n` must be a power of two > 1.
pub fn scrypt(password: &[u8], salt: &[u8], n: usize, r: usize, p: usize, dklen: usize) -> Vec<u8> {
    assert!(
        n > 1 && n.is_power_of_two(),
        "scrypt N must be a power of two > 1"
    );
    assert!(r >= 1 && p >= 1, "scrypt r and p must be >= 1");
    let block = 128 * r;
    let mut b = vec![0u8; p * block];
    pbkdf2_sha256(password, salt, 1, &mut b);
    for chunk in b.chunks_exact_mut(block) {
        let mut words: Vec<u32> = chunk
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        romix(&mut words, n, r);
        for (c, w) in chunk.chunks_exact_mut(4).zip(words) {
            c.copy_from_slice(&w.to_le_bytes());
        }
    }
    let mut out = vec![0u8; dklen];
    pbkdf2_sha256(password, &b, 1, &mut out);
    out
}

/// BlockMix for r = 1 on a 32-word block.
#[inline]
fn block_mix_r1(x: &mut [u32; 32]) {
    let (lo, hi) = x.split_at_mut(16);
    let mut t = [0u32; 16];
    for k in 0..16 {
        t[k] = lo[k] ^ hi[k];
    }
    salsa20_8(&mut t);
    lo.copy_from_slice(&t);
    for k in 0..16 {
        t[k] ^= hi[k];
    }
    salsa20_8(&mut t);
    hi.copy_from_slice(&t);
}

/// ROMix for N = 1024, r = 1 with a caller-provided 1024-block scratchpad.
pub(super) fn romix_1024_1(x: &mut [u32; 32], v: &mut [[u32; 32]]) {
    let v = &mut v[..1024];
    for vi in v.iter_mut() {
        *vi = *x;
        block_mix_r1(x);
    }
    for _ in 0..1024 {
        let j = (x[16] & 1023) as usize;
        for (a, b) in x.iter_mut().zip(&v[j]) {
            *a ^= b;
        }
        block_mix_r1(x);
    }
}

/// One-lane portable kernel.
pub(super) struct ScalarKernel {
    v: Vec<[u32; 32]>,
}

impl ScalarKernel {
    pub(super) fn new() -> Self {
        ScalarKernel {
            v: vec![[0; 32]; 1024],
        }
    }
}

impl Kernel for ScalarKernel {
    const NAME: &'static str = "scrypt-scalar";
    const LANES: usize = 1;

    fn romix(&mut self, x: &mut [[u32; 32]]) {
        romix_1024_1(&mut x[0], &mut self.v);
    }
}
