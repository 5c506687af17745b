//! Tests for the scrypt kernels: RFC 7914 vectors for the generic reference,
//! Litecoin header vectors, and every kernel against the portable one.
//!
//! Must never weaken a comparison to make a kernel pass: hit sets and ROMix
//! outputs are compared exactly.

use super::pbkdf2::{hmac_sha256, pbkdf2_sha256, sha256, HeaderPbkdf2, Sha256Impl};
use super::scalar::{self, romix_1024_1, salsa20_8, scrypt};
use super::scrypt_1024_1_1_256;
use super::*;
use crate::miner::stratum::{target_from_difficulty, DIFF1_SCRYPT};
use crate::miner::work::{Target, Work};

/// xorshift64* test randomness (no dependencies).
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }
    fn header(&mut self) -> [u8; 80] {
        let mut h = [0u8; 80];
        for b in h.iter_mut() {
            *b = self.next_u64() as u8;
        }
        h
    }
}

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("test hex"))
        .collect()
}

fn to_hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Bitcoin-style display (uint256::ToString): bytes reversed.
fn display_hex(hash: &[u8; 32]) -> String {
    let mut r = *hash;
    r.reverse();
    to_hex(&r)
}

/// Target from compact nBits.
fn target_from_nbits(nbits: u32) -> Target {
    let exp = (nbits >> 24) as usize;
    let mant = nbits & 0x007f_ffff;
    let mut t = [0u8; 32];
    for (k, byte) in mant.to_le_bytes()[..3].iter().enumerate() {
        let pos = exp + k;
        if pos >= 3 && pos - 3 < 32 {
            t[pos - 3] = *byte;
        }
    }
    Target(t)
}

#[test]
fn sha256_known() {
    assert_eq!(
        to_hex(&sha256(b"abc")),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    assert_eq!(
        to_hex(&sha256(b"")),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    // RFC 4231 test case 2
    assert_eq!(
        to_hex(&hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );
}

#[test]
fn rfc7914_salsa20_8() {
    let input = hex("7e879a214f3ec9867ca940e641718f26baee555b8c61c1b50df846116dcd3b1d
                     ee24f319df9b3d8514121e4b5ac5aa3276021d2909c74829edebc68db8b8c25e");
    let expected = hex("a41f859c6608cc993b81cacb020cef05044b2181a2fd337dfd7b1c6396682f29
                        b4393168e3c9e6bcfe6bc5b7a06d96bae424cc102c91745c24ad673dc7618f81");
    let mut b = [0u32; 16];
    for (w, c) in b.iter_mut().zip(input.chunks_exact(4)) {
        *w = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
    }
    salsa20_8(&mut b);
    let out: Vec<u8> = b.iter().flat_map(|w| w.to_le_bytes()).collect();
    assert_eq!(out, expected);
}

#[test]
fn rfc7914_pbkdf2() {
    let mut out = [0u8; 64];
    pbkdf2_sha256(b"passwd", b"salt", 1, &mut out);
    assert_eq!(
        to_hex(&out),
        "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc\
         49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783"
    );
    pbkdf2_sha256(b"Password", b"NaCl", 80000, &mut out);
    assert_eq!(
        to_hex(&out),
        "4ddcd8f60b98be21830cee5ef22701f9641a4418d04c0414aeff08876b34ab56\
         a1d425a1225833549adb841b51c9b3176a272bdebba1d078478f62b397f33c8d"
    );
}

#[test]
fn rfc7914_scrypt() {
    assert_eq!(
        to_hex(&scrypt(b"", b"", 16, 1, 1, 64)),
        "77d6576238657b203b19ca42c18a0497f16b4844e3074ae8dfdffa3fede21442\
         fcd0069ded0948f8326a753a0fc81f17e8d3e0fb2e0d3628cf35e20c38d18906"
    );
    assert_eq!(
        to_hex(&scrypt(b"password", b"NaCl", 1024, 8, 16, 64)),
        "fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b373162\
         2eaf30d92e22a3886ff109279d9830dac727afb94a83ee6d8360cbdfa2cc0640"
    );
    assert_eq!(
        to_hex(&scrypt(b"pleaseletmein", b"SodiumChloride", 16384, 8, 1, 64)),
        "7023bdcb3afd7348461c06cd81fd38ebfda8fbba904f8e3ea9b543f6545da1f2\
         d5432955613f0fcf62d49705242a9af9e61e85dc0d651e40dfcf017b45575887"
    );
}

/// The five header vectors of Litecoin/Dogecoin `src/test/scrypt_tests.cpp`
/// (expected value in uint256 display order).
const LTC_VECTORS: [(&str, &str); 5] = [
    (
        "020000004c1271c211717198227392b029a64a7971931d351b387bb80db027f270411e398a07046f7d4a08dd815412a8712f874a7ebf0507e3878bd24e20a3b73fd750a667d2f451eac7471b00de6659",
        "00000000002bef4107f882f6115e0b01f348d21195dacd3582aa2dabd7985806",
    ),
    (
        "0200000011503ee6a855e900c00cfdd98f5f55fffeaee9b6bf55bea9b852d9de2ce35828e204eef76acfd36949ae56d1fbe81c1ac9c0209e6331ad56414f9072506a77f8c6faf551eac7471b00389d01",
        "00000000003a0d11bdd5eb634e08b7feddcfbbf228ed35d250daf19f1c88fc94",
    ),
    (
        "02000000a72c8a177f523946f42f22c3e86b8023221b4105e8007e59e81f6beb013e29aaf635295cb9ac966213fb56e046dc71df5b3f7f67ceaeab24038e743f883aff1aaafaf551eac7471b0166249b",
        "00000000000b40f895f288e13244728a6c2d9d59d8aff29c65f8dd5114a8ca81",
    ),
    (
        "010000007824bc3a8a1b4628485eee3024abd8626721f7f870f8ad4d2f33a27155167f6a4009d1285049603888fe85a84b6c803a53305a8d497965a5e896e1a00568359589faf551eac7471b0065434e",
        "00000000003007005891cd4923031e99d8e8d72f6e8e7edc6a86181897e105fe",
    ),
    (
        "0200000050bfd4e4a307a8cb6ef4aef69abc5c0f2d579648bd80d7733e1ccc3fbc90ed664a7f74006cb11bde87785f229ecd366c2d4e44432832580e0608c579e4cb76f383f7f551eac7471b00c36982",
        "000000000018f0b426a4afc7130ccb47fa02af730d345b4fe7c7724d3800ec8c",
    ),
];

fn header_from_hex(s: &str) -> [u8; 80] {
    hex(s).try_into().expect("80-byte header")
}

#[test]
fn litecoin_header_vectors() {
    for (input, expected) in LTC_VECTORS {
        let header = header_from_hex(input);
        assert_eq!(display_hex(&scrypt_1024_1_1_256(&header)), expected);
        // Each is a real block: its PoW meets its own nBits (bytes 72..76).
        let nbits = u32::from_le_bytes(header[72..76].try_into().expect("4 bytes"));
        assert!(target_from_nbits(nbits).is_met_by(&scrypt_1024_1_1_256(&header)));
    }
}

fn litecoin_genesis() -> [u8; 80] {
    let mut h = [0u8; 80];
    h[0..4].copy_from_slice(&1u32.to_le_bytes());
    let mut merkle = hex("97ddfbbae6be97fd6cdf3e7ca13232a3afff2353e29badfab7f73011edd4ced9");
    merkle.reverse();
    h[36..68].copy_from_slice(&merkle);
    h[68..72].copy_from_slice(&1317972665u32.to_le_bytes());
    h[72..76].copy_from_slice(&0x1e0ffff0u32.to_le_bytes());
    h[76..80].copy_from_slice(&2084524493u32.to_le_bytes());
    h
}

#[test]
fn litecoin_genesis_pow() {
    let h = litecoin_genesis();
    let id = sha256(&sha256(&h));
    assert_eq!(
        display_hex(&id),
        "12a765e31ffd4059bada1e25190f6e98c99d9714d334efa41a195a7e7e04bfe2"
    );
    let pow = scrypt_1024_1_1_256(&h);
    assert!(target_from_nbits(0x1e0ffff0).is_met_by(&pow));
    // And every kernel finds exactly the genesis nonce around it.
    let nonce = 2084524493u32;
    for mut s in available() {
        s.set_work(&Work {
            header: h,
            target: target_from_nbits(0x1e0ffff0),
        });
        let mut hits = Vec::new();
        let done = s.scan(nonce - 5, 16, &mut hits);
        assert_eq!(done, 16);
        assert_eq!(hits, vec![nonce], "{}", s.name());
    }
}

#[test]
fn fast_pbkdf2_path_matches_generic() {
    let mut rng = Rng(0x1234_5678_9abc_def1);
    let mut v = vec![[0u32; 32]; 1024];
    for round in 0..8 {
        let mut header = rng.header();
        let sha = if round % 2 == 0 {
            Sha256Impl::Portable
        } else {
            Sha256Impl::detect()
        };
        let job = HeaderPbkdf2::with_impl(&header, sha);
        let nonce = rng.next_u32();
        header[76..80].copy_from_slice(&nonce.to_le_bytes());
        let mut x = [0u32; 32];
        let hmac = job.first(nonce, &mut x);
        let mut b = [0u8; 128];
        pbkdf2_sha256(&header, &header, 1, &mut b);
        let words: Vec<u32> = b
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        assert_eq!(&x[..], &words[..]);
        romix_1024_1(&mut x, &mut v);
        assert_eq!(job.second(&hmac, &x), scrypt_1024_1_1_256(&header));
        assert_eq!(
            &scrypt(&header, &header, 1024, 1, 1, 32)[..],
            &scrypt_1024_1_1_256(&header)[..]
        );
    }
}

#[test]
fn sha256_impls_agree() {
    let mut rng = Rng(99);
    let fast = Sha256Impl::detect();
    eprintln!("sha256 impl: {fast:?}");
    for _ in 0..1000 {
        let block: [u32; 16] = core::array::from_fn(|_| rng.next_u32());
        let state: [u32; 8] = core::array::from_fn(|_| rng.next_u32());
        let (mut a, mut b) = (state, state);
        Sha256Impl::Portable.compress(&mut a, &block);
        fast.compress(&mut b, &block);
        assert_eq!(a, b);
    }
}

fn check_kernel<K: Kernel>(mut k: K) {
    let mut rng = Rng(0xdead_beef_cafe_f00d ^ K::LANES as u64);
    let mut v = vec![[0u32; 32]; 1024];
    for _ in 0..3 {
        let mut x: Vec<[u32; 32]> = (0..K::LANES)
            .map(|_| core::array::from_fn(|_| rng.next_u32()))
            .collect();
        let mut expected = x.clone();
        for e in expected.iter_mut() {
            romix_1024_1(e, &mut v);
        }
        k.romix(&mut x);
        assert_eq!(x, expected, "{}", K::NAME);
    }
}

/// A kernel the CPU lacks cannot run here: say so rather than pass silently without it.
fn note_unverified_kernels(test: &str) {
    let here: Vec<&str> = available().iter().map(|s| s.name()).collect();
    let unverified: Vec<&str> = kernel_names().into_iter().filter(|n| !here.contains(n)).collect();
    if !unverified.is_empty() {
        eprintln!(
            "{test}: scrypt kernels NOT verified on this CPU (it lacks their instructions): {}",
            unverified.join(", ")
        );
    }
}

#[test]
fn kernels_romix_match_scalar() {
    note_unverified_kernels("kernels_romix_match_scalar");
    #[cfg(target_arch = "x86_64")]
    {
        if let Some(k) = avx512::Avx512Kernel::new() {
            check_kernel(k);
        }
        if let Some(k) = avx512diag::Avx512DiagKernel::<2>::new() {
            check_kernel(k);
        }
        if let Some(k) = avx2::Avx2Kernel::new() {
            check_kernel(k);
        }
        if let Some(k) = sse2::Sse2Kernel::new() {
            check_kernel(k);
        }
    }
    #[cfg(target_arch = "aarch64")]
    check_kernel(neon::NeonKernel::new());
    check_kernel(scalar::ScalarKernel::new());
}

#[test]
fn scanners_hit_sets_match_scalar() {
    // Accepts hashes whose top byte is <= 3: about 1 in 64.
    let mut t = [0xffu8; 32];
    t[31] = 0x03;
    let target = Target(t);
    let mut rng = Rng(42);
    let mut reference = by_name("scrypt-scalar").expect("scalar kernel");
    note_unverified_kernels("scanners_hit_sets_match_scalar");
    let scanners = available();
    assert_eq!(scanners.last().map(|s| s.name()), Some("scrypt-scalar"));
    for round in 0..2 {
        let work = Work {
            header: rng.header(),
            target,
        };
        // An odd count and a start that wraps around u32::MAX.
        let start = if round == 0 { u32::MAX - 40 } else { rng.next_u32() };
        let count = 389;
        reference.set_work(&work);
        let mut want = Vec::new();
        assert_eq!(reference.scan(start, count, &mut want), u64::from(count));
        // Reference hits really meet the target per the plain implementation.
        let mut header = work.header;
        for n in &want {
            header[76..80].copy_from_slice(&n.to_le_bytes());
            assert!(target.is_met_by(&scrypt_1024_1_1_256(&header)));
        }
        assert!(!want.is_empty());
        for s in scanners.iter() {
            let mut s = by_name(s.name()).expect("listed kernel");
            s.set_work(&work);
            let mut got = Vec::new();
            assert_eq!(s.scan(start, count, &mut got), u64::from(count));
            assert_eq!(got, want, "{}", s.name());
        }
    }
}

#[test]
fn scanner_without_work_does_nothing() {
    let mut s = best();
    let mut hits = Vec::new();
    assert_eq!(s.scan(0, 100, &mut hits), 0);
    assert!(hits.is_empty());
    assert!(by_name("no-such-kernel").is_none());
    assert_eq!(kernel_names().len(), available().len().max(kernel_names().len()));
}

#[test]
fn target_compare_and_difficulty() {
    let d1 = target_from_difficulty(&DIFF1_SCRYPT, 1.0).expect("valid");
    let mut want = [0u8; 32];
    want[28] = 0xff;
    want[29] = 0xff;
    assert_eq!(d1, Target(want));
    let d2 = target_from_difficulty(&DIFF1_SCRYPT, 2.0).expect("valid");
    let mut want = [0u8; 32];
    want[27] = 0x80;
    want[28] = 0xff;
    want[29] = 0x7f;
    assert_eq!(d2, Target(want));
    let d65536 = target_from_difficulty(&DIFF1_SCRYPT, 65536.0).expect("valid");
    let mut want = [0u8; 32];
    want[26] = 0xff;
    want[27] = 0xff;
    assert_eq!(d65536, Target(want));
    assert_eq!(
        target_from_difficulty(&DIFF1_SCRYPT, 1e-80).expect("valid"),
        Target([0xff; 32])
    );
    assert!(target_from_difficulty(&DIFF1_SCRYPT, 0.0).is_err());
    assert!(target_from_difficulty(&DIFF1_SCRYPT, -1.0).is_err());
    assert!(target_from_difficulty(&DIFF1_SCRYPT, f64::NAN).is_err());
    assert!(target_from_difficulty(&DIFF1_SCRYPT, f64::INFINITY).is_err());

    // is_met_by: equality meets, one more in the lowest byte does not,
    // and the most significant byte is the last one.
    let t = d1;
    assert!(t.is_met_by(&t.0));
    let mut above = t.0;
    above[0] = 1;
    assert!(!t.is_met_by(&above));
    let mut below = [0xffu8; 32];
    below[31] = 0;
    below[30] = 0;
    below[29] = 0xfe;
    assert!(t.is_met_by(&below));
}
