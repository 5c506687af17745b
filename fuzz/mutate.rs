//! Deterministic input mutator shared by the stable-Rust fuzz harnesses (`protocol/tests/
//! fuzz_decoders.rs`, `agent/tests/fuzz_inputs.rs`, `hub/tests/fuzz_config.rs`, each includes
//! this file with `#[path]`) and the checked-in corpus they start from (`fuzz/corpus/<target>/`).
//!
//! Why not an RNG crate: the same seed must give the same inputs in every crate and on every
//! toolchain, so a failure printed by CI replays anywhere. What it must never do: read the clock,
//! the environment beyond the two overrides below, or anything outside `fuzz/corpus`.
//!
//! `HASHWARD_FUZZ_ITERS` scales the iteration count (default: a few seconds per target);
//! `HASHWARD_FUZZ_SEED` changes the seed (default fixed, so CI is reproducible).

#![allow(dead_code)]

use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

/// splitmix64: tiny, fast, and identical everywhere.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n` > 0; 0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next_u64() % n as u64) as usize
        }
    }

    pub fn byte(&mut self) -> u8 {
        self.next_u64() as u8
    }

    pub fn chance(&mut self, one_in: usize) -> bool {
        self.below(one_in) == 0
    }
}

/// Bytes that sit on an integer boundary in postcard varints and fixed-width fields.
const BINARY_BOUNDARIES: &[&[u8]] = &[
    &[0x00],
    &[0x7f],
    &[0x80],
    &[0xff],
    &[0x80, 0x01],
    &[0xff, 0xff, 0xff, 0xff, 0x0f],
    &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
    &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
    &[0x00, 0x00, 0xc0, 0x7f],
    &[0x00, 0x00, 0x80, 0x7f],
    &[0, 0, 0, 0, 0, 0, 0xf8, 0x7f],
    &[0, 0, 0, 0, 0, 0, 0xf0, 0xff],
];

/// Text that sits on a boundary for JSON, TOML and the topic/URL grammars.
const TEXT_TOKENS: &[&str] = &[
    "0",
    "-1",
    "-0",
    "255",
    "256",
    "65535",
    "65536",
    "4294967295",
    "4294967296",
    "9223372036854775807",
    "-9223372036854775808",
    "18446744073709551615",
    "18446744073709551616",
    "1e308",
    "1e309",
    "-1e309",
    "5e-324",
    "nan",
    "inf",
    "-inf",
    "NaN",
    "null",
    "true",
    "\"\"",
    "[]",
    "{}",
    "[[]]",
    "\"\\u0000\"",
    "\"\\ud800\"",
    "\u{0}",
    "\u{feff}",
    "\u{10ffff}",
    "é",
    "/",
    "//",
    "+",
    "#",
    ":",
    ",",
    "\n",
    "=",
    "[a]",
    "[[a]]",
    "'",
    "\"",
    "{",
    "}",
    "[",
    "]",
    "%",
    "@",
    "ffffffff",
    "00000000",
];

/// One mutation of one of `seeds` (or pure random bytes): bit flips, byte and token overwrites,
/// truncations, deletions, duplications, splices with another seed and insertions, stacked 1-4 deep.
pub fn mutate(rng: &mut Rng, seeds: &[Vec<u8>]) -> Vec<u8> {
    if seeds.is_empty() || rng.chance(16) {
        let len = rng.below(257);
        return (0..len).map(|_| rng.byte()).collect();
    }
    let mut b = seeds[rng.below(seeds.len())].clone();
    let rounds = 1 + rng.below(4);
    for _ in 0..rounds {
        let len = b.len();
        match rng.below(11) {
            0 if len > 0 => {
                let i = rng.below(len);
                b[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                b[i] = rng.byte();
            }
            2 => b.truncate(rng.below(len + 1)),
            3 if len > 0 => {
                let at = rng.below(len);
                let n = 1 + rng.below((len - at).min(16));
                b.drain(at..at + n);
            }
            4 if len > 0 => {
                let at = rng.below(len);
                let n = 1 + rng.below((len - at).min(64));
                let chunk = b[at..at + n].to_vec();
                let to = rng.below(b.len() + 1);
                b.splice(to..to, chunk);
            }
            5 => {
                let other = &seeds[rng.below(seeds.len())];
                let head = rng.below(len + 1);
                let tail = rng.below(other.len() + 1);
                b.truncate(head);
                b.extend_from_slice(&other[tail..]);
            }
            6 => {
                let at = rng.below(len + 1);
                let n = 1 + rng.below(8);
                let junk: Vec<u8> = (0..n).map(|_| rng.byte()).collect();
                b.splice(at..at, junk);
            }
            7 => {
                let tok = BINARY_BOUNDARIES[rng.below(BINARY_BOUNDARIES.len())];
                overwrite_or_insert(rng, &mut b, tok);
            }
            8 | 9 => {
                let tok = TEXT_TOKENS[rng.below(TEXT_TOKENS.len())].as_bytes();
                if rng.chance(2) {
                    replace_digits(rng, &mut b, tok);
                } else {
                    overwrite_or_insert(rng, &mut b, tok);
                }
            }
            _ => {
                // Repeat a slice many times: deep nesting and long fields.
                if len > 0 {
                    let at = rng.below(len);
                    let n = 1 + rng.below((len - at).min(4));
                    let chunk = b[at..at + n].to_vec();
                    let times = 1 + rng.below(512);
                    let rep: Vec<u8> = chunk.iter().copied().cycle().take(n * times).collect();
                    b.splice(at..at, rep);
                }
            }
        }
    }
    b
}

fn overwrite_or_insert(rng: &mut Rng, b: &mut Vec<u8>, tok: &[u8]) {
    let at = rng.below(b.len() + 1);
    if rng.chance(2) {
        let end = (at + tok.len()).min(b.len());
        b.splice(at..end, tok.iter().copied());
    } else {
        b.splice(at..at, tok.iter().copied());
    }
}

/// Replaces one run of ASCII digits (a number in JSON/TOML/topic text) with `tok`.
fn replace_digits(rng: &mut Rng, b: &mut Vec<u8>, tok: &[u8]) {
    let starts: Vec<usize> = (0..b.len())
        .filter(|&i| b[i].is_ascii_digit() && (i == 0 || !b[i - 1].is_ascii_digit()))
        .collect();
    if starts.is_empty() {
        overwrite_or_insert(rng, b, tok);
        return;
    }
    let s = starts[rng.below(starts.len())];
    let e = (s..b.len()).find(|&i| !b[i].is_ascii_digit()).unwrap_or(b.len());
    b.splice(s..e, tok.iter().copied());
}

/// `fuzz/corpus/<target>/`, from any crate of the workspace (tests run in the crate's folder).
pub fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .map(|a| a.join("fuzz").join("corpus").join(target))
        .find(|p| p.is_dir())
        .unwrap_or_else(|| {
            panic!(
                "fuzz/corpus/{target} not found above {}",
                env!("CARGO_MANIFEST_DIR")
            )
        })
}

/// Every seed input of `target`, sorted by file name so runs are reproducible.
pub fn corpus(target: &str) -> Vec<Vec<u8>> {
    let dir = corpus_dir(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("corpus entry").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    let seeds: Vec<Vec<u8>> = files
        .iter()
        .map(|p| std::fs::read(p).expect("read seed"))
        .collect();
    assert!(!seeds.is_empty(), "{} has no seed inputs", dir.display());
    seeds
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

/// Runs `check` on every seed, then on `iterations` mutations (times `HASHWARD_FUZZ_ITERS`/1000
/// when set, e.g. 10000 for ten times as many). A panic is re-raised after printing the input
/// in hex, so the failing case can be added to the corpus.
pub fn run(target: &str, iterations: u64, mut check: impl FnMut(&[u8])) {
    let seeds = corpus(target);
    let iterations = match env_u64("HASHWARD_FUZZ_ITERS") {
        Some(per_mille) => iterations.saturating_mul(per_mille) / 1000,
        None => iterations,
    };
    let seed = env_u64("HASHWARD_FUZZ_SEED").unwrap_or(DEFAULT_SEED);
    let mut rng = Rng::new(seed ^ fnv(target.as_bytes()));
    let mut one = |input: &[u8], what: &str| {
        if let Err(panic) = catch_unwind(AssertUnwindSafe(|| check(input))) {
            eprintln!(
                "fuzz target {target}: panic on {what} ({} bytes), hex: {}",
                input.len(),
                input.iter().map(|b| format!("{b:02x}")).collect::<String>()
            );
            resume_unwind(panic);
        }
    };
    for (i, s) in seeds.iter().enumerate() {
        one(s, &format!("seed {i}"));
    }
    for i in 0..iterations {
        let input = mutate(&mut rng, &seeds);
        one(&input, &format!("iteration {i} (seed {seed:#x})"));
    }
}

/// The CI seed; any other value explores other inputs with the same corpus.
const DEFAULT_SEED: u64 = 0x4a5f_f022;

fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ *b as u64).wrapping_mul(0x0100_0000_01b3)
    })
}

/// `bytes` as text when it is UTF-8 (the text decoders take `&str`).
pub fn text(bytes: &[u8]) -> Option<&str> {
    std::str::from_utf8(bytes).ok()
}
