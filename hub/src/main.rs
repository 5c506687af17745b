//! hashward-hub binary: parses the command line and hands over to the library.

use clap::Parser;

fn main() -> anyhow::Result<()> {
    env_logger::Builder::from_env(
        env_logger::Env::default().default_filter_or(hashward_hub::DEFAULT_LOG_FILTER),
    )
    .init();
    hashward_hub::cli::main(hashward_hub::cli::Cli::parse())
}
