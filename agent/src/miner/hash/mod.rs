//! Hash kernels behind one [`Scanner`] trait, chosen at run time by CPU feature detection.
//! Every kernel is tested against its algorithm's portable reference on random inputs.

pub mod scrypt;
pub mod sha256d;

use crate::miner::work::Scanner;
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Algo {
    Sha256d,
    Scrypt,
}

impl fmt::Display for Algo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Algo::Sha256d => "sha256d",
            Algo::Scrypt => "scrypt",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown algorithm {0:?}; known: sha256d, scrypt")]
pub struct UnknownAlgo(pub String);

impl std::str::FromStr for Algo {
    type Err = UnknownAlgo;
    fn from_str(s: &str) -> Result<Algo, UnknownAlgo> {
        match s.to_ascii_lowercase().as_str() {
            "sha256d" | "sha256" => Ok(Algo::Sha256d),
            "scrypt" => Ok(Algo::Scrypt),
            _ => Err(UnknownAlgo(s.to_string())),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KernelError {
    #[error("no {0} kernel is available on this CPU")]
    NotBuilt(Algo),
    #[error("this agent was built without the CPU miner (cargo feature `cpu-miner`)")]
    MinerNotBuilt,
    #[error("kernel {name:?} is unknown or not supported by this CPU; available: {available}")]
    Unavailable { name: String, available: String },
}

/// Every kernel for `algo` this CPU supports, fastest first.
pub fn available(algo: Algo) -> Result<Vec<Box<dyn Scanner>>, KernelError> {
    if !crate::miner::BUILT_IN {
        return Err(KernelError::MinerNotBuilt);
    }
    match algo {
        Algo::Scrypt => Ok(scrypt::available()),
        Algo::Sha256d => Ok(sha256d::available()),
    }
}

/// The fastest kernel for `algo` on this CPU, or the named one.
pub fn select(algo: Algo, name: Option<&str>) -> Result<Box<dyn Scanner>, KernelError> {
    let all = available(algo)?;
    match name {
        None => all.into_iter().next().ok_or(KernelError::NotBuilt(algo)),
        Some(n) => {
            let available = all.iter().map(|k| k.name()).collect::<Vec<_>>().join(", ");
            all.into_iter()
                .find(|k| k.name() == n)
                .ok_or(KernelError::Unavailable {
                    name: n.into(),
                    available,
                })
        }
    }
}
