//! The daily batch as a hub service: at `run_at_utc` (01:00 by default) it scores the UTC day
//! that just ended; on start it catches up that day if it has no batch yet. The batch itself
//! runs on a blocking thread. With several hubs on NATS only the elected one runs it; a day
//! already done (in the shared store) is not run again by the next leader.
//!
//! Must never stop the hub because one day's batch failed (that is recorded FAILED and served
//! as such); only a store that cannot even record the failure is a service error.

use super::batch::{self, BatchSettings};
use super::date::ProcessingDate;
use super::LatestCache;
use crate::metrics::Metrics;
use crate::serve::Service;
use crate::store::scores::BatchStatus;
use crate::store::scores::ScoresRead;
use crate::store::Store;
use hashward_common::clock::now_ms;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// The last date whose batch is due at `now_ms`, given the daily run time in minutes after
/// midnight UTC: the day before today once the run time has passed, else the day before that.
pub fn due_date(now_ms: u64, run_at_min: u32) -> ProcessingDate {
    let today = ProcessingDate::of_ms(now_ms);
    let minute = (now_ms - today.bounds_ms().0) / 60_000;
    if minute >= u64::from(run_at_min) {
        today.minus_days(1)
    } else {
        today.minus_days(2)
    }
}

/// How often the service looks at the clock (a wall clock that jumps is followed within this).
const TICK: Duration = Duration::from_secs(30);

// Each argument is a different piece of the hub's wiring (two stores, schedule, cache, metrics,
// election, stop); a struct for one call site would only rename them.
#[allow(clippy::too_many_arguments)]
pub fn service(
    store: Arc<Store>,
    fleet: Arc<dyn crate::store::StoreRead>,
    settings: BatchSettings,
    run_at_min: u32,
    cache: Arc<LatestCache>,
    metrics: Arc<Metrics>,
    leader: crate::elect::Leader,
    mut stop: watch::Receiver<bool>,
) -> Service {
    Service::new("score batch", async move {
        let mut last: Option<ProcessingDate> = None;
        loop {
            let due = due_date(now_ms(), run_at_min);
            if last != Some(due) && leader.is_leader() {
                let (store, fleet, settings) = (store.clone(), fleet.clone(), settings.clone());
                let outcome = tokio::task::spawn_blocking(move || {
                    // Catching up on start: a date already COMPLETED is not re-run.
                    let done = settings
                        .networks
                        .iter()
                        .map(|n| store.visible_batch(n, due).map(|b| b.is_some()))
                        .collect::<Result<Vec<bool>, _>>()?;
                    if done.iter().all(|d| *d) {
                        return Ok(Vec::new());
                    }
                    batch::run(&store, fleet.as_ref(), &settings, due, &now_ms)
                })
                .await
                .map_err(|e| format!("score batch thread: {e}"))?;
                cache.invalidate();
                let metas = outcome.map_err(|e| format!("recording the score batch of {due}: {e}"))?;
                for m in metas {
                    Metrics::inc(if m.status == BatchStatus::Completed {
                        &metrics.score_batches_completed
                    } else {
                        &metrics.score_batches_failed
                    });
                }
                last = Some(due);
            }
            tokio::select! {
                _ = tokio::time::sleep(TICK) => {}
                _ = stop.wait_for(|s| *s) => return Ok(()),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_day_that_ended_is_due_once_the_run_time_passed() {
        let d = ProcessingDate::parse("2026-12-02").expect("day");
        let at = |h: u64, m: u64| d.bounds_ms().0 + (h * 60 + m) * 60_000;
        assert_eq!(due_date(at(0, 59), 60).to_string(), "2026-11-30");
        assert_eq!(due_date(at(1, 0), 60).to_string(), "2026-12-01");
        assert_eq!(due_date(at(23, 59), 60).to_string(), "2026-12-01");
        assert_eq!(due_date(at(0, 0), 0).to_string(), "2026-12-01");
    }
}
