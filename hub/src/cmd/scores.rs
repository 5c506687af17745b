//! `hashward-hub score-batch --date YYYY-MM-DD` (run or re-run one day's score batch by hand) and
//! `hashward-hub export alerts --from --to` (scored alerts as JSON lines for retraining), plus
//! the `[scores]` settings `serve` uses. Both commands open the store themselves, so they run
//! while the hub is stopped (redb lets one process hold it). Command-line glue, hence anyhow.
//!
//! Must never run a batch for a date that is not exactly YYYY-MM-DD.

use crate::cli::DEFAULT_DATA_DIR;
use crate::config::{HubConfig, ScoresSection};
use crate::scores::batch::{self, BatchSettings};
use crate::scores::date::ProcessingDate;
use crate::scores::network::valid_network;
use crate::scores::{parse_run_at, ScoresOptions, DEFAULT_NETWORK, DEFAULT_RUN_AT_MIN};
use crate::store::scores::BatchStatus;
use crate::store::Store;
use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The `[scores]` section as `serve` uses it; `source` names the file in errors.
pub fn options(section: Option<&ScoresSection>, source: &str) -> anyhow::Result<ScoresOptions> {
    let Some(s) = section else {
        return Ok(ScoresOptions::default());
    };
    let networks = s
        .networks
        .clone()
        .unwrap_or_else(|| vec![DEFAULT_NETWORK.to_string()]);
    if networks.is_empty() {
        bail!("[scores] networks must name at least one network{source}");
    }
    for (i, n) in networks.iter().enumerate() {
        if !valid_network(n) {
            bail!(
                "[scores] networks: {n:?} is not a network name (lowercase letters, digits, - or _){source}"
            );
        }
        if networks[..i].contains(n) {
            bail!("[scores] networks: {n:?} is listed twice{source}");
        }
    }
    let run_at_min = match &s.run_at_utc {
        None => DEFAULT_RUN_AT_MIN,
        Some(t) => {
            parse_run_at(t).with_context(|| format!("[scores] run_at_utc {t:?} is not HH:MM{source}"))?
        }
    };
    Ok(ScoresOptions {
        networks,
        run_at_min,
        models_dir: s.models_dir.clone(),
        batch: s.batch.unwrap_or(false),
    })
}

/// Where a command finds the store and the models: flags, else the config file, else defaults.
#[derive(Debug, Args)]
pub struct StoreArgs {
    /// The hub config file (its data_dir, models_dir and [scores] section are used).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// The hub's data directory [default: the config's, else /var/lib/hashward/hub].
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
}

impl StoreArgs {
    fn load(&self) -> anyhow::Result<(HubConfig, PathBuf, String)> {
        let file = match &self.config {
            Some(p) => HubConfig::load(p)?,
            None => HubConfig::default(),
        };
        let source = self
            .config
            .as_ref()
            .map_or(String::new(), |p| format!(" ({})", p.display()));
        let data_dir = self
            .data_dir
            .clone()
            .or(file.data_dir.clone())
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
        Ok((file, data_dir, source))
    }
}

fn open_store(data_dir: &Path) -> anyhow::Result<Store> {
    let path = data_dir.join("hub.redb");
    if !path.is_file() {
        bail!("no hub store at {}", path.display());
    }
    Store::open(&path).with_context(|| {
        format!(
            "opening {} (a running hub holds it: stop the hub first, the store opens in one process at a time)",
            path.display()
        )
    })
}

#[derive(Debug, Args)]
pub struct ScoreBatchArgs {
    /// The processing date: the UTC day whose alerts are scored (YYYY-MM-DD).
    #[arg(long)]
    pub date: String,
    #[command(flatten)]
    pub store: StoreArgs,
    /// Where alert_scorer and cluster_scorer are [default: [scores] models_dir, else models_dir].
    #[arg(long)]
    pub models_dir: Option<PathBuf>,
}

pub fn score_batch(args: ScoreBatchArgs) -> anyhow::Result<()> {
    let date = ProcessingDate::parse(&args.date)?;
    let (file, data_dir, source) = args.store.load()?;
    let opts = options(file.scores.as_ref(), &source)?;
    let models_dir = args
        .models_dir
        .or(opts.models_dir)
        .or(file.models_dir)
        .context("no models directory: give --models-dir (or models_dir in the config)")?;
    let store = open_store(&data_dir)?;
    let settings = BatchSettings {
        models_dir,
        networks: opts.networks,
    };
    let metas = batch::run(&store, &store, &settings, date, &hashward_common::clock::now_ms)?;
    let mut failed = Vec::new();
    for m in &metas {
        println!("{}", serde_json::to_string(m)?);
        if m.status != BatchStatus::Completed {
            failed.push(format!(
                "{}: {}",
                m.network,
                m.error.as_deref().unwrap_or("failed")
            ));
        }
    }
    if !failed.is_empty() {
        bail!("score batch {date} FAILED: {}", failed.join("; "));
    }
    Ok(())
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    #[command(subcommand)]
    pub what: ExportWhat,
}

#[derive(Debug, Subcommand)]
pub enum ExportWhat {
    /// Scored alerts of a date range as JSON lines (features, hub score and rank, `label: null`
    /// for an operator's verdict) for retraining in models/train.
    Alerts(AlertsExportArgs),
}

#[derive(Debug, Args)]
pub struct AlertsExportArgs {
    /// First processing date (YYYY-MM-DD).
    #[arg(long)]
    pub from: String,
    /// Last processing date, included (YYYY-MM-DD).
    #[arg(long)]
    pub to: String,
    #[command(flatten)]
    pub store: StoreArgs,
    /// Write here (atomically) instead of standard output.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

pub fn export(args: ExportArgs) -> anyhow::Result<()> {
    let ExportWhat::Alerts(a) = args.what;
    let from = ProcessingDate::parse(&a.from).context("--from")?;
    let to = ProcessingDate::parse(&a.to).context("--to")?;
    if from > to {
        bail!("--from {from} is after --to {to}");
    }
    let (_, data_dir, _) = a.store.load()?;
    let store = open_store(&data_dir)?;
    let mut text = Vec::new();
    let rows = store.scored_alerts(from, to)?;
    for (network, date, alert) in &rows {
        serde_json::to_writer(
            &mut text,
            &crate::scores::export::alert_line(network, date, alert),
        )?;
        text.push(b'\n');
    }
    match &a.out {
        Some(path) => {
            hashward_common::durable::write_atomic(path, &text)
                .with_context(|| format!("writing {}", path.display()))?;
            eprintln!(
                "{} alert(s) of {from}..={to} written to {}",
                rows.len(),
                path.display()
            );
        }
        None => std::io::stdout().write_all(&text)?,
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section(text: &str) -> ScoresSection {
        HubConfig::parse(text).expect("parses").scores.expect("[scores]")
    }

    #[test]
    fn the_scores_section_is_checked_and_defaults_to_one_network_without_the_batch() {
        assert_eq!(options(None, "").expect("none"), ScoresOptions::default());
        let o = options(
            Some(&section(
                "[scores]\nnetworks = [\"bitcoin\", \"litecoin\"]\nrun_at_utc = \"02:30\"\nbatch = true\n",
            )),
            "",
        )
        .expect("valid");
        assert_eq!((o.networks.len(), o.run_at_min, o.batch), (2, 150, true));
        for (text, word) in [
            ("networks = []", "at least one"),
            ("networks = [\"Bitcoin\"]", "not a network"),
            ("networks = [\"bitcoin\", \"bitcoin\"]", "twice"),
            ("run_at_utc = \"1am\"", "HH:MM"),
        ] {
            let e = options(Some(&section(&format!("[scores]\n{text}\n"))), " (hub.toml)")
                .expect_err(text)
                .to_string();
            assert!(e.contains(word) && e.contains("hub.toml"), "{text}: {e}");
        }
        assert!(
            HubConfig::parse("[scores]\nnetwork = \"bitcoin\"\n").is_err(),
            "unknown key"
        );
    }
}
