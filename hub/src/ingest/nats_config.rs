//! The `[nats]` section of hub.toml and its checks, turning `broker = "nats://..."` and the
//! section into [`NatsOptions`]. Must never accept a value the cluster would refuse later
//! (a stream name with a dot, a lease too short to renew): the error names the key.

use super::nats::NatsOptions;
use crate::elect::LeaseTiming;
use serde::Deserialize;

/// `[nats]` (see packaging/cluster/hub.toml).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NatsSection {
    /// The cluster's MQTT listener, `mqtt://host:port`: what the hub publishes to agents.
    pub mqtt: Option<String>,
    pub stream: Option<String>,
    pub consumer: Option<String>,
    pub replicas: Option<usize>,
    pub lease_bucket: Option<String>,
    pub lease_ttl_ms: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NatsConfigError {
    #[error("broker: {0:?} is not nats://host:port (several comma-separated); tls:// is not supported")]
    Server(String),
    #[error("broker = \"nats://...\" needs [nats] mqtt = \"mqtt://host:port\", the cluster's MQTT listener")]
    NoMqtt,
    #[error("[nats] mqtt: {0:?} is not mqtt://host:port (TLS to the MQTT listener is not supported)")]
    Mqtt(String),
    #[error("[nats] {key}: {value:?} may hold only ASCII letters, digits, '-' and '_'")]
    Name { key: &'static str, value: String },
    #[error("[nats] replicas: {0} is not 1 to 5")]
    Replicas(usize),
    #[error("[nats] lease_ttl_ms: {0} is below 900 (the holder renews every third of it)")]
    LeaseTtl(u64),
    #[error("[nats] applies only with broker = \"nats://...\"")]
    WithoutNats,
}

/// The options for `broker` (a `nats://` URL) and the section.
pub fn options(broker: &str, section: Option<&NatsSection>) -> Result<NatsOptions, NatsConfigError> {
    let d = NatsOptions::default();
    for server in broker.split(',') {
        let ok = server
            .trim()
            .strip_prefix("nats://")
            .and_then(|hp| hp.rsplit_once(':'))
            .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok_and(|p| p > 0));
        if !ok {
            return Err(NatsConfigError::Server(server.to_string()));
        }
    }
    let s = section.cloned().unwrap_or_default();
    let mqtt = s.mqtt.ok_or(NatsConfigError::NoMqtt)?;
    let addr =
        hashward_protocol::BrokerAddr::parse(&mqtt).map_err(|_| NatsConfigError::Mqtt(mqtt.clone()))?;
    if addr.tls {
        return Err(NatsConfigError::Mqtt(mqtt));
    }
    let name = |key: &'static str, value: Option<String>, default: String| {
        let value = value.unwrap_or(default);
        let ok = !value.is_empty()
            && value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'));
        if ok {
            Ok(value)
        } else {
            Err(NatsConfigError::Name { key, value })
        }
    };
    let replicas = s.replicas.unwrap_or(d.replicas);
    if !(1..=5).contains(&replicas) {
        return Err(NatsConfigError::Replicas(replicas));
    }
    let ttl_ms = s.lease_ttl_ms.unwrap_or(d.lease.ttl_ms);
    if ttl_ms < 900 {
        return Err(NatsConfigError::LeaseTtl(ttl_ms));
    }
    Ok(NatsOptions {
        servers: broker.to_string(),
        mqtt_host: addr.host,
        mqtt_port: addr.port,
        stream: name("stream", s.stream, d.stream)?,
        consumer: name("consumer", s.consumer, d.consumer)?,
        replicas,
        lease_bucket: name("lease_bucket", s.lease_bucket, d.lease_bucket)?,
        lease: LeaseTiming { ttl_ms },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section(mqtt: &str) -> NatsSection {
        NatsSection {
            mqtt: Some(mqtt.into()),
            ..Default::default()
        }
    }

    #[test]
    fn servers_mqtt_and_defaults() {
        let o = options("nats://n1:4222,nats://n2:4222", Some(&section("mqtt://n1:1883"))).expect("valid");
        assert_eq!((o.mqtt_host.as_str(), o.mqtt_port), ("n1", 1883));
        assert_eq!(o.servers, "nats://n1:4222,nats://n2:4222");
        assert_eq!((o.replicas, o.lease.ttl_ms), (3, 15_000));
    }

    #[test]
    fn what_the_cluster_would_refuse_is_refused_here_naming_the_key() {
        let m = section("mqtt://n1:1883");
        assert_eq!(
            options("nats://n1", Some(&m)),
            Err(NatsConfigError::Server("nats://n1".into()))
        );
        assert!(matches!(
            options("tls://n1:4222", Some(&m)),
            Err(NatsConfigError::Server(_))
        ));
        assert_eq!(options("nats://n1:4222", None), Err(NatsConfigError::NoMqtt));
        assert!(matches!(
            options("nats://n1:4222", Some(&section("mqtts://n1:8883"))),
            Err(NatsConfigError::Mqtt(_))
        ));
        let dotted = NatsSection {
            stream: Some("a.b".into()),
            ..m.clone()
        };
        let e = options("nats://n1:4222", Some(&dotted)).expect_err("dot");
        assert!(e.to_string().contains("[nats] stream"), "{e}");
        let short = NatsSection {
            lease_ttl_ms: Some(500),
            ..m.clone()
        };
        assert_eq!(
            options("nats://n1:4222", Some(&short)),
            Err(NatsConfigError::LeaseTtl(500))
        );
        let many = NatsSection {
            replicas: Some(7),
            ..m
        };
        assert_eq!(
            options("nats://n1:4222", Some(&many)),
            Err(NatsConfigError::Replicas(7))
        );
    }
}
