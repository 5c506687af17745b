//! Tests for the sha256d kernels: every available kernel against brute force with the
//! reference `sha256d`, real Bitcoin headers, and target/difficulty conversions.
//! Tests must never weaken the "hits are exactly the reference hits" check.

use super::sha256d;
use super::{available, best, by_name, Kernel, Sha256dScanner};
use crate::miner::stratum::{target_from_difficulty, DIFF1_SHA256D};
use crate::miner::work::{Scanner, Target, Work};

/// Tiny deterministic xorshift64* generator.
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
    fn fill(&mut self, buf: &mut [u8]) {
        for b in buf {
            *b = self.next_u64() as u8;
        }
    }
}

fn hex_to_bytes(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("test hex"))
        .collect()
}

/// A block hash as displayed (big-endian hex) to the byte order sha256d produces.
fn display_hash(s: &str) -> [u8; 32] {
    let mut b: [u8; 32] = hex_to_bytes(s).try_into().expect("32 bytes");
    b.reverse();
    b
}

fn header(version: u32, prev: &str, merkle: &str, time: u32, bits: u32, nonce: u32) -> [u8; 80] {
    let mut h = [0u8; 80];
    h[0..4].copy_from_slice(&version.to_le_bytes());
    h[4..36].copy_from_slice(&display_hash(prev));
    h[36..68].copy_from_slice(&display_hash(merkle));
    h[68..72].copy_from_slice(&time.to_le_bytes());
    h[72..76].copy_from_slice(&bits.to_le_bytes());
    h[76..80].copy_from_slice(&nonce.to_le_bytes());
    h
}

struct RealBlock {
    height: u32,
    header: [u8; 80],
    bits: u32,
    nonce: u32,
    hash: &'static str,
}

fn real_blocks() -> Vec<RealBlock> {
    let zero = "0000000000000000000000000000000000000000000000000000000000000000";
    let b = |height, version, prev, merkle, time, bits, nonce, hash| RealBlock {
        height,
        header: header(version, prev, merkle, time, bits, nonce),
        bits,
        nonce,
        hash,
    };
    vec![
        b(
            0,
            1,
            zero,
            "4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b",
            1231006505,
            0x1d00ffff,
            2083236893,
            "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f",
        ),
        b(
            1,
            1,
            "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f",
            "0e3e2357e806b6cdb1f70b54c3a3a17b6714ee1f0e68bebb44a74b1efd512098",
            1231469665,
            0x1d00ffff,
            2573394689,
            "00000000839a8e6886ab5951d76f411475428afc90947ee320161bbf18eb6048",
        ),
        b(
            100000,
            1,
            "000000000002d01c1fccc21636b607dfd930d31d01c3a62104612a1719011250",
            "f3e94742aca4b5ef85488dc37c06c3282295ffec960994b2c0d5ac2a25a95766",
            1293623863,
            0x1b04864c,
            274148111,
            "000000000003ba27aa200b1cecaad478d2b00432346c3f1f3986da1afd33e506",
        ),
        b(
            125552,
            1,
            "00000000000008a3a41b85b8b29ad444def299fee21793cd8b9e567eab02cd81",
            "2b12fcf1b09288fcaff797d71e950e71ae42b91e8bdb2304758dfcffc2b620e3",
            1305998791,
            0x1a44b9f2,
            2504433986,
            "00000000000000001e8d6829a8a21adc5d38d0a473b144b6765798e61f98bd1d",
        ),
    ]
}

fn all_scanners() -> Vec<Box<dyn Scanner>> {
    // A kernel the CPU lacks cannot run here: say so rather than pass silently without it.
    let unverified: Vec<&str> = Kernel::ALL
        .iter()
        .filter(|k| !k.is_supported())
        .map(|k| k.name())
        .collect();
    if !unverified.is_empty() {
        eprintln!(
            "sha256d kernels NOT verified on this CPU (it lacks their instructions): {}",
            unverified.join(", ")
        );
    }
    let v = available();
    assert!(v.iter().any(|s| s.name() == "sha256d-scalar"));
    v
}

fn brute_force(work: &Work, start: u32, count: u32) -> Vec<u32> {
    let mut h = work.header;
    (0..count)
        .map(|i| start + i)
        .filter(|&n| {
            h[76..80].copy_from_slice(&n.to_le_bytes());
            work.target.is_met_by(&sha256d(&h))
        })
        .collect()
}

fn scan_sorted(s: &mut dyn Scanner, work: &Work, start: u32, count: u32) -> Vec<u32> {
    s.set_work(work);
    let mut hits = Vec::new();
    assert_eq!(s.scan(start, count, &mut hits), count as u64, "{}", s.name());
    hits.sort_unstable();
    hits
}

#[test]
fn reference_sha256d_vectors() {
    assert_eq!(
        sha256d(b"").to_vec(),
        hex_to_bytes("5df6e0e2761359d30a8275058e299fcc0381534545f55cf43e41983f5d4c9456")
    );
    assert_eq!(
        sha256d(b"abc").to_vec(),
        hex_to_bytes("4f8b42c22dd3729b519ba6f68d2da7cc5b2d606d05daed5ad5128cc03e6c6358")
    );
}

#[test]
fn real_headers_hash_to_published_block_hashes() {
    for b in real_blocks() {
        let hash = sha256d(&b.header);
        assert_eq!(hash, display_hash(b.hash), "block {}", b.height);
        assert!(
            Target::from_compact(b.bits).is_met_by(&hash),
            "block {}",
            b.height
        );
    }
}

#[test]
fn every_kernel_finds_real_blocks() {
    for b in real_blocks() {
        let work = Work {
            header: b.header,
            target: Target::from_compact(b.bits),
        };
        for mut s in all_scanners() {
            // The nonce at various positions within a step, and a range with a tail.
            for before in [0u32, 1, 5, 13, 37] {
                let start = b.nonce - before;
                let hits = scan_sorted(s.as_mut(), &work, start, before + 1 + 50);
                assert_eq!(hits, vec![b.nonce], "{} block {}", s.name(), b.height);
            }
            // Ranges that end just before / start just after the nonce find nothing.
            assert!(scan_sorted(s.as_mut(), &work, b.nonce - 64, 64).is_empty());
            assert!(scan_sorted(s.as_mut(), &work, b.nonce + 1, 64).is_empty());
        }
    }
}

#[test]
fn genesis_nonce_found_by_best() {
    let g = &real_blocks()[0];
    let mut s = best();
    let work = Work {
        header: g.header,
        target: Target::from_compact(0x1d00ffff),
    };
    let hits = scan_sorted(s.as_mut(), &work, 0x7c2b_ac1d - 1000, 2000);
    assert_eq!(hits, vec![2083236893u32]);
    assert_eq!(0x7c2b_ac1du32, 2083236893);
}

/// Random headers and random targets accepting roughly 1 in 256 (top byte zero, second
/// byte 0xff or random >= 0x80, the rest random), plus odd starts and counts to exercise partial steps.
#[test]
fn kernels_match_brute_force_on_random_headers() {
    let mut rng = Rng(0x1234_5678_9abc_def1);
    let mut scanners = all_scanners();
    let mut total_hits = 0;
    for round in 0..12 {
        let mut header = [0u8; 80];
        rng.fill(&mut header);
        let mut target = [0u8; 32];
        rng.fill(&mut target);
        target[31] = 0;
        // ~1/256, or down to ~1/512 with a random second byte
        target[30] = if round % 3 == 0 { target[30] | 0x80 } else { 0xff };
        let work = Work {
            header,
            target: Target(target),
        };
        let start = rng.next_u32() % 0xffff_0000;
        let count = 1500 + rng.next_u32() % 100;
        let expect = brute_force(&work, start, count);
        total_hits += expect.len();
        for s in scanners.iter_mut() {
            assert_eq!(
                scan_sorted(s.as_mut(), &work, start, count),
                expect,
                "{} round {round}",
                s.name()
            );
        }
    }
    assert!(total_hits >= 30, "test targets too hard: {total_hits} hits");
}

/// Candidates whose top word equals the target's top word must be decided by the full
/// 256-bit compare: a target one below the hash rejects it, the hash itself accepts it.
#[test]
fn equal_top_word_is_decided_by_full_compare() {
    let mut rng = Rng(42);
    let mut header = [0u8; 80];
    rng.fill(&mut header);
    let nonce = 1000u32;
    header[76..80].copy_from_slice(&nonce.to_le_bytes());
    let hash = sha256d(&header);
    let mut below = hash;
    // hash - 1 as a little-endian integer (hash is not zero)
    for b in below.iter_mut() {
        let (v, borrow) = b.overflowing_sub(1);
        *b = v;
        if !borrow {
            break;
        }
    }
    for mut s in all_scanners() {
        let at = Work {
            header,
            target: Target(hash),
        };
        assert!(
            scan_sorted(s.as_mut(), &at, 990, 20).contains(&nonce),
            "{}",
            s.name()
        );
        let under = Work {
            header,
            target: Target(below),
        };
        assert!(
            !scan_sorted(s.as_mut(), &under, 990, 20).contains(&nonce),
            "{}",
            s.name()
        );
    }
}

#[test]
fn edge_ranges() {
    let mut rng = Rng(7);
    let mut header = [0u8; 80];
    rng.fill(&mut header);
    let mut t = [0xffu8; 32];
    t[31] = 0x03; // ~1/64
    let work = Work {
        header,
        target: Target(t),
    };
    for mut s in all_scanners() {
        // count 0 does nothing
        let mut hits = Vec::new();
        s.set_work(&work);
        assert_eq!(s.scan(5, 0, &mut hits), 0);
        assert!(hits.is_empty());
        // range ending exactly at 2^32
        let start = u32::MAX - 300;
        let count = 301;
        let mut expect = brute_force(&work, start, count - 1);
        let mut last = header;
        last[76..80].copy_from_slice(&u32::MAX.to_le_bytes());
        if work.target.is_met_by(&sha256d(&last)) {
            expect.push(u32::MAX);
        }
        assert_eq!(
            scan_sorted(s.as_mut(), &work, start, count),
            expect,
            "{}",
            s.name()
        );
        // short ranges of every length below two steps
        for count in 1..=33 {
            assert_eq!(
                scan_sorted(s.as_mut(), &work, 77, count),
                brute_force(&work, 77, count),
                "{} count {count}",
                s.name()
            );
        }
    }
}

#[test]
fn scan_without_work_does_nothing() {
    for mut s in available() {
        let mut hits = Vec::new();
        assert_eq!(s.scan(0, 100, &mut hits), 0);
        assert!(hits.is_empty());
    }
}

#[test]
fn selection() {
    let names: Vec<_> = available().iter().map(|s| s.name()).collect();
    assert_eq!(best().name(), names[0]);
    for n in &names {
        let s = by_name(n).expect("available kernel by name");
        assert_eq!(s.name(), *n);
        assert!(s.lanes() >= 1);
    }
    assert!(by_name("sha256d-nonexistent").is_none());
    assert!(Sha256dScanner::new(Kernel::Scalar).is_some());
    let mut uniq = names.clone();
    uniq.sort_unstable();
    uniq.dedup();
    assert_eq!(uniq.len(), names.len());
}

#[test]
fn compact_targets() {
    let diff1 = Target::from_compact(0x1d00ffff);
    assert_eq!(diff1, DIFF1_SHA256D);
    let mut expect = [0u8; 32];
    expect[26] = 0xff;
    expect[27] = 0xff;
    assert_eq!(diff1.0, expect);

    // 0x1b04864c = 0x04864c * 256^(0x1b - 3)
    let t = Target::from_compact(0x1b04864c);
    let mut expect = [0u8; 32];
    expect[24] = 0x4c;
    expect[25] = 0x86;
    expect[26] = 0x04;
    assert_eq!(t.0, expect);
    // published difficulty of block 100000
    assert!((t.to_difficulty(&DIFF1_SHA256D) - 14484.162361225399).abs() < 1e-6);

    // small exponents shift the mantissa right
    let mut e = [0u8; 32];
    e[0] = 0x12;
    assert_eq!(Target::from_compact(0x0112_3456), Target(e));
    e[0] = 0x34;
    e[1] = 0x12;
    assert_eq!(Target::from_compact(0x0212_3456), Target(e));
    e[0] = 0x56;
    e[1] = 0x34;
    e[2] = 0x12;
    assert_eq!(Target::from_compact(0x0312_3456), Target(e));
    // negative and zero encodings, overflow
    assert_eq!(Target::from_compact(0x0480_0001), Target::ZERO);
    assert_eq!(Target::from_compact(0x1d00_0000), Target::ZERO);
    assert_eq!(Target::from_compact(0xff12_3456), Target::MAX);
    let mut top = [0u8; 32];
    top[31] = 0x7f;
    top[30] = 0xff;
    top[29] = 0xff;
    assert_eq!(Target::from_compact(0x207f_ffff), Target(top));
}

#[test]
fn difficulty_targets() {
    assert_eq!(target_from_difficulty(&DIFF1_SHA256D, 1.0), Ok(DIFF1_SHA256D));
    // diff 2 = diff1 >> 1
    let mut half = [0u8; 32];
    half[25] = 0x80;
    half[26] = 0xff;
    half[27] = 0x7f;
    assert_eq!(target_from_difficulty(&DIFF1_SHA256D, 2.0), Ok(Target(half)));
    // diff 65536 = diff1 >> 16
    let mut t = [0u8; 32];
    t[24] = 0xff;
    t[25] = 0xff;
    assert_eq!(target_from_difficulty(&DIFF1_SHA256D, 65536.0), Ok(Target(t)));
    // diff 1/256 = diff1 << 8
    let mut t = [0u8; 32];
    t[27] = 0xff;
    t[28] = 0xff;
    assert_eq!(target_from_difficulty(&DIFF1_SHA256D, 1.0 / 256.0), Ok(Target(t)));
    // diff 3: floor(0xFFFF * 2^208 / 3) = 0x5555 * 2^208
    let mut t = [0u8; 32];
    t[26] = 0x55;
    t[27] = 0x55;
    assert_eq!(target_from_difficulty(&DIFF1_SHA256D, 3.0), Ok(Target(t)));
    // diff 7: 0xFFFF / 7 = 9362 rem 1, so the low bytes are the repeating 0x249..
    let t = target_from_difficulty(&DIFF1_SHA256D, 7.0).expect("valid");
    assert_eq!(&t.0[26..32], &[0x92, 0x24, 0, 0, 0, 0]);
    assert_eq!(&t.0[23..26], &[0x49, 0x92, 0x24]);

    // round trips
    for d in [
        1.0,
        1.5,
        1000.0,
        14484.162361225399,
        1e9,
        123456789.25,
        1e-3,
        5e12,
    ] {
        let t = target_from_difficulty(&DIFF1_SHA256D, d).expect("valid");
        let back = t.to_difficulty(&DIFF1_SHA256D);
        assert!((back - d).abs() / d < 1e-12, "{d} -> {back}");
    }
    // block 100000's compact target and its published difficulty agree
    let t = target_from_difficulty(&DIFF1_SHA256D, 14484.162361225399).expect("valid");
    let c = Target::from_compact(0x1b04864c);
    let top = |t: &Target| u128::from_le_bytes(t.0[16..32].try_into().expect("16 bytes"));
    // value ~2^83 here; an f64 is good to ~2^-52 relative
    assert!(top(&t).abs_diff(top(&c)) < 1 << 34, "{t:?} vs {c:?}");
    assert!(t.0[..16].iter().any(|&b| b != 0));

    // extremes
    assert_eq!(target_from_difficulty(&DIFF1_SHA256D, 1e-30), Ok(Target::MAX));
    assert_eq!(
        target_from_difficulty(&DIFF1_SHA256D, f64::MIN_POSITIVE / 4.0),
        Ok(Target::MAX)
    );
    assert_eq!(target_from_difficulty(&DIFF1_SHA256D, 1e300), Ok(Target::ZERO));
    assert_eq!(target_from_difficulty(&DIFF1_SHA256D, f64::MAX), Ok(Target::ZERO));
    // diff such that target = 1: 0xFFFF * 2^208 (exactly representable)
    let mut one = [0u8; 32];
    one[0] = 1;
    assert_eq!(
        target_from_difficulty(&DIFF1_SHA256D, 65535.0 * 2f64.powi(208)),
        Ok(Target(one))
    );

    // errors
    assert!(target_from_difficulty(&DIFF1_SHA256D, 0.0).is_err());
    assert!(target_from_difficulty(&DIFF1_SHA256D, -1.0).is_err());
    assert!(target_from_difficulty(&DIFF1_SHA256D, f64::NAN).is_err());
    assert!(target_from_difficulty(&DIFF1_SHA256D, f64::INFINITY).is_err());
}

#[test]
fn target_compare() {
    let t = DIFF1_SHA256D;
    let mut h = t.0;
    assert!(t.is_met_by(&h));
    h[0] = 1; // diff1 + 1
    assert!(!t.is_met_by(&h));
    let mut h = t.0;
    h[26] = 0xfe; // a bit below
    h[0] = 0xff;
    assert!(t.is_met_by(&h));
    assert!(Target::MAX.is_met_by(&[0xff; 32]));
    assert!(Target::ZERO.is_met_by(&[0; 32]));
    let mut h = [0u8; 32];
    h[0] = 1;
    assert!(!Target::ZERO.is_met_by(&h));
}
