//! sha256d kernel selection and the [`Scanner`] implementation: which kernels exist, which
//! this CPU supports (run-time feature detection), and `available` / `best` / `by_name`.
//!
//! What it must never do: construct a scanner for, or call, a `#[target_feature]` kernel
//! whose feature was not detected at run time.

#[cfg(target_arch = "aarch64")]
use super::armv8;
use super::scalar;
use super::Job;
#[cfg(target_arch = "x86_64")]
use super::{avx2, avx512, shani};
use crate::miner::work::{Scanner, Work};

/// The sha256d kernels. Only constructible through [`Kernel::all_supported`] /
/// [`Sha256dScanner::new`], which check CPU support first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kernel {
    Scalar,
    #[cfg(target_arch = "x86_64")]
    ShaNi,
    #[cfg(target_arch = "x86_64")]
    Avx2,
    #[cfg(target_arch = "x86_64")]
    Avx512,
    #[cfg(target_arch = "aarch64")]
    Armv8,
}

impl Kernel {
    /// All kernels, fastest first. Order measured single-threaded on a 2.9 GHz Sapphire
    /// Rapids class Xeon (examples/speed.rs): AVX-512 ~31 MH/s, SHA-NI ~14.5, AVX2 ~11.6,
    /// scalar ~2.7. On CPUs with a faster SHA unit (e.g. AMD Zen) SHA-NI may win.
    pub const ALL: &'static [Kernel] = &[
        #[cfg(target_arch = "x86_64")]
        Kernel::Avx512,
        #[cfg(target_arch = "x86_64")]
        Kernel::ShaNi,
        #[cfg(target_arch = "x86_64")]
        Kernel::Avx2,
        #[cfg(target_arch = "aarch64")]
        Kernel::Armv8,
        Kernel::Scalar,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Kernel::Scalar => "sha256d-scalar",
            #[cfg(target_arch = "x86_64")]
            Kernel::ShaNi => "sha256d-shani-x2",
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2 => "sha256d-avx2x8",
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx512 => "sha256d-avx512x16",
            #[cfg(target_arch = "aarch64")]
            Kernel::Armv8 => "sha256d-armv8-x2",
        }
    }

    pub fn lanes(self) -> u32 {
        match self {
            Kernel::Scalar => 1,
            #[cfg(target_arch = "x86_64")]
            Kernel::ShaNi => shani::LANES,
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2 => 8,
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx512 => 16,
            #[cfg(target_arch = "aarch64")]
            Kernel::Armv8 => armv8::LANES,
        }
    }

    /// Run-time CPU support check.
    pub fn is_supported(self) -> bool {
        match self {
            Kernel::Scalar => true,
            #[cfg(target_arch = "x86_64")]
            Kernel::ShaNi => {
                is_x86_feature_detected!("sha")
                    && is_x86_feature_detected!("sse2")
                    && is_x86_feature_detected!("ssse3")
                    && is_x86_feature_detected!("sse4.1")
            }
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2 => is_x86_feature_detected!("avx2"),
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx512 => is_x86_feature_detected!("avx512f"),
            #[cfg(target_arch = "aarch64")]
            Kernel::Armv8 => std::arch::is_aarch64_feature_detected!("sha2"),
        }
    }

    /// Supported kernels, fastest first.
    pub fn all_supported() -> Vec<Kernel> {
        Kernel::ALL.iter().copied().filter(|k| k.is_supported()).collect()
    }
}

/// A [`Scanner`] running one sha256d kernel.
pub struct Sha256dScanner {
    /// Invariant: `kernel.is_supported()` was true when this was built.
    kernel: Kernel,
    job: Option<Box<Job>>,
}

impl Sha256dScanner {
    /// `None` if this CPU does not support `kernel`.
    pub fn new(kernel: Kernel) -> Option<Sha256dScanner> {
        kernel
            .is_supported()
            .then_some(Sha256dScanner { kernel, job: None })
    }

    pub fn kernel(&self) -> Kernel {
        self.kernel
    }
}

impl Scanner for Sha256dScanner {
    fn name(&self) -> &'static str {
        self.kernel.name()
    }

    fn lanes(&self) -> u32 {
        self.kernel.lanes()
    }

    fn set_work(&mut self, work: &Work) {
        self.job = Some(Box::new(Job::new(work)));
    }

    fn scan(&mut self, start: u32, count: u32, hits: &mut Vec<u32>) -> u64 {
        let Some(job) = self.job.as_deref() else {
            return 0;
        };
        match self.kernel {
            Kernel::Scalar => scalar::scan(job, start, count, hits),
            // SAFETY (all arms below): `self.kernel` was checked with `is_supported()` (run-time
            // feature detection) when this scanner was constructed.
            #[cfg(target_arch = "x86_64")]
            Kernel::ShaNi => unsafe { shani::scan(job, start, count, hits) },
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2 => unsafe { avx2::scan(job, start, count, hits) },
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx512 => unsafe { avx512::scan(job, start, count, hits) },
            #[cfg(target_arch = "aarch64")]
            Kernel::Armv8 => unsafe { armv8::scan(job, start, count, hits) },
        }
        count as u64
    }
}

/// All sha256d kernels this CPU supports, fastest first.
pub fn available() -> Vec<Box<dyn Scanner>> {
    Kernel::all_supported()
        .into_iter()
        .filter_map(Sha256dScanner::new)
        .map(|s| Box::new(s) as Box<dyn Scanner>)
        .collect()
}

/// The fastest sha256d kernel this CPU supports (the scalar one always is).
pub fn best() -> Box<dyn Scanner> {
    match available().into_iter().next() {
        Some(s) => s,
        None => Box::new(Sha256dScanner {
            kernel: Kernel::Scalar,
            job: None,
        }),
    }
}

/// The kernel called `name` (see [`Kernel::name`]), if this CPU supports it.
pub fn by_name(name: &str) -> Option<Box<dyn Scanner>> {
    Kernel::all_supported()
        .into_iter()
        .find(|k| k.name() == name)
        .and_then(Sha256dScanner::new)
        .map(|s| Box::new(s) as Box<dyn Scanner>)
}
