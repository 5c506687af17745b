//! SHA-256, HMAC-SHA256 and PBKDF2-HMAC-SHA256 for scrypt.
//!
//! Two layers: plain byte-oriented functions (`sha256`, `hmac_sha256`,
//! `pbkdf2_sha256`) used by the generic reference scrypt and the tests, and
//! `HeaderPbkdf2`, the per-nonce fast path for an 80-byte header that is both
//! password and salt. Must never allocate or do per-job work in the per-nonce
//! path, and never depend on anything but the header bytes.
//!
//! Note: the HMAC key is the header itself; being longer than 64 bytes it is
//! first hashed, so the HMAC inner/outer states depend on the nonce. What can be
//! precomputed per job is the SHA-256 midstate of header[0..64] (for the key
//! hash) and the parsed header words; per nonce the cost is 16 compressions.

const IV: [u32; 8] = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];

use crate::miner::hash::sha256d::K;

/// One SHA-256 compression of a block given as 16 big-endian words.
#[inline]
pub(super) fn compress(state: &mut [u32; 8], block: &[u32; 16]) {
    let mut w = [0u32; 64];
    w[..16].copy_from_slice(block);
    for t in 16..64 {
        let s0 = w[t - 15].rotate_right(7) ^ w[t - 15].rotate_right(18) ^ (w[t - 15] >> 3);
        let s1 = w[t - 2].rotate_right(17) ^ w[t - 2].rotate_right(19) ^ (w[t - 2] >> 10);
        w[t] = w[t - 16].wrapping_add(s0).wrapping_add(w[t - 7]).wrapping_add(s1);
    }
    let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut h] = *state;
    for t in 0..64 {
        let s1 = e.rotate_right(6) ^ e.rotate_right(11) ^ e.rotate_right(25);
        let ch = (e & f) ^ (!e & g);
        let t1 = h
            .wrapping_add(s1)
            .wrapping_add(ch)
            .wrapping_add(K[t])
            .wrapping_add(w[t]);
        let s0 = a.rotate_right(2) ^ a.rotate_right(13) ^ a.rotate_right(22);
        let maj = (a & b) ^ (a & c) ^ (b & c);
        let t2 = s0.wrapping_add(maj);
        h = g;
        g = f;
        f = e;
        e = d.wrapping_add(t1);
        d = c;
        c = b;
        b = a;
        a = t1.wrapping_add(t2);
    }
    for (s, v) in state.iter_mut().zip([a, b, c, d, e, f, g, h]) {
        *s = s.wrapping_add(v);
    }
}

/// SHA-256 compression with the x86 SHA extensions (same contract as `compress`).
///
/// # Safety
/// The CPU must support sha, sse4.1 and ssse3.
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "sha,sse4.1,ssse3")]
unsafe fn compress_shani(state: &mut [u32; 8], block: &[u32; 16]) {
    use core::arch::x86_64::*;
    // SAFETY (all loads/stores): in-bounds reads/writes of the 8-word state,
    // the 16-word block and the 64-word K table, unaligned forms.
    let (dcba, hgfe) = unsafe {
        (
            _mm_loadu_si128(state.as_ptr().cast()),
            _mm_loadu_si128(state.as_ptr().add(4).cast()),
        )
    };
    let cdab = _mm_shuffle_epi32::<0xb1>(dcba);
    let efgh = _mm_shuffle_epi32::<0x1b>(hgfe);
    let mut abef = _mm_alignr_epi8::<8>(cdab, efgh);
    let mut cdgh = _mm_blend_epi16::<0xf0>(efgh, cdab);
    let (abef_in, cdgh_in) = (abef, cdgh);
    let mut w = [_mm_setzero_si128(); 4];
    for i in 0..16 {
        let wi = if i < 4 {
            unsafe { _mm_loadu_si128(block.as_ptr().add(4 * i).cast()) }
        } else {
            let t = _mm_sha256msg1_epu32(w[i % 4], w[(i + 1) % 4]);
            let t = _mm_add_epi32(t, _mm_alignr_epi8::<4>(w[(i + 3) % 4], w[(i + 2) % 4]));
            _mm_sha256msg2_epu32(t, w[(i + 3) % 4])
        };
        w[i % 4] = wi;
        let k = unsafe { _mm_loadu_si128(K.as_ptr().add(4 * i).cast()) };
        let msg = _mm_add_epi32(wi, k);
        cdgh = _mm_sha256rnds2_epu32(cdgh, abef, msg);
        abef = _mm_sha256rnds2_epu32(abef, cdgh, _mm_shuffle_epi32::<0x0e>(msg));
    }
    abef = _mm_add_epi32(abef, abef_in);
    cdgh = _mm_add_epi32(cdgh, cdgh_in);
    let feba = _mm_shuffle_epi32::<0x1b>(abef);
    let dchg = _mm_shuffle_epi32::<0xb1>(cdgh);
    let dcba = _mm_blend_epi16::<0xf0>(feba, dchg);
    let hgfe = _mm_alignr_epi8::<8>(dchg, feba);
    unsafe {
        _mm_storeu_si128(state.as_mut_ptr().cast(), dcba);
        _mm_storeu_si128(state.as_mut_ptr().add(4).cast(), hgfe);
    }
}

/// Which SHA-256 compression the header fast path uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Sha256Impl {
    Portable,
    #[cfg(target_arch = "x86_64")]
    ShaNi,
}

impl Sha256Impl {
    /// The fastest implementation the running CPU supports.
    pub(super) fn detect() -> Self {
        #[cfg(target_arch = "x86_64")]
        if is_x86_feature_detected!("sha")
            && is_x86_feature_detected!("sse4.1")
            && is_x86_feature_detected!("ssse3")
        {
            return Sha256Impl::ShaNi;
        }
        Sha256Impl::Portable
    }

    /// One compression with this implementation (tests compare implementations).
    #[cfg(test)]
    pub(super) fn compress(self, state: &mut [u32; 8], block: &[u32; 16]) {
        match self {
            Sha256Impl::Portable => compress(state, block),
            // SAFETY: ShaNi is only returned by `detect` after checking the features.
            #[cfg(target_arch = "x86_64")]
            Sha256Impl::ShaNi => unsafe { compress_shani(state, block) },
        }
    }
}

fn block_words(bytes: &[u8]) -> [u32; 16] {
    let mut w = [0u32; 16];
    for (word, chunk) in w.iter_mut().zip(bytes.chunks_exact(4)) {
        *word = u32::from_be_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
    }
    w
}

fn state_bytes(state: &[u32; 8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (chunk, word) in out.chunks_exact_mut(4).zip(state) {
        chunk.copy_from_slice(&word.to_be_bytes());
    }
    out
}

/// Incremental SHA-256 over bytes (reference path only).
#[derive(Clone)]
struct Sha256 {
    state: [u32; 8],
    buf: [u8; 64],
    buf_len: usize,
    total: u64,
}

impl Sha256 {
    fn new() -> Self {
        Sha256 {
            state: IV,
            buf: [0; 64],
            buf_len: 0,
            total: 0,
        }
    }

    fn update(&mut self, mut data: &[u8]) {
        self.total += data.len() as u64;
        while !data.is_empty() {
            let take = (64 - self.buf_len).min(data.len());
            self.buf[self.buf_len..self.buf_len + take].copy_from_slice(&data[..take]);
            self.buf_len += take;
            data = &data[take..];
            if self.buf_len == 64 {
                compress(&mut self.state, &block_words(&self.buf));
                self.buf_len = 0;
            }
        }
    }

    fn finish(mut self) -> [u8; 32] {
        let bit_len = self.total * 8;
        self.update(&[0x80]);
        while self.buf_len != 56 {
            self.update(&[0]);
        }
        self.update(&bit_len.to_be_bytes());
        state_bytes(&self.state)
    }
}

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(data);
    h.finish()
}

/// HMAC-SHA256 (RFC 2104).
pub fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut k = [0u8; 64];
    if key.len() > 64 {
        k[..32].copy_from_slice(&sha256(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(&k.map(|b| b ^ 0x36));
    inner.update(data);
    let inner = inner.finish();
    let mut outer = Sha256::new();
    outer.update(&k.map(|b| b ^ 0x5c));
    outer.update(&inner);
    outer.finish()
}

/// PBKDF2-HMAC-SHA256 with `c` iterations filling `out` (RFC 8018).
pub fn pbkdf2_sha256(password: &[u8], salt: &[u8], c: u32, out: &mut [u8]) {
    for (i, chunk) in out.chunks_mut(32).enumerate() {
        let mut msg = salt.to_vec();
        msg.extend_from_slice(&(i as u32 + 1).to_be_bytes());
        let mut u = hmac_sha256(password, &msg);
        let mut t = u;
        for _ in 1..c {
            u = hmac_sha256(password, &u);
            for (a, b) in t.iter_mut().zip(u) {
                *a ^= b;
            }
        }
        chunk.copy_from_slice(&t[..chunk.len()]);
    }
}

/// HMAC-SHA256 inner and outer states after absorbing the key block.
#[derive(Clone, Copy, Default)]
pub(super) struct HmacState {
    inner: [u32; 8],
    outer: [u32; 8],
}

/// Per-job precomputation for PBKDF2 over an 80-byte header whose nonce varies.
#[derive(Clone)]
pub(super) struct HeaderPbkdf2 {
    /// header[0..64] as big-endian words.
    head: [u32; 16],
    /// header[64..76] as big-endian words (the part of the tail without the nonce).
    tail: [u32; 3],
    /// SHA-256 state after header[0..64], to hash the (over-long) HMAC key.
    key_mid: [u32; 8],
    sha: Sha256Impl,
}

impl HeaderPbkdf2 {
    pub(super) fn new(header: &[u8; 80]) -> Self {
        Self::with_impl(header, Sha256Impl::detect())
    }

    pub(super) fn with_impl(header: &[u8; 80], sha: Sha256Impl) -> Self {
        let head = block_words(&header[..64]);
        let mut key_mid = IV;
        compress(&mut key_mid, &head);
        let t = block_words(&header[64..80]);
        HeaderPbkdf2 {
            head,
            tail: [t[0], t[1], t[2]],
            key_mid,
            sha,
        }
    }

    /// First PBKDF2 (password = salt = header with `nonce`, 128 bytes out):
    /// writes B as 32 little-endian words into `x`, returns the HMAC states
    /// needed by `second`.
    #[inline]
    pub(super) fn first(&self, nonce: u32, x: &mut [u32; 32]) -> HmacState {
        match self.sha {
            Sha256Impl::Portable => self.first_with(nonce, x, compress),
            // SAFETY: ShaNi is only selected after detecting its features.
            #[cfg(target_arch = "x86_64")]
            Sha256Impl::ShaNi => unsafe { self.first_shani(nonce, x) },
        }
    }

    /// `first` with SHA-NI compressions inlined (lets independent
    /// compressions overlap instead of being separate calls).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "sha,sse4.1,ssse3")]
    unsafe fn first_shani(&self, nonce: u32, x: &mut [u32; 32]) -> HmacState {
        // SAFETY: this function's own target features.
        self.first_with(nonce, x, |s, b| unsafe { compress_shani(s, b) })
    }

    #[inline(always)]
    fn first_with<C: Fn(&mut [u32; 8], &[u32; 16])>(
        &self,
        nonce: u32,
        x: &mut [u32; 32],
        compress: C,
    ) -> HmacState {
        let nonce_be = nonce.swap_bytes();
        // HMAC key = sha256(header): second block of the 80-byte message.
        let mut key = self.key_mid;
        let mut blk = [0u32; 16];
        blk[..3].copy_from_slice(&self.tail);
        blk[3] = nonce_be;
        blk[4] = 0x8000_0000;
        blk[15] = 80 * 8;
        compress(&mut key, &blk);

        let mut pad = [0x3636_3636u32; 16];
        for (p, k) in pad.iter_mut().zip(key) {
            *p ^= k;
        }
        let mut inner = IV;
        compress(&mut inner, &pad);
        let mut pad = [0x5c5c_5c5cu32; 16];
        for (p, k) in pad.iter_mut().zip(key) {
            *p ^= k;
        }
        let mut outer = IV;
        compress(&mut outer, &pad);

        // Inner hash of salt || INT(i): 64 + 84 bytes, first salt block shared.
        let mut inner_head = inner;
        compress(&mut inner_head, &self.head);
        blk[4] = 0; // INT(i), set below
        blk[5] = 0x8000_0000;
        blk[15] = (64 + 84) * 8;
        let mut oblk = [0u32; 16];
        oblk[8] = 0x8000_0000;
        oblk[15] = (64 + 32) * 8;
        for (i, out) in x.chunks_exact_mut(8).enumerate() {
            blk[4] = i as u32 + 1;
            let mut u = inner_head;
            compress(&mut u, &blk);
            oblk[..8].copy_from_slice(&u);
            let mut t = outer;
            compress(&mut t, &oblk);
            for (o, w) in out.iter_mut().zip(t) {
                *o = w.swap_bytes();
            }
        }
        HmacState { inner, outer }
    }

    /// Second PBKDF2 (password = header, salt = ROMix output `x` as LE words,
    /// 32 bytes out): the proof-of-work hash bytes.
    #[inline]
    pub(super) fn second(&self, hmac: &HmacState, x: &[u32; 32]) -> [u8; 32] {
        match self.sha {
            Sha256Impl::Portable => Self::second_with(hmac, x, compress),
            // SAFETY: ShaNi is only selected after detecting its features.
            #[cfg(target_arch = "x86_64")]
            Sha256Impl::ShaNi => unsafe { Self::second_shani(hmac, x) },
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "sha,sse4.1,ssse3")]
    unsafe fn second_shani(hmac: &HmacState, x: &[u32; 32]) -> [u8; 32] {
        // SAFETY: this function's own target features.
        Self::second_with(hmac, x, |s, b| unsafe { compress_shani(s, b) })
    }

    #[inline(always)]
    fn second_with<C: Fn(&mut [u32; 8], &[u32; 16])>(
        hmac: &HmacState,
        x: &[u32; 32],
        compress: C,
    ) -> [u8; 32] {
        let mut u = hmac.inner;
        let mut blk = [0u32; 16];
        for half in x.chunks_exact(16) {
            for (b, w) in blk.iter_mut().zip(half) {
                *b = w.swap_bytes();
            }
            compress(&mut u, &blk);
        }
        let mut blk = [0u32; 16];
        blk[0] = 1;
        blk[1] = 0x8000_0000;
        blk[15] = (64 + 132) * 8;
        compress(&mut u, &blk);
        let mut oblk = [0u32; 16];
        oblk[..8].copy_from_slice(&u);
        oblk[8] = 0x8000_0000;
        oblk[15] = (64 + 32) * 8;
        let mut t = hmac.outer;
        compress(&mut t, &oblk);
        state_bytes(&t)
    }
}
