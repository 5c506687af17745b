//! `hashward-hub keygen`: creates the hub's ed25519 signing key pair and prints the public key
//! as the `[fleet]` section the agents pin.
//!
//! Must never replace an existing key (see `crate::keys::generate`).

use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// Directory for hub.key and hub.pub.
    #[arg(long, default_value = "/etc/hashward")]
    pub dir: PathBuf,
}

pub fn run(args: KeygenArgs) -> anyhow::Result<()> {
    let public = crate::keys::generate(&args.dir)?;
    eprintln!(
        "wrote {} (private, mode 0600) and {}; pin the public key on every rig:",
        args.dir.join("hub.key").display(),
        args.dir.join("hub.pub").display()
    );
    println!("[fleet]\nhub_public_key = \"{public}\"");
    Ok(())
}
