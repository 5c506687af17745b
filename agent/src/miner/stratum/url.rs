//! Pool URL parsing: `stratum+tcp://host:port` and `stratum+ssl://host:port`.
//!
//! What it is for: turning a configured pool address into a scheme, host and port, with a
//! clear error for everything else. Pure; no DNS, no I/O.
//! What it must never do: guess a default port or scheme, or accept paths, credentials or
//! trailing garbage silently.

use std::fmt;

/// Transport of a pool connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// Plain TCP (`stratum+tcp://`).
    Tcp,
    /// TLS over TCP (`stratum+ssl://`, also accepted as `stratum+tls://`).
    Tls,
}

/// A parsed pool URL.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PoolUrl {
    pub scheme: Scheme,
    /// Host name or IP literal (IPv6 without brackets).
    pub host: String,
    pub port: u16,
}

/// Why a pool URL was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    #[error("pool URL is empty")]
    Empty,
    #[error("pool URL {0:?} has no scheme; expected stratum+tcp:// or stratum+ssl://")]
    MissingScheme(String),
    #[error("unsupported pool URL scheme {0:?}; expected stratum+tcp or stratum+ssl")]
    UnsupportedScheme(String),
    #[error("pool URL {0:?} has no host")]
    MissingHost(String),
    #[error("pool URL {0:?} has no port; a port is required")]
    MissingPort(String),
    #[error("pool URL has an invalid port {0:?}; expected 1..=65535")]
    InvalidPort(String),
    #[error("pool URL {0:?} has an invalid host")]
    InvalidHost(String),
    #[error("pool URL {0:?} has unexpected user info, path, query or fragment")]
    UnexpectedPart(String),
}

impl PoolUrl {
    /// Parse `stratum+tcp://host:port` or `stratum+ssl://host:port` (`[v6addr]:port` for IPv6).
    pub fn parse(input: &str) -> Result<PoolUrl, UrlError> {
        let s = input.trim();
        if s.is_empty() {
            return Err(UrlError::Empty);
        }
        let Some((scheme, rest)) = s.split_once("://") else {
            return Err(UrlError::MissingScheme(s.to_string()));
        };
        let scheme = match scheme.to_ascii_lowercase().as_str() {
            "stratum+tcp" => Scheme::Tcp,
            "stratum+ssl" | "stratum+tls" => Scheme::Tls,
            other => return Err(UrlError::UnsupportedScheme(other.to_string())),
        };
        // Allow a single trailing slash, nothing else after the authority.
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.contains(['/', '?', '#', '@']) {
            return Err(UrlError::UnexpectedPart(s.to_string()));
        }
        if rest.is_empty() {
            return Err(UrlError::MissingHost(s.to_string()));
        }
        let (host, port) = if let Some(after) = rest.strip_prefix('[') {
            let Some((h, tail)) = after.split_once(']') else {
                return Err(UrlError::InvalidHost(s.to_string()));
            };
            if h.parse::<std::net::Ipv6Addr>().is_err() {
                return Err(UrlError::InvalidHost(s.to_string()));
            }
            let Some(port) = tail.strip_prefix(':') else {
                return Err(UrlError::MissingPort(s.to_string()));
            };
            (h, port)
        } else {
            let Some((h, port)) = rest.rsplit_once(':') else {
                return Err(UrlError::MissingPort(s.to_string()));
            };
            if h.contains(':') {
                // Unbracketed IPv6 literal.
                return Err(UrlError::InvalidHost(s.to_string()));
            }
            (h, port)
        };
        if host.is_empty() {
            return Err(UrlError::MissingHost(s.to_string()));
        }
        if !host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | ':'))
        {
            return Err(UrlError::InvalidHost(s.to_string()));
        }
        if port.is_empty() {
            return Err(UrlError::MissingPort(s.to_string()));
        }
        let port = match port.parse::<u16>() {
            Ok(p) if p != 0 && port.chars().all(|c| c.is_ascii_digit()) => p,
            _ => return Err(UrlError::InvalidPort(port.to_string())),
        };
        Ok(PoolUrl {
            scheme,
            host: host.to_string(),
            port,
        })
    }

    /// `host:port` suitable for `TcpStream::connect`.
    pub fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

impl std::str::FromStr for PoolUrl {
    type Err = UrlError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PoolUrl::parse(s)
    }
}

impl fmt::Display for PoolUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = match self.scheme {
            Scheme::Tcp => "stratum+tcp",
            Scheme::Tls => "stratum+ssl",
        };
        write!(f, "{}://{}", scheme, self.authority())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_urls() {
        let u = PoolUrl::parse("stratum+tcp://pool.example.com:3333").expect("valid");
        assert_eq!(u.scheme, Scheme::Tcp);
        assert_eq!(u.host, "pool.example.com");
        assert_eq!(u.port, 3333);
        assert_eq!(u.to_string(), "stratum+tcp://pool.example.com:3333");

        let u = PoolUrl::parse("  STRATUM+SSL://eu.pool.example:443/ ").expect("valid");
        assert_eq!(u.scheme, Scheme::Tls);
        assert_eq!(u.authority(), "eu.pool.example:443");

        let u: PoolUrl = "stratum+tcp://127.0.0.1:1".parse().expect("valid");
        assert_eq!(u.port, 1);

        let u = PoolUrl::parse("stratum+tcp://[::1]:3333").expect("valid");
        assert_eq!(u.host, "::1");
        assert_eq!(u.authority(), "[::1]:3333");
        assert_eq!(u.to_string(), "stratum+tcp://[::1]:3333");
    }

    #[test]
    fn bad_urls() {
        use UrlError::*;
        type Check = fn(&UrlError) -> bool;
        let cases: &[(&str, Check)] = &[
            ("", |e| matches!(e, Empty)),
            ("pool.example.com:3333", |e| matches!(e, MissingScheme(_))),
            ("http://pool.example.com:3333", |e| {
                matches!(e, UnsupportedScheme(_))
            }),
            ("stratum+udp://pool:3333", |e| matches!(e, UnsupportedScheme(_))),
            ("stratum+tcp://", |e| matches!(e, MissingHost(_))),
            ("stratum+tcp://:3333", |e| matches!(e, MissingHost(_))),
            ("stratum+tcp://pool.example.com", |e| matches!(e, MissingPort(_))),
            ("stratum+tcp://pool.example.com:", |e| matches!(e, MissingPort(_))),
            ("stratum+tcp://pool:0", |e| matches!(e, InvalidPort(_))),
            ("stratum+tcp://pool:65536", |e| matches!(e, InvalidPort(_))),
            ("stratum+tcp://pool:+33", |e| matches!(e, InvalidPort(_))),
            ("stratum+tcp://pool:33a", |e| matches!(e, InvalidPort(_))),
            ("stratum+tcp://user:pw@pool:3333", |e| {
                matches!(e, UnexpectedPart(_))
            }),
            ("stratum+tcp://pool:3333/path", |e| matches!(e, UnexpectedPart(_))),
            ("stratum+tcp://pool:3333?x=1", |e| matches!(e, UnexpectedPart(_))),
            ("stratum+tcp://::1:3333", |e| matches!(e, InvalidHost(_))),
            ("stratum+tcp://[zz]:3333", |e| matches!(e, InvalidHost(_))),
            ("stratum+tcp://[::1]", |e| matches!(e, MissingPort(_))),
            ("stratum+tcp://po ol:3333", |e| matches!(e, InvalidHost(_))),
        ];
        for (input, check) in cases {
            match PoolUrl::parse(input) {
                Ok(u) => panic!("{input:?} parsed as {u:?}"),
                Err(e) => assert!(check(&e), "{input:?} gave unexpected error {e:?}"),
            }
        }
    }
}
