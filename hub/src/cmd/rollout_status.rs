//! `hashward-hub rollout-status`: reads `/fleet/config` from a running hub and prints each
//! scope's pushed version and, per rig, applied / pending / rejected (with why), or the JSON.
//!
//! Must never guess: a field missing from the hub's answer prints as `?`.

use anyhow::Context;
use clap::Args;

#[derive(Debug, Args)]
pub struct RolloutArgs {
    /// The hub's HTTP address.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub hub: String,
    /// Print the JSON the hub serves at /fleet/config.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: RolloutArgs) -> anyhow::Result<()> {
    let url = format!("{}/fleet/config", args.hub.trim_end_matches('/'));
    let v: serde_json::Value = ureq::get(&url)
        .call()
        .with_context(|| format!("GET {url}"))?
        .body_mut()
        .read_json()
        .with_context(|| format!("GET {url}: not JSON"))?;
    if args.json {
        println!("{v}");
        return Ok(());
    }
    println!("{:<24} {:>15}", "SCOPE", "VERSION");
    for s in v["scopes"].as_array().into_iter().flatten() {
        println!("{:<24} {:>15}", s["scope"].as_str().unwrap_or("?"), s["version"]);
    }
    println!();
    println!(
        "{:<32} {:<24} {:<9} {:>15} REASON",
        "RIG", "SCOPE", "STATUS", "APPLIED"
    );
    for r in v["rigs"].as_array().into_iter().flatten() {
        let name = format!(
            "{}/{}{}",
            r["site"].as_str().unwrap_or("?"),
            r["rig"].as_str().unwrap_or("?"),
            if r["online"].as_bool() == Some(true) {
                ""
            } else {
                " (offline)"
            }
        );
        for s in r["scopes"].as_array().into_iter().flatten() {
            println!(
                "{:<32} {:<24} {:<9} {:>15} {}",
                name,
                s["scope"].as_str().unwrap_or("?"),
                s["status"].as_str().unwrap_or("?"),
                s["applied_version"]
                    .as_u64()
                    .map(|v| v.to_string())
                    .unwrap_or_else(|| "-".into()),
                s["reason"].as_str().unwrap_or("")
            );
        }
    }
    Ok(())
}
