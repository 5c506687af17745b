//! Where a miner is: `10.0.0.5`, `10.0.0.5:8080`, `http://host[:port]` or `tcp://host:port`
//! parsed into an [`Endpoint`] and resolved once to a socket address.
//!
//! Must never accept credentials inside the address (they belong in the 0600 credentials file)
//! or guess a scheme the user did not give: a bare address leaves the API kind to the config or
//! to detection.

use super::error::ApiError;
use std::net::{IpAddr, SocketAddr};

/// Default port of the miners' web interface (Vnish, stock Antminer).
pub const HTTP_PORT: u16 = 80;
/// Default port of the cgminer/bmminer JSON API.
pub const CGMINER_PORT: u16 = 4028;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Http,
    Tcp,
    /// No scheme given: the kind decides the port.
    Bare,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub scheme: Scheme,
    pub host: String,
    pub port: Option<u16>,
}

impl Endpoint {
    pub fn parse(input: &str) -> Result<Endpoint, ApiError> {
        let bad = |detail: &str| ApiError::Address {
            addr: input.to_string(),
            detail: detail.to_string(),
        };
        let s = input.trim();
        let (scheme, rest) = if let Some(r) = strip_prefix_ci(s, "http://") {
            (Scheme::Http, r)
        } else if let Some(r) = strip_prefix_ci(s, "tcp://") {
            (Scheme::Tcp, r)
        } else if strip_prefix_ci(s, "https://").is_some() {
            return Err(bad("miners serve plain HTTP; use http://"));
        } else if s.contains("://") {
            return Err(bad("scheme must be http:// or tcp://"));
        } else {
            (Scheme::Bare, s)
        };
        // Only the authority matters: every API path is fixed by the client.
        let authority = rest.split('/').next().unwrap_or("");
        if authority.contains('@') {
            return Err(bad(
                "credentials do not go in the address; use the credentials file",
            ));
        }
        let (host, port) = if let Some(r) = authority.strip_prefix('[') {
            let (h, after) = r
                .split_once(']')
                .ok_or_else(|| bad("unclosed '[' in IPv6 address"))?;
            let port = match after.strip_prefix(':') {
                Some(p) => Some(parse_port(p).ok_or_else(|| bad("bad port"))?),
                None if after.is_empty() => None,
                None => return Err(bad("junk after ']'")),
            };
            (h.to_string(), port)
        } else if authority.matches(':').count() > 1 {
            // A bare IPv6 address cannot carry a port without brackets.
            (authority.to_string(), None)
        } else if let Some((h, p)) = authority.split_once(':') {
            (h.to_string(), Some(parse_port(p).ok_or_else(|| bad("bad port"))?))
        } else {
            (authority.to_string(), None)
        };
        if host.is_empty() {
            return Err(bad("no host"));
        }
        let ip_ok = host.parse::<IpAddr>().is_ok();
        if !ip_ok
            && !host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_')
        {
            return Err(bad("host has characters no host name can have"));
        }
        Ok(Endpoint { scheme, host, port })
    }

    /// Resolves the host once; `default_port` is used when the address named none.
    pub async fn resolve(&self, default_port: u16) -> Result<SocketAddr, ApiError> {
        let port = self.port.unwrap_or(default_port);
        if let Ok(ip) = self.host.parse::<IpAddr>() {
            return Ok(SocketAddr::new(ip, port));
        }
        let mut addrs = tokio::net::lookup_host((self.host.as_str(), port))
            .await
            .map_err(|e| ApiError::Address {
                addr: self.host.clone(),
                detail: format!("cannot resolve: {e}"),
            })?;
        addrs.next().ok_or_else(|| ApiError::Address {
            addr: self.host.clone(),
            detail: "resolves to nothing".into(),
        })
    }
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    if s.len() >= prefix.len()
        && s.is_char_boundary(prefix.len())
        && s[..prefix.len()].eq_ignore_ascii_case(prefix)
    {
        Some(&s[prefix.len()..])
    } else {
        None
    }
}

fn parse_port(p: &str) -> Option<u16> {
    p.parse::<u16>().ok().filter(|p| *p != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_address_forms_operators_write() {
        let e = Endpoint::parse("10.0.0.5").unwrap();
        assert_eq!(
            (e.scheme, e.host.as_str(), e.port),
            (Scheme::Bare, "10.0.0.5", None)
        );
        let e = Endpoint::parse("http://10.0.0.5:8080/api/v1/").unwrap();
        assert_eq!(
            (e.scheme, e.host.as_str(), e.port),
            (Scheme::Http, "10.0.0.5", Some(8080))
        );
        let e = Endpoint::parse("TCP://miner-7.lan:4028").unwrap();
        assert_eq!(
            (e.scheme, e.host.as_str(), e.port),
            (Scheme::Tcp, "miner-7.lan", Some(4028))
        );
        let e = Endpoint::parse("[fe80::1]:81").unwrap();
        assert_eq!((e.host.as_str(), e.port), ("fe80::1", Some(81)));
        let e = Endpoint::parse("fe80::1").unwrap();
        assert_eq!((e.host.as_str(), e.port), ("fe80::1", None));
    }

    #[test]
    fn refuses_what_cannot_be_a_miner_address() {
        for bad in [
            "",
            "http://",
            "https://10.0.0.5",
            "ftp://x",
            "http://root:pw@10.0.0.5",
            "10.0.0.5:0",
            "10.0.0.5:99999",
            "a b",
        ] {
            assert!(Endpoint::parse(bad).is_err(), "{bad:?} accepted");
        }
    }
}
