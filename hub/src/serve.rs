//! `hashward-hub serve`: opens the store, starts the embedded broker (unless an external one is
//! given), then runs the hub's services (the HTTP API, the ingest with its dashboard summaries)
//! under one shutdown, and returns once everything is listening. The collectors, jobs and pages
//! to come are more [`Service`]s.
//!
//! Must never let a service die silently: one that fails, panics or stops before shutdown stops
//! the hub, and [`Running::wait`] returns its name and why.

use crate::api::{self, AppState};
use crate::broker::{BrokerError, EmbeddedBroker};
use crate::ingest::{self, IngestConfig};
use crate::metrics::Metrics;
use crate::store::StoreRead;
use crate::store::{Store, StoreError};
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};

#[derive(Debug, Clone)]
pub enum BrokerChoice {
    /// Run rumqttd in-process, listening here.
    Embedded(SocketAddr),
    External {
        host: String,
        port: u16,
        /// `mqtts://`: TLS, trusting `ca_file` (PEM) when given, else the webpki roots.
        tls: bool,
        ca_file: Option<PathBuf>,
    },
    /// A NATS JetStream cluster: records pulled from its stream through the consumer all hubs
    /// share; what the hub publishes goes through the cluster's MQTT listener; work that must
    /// run once is elected (docs/cluster.md).
    Nats(crate::ingest::nats::NatsOptions),
}

#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub data_dir: PathBuf,
    pub http: SocketAddr,
    pub broker: BrokerChoice,
    pub client_id: String,
    pub username: Option<String>,
    pub password: Option<String>,
    pub summary_interval: Duration,
    pub share_group: Option<String>,
    /// Serve `/models/*` (the model registry the agents update from) from this directory.
    pub models_dir: Option<PathBuf>,
    /// `[economics]` of hub.toml (tariffs, hardware cost).
    pub economics: crate::econ::EconomicsConfig,
    /// The collectors (`[collect]`); the default follows CoinGecko keyless.
    pub collect: crate::collect::config::CollectConfig,
    /// The score API's networks and the daily score batch (`[scores]`).
    pub scores: crate::scores::ScoresOptions,
    /// The dashboard's actions, the commands signing key and Home Assistant.
    pub dashboards: crate::control::DashboardOptions,
    /// `[notify]`: receivers and routes; `None` runs the alert engine with no receivers.
    pub notify: Option<crate::alerts::NotifyConfig>,
    /// Where the fleet store (records, rig registry, hints, pushes) lives; the other
    /// aggregates stay in `hub.redb` whatever this says.
    pub store: crate::store::StoreChoice,
    /// `[sentinel]`: how often the pool-level Sentinel looks for new pool states.
    pub sentinel: crate::sentinel::service::SentinelOptions,
    /// `[allocation]`: the allocation service; `None` leaves it off.
    pub allocation: Option<crate::alloc::AllocationConfig>,
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("creating data dir {0}: {1}")]
    DataDir(PathBuf, std::io::Error),
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error(transparent)]
    Broker(#[from] BrokerError),
    #[error("HTTP listener on {0}: {1}")]
    Http(SocketAddr, std::io::Error),
    #[error("broker TLS: {0}")]
    Tls(#[from] ingest::tls::TlsError),
    #[error(transparent)]
    Collect(#[from] crate::collect::service::CollectError),
    #[error("scores: {0}")]
    Scores(&'static str),
    #[error("commands: {0}")]
    Control(#[from] crate::control::ControlError),
    #[error(transparent)]
    Notify(#[from] crate::alerts::config::NotifyConfigError),
    #[error(transparent)]
    Nats(#[from] crate::ingest::nats::NatsError),
    #[error("allocation: {0}")]
    Allocation(String),
    #[error("service {name} stopped the hub: {reason}")]
    Service { name: &'static str, reason: String },
}

/// One long-running part of the hub: a name for the errors and a future that runs until the
/// shutdown it was given turns true. Returning before that, with `Ok` or not, is a failure.
pub struct Service {
    pub name: &'static str,
    pub run: Pin<Box<dyn Future<Output = Result<(), String>> + Send>>,
}

impl Service {
    pub fn new(
        name: &'static str,
        run: impl Future<Output = Result<(), String>> + Send + 'static,
    ) -> Service {
        Service {
            name,
            run: Box::pin(run),
        }
    }
}

/// The running services, sharing one stop signal.
pub struct Running {
    pub http_addr: SocketAddr,
    pub mqtt_host: String,
    pub mqtt_port: u16,
    stop: Arc<watch::Sender<bool>>,
    done: mpsc::UnboundedReceiver<(&'static str, Result<(), String>)>,
    services: usize,
}

impl Running {
    /// Starts `services`, each on its own task, stopped by `stop`.
    fn spawn(
        services: Vec<Service>,
        stop: Arc<watch::Sender<bool>>,
        addrs: (SocketAddr, String, u16),
    ) -> Running {
        let (tx, done) = mpsc::unbounded_channel();
        let count = services.len();
        for service in services {
            let tx = tx.clone();
            let task = tokio::spawn(service.run);
            tokio::spawn(async move {
                let outcome = match task.await {
                    Ok(r) => r,
                    Err(e) if e.is_panic() => Err(format!("panicked: {e}")),
                    Err(e) => Err(format!("task ended: {e}")),
                };
                // The receiver is gone only once `wait` has returned; nobody is left to tell.
                tx.send((service.name, outcome)).ok();
            });
        }
        Running {
            http_addr: addrs.0,
            mqtt_host: addrs.1,
            mqtt_port: addrs.2,
            stop,
            done,
            services: count,
        }
    }

    /// Waits until every service has stopped. After the shutdown signal that is success; a
    /// service that stopped first stops the others and is the error.
    pub async fn wait(mut self) -> Result<(), ServeError> {
        let mut first_failure = None;
        for _ in 0..self.services {
            let Some((name, outcome)) = self.done.recv().await else {
                break;
            };
            let stopping = *self.stop.borrow();
            let failure = match outcome {
                Ok(()) if stopping => None,
                Ok(()) => Some("stopped before shutdown".to_string()),
                Err(e) => Some(e),
            };
            if let Some(reason) = failure {
                log::error!("service {name}: {reason}; stopping the hub");
                self.stop.send_replace(true);
                first_failure.get_or_insert(ServeError::Service { name, reason });
            }
        }
        first_failure.map_or(Ok(()), Err)
    }
}

pub async fn start(opts: ServeOptions, shutdown: watch::Receiver<bool>) -> Result<Running, ServeError> {
    std::fs::create_dir_all(&opts.data_dir).map_err(|e| ServeError::DataDir(opts.data_dir.clone(), e))?;
    let store = Arc::new(Store::open(&opts.data_dir.join("hub.redb"))?);
    // The fleet store: the same redb, or PostgreSQL shared with other hubs (its start retries
    // an unreachable server, then refuses; see `crate::store::postgres`).
    let fleet = open_fleet_store(&opts.store, &store).await?;
    let metrics = Arc::new(Metrics::default());
    // Alerts: a receiver that cannot work (bad URL, missing credential) stops the start here.
    let notify_cfg = Arc::new(opts.notify.clone().unwrap_or_default());
    notify_cfg.validate()?;
    let receivers = Arc::new(crate::alerts::deliver::Receivers::build(&notify_cfg)?);
    let alert_engine = crate::alerts::service::restore(notify_cfg.clone(), &store)?;
    let (alert_sink, alert_rx) = crate::alerts::AlertSink::new(notify_cfg.sources.clone());
    let notify_wake = Arc::new(tokio::sync::Notify::new());
    // Before anything listens: a bad CA file is a start-up error, not a silent retry loop.
    let tls = match &opts.broker {
        BrokerChoice::External {
            tls: true, ca_file, ..
        } => Some(ingest::tls::client_config(ca_file.as_deref())?),
        _ => None,
    };
    let (mqtt_host, mqtt_port, embedded) = match &opts.broker {
        BrokerChoice::Embedded(listen) => {
            let listen = *listen;
            let b = tokio::task::spawn_blocking(move || EmbeddedBroker::start(listen))
                .await
                .map_err(|e| BrokerError::Thread(std::io::Error::other(e)))??;
            (b.addr.ip().to_string(), b.addr.port(), Some(b.stopped))
        }
        BrokerChoice::External { host, port, .. } => (host.clone(), *port, None),
        BrokerChoice::Nats(n) => (n.mqtt_host.clone(), n.mqtt_port, None),
    };
    // On NATS: one client for the ingest and the election; it connects (and reconnects to any
    // node) in the background, so a cluster still starting does not stop the hub.
    let nats = match &opts.broker {
        BrokerChoice::Nats(n) => Some((
            n.clone(),
            ingest::nats::connect(&n.servers, &opts.client_id).await?,
        )),
        _ => None,
    };
    let (leader, election) = match &nats {
        Some((n, client)) => {
            let (verdict, rx) = watch::channel(false);
            let election = (
                async_nats::jetstream::new(client.clone()),
                crate::elect::LeaseSpec {
                    bucket: n.lease_bucket.clone(),
                    key: "leader".into(),
                    holder: format!("{}-{:08x}", opts.client_id, rand::random::<u32>()),
                    timing: n.lease,
                    replicas: n.replicas,
                },
                verdict,
            );
            (crate::elect::Leader::elected(rx), Some(election))
        }
        None => (crate::elect::Leader::always(), None),
    };
    {
        let leader = leader.clone();
        metrics.sections.add(move |out| {
            out.push_str("# HELP hashward_hub_leader 1 while this hub runs the once-per-fleet jobs\n");
            out.push_str("# TYPE hashward_hub_leader gauge\n");
            out.push_str(&format!("hashward_hub_leader {}\n", u8::from(leader.is_leader())));
        });
    }
    let listener = tokio::net::TcpListener::bind(opts.http)
        .await
        .map_err(|e| ServeError::Http(opts.http, e))?;
    let http_addr = listener
        .local_addr()
        .map_err(|e| ServeError::Http(opts.http, e))?;
    // The services stop on this, which the shutdown signal or a failing service sets.
    let stop = Arc::new(watch::channel(false).0);
    {
        let (stop, mut signal) = (stop.clone(), shutdown);
        tokio::spawn(async move {
            while !*signal.borrow_and_update() {
                if signal.changed().await.is_err() {
                    return;
                }
            }
            stop.send_replace(true);
        });
    }
    // Before anything listens: a collector config that cannot work (over its monthly budget,
    // an unknown coin) refuses the start; an unreachable source never does.
    let collect = crate::collect::service::build(
        &opts.collect,
        store.clone(),
        &stop,
        crate::collect::service::PrunerOptions::default(),
    )?;
    {
        let state = collect.state.clone();
        metrics.sections.add(move |out| state.render_metrics(out));
    }
    let score_cache = Arc::new(crate::scores::LatestCache::default());
    let score_models = opts.scores.models_dir.clone().or(opts.models_dir.clone());
    let state = AppState {
        store: fleet.clone() as Arc<dyn StoreRead>,
        metrics: metrics.clone(),
        started: Instant::now(),
        scores: Arc::new(api::scores::ScoresApi {
            store: store.clone(),
            networks: opts.scores.networks.clone(),
            models_dir: score_models.clone(),
            cache: score_cache.clone(),
        }),
    };
    let mut app = api::router(state.clone());
    // The web dashboard at `/` and the endpoints its pages read; its actions, the Home Assistant
    // controls and discovery go through the control service below.
    let (control, queued) = match &opts.dashboards.signing_key {
        Some(path) => {
            let (c, rx) = crate::control::Control::load(path)?;
            (Some(c), rx)
        }
        None => (None, mpsc::channel(1).1),
    };
    app = app
        .merge(crate::web::router(state))
        .merge(crate::web::actions::router(crate::web::actions::Actions {
            token: opts.dashboards.operator_token.clone(),
            control: control.clone(),
            store: fleet.clone(),
            metrics: metrics.clone(),
        }));
    if let Some(dir) = &opts.models_dir {
        log::info!("serving models from {}", dir.display());
        app = app.merge(crate::models::router(dir.clone()));
    }
    // Economics and forecasts from the collectors' prices, the stored network state, the sites'
    // tariffs and the miners' telemetry; a missing input is a 503 naming it.
    let econ_inputs: Arc<dyn crate::econ::EconInputs> = Arc::new(crate::econ::LiveInputs {
        config: opts.economics.clone(),
        collect: collect.state.clone(),
        store: store.clone(),
        now_ms: hashward_common::clock::now_ms,
    });
    let econ_gauges = Arc::new(crate::econ::publish::EconGauges::default());
    {
        let g = econ_gauges.clone();
        metrics.sections.add(move |out| g.render(out));
    }
    app = app.merge(api::econ::router(api::econ::EconState {
        inputs: econ_inputs.clone(),
        store: fleet.clone() as Arc<dyn StoreRead>,
        now_s: || hashward_common::clock::now_s() as i64,
    }));
    app = app.merge(crate::collect::api::router(collect.state.clone()));
    app = app.merge(api::pools::router(api::pools::PoolsApi {
        fleet: fleet.clone() as Arc<dyn StoreRead>,
        store: store.clone(),
        sources: collect.state.registry.clone(),
    }));
    app = app.merge(api::alerts::router(api::alerts::AlertsApi {
        store: store.clone(),
        sink: alert_sink.clone(),
        receivers: Arc::new(receivers.names()),
    }));
    // Seed 004's private tuning telemetry: suggestions, leaderboard, forget; counted in /metrics.
    app = app.merge(api::telem::router(api::telem::TelemApi {
        store: fleet.clone(),
        now_ms: hashward_common::clock::now_ms,
    }));
    {
        let counters = fleet.telem_counters().clone();
        metrics.sections.add(move |out| counters.render(out));
    }
    let telem_pruner = Service::new(
        "telemetry pruner",
        crate::telem::service::run(fleet.clone(), hashward_common::clock::now_ms, stop.subscribe()),
    );
    // The pool-level Sentinel (issue 22): its model from the score models' directory; without
    // it the endpoint answers 503 with the reason and no loop runs.
    let sentinel_model = match &score_models {
        Some(dir) => crate::sentinel::model::SentinelModel::load(dir)
            .map(Arc::new)
            .map_err(|e| e.to_string()),
        None => Err("no models directory ([scores] models_dir or models_dir)".to_string()),
    };
    if let Err(why) = &sentinel_model {
        log::warn!("sentinel: not running: {why}");
    }
    let sentinel = Arc::new(crate::sentinel::service::Shared::new(sentinel_model));
    let sentinel_store = store.clone();
    let sentinel_interval = opts.sentinel.interval;
    {
        let sentinel = sentinel.clone();
        metrics.sections.add(move |out| sentinel.render_metrics(out));
    }
    app = app.merge(api::sentinel::router(api::sentinel::SentinelApi {
        shared: sentinel.clone(),
        store: store.clone(),
    }));
    // Issue 17: the allocation dry run, and the advise/auto service with its routes.
    app = app.merge(api::allocation::router());
    let allocation = match &opts.allocation {
        Some(cfg) => {
            let settings = cfg.settings().map_err(ServeError::Allocation)?;
            if settings.mode == crate::alloc::Mode::Auto && control.is_none() {
                return Err(ServeError::Allocation(
                    "allocation.mode = \"auto\" needs [commands] signing_key to sign its pushes and commands"
                        .into(),
                ));
            }
            Some(Arc::new(crate::alloc::Shared::new(
                settings,
                store.clone(),
                leader.clone(),
            )))
        }
        None => None,
    };
    app = app.merge(api::allocation_service::router(
        api::allocation_service::AllocationApi {
            shared: allocation.clone(),
            fleet: fleet.clone() as Arc<dyn StoreRead>,
            operator_token: opts.dashboards.operator_token.clone(),
        },
    ));
    let allocation = allocation.map(|shared| {
        Service::new(
            "allocation",
            crate::alloc::service::run(
                crate::alloc::Deps {
                    shared,
                    fleet: fleet.clone() as Arc<dyn StoreRead>,
                    econ: econ_inputs.clone(),
                    control: control.clone(),
                    alerts: alert_sink.clone(),
                    now_ms: hashward_common::clock::now_ms,
                },
                stop.subscribe(),
            ),
        )
    });
    // Seed 003: CORS for GET from any origin, gzip when the client accepts it.
    let app = app
        .layer(
            tower_http::cors::CorsLayer::new()
                .allow_origin(tower_http::cors::Any)
                .allow_methods([axum::http::Method::GET])
                .allow_headers(tower_http::cors::Any),
        )
        .layer(tower_http::compression::CompressionLayer::new().gzip(true));
    let http = Service::new("http", {
        let mut stopped = stop.subscribe();
        async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    // An error means the hub is going away: stop serving either way.
                    stopped.wait_for(|s| *s).await.ok();
                })
                .await
                .map_err(|e| format!("HTTP server: {e}"))
        }
    });
    let score_batch = if opts.scores.batch {
        let models_dir = score_models.ok_or(ServeError::Scores(
            "the score batch needs a models directory ([scores] models_dir or models_dir)",
        ))?;
        Some(crate::scores::service::service(
            store.clone(),
            fleet.clone(),
            crate::scores::batch::BatchSettings {
                models_dir,
                networks: opts.scores.networks.clone(),
            },
            opts.scores.run_at_min,
            score_cache,
            metrics.clone(),
            leader.clone(),
            stop.subscribe(),
        ))
    } else {
        None
    };
    let control_cfg = crate::control::service::ControlConfig {
        host: mqtt_host.clone(),
        port: mqtt_port,
        client_id: format!("{}-control", opts.client_id),
        username: opts.username.clone(),
        password: opts.password.clone(),
        tls: tls.clone(),
        ha_prefix: opts.dashboards.ha_discovery_prefix.clone(),
        // Anyone on the host can publish to the embedded broker: no controls there.
        ha_controls: embedded.is_none(),
        interval: opts.summary_interval,
    };
    let ingest_cfg = IngestConfig {
        host: mqtt_host.clone(),
        port: mqtt_port,
        client_id: opts.client_id.clone(),
        username: opts.username.clone(),
        password: opts.password.clone(),
        summary_interval: opts.summary_interval,
        share_group: opts.share_group.clone(),
        tls,
        alerts: Some(alert_sink.clone()),
    };
    let market_topics = crate::collect::publish::MqttTarget {
        host: ingest_cfg.host.clone(),
        port: ingest_cfg.port,
        client_id: format!("{}-market", ingest_cfg.client_id),
        username: ingest_cfg.username.clone(),
        password: ingest_cfg.password.clone(),
        tls: ingest_cfg.tls.clone(),
    };
    let market_topics = Service::new(
        "market topics",
        crate::collect::publish::run(market_topics, collect.state.clone(), stop.subscribe()),
    );
    let econ_topics = Service::new(
        "economics topics",
        crate::econ::publish::run(
            crate::collect::publish::MqttTarget {
                client_id: format!("{}-economics", ingest_cfg.client_id),
                host: ingest_cfg.host.clone(),
                port: ingest_cfg.port,
                username: ingest_cfg.username.clone(),
                password: ingest_cfg.password.clone(),
                tls: ingest_cfg.tls.clone(),
            },
            econ_inputs,
            econ_gauges,
            opts.economics.publish_interval(),
            stop.subscribe(),
        ),
    );
    let (control_store, control_metrics) = (fleet.clone() as Arc<dyn StoreRead>, metrics.clone());
    let alerts = Service::new(
        "alerts",
        crate::alerts::service::run(
            alert_engine,
            notify_cfg.clone(),
            store.clone(),
            fleet.clone() as Arc<dyn StoreRead>,
            alert_rx,
            notify_wake.clone(),
            stop.subscribe(),
        ),
    );
    let notify = Service::new(
        "notify",
        crate::alerts::deliver::run(
            notify_cfg,
            receivers,
            store.clone(),
            metrics.clone(),
            notify_wake,
            stop.subscribe(),
        ),
    );
    let ingest = Service::new("ingest", {
        let stopped = stop.subscribe();
        async move {
            match nats {
                Some((n, client)) => {
                    ingest::nats::run(n, client, ingest_cfg, fleet, metrics, leader, stopped).await
                }
                None => ingest::run(ingest_cfg, fleet, metrics, stopped).await,
            }
            Ok(())
        }
    });
    let mut services = vec![http, ingest, alerts, notify];
    services.extend(election.map(|(js, spec, verdict)| {
        Service::new(
            "election",
            crate::elect::serve(js, spec, verdict, stop.subscribe()),
        )
    }));
    services.push(market_topics);
    services.push(econ_topics);
    services.extend(
        collect
            .tasks
            .into_iter()
            .map(|(name, run)| Service::new(name, run)),
    );
    services.extend(score_batch);
    services.extend(allocation);
    services.push(telem_pruner);
    if let Ok(model) = &sentinel.model {
        services.push(Service::new(
            "sentinel",
            crate::sentinel::service::run(
                model.clone(),
                sentinel_store,
                sentinel.clone(),
                alert_sink.clone(),
                sentinel_interval,
                stop.subscribe(),
            ),
        ));
    }
    // Collector outages reach a person like any other alert.
    services.push(Service::new(
        "source alerts",
        crate::alerts::source_outages::run(
            collect.state.registry.clone(),
            alert_sink.clone(),
            stop.subscribe(),
        ),
    ));
    if control.is_some() || control_cfg.ha_prefix.is_some() {
        let (store, metrics, stopped) = (control_store, control_metrics, stop.subscribe());
        services.push(Service::new(
            "control",
            crate::control::service::run(control_cfg, control, queued, store, metrics, stopped),
        ));
    }
    if let Some(broker_stopped) = embedded {
        let mut stopped = stop.subscribe();
        services.push(Service::new("embedded broker", async move {
            tokio::select! {
                why = broker_stopped => Err(why.unwrap_or_else(|_| "embedded broker thread ended".into())),
                _ = stopped.wait_for(|s| *s) => Ok(()),
            }
        }));
    }
    log::info!("hub HTTP on http://{http_addr}, MQTT {mqtt_host}:{mqtt_port}");
    Ok(Running::spawn(services, stop, (http_addr, mqtt_host, mqtt_port)))
}

/// The fleet store `choice` names: the hub-local redb `local`, or PostgreSQL.
async fn open_fleet_store(
    choice: &crate::store::StoreChoice,
    local: &Arc<Store>,
) -> Result<Arc<dyn crate::store::FleetStore>, ServeError> {
    match choice {
        crate::store::StoreChoice::Redb => Ok(local.clone() as Arc<dyn crate::store::FleetStore>),
        crate::store::StoreChoice::Postgres(url) => {
            let url = url.clone();
            let pg = tokio::task::spawn_blocking(move || {
                crate::store::postgres::PgStore::open(&url, &Default::default())
            })
            .await
            .map_err(|e| ServeError::Service {
                name: "postgres store",
                reason: format!("opening task failed: {e}"),
            })??;
            Ok(Arc::new(pg) as Arc<dyn crate::store::FleetStore>)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addrs() -> (SocketAddr, String, u16) {
        ("127.0.0.1:1".parse().expect("addr"), "127.0.0.1".into(), 1)
    }

    /// A service that runs until the stop signal, as every real one does.
    fn until_stopped(name: &'static str, stop: &Arc<watch::Sender<bool>>) -> Service {
        let mut stopped = stop.subscribe();
        Service::new(name, async move {
            stopped.wait_for(|s| *s).await.map_err(|e| e.to_string())?;
            Ok(())
        })
    }

    #[tokio::test]
    async fn a_failing_service_stops_the_others_and_is_named() {
        let stop = Arc::new(watch::channel(false).0);
        let services = vec![
            until_stopped("http", &stop),
            Service::new("collector", async { Err("pool API refused the key".to_string()) }),
        ];
        let e = Running::spawn(services, stop.clone(), addrs())
            .wait()
            .await
            .expect_err("fails");
        assert_eq!(
            e.to_string(),
            "service collector stopped the hub: pool API refused the key"
        );
        assert!(*stop.borrow(), "the others were told to stop");
    }

    #[tokio::test]
    async fn a_panic_or_an_early_return_is_a_failure_and_shutdown_is_not() {
        let stop = Arc::new(watch::channel(false).0);
        let e = Running::spawn(
            vec![Service::new("job", async { panic!("bad arithmetic") })],
            stop,
            addrs(),
        )
        .wait()
        .await
        .expect_err("panics");
        assert!(
            e.to_string().starts_with("service job stopped the hub: panicked"),
            "{e}"
        );

        let stop = Arc::new(watch::channel(false).0);
        let e = Running::spawn(vec![Service::new("ingest", async { Ok(()) })], stop, addrs())
            .wait()
            .await
            .expect_err("early");
        assert!(e.to_string().contains("stopped before shutdown"), "{e}");

        let stop = Arc::new(watch::channel(false).0);
        let running = Running::spawn(
            vec![until_stopped("http", &stop), until_stopped("ingest", &stop)],
            stop.clone(),
            addrs(),
        );
        stop.send_replace(true);
        running.wait().await.expect("a clean shutdown");
    }
}
