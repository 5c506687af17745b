//! The broker address both the agent and the hub accept: `mqtt://host[:port]` (or `tcp://`),
//! port 1883 by default, and `mqtts://host[:port]` (or `ssl://`) for TLS, port 8883 by default.
//! One parser, so a URL one side takes the other takes too.

/// A broker address taken apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerAddr {
    pub host: String,
    pub port: u16,
    /// `mqtts://`: the connection must be TLS; never silently downgraded to plain TCP.
    pub tls: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("broker {url:?}: {why}")]
pub struct BrokerAddrError {
    pub url: String,
    pub why: &'static str,
}

impl BrokerAddr {
    pub fn parse(url: &str) -> Result<BrokerAddr, BrokerAddrError> {
        let bad = |why| BrokerAddrError {
            url: url.to_string(),
            why,
        };
        let (rest, tls) = if let Some(r) = url.strip_prefix("mqtt://").or_else(|| url.strip_prefix("tcp://"))
        {
            (r, false)
        } else if let Some(r) = url
            .strip_prefix("mqtts://")
            .or_else(|| url.strip_prefix("ssl://"))
        {
            (r, true)
        } else {
            return Err(bad("must start with mqtt:// or mqtts://"));
        };
        let default_port = if tls { 8883 } else { 1883 };
        let (host, port) = match rest.rsplit_once(':') {
            Some((h, p)) => (
                h,
                p.parse::<u16>()
                    .map_err(|_| bad("port is not a number 1-65535"))?,
            ),
            None => (rest, default_port),
        };
        // Brackets only delimit an IPv6 address: `mqtts://]` or `[]` is no host at all (found by
        // fuzz_broker_addr; accepted before, then failed only at connect time).
        let host = host.trim_matches(['[', ']']);
        if host.is_empty() || host.contains('/') || port == 0 {
            return Err(bad("expected mqtt://host:port"));
        }
        Ok(BrokerAddr {
            host: host.to_string(),
            port,
            tls,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broker_urls() {
        assert_eq!(
            BrokerAddr::parse("mqtt://h:1884").expect("ok"),
            BrokerAddr {
                host: "h".into(),
                port: 1884,
                tls: false
            }
        );
        let tls = BrokerAddr::parse("mqtts://broker.example").expect("ok");
        assert_eq!((tls.port, tls.tls), (8883, true));
        assert_eq!(BrokerAddr::parse("ssl://h:1").expect("ok").port, 1);
        assert!(!BrokerAddr::parse("mqtt://h").expect("ok").tls);
        assert_eq!(BrokerAddr::parse("mqtt://h").expect("ok").port, 1883);
        assert_eq!(BrokerAddr::parse("tcp://[::1]:1").expect("ok").host, "::1");
        for bad in [
            "mqtt://:1",
            "http://h",
            "mqtts://",
            "mqtts://h:0",
            "mqtts:/h",
            "mqtt://h:x",
            "mqtt://h:99999",
            "mqtt://h:0",
            "mqtt://h/x",
            "mqtts://]",
            "mqtt://[]:1",
        ] {
            assert!(BrokerAddr::parse(bad).is_err(), "{bad}");
        }
        assert!(BrokerAddr::parse("mqtt://h:x")
            .expect_err("bad port")
            .to_string()
            .contains("port"));
    }
}
