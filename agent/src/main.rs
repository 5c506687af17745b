//! hashward-agent binary: parses the command line and hands over to the library.

use clap::Parser;

fn main() -> anyhow::Result<()> {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    hashward_agent::cli::main(hashward_agent::cli::Cli::parse())
}
