//! The embedded MQTT broker (rumqttd) for single-host setups and tests.
//!
//! It listens where it is told (loopback by default: the all-in-one setup must not open a broker
//! to the LAN). rumqttd only logs a failed bind, so the port is checked first and the broker is
//! probed until it accepts connections; a broker that did not come up is an error, not a silence,
//! and one that stops later resolves [`EmbeddedBroker::stopped`], which stops the hub.

use rumqttd::{Broker, Config, ConnectionSettings, RouterConfig, ServerSettings};
use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    #[error("cannot listen on {0}: {1} (is another MQTT broker running? pick another port)")]
    Bind(SocketAddr, std::io::Error),
    #[error("embedded broker on {0} did not accept connections within 5 s")]
    NotUp(SocketAddr),
    #[error("starting the embedded broker thread: {0}")]
    Thread(std::io::Error),
}

/// Largest publish the embedded broker forwards; larger ones are refused at the broker.
const MAX_PAYLOAD: usize = 1 << 20;

pub struct EmbeddedBroker {
    pub addr: SocketAddr,
    /// Resolves with why, if the broker thread ever stops (it runs for the life of the process).
    pub stopped: tokio::sync::oneshot::Receiver<String>,
}

impl EmbeddedBroker {
    /// Starts rumqttd on `listen` (port 0 picks a free one) and waits until it accepts clients.
    pub fn start(listen: SocketAddr) -> Result<EmbeddedBroker, BrokerError> {
        let addr = {
            let probe = TcpListener::bind(listen).map_err(|e| BrokerError::Bind(listen, e))?;
            probe.local_addr().map_err(|e| BrokerError::Bind(listen, e))?
        };
        let server = ServerSettings {
            name: "hashward-v4".into(),
            listen: addr,
            tls: None,
            next_connection_delay_ms: 1,
            connections: ConnectionSettings {
                connection_timeout_ms: 5000,
                max_payload_size: MAX_PAYLOAD,
                max_inflight_count: 200,
                auth: None,
                external_auth: None,
                dynamic_filters: true,
            },
        };
        let config = Config {
            id: 0,
            router: RouterConfig {
                max_connections: 10_000,
                max_outgoing_packet_count: 200,
                max_segment_size: 100 << 20,
                max_segment_count: 10,
                ..Default::default()
            },
            v4: Some(HashMap::from([("hashward".to_string(), server)])),
            ..Default::default()
        };
        let (stopped_tx, stopped) = tokio::sync::oneshot::channel();
        std::thread::Builder::new()
            .name("mqtt-broker".into())
            .spawn(move || {
                let mut broker = Broker::new(config);
                let why = match broker.start() {
                    Ok(()) => "embedded broker stopped".to_string(),
                    Err(e) => format!("embedded broker stopped: {e}"),
                };
                // Nobody listening means the hub is already going away.
                stopped_tx.send(why).ok();
            })
            .map_err(BrokerError::Thread)?;
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                log::info!("embedded MQTT broker listening on {addr}");
                return Ok(EmbeddedBroker { addr, stopped });
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(BrokerError::NotUp(addr))
    }
}
