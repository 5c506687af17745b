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
