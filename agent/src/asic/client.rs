//! One miner's API client whatever its kind ([`AsicClient`]), the miner's identity and
//! credentials ([`AsicSpec`]), and `auto` detection of the API kind.
//!
//! Detection asks each API the cheapest question it answers (Vnish `/api/v1/info`, the
//! Antminer Digest challenge, cgminer `version`), each bounded by the request timeout. It must
//! never send credentials to an API it has not identified.

use super::antminer::AntminerClient;
use super::cgminer::CgminerClient;
use super::error::ApiError;
use super::normalise::RawReading;
use super::target::{Endpoint, Scheme, CGMINER_PORT, HTTP_PORT};
use super::vnish::{VnishAuth, VnishClient};
use hashward_protocol::AsicApi;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

/// Which API to speak, as written in config (`kind = "vnish" | "cgminer" | "antminer" | "auto"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AsicKind {
    Vnish,
    Cgminer,
    Antminer,
    #[default]
    Auto,
}

impl FromStr for AsicKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "vnish" => Ok(AsicKind::Vnish),
            "cgminer" | "bmminer" => Ok(AsicKind::Cgminer),
            "antminer" => Ok(AsicKind::Antminer),
            "auto" => Ok(AsicKind::Auto),
            _ => Err(format!(
                "unknown miner kind `{s}` (vnish, cgminer, antminer or auto)"
            )),
        }
    }
}

/// Secrets for one miner. `Debug` never shows them.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    /// Antminer Digest user (stock default `root`).
    pub username: Option<String>,
    /// Vnish web password or Antminer Digest password.
    pub password: Option<String>,
    /// Vnish API key (`x-api-key`), used instead of the password when set.
    pub api_key: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mask = |o: &Option<String>| if o.is_some() { "Some(***)" } else { "None" };
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &mask(&self.password))
            .field("api_key", &mask(&self.api_key))
            .finish()
    }
}

/// One miner to poll.
#[derive(Debug, Clone)]
pub struct AsicSpec {
    /// Config name; also the last MQTT topic level.
    pub id: String,
    pub endpoint: Endpoint,
    pub kind: AsicKind,
    pub credentials: Credentials,
}

impl AsicSpec {
    pub fn new(id: &str, address: &str, kind: AsicKind, credentials: Credentials) -> Result<Self, ApiError> {
        Ok(AsicSpec {
            id: id.to_string(),
            endpoint: Endpoint::parse(address)?,
            kind,
            credentials,
        })
    }
}

pub enum AsicClient {
    Vnish(VnishClient),
    Cgminer(CgminerClient),
    Antminer(AntminerClient),
}

impl AsicClient {
    /// Resolves the address and, for `auto`, finds out which API answers there.
    pub async fn connect(spec: &AsicSpec, timeout: Duration) -> Result<AsicClient, ApiError> {
        let ep = &spec.endpoint;
        let kind = match (spec.kind, ep.scheme) {
            (AsicKind::Auto, Scheme::Tcp) => AsicKind::Cgminer,
            (k, _) => k,
        };
        match kind {
            AsicKind::Vnish => Ok(Self::vnish(
                ep.resolve(HTTP_PORT).await?,
                &spec.credentials,
                timeout,
            )),
            AsicKind::Antminer => Ok(Self::antminer(
                ep.resolve(HTTP_PORT).await?,
                &spec.credentials,
                timeout,
            )),
            AsicKind::Cgminer => Ok(AsicClient::Cgminer(CgminerClient::new(
                ep.resolve(CGMINER_PORT).await?,
                timeout,
            ))),
            AsicKind::Auto => detect(spec, timeout).await,
        }
    }

    fn vnish(addr: SocketAddr, c: &Credentials, timeout: Duration) -> AsicClient {
        let auth = match (&c.api_key, &c.password) {
            (Some(k), _) => VnishAuth::ApiKey(k.clone()),
            (None, Some(p)) => VnishAuth::Password(p.clone()),
            (None, None) => VnishAuth::None,
        };
        AsicClient::Vnish(VnishClient::new(addr, auth, timeout))
    }

    fn antminer(addr: SocketAddr, c: &Credentials, timeout: Duration) -> AsicClient {
        // Bitmain ships root/root; the credentials file overrides it.
        let user = c.username.clone().unwrap_or_else(|| "root".into());
        let pass = c.password.clone().unwrap_or_else(|| "root".into());
        AsicClient::Antminer(AntminerClient::new(addr, user, pass, timeout))
    }

    pub fn api(&self) -> AsicApi {
        match self {
            AsicClient::Vnish(_) => AsicApi::Vnish,
            AsicClient::Cgminer(_) => AsicApi::Cgminer,
            AsicClient::Antminer(_) => AsicApi::Antminer,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        match self {
            AsicClient::Vnish(c) => c.addr(),
            AsicClient::Cgminer(c) => c.addr(),
            AsicClient::Antminer(c) => c.addr(),
        }
    }

    /// Reads the slow-changing data (Vnish info, settings, presets, status). Other APIs have
    /// nothing to cache.
    pub async fn refresh_static(&mut self) -> Result<(), ApiError> {
        match self {
            AsicClient::Vnish(c) => c.refresh_static().await,
            _ => Ok(()),
        }
    }

    /// The telemetry poll.
    pub async fn read(&mut self) -> Result<RawReading, ApiError> {
        match self {
            AsicClient::Vnish(c) => c.read().await,
            AsicClient::Cgminer(c) => c.read().await,
            AsicClient::Antminer(c) => c.read().await,
        }
    }
}

async fn detect(spec: &AsicSpec, timeout: Duration) -> Result<AsicClient, ApiError> {
    let ep = &spec.endpoint;
    let mut last_err = None;
    if ep.scheme != Scheme::Tcp {
        let addr = ep.resolve(HTTP_PORT).await?;
        let mut v = VnishClient::new(addr, VnishAuth::None, timeout);
        match v.info_open().await {
            Ok(info)
                if info.get("fw_name").is_some()
                    || info.get("hr_measure").is_some()
                    || info.get("miner").is_some() =>
            {
                log::info!("{}: detected Vnish at {addr}", spec.id);
                return Ok(AsicClient::vnish(addr, &spec.credentials, timeout));
            }
            // A locked /api/v1/info (not a Digest challenge) is a Vnish that wants a password.
            Err(ApiError::Unauthorized { .. }) => {
                let mut a = AntminerClient::new(addr, String::new(), String::new(), timeout);
                if !a.looks_like_antminer().await.unwrap_or(false) {
                    log::info!("{}: detected Vnish (locked) at {addr}", spec.id);
                    return Ok(AsicClient::vnish(addr, &spec.credentials, timeout));
                }
            }
            Ok(_) => {}
            Err(e) => last_err = Some(e),
        }
        let mut a = AntminerClient::new(addr, String::new(), String::new(), timeout);
        match a.looks_like_antminer().await {
            Ok(true) => {
                log::info!("{}: detected stock Antminer at {addr}", spec.id);
                return Ok(AsicClient::antminer(addr, &spec.credentials, timeout));
            }
            Ok(false) => {}
            Err(e) => last_err = Some(e),
        }
    }
    if ep.scheme != Scheme::Http {
        let addr = ep.resolve(CGMINER_PORT).await?;
        let c = CgminerClient::new(addr, timeout);
        match c.command("version", None).await {
            Ok(_) => {
                log::info!("{}: detected cgminer API at {addr}", spec.id);
                return Ok(AsicClient::Cgminer(c));
            }
            Err(e) => last_err = Some(e),
        }
    }
    match last_err {
        // Nothing answered at all: report that, so the miner is counted unreachable.
        Some(e) if e.kind().is_silence() => Err(e),
        _ => Err(ApiError::NotDetected(spec.endpoint.host.clone())),
    }
}
