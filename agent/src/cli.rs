//! The `hashward-agent` command line. Lives in the library so the all-in-one `hashward` binary
//! can offer the same commands (`hashward agent ...`); this is binary glue, hence anyhow.

use crate::config::Config;
use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use tokio::sync::watch;

#[derive(Debug, Parser)]
#[command(name = "hashward-agent", version, about = "hashward mining agent")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the agent: sample, spool and report over MQTT.
    Run(RunArgs),
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Agent configuration file (TOML).
    #[arg(short, long, default_value = "/etc/hashward/agent.toml")]
    pub config: PathBuf,
    /// Overrides `data_dir` from the config file.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
}

/// Turns true on SIGTERM or SIGINT.
pub fn shutdown_on_signals() -> anyhow::Result<watch::Receiver<bool>> {
    use tokio::signal::unix::{signal, SignalKind};
    let (tx, rx) = watch::channel(false);
    let mut term = signal(SignalKind::terminate()).context("installing SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("installing SIGINT handler")?;
    tokio::spawn(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        let _ = tx.send(true);
    });
    Ok(rx)
}

pub fn main(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Run(args) => {
            let mut cfg = Config::load(&args.config)?;
            if let Some(dir) = args.data_dir {
                cfg.data_dir = dir;
            }
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("starting the async runtime")?;
            rt.block_on(async {
                let shutdown = shutdown_on_signals()?;
                crate::run::run(cfg, shutdown).await.map_err(anyhow::Error::from)
            })
        }
    }
}
