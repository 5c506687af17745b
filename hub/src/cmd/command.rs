//! `hashward-hub command`: signs a one-shot command for one rig and publishes it on the rig's
//! command topic, not retained, with an expiry.
//!
//! Must never send a command without an expiry, or one valid for longer than the agents accept.

use super::broker::{self, BrokerArgs};
use anyhow::bail;
use clap::Args;
use hashward_protocol::command::MAX_COMMAND_TTL_MS;
use hashward_protocol::signed::{PayloadKind, Scope, SignedContent, SignedMessage};
use hashward_protocol::{Command, Topic};
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct CommandArgs {
    /// The rig, `SITE/RIG`.
    #[arg(long)]
    pub rig: String,
    /// restart-miner, pause, resume, retune, repoll-asics, diagnostics or set-power-target.
    #[arg(long = "cmd")]
    pub command: String,
    /// set-power-target: the ASIC's id in the rig's `[asic]` section.
    #[arg(long)]
    pub asic: Option<String>,
    /// set-power-target: the power target in watts (the highest tuned preset at or below it).
    #[arg(long)]
    pub watts: Option<u32>,
    /// How long the command stays valid.
    #[arg(long, default_value_t = 300)]
    pub ttl_secs: u64,
    #[arg(long, default_value = "/etc/hashward/hub.key")]
    pub key: PathBuf,
    #[command(flatten)]
    pub broker: BrokerArgs,
}

pub fn run(args: CommandArgs) -> anyhow::Result<()> {
    let command = Command::from_parts(&args.command, args.asic.as_deref(), args.watts)?;
    let key = crate::keys::load(&args.key)?;
    let scope: Scope = format!("rig:{}", args.rig).parse()?;
    let Scope::Rig(site, rig) = scope.clone() else {
        bail!("--rig must be SITE/RIG");
    };
    let ttl_ms = args.ttl_secs.saturating_mul(1000);
    if ttl_ms == 0 || ttl_ms > MAX_COMMAND_TTL_MS {
        bail!("--ttl-secs must be 1..={}", MAX_COMMAND_TTL_MS / 1000);
    }
    let now = hashward_common::now_ms();
    let nonce: u64 = rand::random();
    let msg = SignedMessage::sign(
        SignedContent {
            kind: PayloadKind::Command,
            scope,
            version: nonce,
            issued_ms: now,
            expires_ms: Some(now + ttl_ms),
            payload: postcard::to_stdvec(&command)?,
        },
        &key,
    )?;
    let topic = Topic::RigCmd { site, rig }.to_string();
    broker::runtime()?.block_on(broker::publish(
        &args.broker,
        &topic,
        postcard::to_stdvec(&msg)?,
        false,
    ))?;
    let mut sent = serde_json::json!({"rig": args.rig, "command": command.name(), "nonce": nonce, "expires_ms": now + ttl_ms});
    if let Command::SetPowerTarget { asic, watts } = &command {
        sent["asic_id"] = serde_json::json!(asic);
        sent["watts"] = serde_json::json!(watts);
    }
    println!("{sent}");
    Ok(())
}
