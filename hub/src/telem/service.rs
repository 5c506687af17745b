//! The 90-day pruner of the telemetry aggregates: once at start and then every hour, removes the
//! contributions (and so the aggregates) whose last snapshot is older than retention; the
//! removals are counted in `/metrics` (`hashward_telem_*_pruned_total`).
//!
//! Must never stop the hub over a failed pass (logged, tried again next hour), and never decide
//! what expires: `TelemStore::telem_prune` does, with the time it is given.

use crate::store::FleetStore;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// How often the pruner runs.
pub const EVERY: Duration = Duration::from_secs(3600);

pub async fn run(
    store: Arc<dyn FleetStore>,
    now_ms: fn() -> u64,
    mut stop: watch::Receiver<bool>,
) -> Result<(), String> {
    let mut tick = tokio::time::interval(EVERY);
    loop {
        tokio::select! {
            _ = tick.tick() => {
                let store = store.clone();
                let pass = tokio::task::spawn_blocking(move || store.telem_prune(now_ms())).await;
                match pass {
                    Ok(Ok(p)) if p.contributions + p.tombstones > 0 => log::info!(
                        "telemetry: pruned {} contribution(s), {} aggregate(s), {} tombstone(s) past 90 days",
                        p.contributions, p.aggregates, p.tombstones
                    ),
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => log::error!("telemetry pruner: {e}; trying again in an hour"),
                    Err(e) => log::error!("telemetry pruner task: {e}"),
                }
            }
            _ = stopped(&mut stop) => return Ok(()),
        }
    }
}

/// Resolves once the hub stops (or its signal is gone), holding no `watch::Ref` across an await.
async fn stopped(stop: &mut watch::Receiver<bool>) {
    // Either way the hub is going away; the guard is dropped at once.
    let _ = stop.wait_for(|s| *s).await.map(|_| ());
}
