//! The health tick: releases circuit breakers whose time is up, feeds the watchdog what the
//! miner, the link, the spool and the pollers did, restarts a stuck miner, and pings systemd
//! only while everything progresses.
//!
//! Must never count a part as progressing on a reading it could not take (an unreadable spool
//! is not an empty one), and never leave a running part unwatched.

use super::breakers::send_mining;
use super::Agent;
use crate::asic::control::MiningAction;
use crate::config::Config;
use crate::watchdog::{LinkSnapshot, MinerSnapshot, MinerVerdict, Progress, Tick};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// How often progress is checked (and systemd pinged, if it asks for less often).
pub(super) const HEALTH_EVERY: Duration = Duration::from_secs(10);

/// What the watchdog should watch, from the config in force and what runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Watches {
    /// The miner's allowance, when it runs.
    pub miner: Option<Duration>,
    /// The ASIC poller's allowance, when it runs.
    pub poller: Option<Duration>,
}

pub(super) fn watches(cfg: &Config, miner_running: bool, poller_running: bool) -> Watches {
    Watches {
        // Longer than the stuck-miner rule, so the agent restarts its miner before systemd
        // restarts the agent.
        miner: miner_running.then(|| cfg.watchdog.stuck_after() + Duration::from_secs(120)),
        poller: poller_running.then(|| Duration::from_secs(cfg.asic.telemetry_max_interval_s * 3 + 60)),
    }
}

/// Keeps the watchdog's watches in step with what runs and with the config in force: a push may
/// start or stop the miner or the ASIC poller, or change their intervals. A part stopped on
/// purpose must not hold back systemd's ping, a started one must not go unwatched, and a longer
/// interval must not look like a hang. A changed watch starts afresh from `now`.
pub(super) fn arm_watches(progress: &mut Progress, now: Instant, want: Watches) {
    match (want.miner, progress.miner_allowance()) {
        (Some(a), had) if had != Some(a) => progress.watch_miner(now, a),
        (None, Some(_)) => progress.unwatch_miner(),
        _ => {}
    }
    match (want.poller, progress.poller_allowance("asic")) {
        (Some(a), had) if had != Some(a) => progress.watch_poller("asic", now, a),
        (None, Some(_)) => progress.unwatch_poller("asic"),
        _ => {}
    }
}

impl Agent {
    pub(super) async fn on_health_tick(&mut self) {
        let now = Instant::now();
        if self.miner.release_breaker(now) {
            log::warn!(
                "inference: circuit breaker released; {}",
                if self.miner.holds.any() {
                    "the operator's pause still holds the miner"
                } else {
                    "mining resumed"
                }
            );
        }
        for id in self.breakers.due(hashward_common::now_ms()) {
            log::warn!("inference: circuit breaker on ASIC {id} released; resuming it");
            send_mining(&self.cfg.asic, &id, MiningAction::Resume, &self.breaker_done);
        }
        self.check_health(now).await;
    }

    /// The watches' initial arming, at start.
    pub(super) fn arm_watches(&mut self, now: Instant) {
        let want = watches(&self.cfg, self.miner.is_running(), self.asic.is_running());
        arm_watches(&mut self.health.progress, now, want);
    }

    /// Feeds the watchdog: pings systemd only while every watched part makes progress, and
    /// restarts a miner whose hashrate stayed below the minimum (Hive OS's rule).
    async fn check_health(&mut self, now: Instant) {
        self.arm_watches(now);
        let counters = &self.link.counters;
        let progress = &mut self.health.progress;
        match self.spool.stats() {
            Ok(stats) => {
                if self.health.spool_failing {
                    log::warn!("spool: readable again");
                    self.health.spool_failing = false;
                }
                progress.spool(Ok(()));
                progress.link(
                    now,
                    LinkSnapshot {
                        published: counters.published.load(Ordering::Relaxed),
                        spooled: counters.spooled.load(Ordering::Relaxed),
                        pending: stats.records,
                        connected: counters.connected.load(Ordering::Relaxed),
                    },
                );
            }
            Err(e) => {
                if !self.health.spool_failing {
                    log::error!("spool: cannot be read: {e}; the watchdog stops pinging systemd");
                    self.health.spool_failing = true;
                }
                progress.spool(Err(e.to_string()));
            }
        }
        if let Some(h) = self.asic.handle() {
            progress.poller("asic", now, h.counters().polls);
        }
        let mut restart = None;
        if let Some(m) = self.miner.miner() {
            let t = m.telemetry();
            let should_hash = !t.paused;
            progress.miner(
                now,
                MinerSnapshot {
                    hashes: m.total_hashes(),
                    should_hash,
                },
            );
            match self.health.stuck.observe(now, t.hashrate_60s.0, should_hash) {
                MinerVerdict::Restart { reason } => restart = Some(reason),
                MinerVerdict::RestartLimited { reason } => log::error!("watchdog: {reason}"),
                _ => {}
            }
        }
        if let Some(reason) = restart {
            log::error!("watchdog: {reason}; restarting the miner");
            if let Err(e) = self.miner.restart(&self.cfg.miner, &self.cfg.tune).await {
                log::error!("watchdog: miner did not restart: {e}");
            }
        }
        if let Tick::Withheld(why) = self.health.watchdog.tick(now, &self.health.progress) {
            log::warn!("watchdog: not pinging systemd: {why}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> Config {
        toml::from_str("site = \"s1\"\nrig = \"r1\"\n").expect("config")
    }

    #[test]
    fn only_running_parts_are_watched_with_their_allowances() {
        let cfg = cfg();
        let w = watches(&cfg, true, false);
        assert_eq!(
            w.miner,
            Some(cfg.watchdog.stuck_after() + Duration::from_secs(120))
        );
        assert_eq!(w.poller, None);
        let w = watches(&cfg, false, true);
        assert_eq!(w.miner, None);
        assert_eq!(
            w.poller,
            Some(Duration::from_secs(cfg.asic.telemetry_max_interval_s * 3 + 60))
        );
    }

    #[test]
    fn a_changed_allowance_rearms_and_a_stopped_part_is_unwatched() {
        let t0 = Instant::now();
        let mut p = Progress::new();
        let want = Watches {
            miner: Some(Duration::from_secs(100)),
            poller: Some(Duration::from_secs(200)),
        };
        arm_watches(&mut p, t0, want);
        assert_eq!(p.miner_allowance(), Some(Duration::from_secs(100)));
        assert_eq!(p.poller_allowance("asic"), Some(Duration::from_secs(200)));
        // Same allowances: the watch keeps its start, so a silent miner still becomes overdue.
        arm_watches(&mut p, t0 + Duration::from_secs(90), want);
        assert!(!p.check(t0 + Duration::from_secs(150)).is_ok());
        // Longer allowance: rearmed from now.
        let longer = Watches {
            miner: Some(Duration::from_secs(300)),
            poller: None,
        };
        arm_watches(&mut p, t0 + Duration::from_secs(150), longer);
        assert_eq!(p.miner_allowance(), Some(Duration::from_secs(300)));
        assert_eq!(p.poller_allowance("asic"), None);
        assert!(p.check(t0 + Duration::from_secs(160)).is_ok());
    }
}
