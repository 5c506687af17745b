//! `hashward-hub push-config`: signs a partial agent config with the hub's key and publishes it,
//! retained, on a scope's topic, so a rig that comes online later gets it. Its version is above
//! both the clock and the version retained there now, so it is newer for every rig.
//!
//! Must never publish a patch the agents would refuse (checked here the way they check it), or
//! publish anything unsigned.

use super::broker::{self, BrokerArgs};
use anyhow::{bail, Context};
use clap::Args;
use hashward_protocol::command::is_pushable;
use hashward_protocol::signed::{PayloadKind, Scope, SignedContent, SignedMessage};
use hashward_protocol::Topic;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct PushArgs {
    /// `fleet`, `site:SITE` or `rig:SITE/RIG`.
    #[arg(long)]
    pub scope: Scope,
    /// A partial agent config (TOML): pools, tuning bounds, thermal/power limits, intervals.
    #[arg(long)]
    pub file: PathBuf,
    /// The hub's private key (from `keygen`).
    #[arg(long, default_value = "/etc/hashward/hub.key")]
    pub key: PathBuf,
    #[command(flatten)]
    pub broker: BrokerArgs,
}

/// Checks a patch the way the agents will: TOML, sections of pushable keys, not empty.
pub fn check_patch(text: &str) -> anyhow::Result<()> {
    let table: toml::Table = text.parse().context("the patch is not TOML")?;
    if table.is_empty() {
        bail!("the patch is empty");
    }
    for (section, v) in &table {
        let toml::Value::Table(keys) = v else {
            bail!("key {section:?} cannot be pushed (only telemetry.interval_ms, [miner], [watchdog] and [asic] settings)");
        };
        for k in keys.keys() {
            if !is_pushable(section, k) {
                bail!("key \"{section}.{k}\" cannot be pushed (only telemetry.interval_ms, [miner], [watchdog] and [asic] settings)");
            }
        }
    }
    Ok(())
}

fn scope_topic(scope: &Scope) -> Topic {
    match scope {
        Scope::Fleet => Topic::FleetCfg,
        Scope::Site(site) => Topic::SiteCfg { site: site.clone() },
        Scope::Rig(site, rig) => Topic::RigCfg {
            site: site.clone(),
            rig: rig.clone(),
        },
    }
}

pub fn run(args: PushArgs) -> anyhow::Result<()> {
    let key = crate::keys::load(&args.key)?;
    let text =
        std::fs::read_to_string(&args.file).with_context(|| format!("reading {}", args.file.display()))?;
    check_patch(&text).with_context(|| format!("{}", args.file.display()))?;
    let topic = scope_topic(&args.scope).to_string();
    broker::runtime()?.block_on(async {
        let now = hashward_common::now_ms();
        let (version, last) = broker::next_version(&args.broker, &topic, now).await?;
        let msg = SignedMessage::sign(
            SignedContent {
                kind: PayloadKind::Config,
                scope: args.scope.clone(),
                version,
                issued_ms: now,
                expires_ms: None,
                payload: text.into_bytes(),
            },
            &key,
        )?;
        broker::publish(&args.broker, &topic, postcard::to_stdvec(&msg)?, true).await?;
        println!(
            "{}",
            serde_json::json!({"scope": args.scope.to_string(), "version": version, "topic": topic, "previous_version": last})
        );
        Ok(())
    })
}
