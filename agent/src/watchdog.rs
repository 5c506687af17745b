//! The agent's watchdogs: systemd's (`Type=notify` + `WatchdogSec=`) and a Hive OS style
//! stuck-miner rule.
//!
//! - [`Notifier`] speaks the sd_notify protocol (`READY=1`, `WATCHDOG=1`, `STATUS=`,
//!   `STOPPING=1` datagrams to `$NOTIFY_SOCKET`, a path or an abstract `@name`) with std's
//!   `UnixDatagram`: no libsystemd, so static musl/armv7 builds work. Outside systemd it is a
//!   no-op.
//! - [`Progress`] is fed by the main loop with counters of the miner, the link and the pollers,
//!   and says whether every watched part made progress within its allowance. [`Watchdog::tick`]
//!   pings systemd only then: a wedged agent stops pinging and systemd restarts it.
//! - [`StuckMiner`] decides (purely; the caller restarts) when the miner has hashed below
//!   `min_hashrate_hs` for `stuck_minutes` while it is supposed to mine, capped per hour.
//!
//! Must never: ping systemd from a helper thread or timer that keeps running while the main loop
//! is stuck (that would defeat the watchdog), block or fail the agent because systemd is absent,
//! or count an intentional pause (command, thermal, disabled miner, offline spooling) as stuck.

pub use hashward_sdnotify::{ping_interval, ping_interval_from_env, Notifier, NotifyError};
use serde::Deserialize;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------------------------

/// The `[watchdog]` section of the agent config.
#[derive(Debug, Clone, PartialEq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct WatchdogConfig {
    /// Off: no stuck-miner restarts, and systemd is pinged whether or not parts progress.
    pub enabled: bool,
    /// Below this hashrate (H/s) the miner counts as stuck; 0 means only "no hashes at all".
    pub min_hashrate_hs: f64,
    /// How long the hashrate must stay low before the miner is restarted.
    pub stuck_minutes: u32,
    /// Restarts allowed in any hour; past it the rule only reports (0: never restart).
    pub max_restarts_per_hour: u32,
}

impl Default for WatchdogConfig {
    fn default() -> Self {
        WatchdogConfig {
            enabled: true,
            min_hashrate_hs: 0.0,
            stuck_minutes: 5,
            max_restarts_per_hour: 3,
        }
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum WatchdogConfigError {
    #[error("watchdog.min_hashrate_hs {0} must be a finite number >= 0")]
    MinHashrate(f64),
    #[error("watchdog.stuck_minutes {0} outside 1..=1440")]
    StuckMinutes(u32),
    #[error("watchdog.max_restarts_per_hour {0} outside 0..=60")]
    MaxRestarts(u32),
}

impl WatchdogConfig {
    pub fn validate(&self) -> Result<(), WatchdogConfigError> {
        if !self.min_hashrate_hs.is_finite() || self.min_hashrate_hs < 0.0 {
            return Err(WatchdogConfigError::MinHashrate(self.min_hashrate_hs));
        }
        if !(1..=1440).contains(&self.stuck_minutes) {
            return Err(WatchdogConfigError::StuckMinutes(self.stuck_minutes));
        }
        if self.max_restarts_per_hour > 60 {
            return Err(WatchdogConfigError::MaxRestarts(self.max_restarts_per_hour));
        }
        Ok(())
    }

    pub fn stuck_after(&self) -> Duration {
        Duration::from_secs(u64::from(self.stuck_minutes) * 60)
    }
}

// ---------------------------------------------------------------------------------------------
// Progress
// ---------------------------------------------------------------------------------------------

/// The miner as the main loop sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MinerSnapshot {
    /// Total hashes computed (any monotonic counter of the miner's work).
    pub hashes: u64,
    /// False while the miner is intentionally not hashing: disabled, paused by command,
    /// thermally paused. Not hashing then is progress, not a hang.
    pub should_hash: bool,
}

/// The link as the main loop sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkSnapshot {
    /// Records the broker acknowledged (LinkCounters::published).
    pub published: u64,
    /// Records ever appended to the spool (a counter that grows while offline, even when the
    /// spool is full and drops its oldest).
    pub spooled: u64,
    /// Records waiting in the spool.
    pub pending: u64,
    pub connected: bool,
}

#[derive(Debug, Clone)]
struct Track<T> {
    allowance: Duration,
    last: Option<T>,
    last_progress: Instant,
}

impl<T: Copy> Track<T> {
    fn new(now: Instant, allowance: Duration) -> Self {
        Track {
            allowance,
            last: None,
            last_progress: now,
        }
    }

    /// Records `seen`; `progressed` decides from the previous and current snapshot.
    fn observe(&mut self, now: Instant, seen: T, progressed: impl Fn(Option<T>, T) -> bool) {
        if progressed(self.last, seen) {
            self.last_progress = now;
        }
        self.last = Some(seen);
    }

    fn overdue(&self, now: Instant) -> Option<Duration> {
        let silent = now.saturating_duration_since(self.last_progress);
        (silent > self.allowance).then_some(silent)
    }
}

/// One part that made no progress within its allowance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StuckPart {
    /// `miner`, `link` or `poller <name>`.
    pub part: String,
    pub silent_for: Duration,
    pub allowance: Duration,
    /// What was (not) happening, from the last snapshot.
    pub why: String,
}

/// Whether every watched part made progress within its allowance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    Ok,
    Stuck(Vec<StuckPart>),
}

impl Health {
    pub fn is_ok(&self) -> bool {
        matches!(self, Health::Ok)
    }

    /// What is stuck and why, without the growing durations: STATUS= and the log are updated
    /// when this changes, not on every tick.
    fn key(&self) -> String {
        match self {
            Health::Ok => String::new(),
            Health::Stuck(parts) => parts.iter().map(|p| format!("{}: {}\n", p.part, p.why)).collect(),
        }
    }

    /// For systemd's STATUS= and the log.
    pub fn status_line(&self) -> String {
        match self {
            Health::Ok => "running: miner, link and pollers making progress".into(),
            Health::Stuck(parts) => {
                let list: Vec<String> = parts
                    .iter()
                    .map(|p| {
                        format!(
                            "{} ({} for {} s, allowed {} s)",
                            p.part,
                            p.why,
                            p.silent_for.as_secs(),
                            p.allowance.as_secs()
                        )
                    })
                    .collect();
                format!("stuck: {}", list.join("; "))
            }
        }
    }
}

/// Tracks the progress of the miner, the link and the pollers. Parts not watched are ignored,
/// so the main loop may report every part unconditionally. Pure: time comes in as `now`.
#[derive(Debug, Clone, Default)]
pub struct Progress {
    miner: Option<Track<MinerSnapshot>>,
    link: Option<Track<LinkSnapshot>>,
    pollers: Vec<(String, Track<u64>)>,
    /// Why the spool could not be read at the last check, if it could not.
    spool_error: Option<String>,
}

impl Progress {
    pub fn new() -> Progress {
        Progress::default()
    }

    /// Watch the miner: it must hash (or be intentionally idle) at least once per `allowance`.
    /// Make the allowance longer than [`WatchdogConfig::stuck_after`] so the in-process miner
    /// restart gets its chance before systemd restarts the whole agent.
    pub fn watch_miner(&mut self, now: Instant, allowance: Duration) {
        self.miner = Some(Track::new(now, allowance));
    }

    pub fn unwatch_miner(&mut self) {
        self.miner = None;
    }

    /// The miner watch's allowance, if the miner is watched.
    pub fn miner_allowance(&self) -> Option<Duration> {
        self.miner.as_ref().map(|t| t.allowance)
    }

    /// Poller `name`'s allowance, if it is watched.
    pub fn poller_allowance(&self, name: &str) -> Option<Duration> {
        self.pollers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, t)| t.allowance)
    }

    /// Watch the link: acknowledgements must advance while connected with records pending.
    /// Offline, the spool must keep growing (the sampler is alive and records are kept).
    pub fn watch_link(&mut self, now: Instant, allowance: Duration) {
        self.link = Some(Track::new(now, allowance));
    }

    /// Watch a poller (ASIC poller, market poller...): its completed-cycle counter must advance
    /// at least once per `allowance` (give it a few of its intervals plus its timeouts).
    pub fn watch_poller(&mut self, name: &str, now: Instant, allowance: Duration) {
        self.unwatch_poller(name);
        self.pollers.push((name.to_string(), Track::new(now, allowance)));
    }

    pub fn unwatch_poller(&mut self, name: &str) {
        self.pollers.retain(|(n, _)| n != name);
    }

    pub fn miner(&mut self, now: Instant, seen: MinerSnapshot) {
        if let Some(t) = &mut self.miner {
            // A counter that went backwards is a restarted miner: a fresh start is progress.
            t.observe(now, seen, |prev, cur| {
                !cur.should_hash || prev.is_some_and(|p| cur.hashes != p.hashes)
            });
        }
    }

    pub fn link(&mut self, now: Instant, seen: LinkSnapshot) {
        if let Some(t) = &mut self.link {
            t.observe(now, seen, |prev, cur| {
                if cur.pending == 0 {
                    return true; // nothing to send is not a hang
                }
                let Some(p) = prev else { return false };
                cur.published != p.published || (!cur.connected && cur.spooled != p.spooled)
            });
        }
    }

    /// The spool's state at this check: `Err` when it could not be read. A spool that cannot
    /// be read is stuck at once, whatever the link's counters say: records may not be kept,
    /// and systemd's restart is the remedy the agent cannot apply itself.
    pub fn spool(&mut self, readable: Result<(), String>) {
        self.spool_error = readable.err();
    }

    pub fn poller(&mut self, name: &str, now: Instant, cycles: u64) {
        if let Some((_, t)) = self.pollers.iter_mut().find(|(n, _)| n == name) {
            t.observe(now, cycles, |prev, cur| prev.is_some_and(|p| p != cur));
        }
    }

    pub fn check(&self, now: Instant) -> Health {
        let mut stuck = Vec::new();
        if let Some(t) = &self.miner {
            if let Some(silent_for) = t.overdue(now) {
                stuck.push(StuckPart {
                    part: "miner".into(),
                    silent_for,
                    allowance: t.allowance,
                    why: "no new hashes".into(),
                });
            }
        }
        if let Some(t) = &self.link {
            if let Some(silent_for) = t.overdue(now) {
                let why = match t.last {
                    Some(l) if l.connected => {
                        format!("connected, {} records pending, none acknowledged", l.pending)
                    }
                    Some(l) => format!("offline, {} records pending, spool not growing", l.pending),
                    None => "no report from the link".into(),
                };
                stuck.push(StuckPart {
                    part: "link".into(),
                    silent_for,
                    allowance: t.allowance,
                    why,
                });
            }
        }
        if let Some(e) = &self.spool_error {
            stuck.push(StuckPart {
                part: "spool".into(),
                silent_for: Duration::ZERO,
                allowance: Duration::ZERO,
                why: format!("unreadable: {e}"),
            });
        }
        for (name, t) in &self.pollers {
            if let Some(silent_for) = t.overdue(now) {
                stuck.push(StuckPart {
                    part: format!("poller {name}"),
                    silent_for,
                    allowance: t.allowance,
                    why: "no completed cycle".into(),
                });
            }
        }
        if stuck.is_empty() {
            Health::Ok
        } else {
            Health::Stuck(stuck)
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The systemd watchdog driver
// ---------------------------------------------------------------------------------------------

/// What one [`Watchdog::tick`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tick {
    /// Not time to ping yet (or systemd asked for no watchdog).
    NotDue,
    Pinged,
    /// A ping was due and withheld because a part is stuck; systemd restarts the agent if this
    /// lasts `WatchdogSec`.
    Withheld(String),
}

/// Pings systemd from the main loop when [`Progress`] says all is well; keeps STATUS= current.
#[derive(Debug)]
pub struct Watchdog {
    notifier: Notifier,
    ping_every: Option<Duration>,
    /// When false (`[watchdog] enabled = false`), pings do not wait for progress.
    gate_on_progress: bool,
    last_ping: Option<Instant>,
    /// [`Health::key`] of the last STATUS= sent by `tick`.
    last_status: Option<String>,
}

impl Watchdog {
    pub fn new(notifier: Notifier, ping_every: Option<Duration>, gate_on_progress: bool) -> Watchdog {
        Watchdog {
            notifier,
            ping_every,
            gate_on_progress,
            last_ping: None,
            last_status: None,
        }
    }

    /// From `NOTIFY_SOCKET`, `WATCHDOG_USEC` and `WATCHDOG_PID`. Never fails: a malformed
    /// variable is logged and that feature left off, so a systemd quirk cannot stop mining.
    pub fn from_env(cfg: &WatchdogConfig) -> Watchdog {
        let notifier = Notifier::from_env().unwrap_or_else(|e| {
            log::warn!("systemd notification off: {e}");
            Notifier::disabled()
        });
        let ping_every = if notifier.is_enabled() {
            ping_interval_from_env().unwrap_or_else(|e| {
                log::warn!("systemd watchdog off: {e}");
                None
            })
        } else {
            None
        };
        if let Some(every) = ping_every {
            log::info!(
                "systemd watchdog: pinging every {} ms while all parts progress",
                every.as_millis()
            );
        }
        Watchdog::new(notifier, ping_every, cfg.enabled)
    }

    /// How often [`tick`](Self::tick) must run at least; the main loop's period should not exceed it.
    pub fn ping_every(&self) -> Option<Duration> {
        self.ping_every
    }

    pub fn ready(&mut self, status: &str) {
        if let Err(e) = self.notifier.ready(status) {
            log::warn!("{e}");
        }
        self.last_status = None;
    }

    /// Call from the main loop, every iteration (never from a separate timer task).
    pub fn tick(&mut self, now: Instant, progress: &Progress) -> Tick {
        let health = progress.check(now);
        let status = health.status_line();
        let key = health.key();
        if self.last_status.as_deref() != Some(key.as_str()) {
            if health.is_ok() {
                log::info!("watchdog: {status}");
            } else {
                log::warn!("watchdog: {status}");
            }
            if let Err(e) = self.notifier.status(&status) {
                log::warn!("{e}");
            }
            self.last_status = Some(key);
        }
        let Some(every) = self.ping_every else {
            return Tick::NotDue;
        };
        if self
            .last_ping
            .is_some_and(|t| now.saturating_duration_since(t) < every)
        {
            return Tick::NotDue;
        }
        if self.gate_on_progress && !health.is_ok() {
            return Tick::Withheld(status);
        }
        if let Err(e) = self.notifier.watchdog() {
            log::warn!("{e}");
        }
        self.last_ping = Some(now);
        Tick::Pinged
    }

    pub fn stopping(&mut self) {
        if let Err(e) = self.notifier.stopping() {
            log::warn!("{e}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Stuck miner (Hive OS style)
// ---------------------------------------------------------------------------------------------

/// What the stuck-miner rule says about one hashrate reading.
#[derive(Debug, Clone, PartialEq)]
pub enum MinerVerdict {
    Fine,
    /// Below the minimum for this long, not yet `stuck_minutes`.
    Low(Duration),
    /// Restart the miner now (the caller does it and logs `reason`).
    Restart {
        reason: String,
    },
    /// Stuck, but `max_restarts_per_hour` is used up: report, do not restart. If the miner
    /// stays dead, the systemd watchdog (miner progress) restarts the agent instead.
    RestartLimited {
        reason: String,
    },
}

/// Hive OS's miner watchdog: restart a miner whose hashrate stays below a minimum for N
/// minutes while it is supposed to mine. Pure: time and readings come in as arguments.
#[derive(Debug, Clone)]
pub struct StuckMiner {
    cfg: WatchdogConfig,
    low_since: Option<Instant>,
    restarts: VecDeque<Instant>,
}

impl StuckMiner {
    pub fn new(cfg: WatchdogConfig) -> StuckMiner {
        StuckMiner {
            cfg,
            low_since: None,
            restarts: VecDeque::new(),
        }
    }

    /// Restarts decided in the hour before `now`.
    pub fn restarts_last_hour(&mut self, now: Instant) -> usize {
        while self
            .restarts
            .front()
            .is_some_and(|&t| now.saturating_duration_since(t) >= Duration::from_secs(3600))
        {
            self.restarts.pop_front();
        }
        self.restarts.len()
    }

    /// One reading. `should_mine` is false while mining is off on purpose (disabled, paused by
    /// command, thermally paused, no pool yet): the clock then restarts from zero.
    pub fn observe(&mut self, now: Instant, hashrate_hs: f64, should_mine: bool) -> MinerVerdict {
        if !self.cfg.enabled || !should_mine {
            self.low_since = None;
            return MinerVerdict::Fine;
        }
        // NaN or negative is a broken reading: treat it as no hashing, never as healthy.
        let rate = if hashrate_hs.is_finite() { hashrate_hs } else { 0.0 };
        let low = if self.cfg.min_hashrate_hs > 0.0 {
            rate < self.cfg.min_hashrate_hs
        } else {
            rate <= 0.0
        };
        if !low {
            self.low_since = None;
            return MinerVerdict::Fine;
        }
        let since = *self.low_since.get_or_insert(now);
        let low_for = now.saturating_duration_since(since);
        if low_for < self.cfg.stuck_after() {
            return MinerVerdict::Low(low_for);
        }
        // Either way the clock starts again: a restarted miner gets a full window to recover,
        // and a capped one is reported once per window, not on every reading.
        self.low_since = Some(now);
        let reason = format!(
            "hashrate {rate:.1} H/s below {} for {} min",
            if self.cfg.min_hashrate_hs > 0.0 {
                format!("{} H/s", self.cfg.min_hashrate_hs)
            } else {
                "any hashing".to_string()
            },
            low_for.as_secs() / 60
        );
        let used = self.restarts_last_hour(now);
        if used >= self.cfg.max_restarts_per_hour as usize {
            return MinerVerdict::RestartLimited {
                reason: format!(
                    "{reason}; {used} restarts in the last hour (max {}), not restarting",
                    self.cfg.max_restarts_per_hour
                ),
            };
        }
        self.restarts.push_back(now);
        MinerVerdict::Restart { reason }
    }
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;
    use hashward_sdnotify::test_support::{recv, systemd_stand_in};
    use std::os::unix::net::UnixDatagram;

    const S: Duration = Duration::from_secs(1);
    const MIN: Duration = Duration::from_secs(60);

    #[test]
    fn config_defaults_and_validation() {
        let c: WatchdogConfig = toml::from_str("").expect("empty section");
        assert_eq!(c, WatchdogConfig::default());
        assert!(c.enabled && c.min_hashrate_hs == 0.0 && c.stuck_minutes == 5);
        assert_eq!(c.max_restarts_per_hour, 3);
        c.validate().expect("defaults valid");
        let c: WatchdogConfig = toml::from_str("min_hashrate_hs = 1e6\nstuck_minutes = 10").expect("parse");
        assert_eq!((c.min_hashrate_hs, c.stuck_minutes), (1e6, 10));
        assert!(
            toml::from_str::<WatchdogConfig>("stuck_minuts = 1").is_err(),
            "typo rejected"
        );
        for (bad, needle) in [
            ("min_hashrate_hs = -1.0", "min_hashrate_hs"),
            ("min_hashrate_hs = nan", "min_hashrate_hs"),
            ("stuck_minutes = 0", "stuck_minutes"),
            ("max_restarts_per_hour = 61", "max_restarts_per_hour"),
        ] {
            let c: WatchdogConfig = toml::from_str(bad).expect(bad);
            let e = c.validate().expect_err(bad).to_string();
            assert!(e.contains(needle), "{bad}: {e}");
        }
    }

    fn miner(hashes: u64, should_hash: bool) -> MinerSnapshot {
        MinerSnapshot { hashes, should_hash }
    }

    fn link(published: u64, spooled: u64, pending: u64, connected: bool) -> LinkSnapshot {
        LinkSnapshot {
            published,
            spooled,
            pending,
            connected,
        }
    }

    #[test]
    fn miner_progress_and_intentional_pauses() {
        let t0 = Instant::now();
        let mut p = Progress::new();
        p.watch_miner(t0, 60 * S);
        p.miner(t0, miner(100, true));
        assert!(p.check(t0 + 60 * S).is_ok(), "within the allowance");
        assert!(!p.check(t0 + 61 * S).is_ok(), "a baseline alone is no progress");
        p.miner(t0 + 50 * S, miner(200, true));
        assert!(p.check(t0 + 100 * S).is_ok());
        // Same counter: stuck once the allowance passes since the last advance.
        p.miner(t0 + 90 * S, miner(200, true));
        let h = p.check(t0 + 111 * S);
        assert!(
            h.status_line().contains("miner (no new hashes for 61 s"),
            "{}",
            h.status_line()
        );
        // Paused on purpose (thermal / command / disabled) is not stuck.
        p.miner(t0 + 112 * S, miner(200, false));
        assert!(p.check(t0 + 150 * S).is_ok());
        // A restarted miner's counter going back to 0 is progress too.
        p.miner(t0 + 200 * S, miner(0, true));
        assert!(p.check(t0 + 230 * S).is_ok());
        p.unwatch_miner();
        assert!(p.check(t0 + 10_000 * S).is_ok(), "unwatched parts are ignored");
        assert_eq!(p.miner_allowance(), None);
    }

    #[test]
    fn allowances_are_readable_so_a_config_change_can_rearm() {
        let t0 = Instant::now();
        let mut p = Progress::new();
        assert_eq!((p.miner_allowance(), p.poller_allowance("asic")), (None, None));
        p.watch_miner(t0, 60 * S);
        p.watch_poller("asic", t0, 240 * S);
        assert_eq!(p.miner_allowance(), Some(60 * S));
        assert_eq!(p.poller_allowance("asic"), Some(240 * S));
        // Re-armed with a longer allowance (a push raised the interval): no hang at the old one.
        p.poller("asic", t0, 1);
        p.watch_poller("asic", t0 + 100 * S, 1_860 * S);
        p.poller("asic", t0 + 100 * S, 1);
        p.unwatch_miner();
        assert!(
            p.check(t0 + 400 * S).is_ok(),
            "{}",
            p.check(t0 + 400 * S).status_line()
        );
        assert!(
            !p.check(t0 + 1_961 * S).is_ok(),
            "the new allowance still applies"
        );
        p.unwatch_poller("asic");
        assert_eq!(p.poller_allowance("asic"), None);
    }

    #[test]
    fn link_progress_online_and_offline() {
        let t0 = Instant::now();
        let mut p = Progress::new();
        p.watch_link(t0, 30 * S);
        p.link(t0, link(10, 20, 10, true));
        // Connected with records pending and nothing acknowledged: stuck.
        p.link(t0 + 20 * S, link(10, 22, 12, true));
        let h = p.check(t0 + 31 * S);
        assert!(
            h.status_line().contains("link (connected, 12 records pending"),
            "{h:?}"
        );
        // Acknowledgements resume.
        p.link(t0 + 32 * S, link(15, 22, 7, true));
        assert!(p.check(t0 + 40 * S).is_ok());
        // Offline while the spool keeps growing: legitimate.
        p.link(t0 + 50 * S, link(15, 25, 10, false));
        p.link(t0 + 80 * S, link(15, 28, 13, false));
        assert!(p.check(t0 + 100 * S).is_ok());
        // Offline and the spool stopped growing: the sampler is wedged.
        p.link(t0 + 120 * S, link(15, 28, 13, false));
        assert!(p.check(t0 + 110 * S).is_ok(), "30 s since the spool last grew");
        let h = p.check(t0 + 150 * S);
        assert!(
            h.status_line()
                .contains("offline, 13 records pending, spool not growing"),
            "{h:?}"
        );
        // Idle with nothing to send is fine.
        p.link(t0 + 151 * S, link(28, 28, 0, true));
        p.link(t0 + 170 * S, link(28, 28, 0, true));
        assert!(p.check(t0 + 190 * S).is_ok());
    }

    #[test]
    fn pollers_and_which_part_is_named() {
        let t0 = Instant::now();
        let mut p = Progress::new();
        p.watch_miner(t0, 100 * S);
        p.watch_link(t0, 100 * S);
        p.watch_poller("asic", t0, 30 * S);
        p.watch_poller("market", t0, 300 * S);
        p.poller("asic", t0, 1);
        p.poller("market", t0, 1);
        p.poller("unknown", t0, 5); // ignored, no panic
        for i in 1..=9u32 {
            let now = t0 + i * 10 * S;
            let n = u64::from(i);
            p.miner(now, miner(n * 1000, true));
            p.link(now, link(n, n, 0, true));
            p.poller("asic", now, 1 + n);
            assert!(p.check(now).is_ok(), "tick {i}");
        }
        // The ASIC poller hangs at t0 + 90 s; everything else keeps going.
        for i in 10..=13u32 {
            let now = t0 + i * 10 * S;
            let n = u64::from(i);
            p.miner(now, miner(n * 1000, true));
            p.link(now, link(n, n, 0, true));
        }
        match p.check(t0 + 130 * S) {
            Health::Stuck(parts) => {
                let names: Vec<&str> = parts.iter().map(|s| s.part.as_str()).collect();
                assert_eq!(names, ["poller asic"]);
                assert_eq!(parts[0].silent_for, 40 * S);
            }
            Health::Ok => panic!("the ASIC poller is stuck"),
        }
        p.unwatch_poller("asic");
        assert!(p.check(t0 + 130 * S).is_ok());
    }

    #[test]
    fn stuck_miner_restarts_after_n_minutes_capped_per_hour() {
        let cfg = WatchdogConfig {
            max_restarts_per_hour: 2,
            ..WatchdogConfig::default()
        };
        let t0 = Instant::now();
        let mut m = StuckMiner::new(cfg);
        assert_eq!(m.observe(t0, 5e6, true), MinerVerdict::Fine);
        assert_eq!(m.observe(t0 + MIN, 0.0, true), MinerVerdict::Low(Duration::ZERO));
        assert_eq!(m.observe(t0 + 5 * MIN, 0.0, true), MinerVerdict::Low(4 * MIN));
        // Recovers: the clock resets.
        assert_eq!(m.observe(t0 + 5 * MIN + S, 10.0, true), MinerVerdict::Fine);
        assert_eq!(
            m.observe(t0 + 7 * MIN, f64::NAN, true),
            MinerVerdict::Low(Duration::ZERO)
        );
        match m.observe(t0 + 12 * MIN, 0.0, true) {
            MinerVerdict::Restart { reason } => assert!(reason.contains("for 5 min"), "{reason}"),
            v => panic!("expected a restart, got {v:?}"),
        }
        // The restarted miner gets a full window again.
        assert_eq!(m.observe(t0 + 16 * MIN, 0.0, true), MinerVerdict::Low(4 * MIN));
        assert!(matches!(
            m.observe(t0 + 17 * MIN, 0.0, true),
            MinerVerdict::Restart { .. }
        ));
        match m.observe(t0 + 22 * MIN, 0.0, true) {
            MinerVerdict::RestartLimited { reason } => {
                assert!(reason.contains("2 restarts in the last hour"), "{reason}")
            }
            v => panic!("expected the cap, got {v:?}"),
        }
        // An hour after the first restart, one is allowed again.
        assert!(matches!(
            m.observe(t0 + 72 * MIN, 0.0, true),
            MinerVerdict::Restart { .. }
        ));
        assert_eq!(m.restarts_last_hour(t0 + 72 * MIN), 2);
    }

    #[test]
    fn stuck_miner_ignores_intentional_pauses_and_honours_the_minimum() {
        let cfg = WatchdogConfig {
            min_hashrate_hs: 1000.0,
            stuck_minutes: 2,
            ..WatchdogConfig::default()
        };
        let t0 = Instant::now();
        let mut m = StuckMiner::new(cfg.clone());
        assert_eq!(m.observe(t0, 500.0, true), MinerVerdict::Low(Duration::ZERO));
        // Thermal pause for 10 minutes: never stuck, and the clock restarts after it.
        for i in 1..=10u32 {
            assert_eq!(m.observe(t0 + i * MIN, 0.0, false), MinerVerdict::Fine);
        }
        assert_eq!(
            m.observe(t0 + 11 * MIN, 500.0, true),
            MinerVerdict::Low(Duration::ZERO)
        );
        assert!(matches!(
            m.observe(t0 + 13 * MIN, 999.9, true),
            MinerVerdict::Restart { .. }
        ));
        assert_eq!(m.observe(t0 + 14 * MIN, 1000.0, true), MinerVerdict::Fine);
        // Disabled: never restarts.
        let mut off = StuckMiner::new(WatchdogConfig {
            enabled: false,
            ..cfg
        });
        assert_eq!(off.observe(t0, 0.0, true), MinerVerdict::Fine);
        assert_eq!(off.observe(t0 + 60 * MIN, 0.0, true), MinerVerdict::Fine);
        // max 0: report only.
        let mut never = StuckMiner::new(WatchdogConfig {
            max_restarts_per_hour: 0,
            ..WatchdogConfig::default()
        });
        never.observe(t0, 0.0, true);
        assert!(matches!(
            never.observe(t0 + 5 * MIN, 0.0, true),
            MinerVerdict::RestartLimited { .. }
        ));
    }

    fn drain(sock: &UnixDatagram) -> Vec<String> {
        sock.set_nonblocking(true).expect("nonblocking");
        let mut out = Vec::new();
        while let Some(m) = recv(sock) {
            out.push(m);
        }
        sock.set_nonblocking(false).expect("blocking");
        out
    }

    #[test]
    fn an_unreadable_spool_is_stuck_at_once_and_recovers_when_read_again() {
        let t0 = Instant::now();
        let mut p = Progress::new();
        p.watch_link(t0, 30 * S);
        p.link(t0, link(0, 0, 0, true));
        p.spool(Ok(()));
        assert!(p.check(t0).is_ok());
        // Within the link's allowance, yet stuck: a spool error is a fault, not slowness.
        p.spool(Err("redb: I/O error".into()));
        match p.check(t0 + S) {
            Health::Stuck(parts) => {
                assert_eq!(parts.len(), 1, "{parts:?}");
                assert_eq!(parts[0].part, "spool");
                assert_eq!(parts[0].why, "unreadable: redb: I/O error");
            }
            Health::Ok => panic!("an unreadable spool must not read as healthy"),
        }
        p.spool(Ok(()));
        assert!(p.check(t0 + 2 * S).is_ok());
    }

    #[test]
    fn watchdog_withholds_the_ping_while_the_spool_is_unreadable() {
        let (_dir, sock, value) = systemd_stand_in();
        let t0 = Instant::now();
        let mut wd = Watchdog::new(Notifier::for_socket(&value).expect("n"), Some(10 * S), true);
        let mut p = Progress::new();
        p.watch_link(t0, 30 * S);
        p.link(t0, link(0, 0, 0, true));
        assert_eq!(wd.tick(t0, &p), Tick::Pinged);
        drain(&sock);
        p.spool(Err("disk gone".into()));
        match wd.tick(t0 + 10 * S, &p) {
            Tick::Withheld(why) => assert!(why.contains("spool (unreadable: disk gone"), "{why}"),
            t => panic!("expected the ping withheld, got {t:?}"),
        }
        assert!(!drain(&sock).iter().any(|m| m.contains("WATCHDOG=1")));
    }

    #[test]
    fn watchdog_pings_only_while_everything_progresses() {
        let (_dir, sock, value) = systemd_stand_in();
        let t0 = Instant::now();
        let mut wd = Watchdog::new(Notifier::for_socket(&value).expect("n"), Some(10 * S), true);
        let mut p = Progress::new();
        p.watch_miner(t0, 30 * S);
        p.watch_link(t0, 30 * S);
        wd.ready("starting");
        assert_eq!(drain(&sock), ["READY=1\nSTATUS=starting"]);

        p.miner(t0, miner(1, true));
        p.link(t0, link(0, 0, 0, true));
        assert_eq!(wd.tick(t0, &p), Tick::Pinged);
        assert_eq!(wd.tick(t0 + 5 * S, &p), Tick::NotDue, "half-interval not reached");
        let msgs = drain(&sock);
        assert_eq!(msgs.len(), 2, "{msgs:?}");
        assert!(msgs[0].starts_with("STATUS=running"), "{msgs:?}");
        assert_eq!(msgs[1], "WATCHDOG=1");

        p.miner(t0 + 10 * S, miner(2, true));
        assert_eq!(wd.tick(t0 + 10 * S, &p), Tick::Pinged);
        assert_eq!(drain(&sock), ["WATCHDOG=1"], "status unchanged, not resent");

        // The miner stops hashing: pings stop once its allowance is used up, and STATUS says why.
        p.miner(t0 + 20 * S, miner(2, true));
        p.link(t0 + 20 * S, link(0, 0, 0, true));
        assert_eq!(wd.tick(t0 + 20 * S, &p), Tick::Pinged);
        drain(&sock);
        match wd.tick(t0 + 41 * S, &p) {
            Tick::Withheld(why) => assert!(why.contains("miner (no new hashes"), "{why}"),
            t => panic!("expected the ping withheld, got {t:?}"),
        }
        let msgs = drain(&sock);
        assert_eq!(msgs.len(), 1, "{msgs:?}");
        assert!(msgs[0].starts_with("STATUS=stuck: miner"), "{msgs:?}");
        assert!(!msgs.iter().any(|m| m.contains("WATCHDOG=1")));
        assert!(matches!(wd.tick(t0 + 45 * S, &p), Tick::Withheld(_)));
        assert!(drain(&sock).is_empty(), "no ping, no repeated status");

        // It recovers: pings resume at once.
        p.miner(t0 + 50 * S, miner(3, true));
        assert_eq!(wd.tick(t0 + 50 * S, &p), Tick::Pinged);
        let msgs = drain(&sock);
        assert!(
            msgs[0].starts_with("STATUS=running") && msgs[1] == "WATCHDOG=1",
            "{msgs:?}"
        );
        wd.stopping();
        assert_eq!(drain(&sock), ["STOPPING=1"]);
    }

    #[test]
    fn without_gating_or_systemd_watchdog() {
        let (_dir, sock, value) = systemd_stand_in();
        let t0 = Instant::now();
        let mut p = Progress::new();
        p.watch_miner(t0, S);
        // [watchdog] enabled = false: pings even though the miner is stuck.
        let mut wd = Watchdog::new(Notifier::for_socket(&value).expect("n"), Some(S), false);
        assert_eq!(wd.tick(t0 + 10 * S, &p), Tick::Pinged);
        assert!(drain(&sock).contains(&"WATCHDOG=1".to_string()));
        // No WatchdogSec: STATUS only, never a ping.
        let mut wd = Watchdog::new(Notifier::for_socket(&value).expect("n"), None, true);
        assert_eq!(wd.tick(t0 + 10 * S, &p), Tick::NotDue);
        let msgs = drain(&sock);
        assert!(msgs.iter().all(|m| m.starts_with("STATUS=")), "{msgs:?}");
        // Not under systemd at all: nothing sent, nothing fails.
        let mut wd = Watchdog::new(Notifier::disabled(), None, true);
        assert_eq!(wd.tick(t0, &p), Tick::NotDue);
        wd.ready("x");
        wd.stopping();
    }
}
