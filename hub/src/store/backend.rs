//! The fleet store as the ingest and the fleet API see it, whichever backend holds it: the
//! embedded redb [`Store`] (the default, one hub) or PostgreSQL ([`super::postgres::PgStore`],
//! `store = "postgres://..."`, shared by several hubs).
//!
//! What "the fleet store" holds: the records (one per (rig, seq)), the rig registry (with its
//! duplicate and gap counts), the tuning-telemetry aggregates the fleet hints come from
//! (`super::telem::TelemStore`) and the config pushes seen. Everything else
//! (market, pools, network, scores, alerts) stays in the hub-local redb `Store` whatever the
//! backend; see `docs/ARCHITECTURE.md` ("Store backends").
//!
//! Must never let a backend answer differently from the other for the same input: the
//! domain's projection (`RigEntry::observe`) and the telemetry arithmetic (`telem::aggregate`)
//! are shared, only the I/O differs.

use super::{Incoming, Outcome, Store, StoreError, StoreRead};
use crate::domain::rollout::PushRecord;
use std::fmt;

/// What the ingest writes and the fleet API reads. Sync on purpose, like the read traits it
/// extends: its callers (ingest writer, API handlers, jobs) already treat the store as blocking
/// I/O; the PostgreSQL backend explains how it bridges to its async driver.
pub trait FleetStore: StoreRead + super::telem::TelemStore {
    /// Writes a batch atomically; one outcome per message, in order. On an error nothing of
    /// the batch is stored and the caller must not acknowledge it.
    fn ingest(&self, batch: &[Incoming]) -> Result<Vec<Outcome>, StoreError>;
    /// Records a config push seen on a scope's topic; `None` forgets the scope.
    fn record_push(&self, scope: &str, push: Option<&PushRecord>) -> Result<(), StoreError>;
    /// Forgets a rig's registry entry (its records stay); whether it was known.
    fn forget_rig(&self, rig: &str) -> Result<bool, StoreError>;
    /// The backend's name for logs and `/status` (`redb`, `postgres`).
    fn backend(&self) -> &'static str;
}

impl FleetStore for Store {
    fn ingest(&self, batch: &[Incoming]) -> Result<Vec<Outcome>, StoreError> {
        Store::ingest(self, batch)
    }
    fn record_push(&self, scope: &str, push: Option<&PushRecord>) -> Result<(), StoreError> {
        Store::record_push(self, scope, push)
    }
    fn forget_rig(&self, rig: &str) -> Result<bool, StoreError> {
        Store::forget_rig(self, rig)
    }
    fn backend(&self) -> &'static str {
        "redb"
    }
}

/// A PostgreSQL connection URL, checked when the config is read. Its `Debug` and `Display`
/// never show the password.
#[derive(Clone, PartialEq)]
pub struct PgUrl(String);

impl PgUrl {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The parsed settings (the URL was checked when it was made).
    pub fn config(&self) -> Result<tokio_postgres::Config, StoreConfigError> {
        self.0
            .parse::<tokio_postgres::Config>()
            .map_err(|e| StoreConfigError::BadUrl(e.to_string()))
    }

    /// `host:port/dbname` for logs.
    pub fn redacted(&self) -> String {
        match self.config() {
            Ok(c) => {
                let hosts: Vec<String> = c
                    .get_hosts()
                    .iter()
                    .map(|h| match h {
                        tokio_postgres::config::Host::Tcp(h) => h.clone(),
                        tokio_postgres::config::Host::Unix(p) => p.display().to_string(),
                    })
                    .collect();
                let ports: Vec<String> = c.get_ports().iter().map(u16::to_string).collect();
                format!(
                    "postgres://{}:{}/{}",
                    hosts.join(","),
                    ports.join(","),
                    c.get_dbname().unwrap_or("")
                )
            }
            Err(_) => "postgres://(unparsable)".into(),
        }
    }
}

impl fmt::Debug for PgUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PgUrl({})", self.redacted())
    }
}

impl fmt::Display for PgUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

/// Where the fleet store lives (`store` in hub.toml, `--store`).
#[derive(Debug, Clone, Default, PartialEq)]
pub enum StoreChoice {
    /// `hub.redb` in the data directory.
    #[default]
    Redb,
    Postgres(PgUrl),
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum StoreConfigError {
    #[error("store must be \"redb\" or a postgres://user:password@host:port/dbname URL; got a value starting {0:?}")]
    Scheme(String),
    #[error("store: not a valid PostgreSQL URL: {0}")]
    BadUrl(String),
    #[error("store: the PostgreSQL URL names no host")]
    NoHost,
}

impl StoreChoice {
    /// Parses the `store` setting. The error never repeats the value past its scheme: it may
    /// hold a password.
    pub fn parse(value: &str) -> Result<StoreChoice, StoreConfigError> {
        if value == "redb" {
            return Ok(StoreChoice::Redb);
        }
        if !(value.starts_with("postgres://") || value.starts_with("postgresql://")) {
            let shown: String = value.chars().take_while(|c| *c != ':').take(16).collect();
            return Err(StoreConfigError::Scheme(shown));
        }
        let url = PgUrl(value.to_string());
        if url.config()?.get_hosts().is_empty() {
            return Err(StoreConfigError::NoHost);
        }
        Ok(StoreChoice::Postgres(url))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_setting_parses_redb_and_postgres_urls_and_names_what_is_wrong() {
        assert_eq!(StoreChoice::parse("redb"), Ok(StoreChoice::Redb));
        let StoreChoice::Postgres(url) =
            StoreChoice::parse("postgres://hub:s3cret@db.example:6543/fleet").expect("url")
        else {
            panic!("not postgres");
        };
        assert_eq!(url.redacted(), "postgres://db.example:6543/fleet");
        assert!(!format!("{url:?} {url}").contains("s3cret"));
        assert!(StoreChoice::parse("postgresql://h/db").is_ok());
        let e = StoreChoice::parse("mysql://root:pw@h/db").expect_err("scheme");
        assert_eq!(e, StoreConfigError::Scheme("mysql".into()));
        assert!(!e.to_string().contains("pw"));
        assert!(matches!(
            StoreChoice::parse("postgres://h:notaport/db"),
            Err(StoreConfigError::BadUrl(_))
        ));
        assert_eq!(
            StoreChoice::parse("postgres:///db"),
            Err(StoreConfigError::NoHost)
        );
    }
}
