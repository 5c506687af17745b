//! The collectors as hub services: builds the configured sources (refusing a config that cannot
//! work, such as an over-quota budget, before anything starts), runs one scheduler task per poll
//! source, the intake that stores and caches what they deliver, and the market pruner.
//! [`CollectState`] is what the HTTP API and `/metrics` read.
//!
//! Must never fail hub start over an unreachable source, and never let one source's failure
//! stop another.

use super::coins::{self, CoinRow};
use super::config::{secs, CollectConfig, SourceConfig};
use super::http::HttpClient;
use super::indicators;
use super::policy::{check_budget, OverBudget};
use super::scheduler::{self, Checkpoints, SchedulerOptions, Slot};
use super::source::{Delivery, Observation, PollSource, Registry, Sink, SourceState, SourceStatus};
use super::tariff::{price_at, TariffConfig, TariffFeed, TariffQuote};
use super::view::{self, Candidate};
use super::{coingecko, coinmarketcap};
use crate::store::market::{Pruned, Retention};
use crate::store::Store;
use hashward_common::clock::now_ms;
use hashward_protocol::market::{GlobalMarket, MarketData, MarketView};
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::{mpsc, watch};

#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    #[error("collect config: {0}")]
    Config(String),
    #[error("collect budget: {0}")]
    Budget(#[from] OverBudget),
    #[error("collect TLS: {0}")]
    Tls(#[from] hashward_common::tls::TlsError),
}

/// A named task for `serve` to run under its shutdown.
pub type Task = (
    &'static str,
    Pin<Box<dyn Future<Output = Result<(), String>> + Send>>,
);

/// Counters the collectors add to `/metrics`.
#[derive(Debug, Default)]
pub struct CollectCounters {
    pub observations: AtomicU64,
    pub stored_rows: AtomicU64,
    pub store_errors: AtomicU64,
    pub pruned_raw: AtomicU64,
    pub pruned_hourly: AtomicU64,
    pub pruned_daily: AtomicU64,
    pub pruned_global: AtomicU64,
    /// Pool profitability and network history rows deleted (older than [`POOL_NETWORK_KEEP_MS`]).
    pub pruned_pool_profitability: AtomicU64,
    pub pruned_network: AtomicU64,
    /// Retained market topics published.
    pub published: AtomicU64,
}

#[derive(Default)]
struct Cache {
    /// coin -> source -> latest (merged) record.
    market: BTreeMap<String, BTreeMap<String, MarketData>>,
    global: Option<GlobalMarket>,
    /// Site -> (USD/kWh, fetched at ms) from its tariff feed.
    tariffs: BTreeMap<String, (f64, u64)>,
}

/// What the API and metrics read; shared by the intake that writes it.
pub struct CollectState {
    pub registry: Arc<Registry>,
    pub counters: CollectCounters,
    pub coins: Vec<&'static CoinRow>,
    pub store: Arc<Store>,
    /// Source -> shortest job interval, ms (freshness is counted in these).
    intervals: BTreeMap<String, u64>,
    priority: Vec<String>,
    cache: RwLock<Cache>,
    /// Site -> its tariff config.
    sites: BTreeMap<String, TariffConfig>,
}

impl CollectState {
    fn source_ok(&self, source: &str) -> bool {
        self.registry
            .all()
            .iter()
            .any(|s| s.name == source && s.state == SourceState::Ok)
    }

    /// The served record of `coin` (an id, symbol or CMC id), with its indicators.
    pub fn market_coin(&self, coin: &str, now: u64) -> Option<MarketView> {
        let row = coins::lookup(coin)?;
        let statuses = self.registry.all();
        let cache = self.cache.read().unwrap_or_else(|p| p.into_inner());
        let per_source = cache.market.get(row.id)?;
        let candidates: Vec<Candidate<'_>> = per_source
            .values()
            .map(|d| Candidate {
                data: d,
                source_ok: statuses
                    .iter()
                    .any(|s| s.name == d.source && s.state == SourceState::Ok),
                interval_ms: self.intervals.get(&d.source).copied().unwrap_or(300_000),
                priority: self
                    .priority
                    .iter()
                    .position(|p| *p == d.source)
                    .unwrap_or(usize::MAX),
            })
            .collect();
        let mut v = view::choose(&candidates, now)?;
        drop(cache);
        match self.store.daily(row.id, 0, now, 200) {
            Ok(days) => {
                let closes: Vec<f64> = days.iter().map(|p| p.price_usd).collect();
                v.data.technical_indicators = indicators::technical(&closes);
            }
            Err(e) => log::warn!("indicators of {}: daily history unreadable: {e}", row.id),
        }
        Some(v)
    }

    /// Every followed coin that has a record.
    pub fn market(&self, now: u64) -> Vec<MarketView> {
        self.coins
            .iter()
            .filter_map(|c| self.market_coin(c.id, now))
            .collect()
    }

    pub fn global(&self) -> Option<GlobalMarket> {
        self.cache
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .global
            .clone()
    }

    /// True once some source has delivered a price for `coin` (tests poll on this).
    pub fn has_market(&self, coin: &str, source: &str) -> bool {
        let cache = self.cache.read().unwrap_or_else(|p| p.into_inner());
        cache.market.get(coin).is_some_and(|m| m.contains_key(source)) && self.source_ok(source)
    }

    fn remember(&self, d: MarketData) -> MarketData {
        let mut cache = self.cache.write().unwrap_or_else(|p| p.into_inner());
        let per_coin = cache.market.entry(d.coin.id.clone()).or_default();
        let merged = view::merge(per_coin.get(&d.source), d, 3_600_000);
        per_coin.insert(merged.source.clone(), merged.clone());
        merged
    }

    /// Every configured site's electricity price at `now`.
    pub fn tariffs(&self, now: u64) -> Vec<TariffQuote> {
        let cache = self.cache.read().unwrap_or_else(|p| p.into_inner());
        self.sites
            .iter()
            .map(|(site, t)| {
                let (usd_per_kwh, note, age_s) = match t {
                    TariffConfig::Feed { .. } => match cache.tariffs.get(site) {
                        Some((p, at)) => (Some(*p), None, Some(now.saturating_sub(*at) / 1000)),
                        None => (
                            None,
                            Some("the feed has not answered yet (see /sources, tariff)".to_string()),
                            None,
                        ),
                    },
                    _ => match price_at(t, now) {
                        Ok(p) => (Some(p), None, None),
                        Err(why) => (None, Some(why), None),
                    },
                };
                TariffQuote {
                    site: site.clone(),
                    kind: t.kind(),
                    usd_per_kwh,
                    note,
                    age_s,
                }
            })
            .collect()
    }

    pub fn statuses(&self) -> Vec<SourceStatus> {
        self.registry.all()
    }
}

/// The built collectors: the state to serve and the tasks to run.
pub struct Built {
    pub state: Arc<CollectState>,
    pub tasks: Vec<Task>,
    /// Push sources (`wamp`) deliver here: `Sink::new(name, sender.clone())`.
    pub sender: mpsc::Sender<Delivery>,
}

/// Pool profitability and network history rows are kept this long (seed 002 §10.3's 30-day
/// high-resolution tier); each pool's state and each coin's latest snapshot stay.
pub const POOL_NETWORK_KEEP_MS: u64 = 30 * 86_400_000;

/// Pruner cadence and the tiers' retention.
#[derive(Debug, Clone, Copy)]
pub struct PrunerOptions {
    pub every: Duration,
    pub retention: Retention,
}

impl Default for PrunerOptions {
    fn default() -> PrunerOptions {
        PrunerOptions {
            every: Duration::from_secs(3600),
            retention: Retention::default(),
        }
    }
}

/// Builds the sources of `cfg`; its retention keys override `pruner`. Errors are configuration errors only (unknown coin, bad value,
/// over-quota budget): the hub refuses to start with them.
pub fn build(
    cfg: &CollectConfig,
    store: Arc<Store>,
    stop: &watch::Sender<bool>,
    pruner: PrunerOptions,
) -> Result<Built, CollectError> {
    let pruner = PrunerOptions {
        every: cfg.prune_interval_s.map_or(pruner.every, secs),
        retention: Retention {
            raw_days: cfg.raw_retention_days.or(pruner.retention.raw_days),
            hourly_days: cfg.hourly_retention_days.or(pruner.retention.hourly_days),
            daily_days: cfg.daily_retention_days.or(pruner.retention.daily_days),
        },
    };
    if cfg.prune_interval_s.is_some_and(|s| !(s.is_finite() && s > 0.0)) {
        return Err(CollectError::Config(
            "collect.prune_interval_s: must be above 0".into(),
        ));
    }
    let coin_ids: Vec<String> = cfg
        .coins
        .clone()
        .unwrap_or_else(|| coins::DEFAULT_COINS.iter().map(|s| s.to_string()).collect());
    if coin_ids.is_empty() {
        return Err(CollectError::Config(
            "collect.coins: empty; name at least one coin".into(),
        ));
    }
    let coins = coins::resolve(&coin_ids).map_err(CollectError::Config)?;
    let http = HttpClient::new()?;
    let registry = Arc::new(Registry::default());
    let mut sources: Vec<Box<dyn PollSource>> = Vec::new();
    let cg_cfg = cfg.coingecko.clone().unwrap_or_default();
    let cg_status = registry.register(coingecko::NAME);
    if cg_cfg.enabled() {
        sources.push(Box::new(
            coingecko::CoinGecko::new(&cg_cfg, coins.clone(), http.clone()).map_err(CollectError::Config)?,
        ));
    } else {
        let mut s = cg_status.lock();
        s.state = SourceState::Disabled;
        s.note = Some("enabled = false in [collect.coingecko]".into());
    }
    let cmc_cfg: SourceConfig = cfg.coinmarketcap.clone().unwrap_or_default();
    let cmc_status = registry.register(coinmarketcap::NAME);
    if cmc_cfg.enabled() {
        match coinmarketcap::CoinMarketCap::new(&cmc_cfg, coins.clone(), http.clone())
            .map_err(CollectError::Config)?
        {
            Some(s) => sources.push(Box::new(s)),
            None => {
                let mut s = cmc_status.lock();
                s.state = SourceState::Disabled;
                s.note = Some(
                    "no api_key in [collect.coinmarketcap]: every CoinMarketCap endpoint needs one".into(),
                );
            }
        }
    } else {
        let mut s = cmc_status.lock();
        s.state = SourceState::Disabled;
        s.note = Some("enabled = false in [collect.coinmarketcap]".into());
    }
    let mut sites = BTreeMap::new();
    for (name, site) in &cfg.sites {
        if let Some(t) = &site.tariff {
            t.check(name).map_err(CollectError::Config)?;
            sites.insert(name.clone(), t.clone());
        }
    }
    if let Some(feed) = TariffFeed::new(&cfg.sites, http.clone()) {
        sources.push(Box::new(feed));
    }
    sources.extend(super::network::sources(cfg, &http, &registry).map_err(CollectError::Config)?);
    let mut intervals = BTreeMap::new();
    for s in &sources {
        let limits = s.limits();
        let unit = if s.name() == coinmarketcap::NAME {
            "credits"
        } else {
            "calls"
        };
        check_budget(s.name(), &s.jobs(), limits.monthly_quota, unit)?;
        let shortest = s
            .jobs()
            .iter()
            .map(|j| j.interval)
            .min()
            .unwrap_or(Duration::from_secs(300));
        intervals.insert(
            s.name().to_string(),
            u64::try_from(shortest.as_millis()).unwrap_or(u64::MAX),
        );
    }
    let known = [coingecko::NAME, coinmarketcap::NAME];
    if let Some(bad) = cfg
        .market_priority
        .iter()
        .flatten()
        .find(|p| !known.contains(&p.as_str()))
    {
        return Err(CollectError::Config(format!(
            "collect.market_priority: unknown source {bad:?} (market sources: {})",
            known.join(", ")
        )));
    }
    let priority = cfg
        .market_priority
        .clone()
        .unwrap_or_else(|| vec![coingecko::NAME.into(), coinmarketcap::NAME.into()]);
    let state = Arc::new(CollectState {
        registry: registry.clone(),
        counters: CollectCounters::default(),
        coins,
        store: store.clone(),
        intervals,
        priority,
        cache: RwLock::new(Cache::default()),
        sites,
    });
    // A restarted hub serves its last values (stale until their source answers again).
    match store.latest_market() {
        Ok(latest) => {
            for d in latest {
                state.remember(d);
            }
        }
        Err(e) => log::warn!("last market values not loaded: {e}"),
    }
    let opts = SchedulerOptions {
        stagger: cfg.stagger_s.map_or(Duration::from_secs(30), secs),
        breaker_failures: cfg.breaker_failures.unwrap_or(5),
        breaker_cooldown: cfg.breaker_cooldown_s.map_or(Duration::from_secs(300), secs),
        ..SchedulerOptions::default()
    };
    let (tx, rx) = mpsc::channel::<Delivery>(256);
    let total: usize = sources.iter().map(|s| s.jobs().len()).sum();
    let mut first = 0;
    let mut tasks: Vec<Task> = Vec::new();
    for s in sources {
        let name = s.name();
        let n = s.jobs().len();
        let status = registry.register(name);
        let sink = Sink::new(name, tx.clone());
        let cps: Arc<dyn Checkpoints> = store.clone();
        let run = scheduler::run_source(
            s,
            status,
            sink,
            cps,
            opts.clone(),
            Slot { first, total },
            stop.subscribe(),
        );
        first += n;
        tasks.push((
            name,
            Box::pin(async move {
                run.await;
                Ok(())
            }),
        ));
    }
    if let Some(t) =
        super::prohashing::live::task(cfg, store.clone(), http.clone(), &registry, tx.clone(), stop)
            .map_err(CollectError::Config)?
    {
        tasks.push(t);
    }
    tasks.push((
        "collect intake",
        Box::pin(intake(rx, state.clone(), stop.subscribe())),
    ));
    tasks.push((
        "market pruner",
        Box::pin(prune_loop(state.clone(), pruner, stop.subscribe())),
    ));
    Ok(Built {
        state,
        tasks,
        sender: tx,
    })
}

/// Stores and caches deliveries until shutdown.
async fn intake(
    mut rx: mpsc::Receiver<Delivery>,
    state: Arc<CollectState>,
    mut stop: watch::Receiver<bool>,
) -> Result<(), String> {
    loop {
        let d = tokio::select! {
            d = rx.recv() => d,
            _ = stop.wait_for(|s| *s) => return Ok(()),
        };
        let Some(d) = d else {
            // Every sender (sources and the built handle) is gone: only at shutdown.
            stop.wait_for(|s| *s).await.ok();
            return Ok(());
        };
        state.counters.observations.fetch_add(1, Ordering::Relaxed);
        let store = state.store.clone();
        let write = match d.observation {
            Observation::Market(m) => {
                let merged = state.remember(*m);
                tokio::task::spawn_blocking(move || store.store_market(&[merged]).map(|n| n as u64)).await
            }
            Observation::MarketDaily { coin, points } => {
                let now = d.received_ms;
                tokio::task::spawn_blocking(move || {
                    store
                        .store_daily(&coin, &points, now)
                        .map(|w| w.inserted + w.updated)
                })
                .await
            }
            Observation::Tariff {
                site,
                usd_per_kwh,
                at_ms,
            } => {
                let mut cache = state.cache.write().unwrap_or_else(|p| p.into_inner());
                cache.tariffs.insert(site, (usd_per_kwh, at_ms));
                continue;
            }
            Observation::Network(n) => {
                tokio::task::spawn_blocking(move || store.save_network(&n).map(u64::from)).await
            }
            Observation::Pool(p) => {
                let now = d.received_ms;
                tokio::task::spawn_blocking(move || store.save_pool(p.pool_id, &p.state, now)).await
            }
            Observation::GlobalMarket(g) => {
                state.cache.write().unwrap_or_else(|p| p.into_inner()).global = Some(g.clone());
                tokio::task::spawn_blocking(move || store.store_global(&g).map(|()| 1)).await
            }
        };
        match write {
            Ok(Ok(n)) => {
                state.counters.stored_rows.fetch_add(n, Ordering::Relaxed);
            }
            Ok(Err(e)) => {
                state.counters.store_errors.fetch_add(1, Ordering::Relaxed);
                log::error!("collector {}: not stored: {e}", d.source);
            }
            Err(e) => return Err(format!("store write task: {e}")),
        }
    }
}

async fn prune_loop(
    state: Arc<CollectState>,
    opts: PrunerOptions,
    mut stop: watch::Receiver<bool>,
) -> Result<(), String> {
    loop {
        let store = state.store.clone();
        let now = now_ms();
        match tokio::task::spawn_blocking(move || store.prune_market(now, opts.retention)).await {
            Ok(Ok(Pruned {
                raw,
                hourly,
                daily,
                global,
            })) => {
                let c = &state.counters;
                c.pruned_raw.fetch_add(raw, Ordering::Relaxed);
                c.pruned_hourly.fetch_add(hourly, Ordering::Relaxed);
                c.pruned_daily.fetch_add(daily, Ordering::Relaxed);
                c.pruned_global.fetch_add(global, Ordering::Relaxed);
                if raw + hourly + daily + global > 0 {
                    log::info!("market pruner: deleted {raw} raw, {hourly} hourly, {daily} daily, {global} global rows");
                }
            }
            Ok(Err(e)) => log::error!("market pruner: {e}"),
            Err(e) => return Err(format!("pruner task: {e}")),
        }
        let store = state.store.clone();
        let before = now.saturating_sub(POOL_NETWORK_KEEP_MS);
        match tokio::task::spawn_blocking(move || {
            Ok::<_, crate::store::StoreError>((
                store.prune_pool_profitability(before)?,
                store.prune_network(before)?,
            ))
        })
        .await
        {
            Ok(Ok((pool, network))) => {
                let c = &state.counters;
                c.pruned_pool_profitability.fetch_add(pool, Ordering::Relaxed);
                c.pruned_network.fetch_add(network, Ordering::Relaxed);
            }
            Ok(Err(e)) => log::error!("pool/network pruner: {e}"),
            Err(e) => return Err(format!("pruner task: {e}")),
        }
        tokio::select! {
            _ = tokio::time::sleep(opts.every) => {}
            _ = stop.wait_for(|s| *s) => return Ok(()),
        }
    }
}
