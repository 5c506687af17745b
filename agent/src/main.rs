//! hashward-agent binary: parses the command line and hands over to the library.

use clap::Parser;

fn main() -> anyhow::Result<()> {
    hashward_agent::logring::init("info");
    hashward_agent::cli::main(hashward_agent::cli::Cli::parse())
}
