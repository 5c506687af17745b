//! Shared mining types: one unit of work, the 256-bit target, and the [`Scanner`] trait every
//! hash kernel implements. The pool client produces `Work`; the engine hands it to scanners.
//!
//! Must never contain algorithm code, kernel selection or I/O.

/// One unit of work: the 80-byte block header exactly as it is hashed (version LE, prevhash,
/// merkle root, ntime LE, nbits LE, nonce LE at bytes 76..80) and the share target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Work {
    pub header: [u8; 80],
    pub target: Target,
}

/// A 256-bit target, little-endian bytes. A hash (32 bytes as the algorithm produces them, read
/// as a little-endian 256-bit integer) meets it when `hash <= target`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Target(pub [u8; 32]);

impl Target {
    /// Every hash meets it.
    pub const MAX: Target = Target([0xff; 32]);
    /// Only the all-zero hash meets it (benchmarks use it: nothing is ever found).
    pub const ZERO: Target = Target([0; 32]);

    /// Expands a block header's compact `nbits` (Bitcoin's encoding: exponent byte and 23-bit
    /// mantissa). Negative or zero encodings give [`Target::ZERO`], overflow [`Target::MAX`].
    pub fn from_compact(nbits: u32) -> Target {
        let exp = (nbits >> 24) as usize;
        let mant = nbits & 0x007f_ffff;
        if mant == 0 || nbits & 0x0080_0000 != 0 {
            return Target::ZERO;
        }
        let mut b = [0u8; 32];
        if exp <= 3 {
            let v = mant >> (8 * (3 - exp));
            b[..4].copy_from_slice(&v.to_le_bytes());
            return Target(b);
        }
        let shift = exp - 3;
        for i in 0..3 {
            let byte = ((mant >> (8 * i)) & 0xff) as u8;
            let pos = shift + i;
            if pos < 32 {
                b[pos] = byte;
            } else if byte != 0 {
                return Target::MAX;
            }
        }
        Target(b)
    }

    /// The difficulty this target stands for on an algorithm whose difficulty-1 target is
    /// `diff1` (f64 precision; the zero target gives infinity).
    pub fn to_difficulty(&self, diff1: &Target) -> f64 {
        diff1.to_f64() / self.to_f64()
    }

    fn to_f64(self) -> f64 {
        self.0
            .iter()
            .rev()
            .fold(0.0, |acc, &b| acc * 256.0 + f64::from(b))
    }

    pub fn is_met_by(&self, hash: &[u8; 32]) -> bool {
        for i in (0..32).rev() {
            if hash[i] != self.0[i] {
                return hash[i] < self.0[i];
            }
        }
        true
    }
}

/// A hash kernel bound to one job at a time.
pub trait Scanner: Send {
    /// Kernel name, e.g. `sha256d-avx512x16`.
    fn name(&self) -> &'static str;
    /// Nonces hashed side by side per inner step.
    fn lanes(&self) -> u32;
    /// Prepares for a new job or target (midstate and the like).
    fn set_work(&mut self, work: &Work);
    /// Hashes nonces `start..start + count`, pushes every nonce whose hash meets the target into
    /// `hits`, and returns the number of hashes done. The caller keeps `start + count` in range.
    fn scan(&mut self, start: u32, count: u32, hits: &mut Vec<u32>) -> u64;
}
