//! `hashward-hub serve`: starts the embedded broker (unless an external one is given), the store,
//! the ingest and the HTTP API, and returns once everything is listening.

use crate::api::{self, AppState};
use crate::broker::{BrokerError, EmbeddedBroker};
use crate::ingest::{self, IngestConfig};
use crate::metrics::Metrics;
use crate::store::{Store, StoreError};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio::task::JoinHandle;

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
}

pub struct Running {
    pub http_addr: SocketAddr,
    pub mqtt_host: String,
    pub mqtt_port: u16,
    tasks: Vec<JoinHandle<()>>,
}

impl Running {
    /// Waits for the hub's tasks to finish (after shutdown).
    pub async fn wait(self) {
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

pub async fn start(opts: ServeOptions, shutdown: watch::Receiver<bool>) -> Result<Running, ServeError> {
    std::fs::create_dir_all(&opts.data_dir).map_err(|e| ServeError::DataDir(opts.data_dir.clone(), e))?;
    let store = Arc::new(Store::open(&opts.data_dir.join("hub.redb"))?);
    let metrics = Arc::new(Metrics::default());
    // Before anything listens: a bad CA file is a start-up error, not a silent retry loop.
    let tls = match &opts.broker {
        BrokerChoice::External {
            tls: true, ca_file, ..
        } => Some(ingest::tls::client_config(ca_file.as_deref())?),
        _ => None,
    };
    let (mqtt_host, mqtt_port) = match &opts.broker {
        BrokerChoice::Embedded(listen) => {
            let listen = *listen;
            let b = tokio::task::spawn_blocking(move || EmbeddedBroker::start(listen))
                .await
                .map_err(|e| BrokerError::Thread(std::io::Error::other(e)))??;
            (b.addr.ip().to_string(), b.addr.port())
        }
        BrokerChoice::External { host, port, .. } => (host.clone(), *port),
    };
    let listener = tokio::net::TcpListener::bind(opts.http)
        .await
        .map_err(|e| ServeError::Http(opts.http, e))?;
    let http_addr = listener
        .local_addr()
        .map_err(|e| ServeError::Http(opts.http, e))?;
    let mut app = api::router(AppState {
        store: store.clone(),
        metrics: metrics.clone(),
        started: Instant::now(),
    });
    if let Some(dir) = &opts.models_dir {
        log::info!("serving models from {}", dir.display());
        app = app.merge(crate::models::router(dir.clone()));
    }
    let mut http_shutdown = shutdown.clone();
    let http = tokio::spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = http_shutdown.changed().await;
            })
            .await;
        if let Err(e) = served {
            log::error!("HTTP server stopped: {e}");
        }
    });
    let ingest_cfg = IngestConfig {
        host: mqtt_host.clone(),
        port: mqtt_port,
        client_id: opts.client_id.clone(),
        username: opts.username.clone(),
        password: opts.password.clone(),
        summary_interval: opts.summary_interval,
        share_group: opts.share_group.clone(),
        tls,
    };
    let ingest = tokio::spawn(ingest::run(ingest_cfg, store, metrics, shutdown));
    log::info!("hub HTTP on http://{http_addr}, MQTT {mqtt_host}:{mqtt_port}");
    Ok(Running {
        http_addr,
        mqtt_host,
        mqtt_port,
        tasks: vec![http, ingest],
    })
}
