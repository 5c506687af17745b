//! scrypt (N=1024, r=1, p=1) proof-of-work scanning: runtime kernel selection
//! and the one `Scanner` implementation shared by all kernels (PBKDF2 per lane
//! around a multi-lane ROMix kernel, target check, hit collection).
//!
//! Must never offer a kernel the running CPU cannot execute: SIMD kernels are
//! only constructed after runtime feature detection succeeded.

use crate::miner::work::{Scanner, Target, Work};

pub mod pbkdf2;
pub mod scalar;

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
mod avx512;
#[cfg(target_arch = "x86_64")]
mod avx512diag;
#[cfg(target_arch = "aarch64")]
mod neon;
#[cfg(target_arch = "x86_64")]
mod sse2;

#[cfg(test)]
mod tests;

use pbkdf2::{HeaderPbkdf2, HmacState};

/// Words per ROMix block for r = 1 (128 bytes).
const BLOCK_WORDS: usize = 32;
/// scrypt N.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
const N: usize = 1024;

/// A ROMix (N=1024, r=1) implementation over `LANES` independent hashes.
trait Kernel: Send {
    const NAME: &'static str;
    const LANES: usize;
    /// Runs ROMix in place on `x.len() == LANES` blocks of 32 LE words.
    fn romix(&mut self, x: &mut [[u32; BLOCK_WORDS]]);
}

/// One 64-byte, cache-line aligned unit of scratchpad.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
#[repr(C, align(64))]
#[derive(Clone, Copy)]
struct Line([u32; 16]);

/// A zeroed 128 KiB-per-lane scratchpad (two lines per 128-byte block).
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
fn scratchpad(lanes: usize) -> Vec<Line> {
    vec![Line([0; 16]); lanes * N * 2]
}

struct ScryptScanner<K: Kernel> {
    kernel: K,
    job: Option<HeaderPbkdf2>,
    target: Target,
    x: Vec<[u32; BLOCK_WORDS]>,
    hmac: Vec<HmacState>,
}

impl<K: Kernel> ScryptScanner<K> {
    fn new(kernel: K) -> Self {
        ScryptScanner {
            kernel,
            job: None,
            target: Target([0; 32]),
            x: vec![[0; BLOCK_WORDS]; K::LANES],
            hmac: vec![HmacState::default(); K::LANES],
        }
    }
}

impl<K: Kernel> Scanner for ScryptScanner<K> {
    fn name(&self) -> &'static str {
        K::NAME
    }

    fn lanes(&self) -> u32 {
        K::LANES as u32
    }

    fn set_work(&mut self, work: &Work) {
        self.job = Some(HeaderPbkdf2::new(&work.header));
        self.target = work.target;
    }

    fn scan(&mut self, start: u32, count: u32, hits: &mut Vec<u32>) -> u64 {
        let Some(job) = &self.job else {
            return 0;
        };
        let lanes = K::LANES as u32;
        let mut done = 0u32;
        while done < count {
            let base = start.wrapping_add(done);
            for (l, (x, h)) in self.x.iter_mut().zip(self.hmac.iter_mut()).enumerate() {
                *h = job.first(base.wrapping_add(l as u32), x);
            }
            self.kernel.romix(&mut self.x);
            // A final partial batch still runs all lanes; only `count` are reported.
            let used = lanes.min(count - done);
            for l in 0..used as usize {
                let hash = job.second(&self.hmac[l], &self.x[l]);
                if self.target.is_met_by(&hash) {
                    hits.push(base.wrapping_add(l as u32));
                }
            }
            done += used;
        }
        u64::from(count)
    }
}

fn boxed<K: Kernel + 'static>(kernel: K) -> Box<dyn Scanner> {
    Box::new(ScryptScanner::new(kernel))
}

type Constructor = fn() -> Option<Box<dyn Scanner>>;

/// Every kernel compiled for this architecture, fastest first as measured on
/// one Sapphire Rapids core (examples/speed.rs, kH/s per CPU second):
/// avx512x16 ~36.7, avx512diag8 ~32.2, avx2x8 ~17, sse2x4 ~9.3, scalar ~4.3.
const KERNELS: &[(&str, Constructor)] = &[
    #[cfg(target_arch = "x86_64")]
    (avx512::Avx512Kernel::NAME, || {
        avx512::Avx512Kernel::new().map(boxed)
    }),
    #[cfg(target_arch = "x86_64")]
    (avx512diag::Avx512DiagKernel::<2>::NAME, || {
        avx512diag::Avx512DiagKernel::<2>::new().map(boxed)
    }),
    #[cfg(target_arch = "x86_64")]
    (avx2::Avx2Kernel::NAME, || avx2::Avx2Kernel::new().map(boxed)),
    #[cfg(target_arch = "x86_64")]
    (sse2::Sse2Kernel::NAME, || sse2::Sse2Kernel::new().map(boxed)),
    #[cfg(target_arch = "aarch64")]
    (neon::NeonKernel::NAME, || Some(boxed(neon::NeonKernel::new()))),
    (scalar::ScalarKernel::NAME, || {
        Some(boxed(scalar::ScalarKernel::new()))
    }),
];

/// All kernels the running CPU supports, fastest first.
pub fn available() -> Vec<Box<dyn Scanner>> {
    KERNELS.iter().filter_map(|(_, make)| make()).collect()
}

/// The fastest kernel the running CPU supports.
pub fn best() -> Box<dyn Scanner> {
    KERNELS
        .iter()
        .find_map(|(_, make)| make())
        .expect("the portable scalar kernel is always available")
}

/// The kernel called `name` (e.g. "scrypt-avx512x16"), if this CPU supports it.
pub fn by_name(name: &str) -> Option<Box<dyn Scanner>> {
    KERNELS
        .iter()
        .find(|(n, _)| *n == name)
        .and_then(|(_, make)| make())
}

/// Names of all kernels compiled in, supported by this CPU or not.
pub fn kernel_names() -> Vec<&'static str> {
    KERNELS.iter().map(|(n, _)| *n).collect()
}

/// scrypt(N=1024, r=1, p=1, dkLen=32) of a header salted with itself: the Litecoin/Dogecoin
/// proof-of-work hash. Portable reference built on the generic scrypt; the kernels are checked
/// against it.
pub fn scrypt_1024_1_1_256(header: &[u8; 80]) -> [u8; 32] {
    let out = scalar::scrypt(header, header, 1024, 1, 1, 32);
    let mut hash = [0u8; 32];
    hash.copy_from_slice(&out);
    hash
}
