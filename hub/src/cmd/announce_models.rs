//! `hashward-hub announce-models`: signs the models directory's current versions and announces
//! them, retained, on `fleet/models`; agents download, verify and swap them.
//!
//! Must never announce a model whose file does not match its metadata (the announcement is built
//! from the verified files).

use super::broker::{self, BrokerArgs};
use clap::Args;
use hashward_protocol::Topic;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct AnnounceArgs {
    /// The models directory the hub serves (`serve --models-dir`).
    #[arg(long)]
    pub models_dir: PathBuf,
    #[arg(long, default_value = "/etc/hashward/hub.key")]
    pub key: PathBuf,
    #[command(flatten)]
    pub broker: BrokerArgs,
}

pub fn run(args: AnnounceArgs) -> anyhow::Result<()> {
    let key = crate::keys::load(&args.key)?;
    let topic = Topic::FleetModels.to_string();
    broker::runtime()?.block_on(async {
        let now = hashward_common::now_ms();
        let (version, _) = broker::next_version(&args.broker, &topic, now).await?;
        let msg = crate::models::build_announcement(&args.models_dir, &key, version, now)?;
        broker::publish(&args.broker, &topic, postcard::to_stdvec(&msg)?, true).await?;
        println!("{}", serde_json::json!({"topic": topic, "version": version}));
        Ok(())
    })
}
