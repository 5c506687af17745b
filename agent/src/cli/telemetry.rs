//! `hashward-agent telemetry id|forget`: show the random id this agent shares tuning snapshots
//! under, or ask the hub to forget everything shared under it (seed 004's `DELETE
//! /telem/my-data`) and draw a new one. Binary glue, hence anyhow.
//!
//! Must never draw a new id before the hub confirmed the old one is gone (or never known): a
//! failed request leaves the id in place so the forget can be retried.

use crate::config::Config;
use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Subcommand)]
pub enum TelemetryCommand {
    /// Print the telemetry id (drawn on the first shared snapshot), or say there is none.
    Id(Where),
    /// Ask the hub to remove this agent's tuning telemetry from its aggregates, then draw a new
    /// id so later snapshots are not linked to the forgotten ones.
    Forget {
        #[command(flatten)]
        at: Where,
        /// The hub's HTTP base URL (default: `miner.telemetry_endpoint`, else `inference.hub_url`).
        #[arg(long)]
        hub_url: Option<String>,
        /// Give up on the hub after this many seconds.
        #[arg(long, default_value_t = 10)]
        timeout_s: u64,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct Where {
    /// Agent configuration (as for `run`).
    #[arg(short, long)]
    pub config: Option<PathBuf>,
    /// Overrides `data_dir`, where the id file lives.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
}

fn config(at: &Where) -> anyhow::Result<Config> {
    super::RunArgs {
        config: at.config.clone(),
        data_dir: at.data_dir.clone(),
        pools: Vec::new(),
        user: None,
        pass: "x".into(),
        algo: None,
        threads: None,
    }
    .config()
}

/// The hub URL a forget goes to: the flag, else the config's telemetry endpoint, else its hub.
pub fn hub_url(flag: Option<&str>, cfg: &Config) -> Option<String> {
    flag.map(str::to_string)
        .or_else(|| cfg.tune.telemetry_endpoint.clone())
        .or_else(|| cfg.inference.hub_url.clone())
}

pub fn main(cmd: TelemetryCommand) -> anyhow::Result<()> {
    match cmd {
        TelemetryCommand::Id(at) => {
            let cfg = config(&at)?;
            match crate::telem::load(&cfg.data_dir)? {
                Some(id) => println!("{id}"),
                None => bail!(crate::telem::TelemError::NoId(cfg.data_dir)),
            }
            Ok(())
        }
        TelemetryCommand::Forget {
            at,
            hub_url: flag,
            timeout_s,
            json,
        } => {
            let cfg = config(&at)?;
            let Some(url) = hub_url(flag.as_deref(), &cfg) else {
                bail!(
                    "no hub URL: pass --hub-url http://HUB:8080 or set miner.telemetry_endpoint \
                     (or inference.hub_url) in the agent config"
                );
            };
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                bail!("hub URL {url:?} is not an http:// or https:// URL");
            }
            let Some(old) = crate::telem::load(&cfg.data_dir)? else {
                bail!(crate::telem::TelemError::NoId(cfg.data_dir));
            };
            let outcome = crate::telem::forget(&url, &old, Duration::from_secs(timeout_s.max(1)))?;
            let new = crate::telem::draw(&cfg.data_dir)
                .context("the hub forgot the old id, but a new one was not drawn")?;
            let (removed, known) = match outcome {
                crate::telem::Forgotten::Removed { contributions } => (contributions, true),
                crate::telem::Forgotten::Unknown => (0, false),
            };
            if json {
                println!(
                    "{}",
                    serde_json::json!({
                        "forgotten_id": old.to_string(),
                        "known_to_hub": known,
                        "removed_contributions": removed,
                        "new_id": new.to_string(),
                    })
                );
            } else if known {
                println!("the hub forgot telemetry id {old} ({removed} configuration(s)); new id {new}");
            } else {
                println!(
                    "the hub held nothing under telemetry id {old} (never received or expired); new id {new}"
                );
            }
            Ok(())
        }
    }
}
