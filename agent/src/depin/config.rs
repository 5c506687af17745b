//! The agent's `[depin]` section: the DePIN nodes on this host to poll.
//!
//! ```toml
//! [depin]
//! enabled = true
//! request_timeout_ms = 5000
//! [[depin.nodes]]
//! id = "storj-1"
//! kind = "storj"                     # storj | golem | streamr (grass is refused: no local API)
//! url = "http://127.0.0.1:14002"     # default per kind
//! poll_interval_s = 300
//! # app_key_file = "/etc/hashward/yagna-app-key"   # golem only, mode 0600
//! ```
//!
//! Validation names the bad key; unknown keys are refused; nothing half-applies. A `grass` node
//! is refused with the reason from [`super::REGISTRY`].

use super::golem::GolemClient;
use super::poller::DepinSpec;
use super::storj::StorjClient;
use super::streamr::StreamrClient;
use super::{DepinAdapter, REGISTRY};
use crate::asic::target::{Endpoint, Scheme};
use hashward_protocol::DepinKind;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::path::PathBuf;
use std::time::Duration;

/// `[depin]`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DepinSection {
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Deadline of one HTTP request to a node.
    #[serde(default = "d_timeout")]
    pub request_timeout_ms: u64,
    /// Longest wait between polls of a node that keeps failing.
    #[serde(default = "d_backoff")]
    pub backoff_max_s: u64,
    #[serde(default)]
    pub nodes: Vec<DepinNodeConfig>,
}

/// `[[depin.nodes]]`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DepinNodeConfig {
    /// Unique within the rig; the record's `node`.
    pub id: String,
    pub kind: DepinNodeKind,
    /// `http://host:port` of the node's local API; default per kind.
    pub url: Option<String>,
    #[serde(default = "d_interval")]
    pub poll_interval_s: u64,
    /// Golem only: file holding the yagna app key (mode 0600).
    pub app_key_file: Option<PathBuf>,
}

/// Every kind the config may name, supported or not (so that an unsupported one is refused
/// with its reason rather than as an unknown word).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DepinNodeKind {
    Storj,
    Golem,
    Streamr,
    Grass,
}

impl DepinNodeKind {
    pub fn name(self) -> &'static str {
        match self {
            DepinNodeKind::Storj => "storj",
            DepinNodeKind::Golem => "golem",
            DepinNodeKind::Streamr => "streamr",
            DepinNodeKind::Grass => "grass",
        }
    }

    /// The record's kind; `None` for kinds that cannot be polled.
    pub fn polled(self) -> Option<DepinKind> {
        match self {
            DepinNodeKind::Storj => Some(DepinKind::Storj),
            DepinNodeKind::Golem => Some(DepinKind::Golem),
            DepinNodeKind::Streamr => Some(DepinKind::Streamr),
            DepinNodeKind::Grass => None,
        }
    }
}

fn yes() -> bool {
    true
}
fn d_timeout() -> u64 {
    5_000
}
fn d_backoff() -> u64 {
    900
}
fn d_interval() -> u64 {
    300
}

impl Default for DepinSection {
    fn default() -> Self {
        DepinSection {
            enabled: true,
            request_timeout_ms: d_timeout(),
            backoff_max_s: d_backoff(),
            nodes: Vec::new(),
        }
    }
}

impl DepinNodeConfig {
    fn url_or_default(&self) -> &str {
        let default = REGISTRY
            .iter()
            .find(|a| a.name == self.kind.name())
            .and_then(|a| a.default_url)
            .unwrap_or("");
        self.url.as_deref().unwrap_or(default)
    }
}

impl DepinSection {
    /// Every problem named by its key (`depin.nodes[1].app_key_file: ...`).
    pub fn validate(&self) -> Result<(), String> {
        if !(100..=60_000).contains(&self.request_timeout_ms) {
            return Err("depin.request_timeout_ms: must be 100..=60000".into());
        }
        if !(1..=86_400).contains(&self.backoff_max_s) {
            return Err("depin.backoff_max_s: must be 1..=86400".into());
        }
        let mut seen = HashSet::new();
        for (i, n) in self.nodes.iter().enumerate() {
            let key = format!("depin.nodes[{i}]");
            if n.id.is_empty()
                || n.id.len() > 64
                || !n
                    .id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            {
                return Err(format!(
                    "{key}.id: `{}`: letters, digits, '-', '_', '.'; 1..=64 bytes",
                    n.id
                ));
            }
            if !seen.insert(n.id.as_str()) {
                return Err(format!("{key}.id: `{}` is listed twice", n.id));
            }
            if let Some(info) = REGISTRY.iter().find(|a| a.name == n.kind.name()) {
                if let super::Support::Unsupported(why) = info.support {
                    return Err(format!("{key}.kind: `{}` is not supported: {why}", n.kind.name()));
                }
            }
            if !(10..=86_400).contains(&n.poll_interval_s) {
                return Err(format!("{key}.poll_interval_s: must be 10..=86400"));
            }
            let url = n.url_or_default();
            match Endpoint::parse(url) {
                Ok(ep) if ep.scheme == Scheme::Http => {}
                Ok(_) => return Err(format!("{key}.url: `{url}`: give http://host:port")),
                Err(e) => return Err(format!("{key}.url: {e}")),
            }
            match (n.kind, &n.app_key_file) {
                (DepinNodeKind::Golem, None) => {
                    return Err(format!(
                        "{key}.app_key_file: a golem node needs the yagna app key file (yagna app-key create)"
                    ))
                }
                (DepinNodeKind::Golem, Some(_)) | (_, None) => {}
                (k, Some(_)) => {
                    return Err(format!(
                        "{key}.app_key_file: only golem nodes take an app key, not {}",
                        k.name()
                    ))
                }
            }
        }
        Ok(())
    }

    /// The nodes to poll, each with its adapter. Call after [`DepinSection::validate`].
    pub fn specs(&self) -> Vec<DepinSpec> {
        let timeout = Duration::from_millis(self.request_timeout_ms);
        self.nodes
            .iter()
            .filter_map(|n| {
                let url = n.url_or_default();
                let adapter: Box<dyn DepinAdapter> = match n.kind {
                    DepinNodeKind::Storj => Box::new(StorjClient::new(url, timeout)),
                    DepinNodeKind::Golem => Box::new(GolemClient::new(
                        url,
                        n.app_key_file.as_deref().unwrap_or(std::path::Path::new("")),
                        timeout,
                    )),
                    DepinNodeKind::Streamr => Box::new(StreamrClient::new(url, timeout)),
                    DepinNodeKind::Grass => return None,
                };
                Some(DepinSpec {
                    id: n.id.clone(),
                    interval: Duration::from_secs(n.poll_interval_s),
                    backoff_max: Duration::from_secs(self.backoff_max_s),
                    // The golem poll makes a handful of requests in a row.
                    poll_timeout: timeout * 40,
                    adapter,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<DepinSection, String> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Doc {
            depin: DepinSection,
        }
        let d: Doc = toml::from_str(text).map_err(|e| e.to_string())?;
        d.depin.validate()?;
        Ok(d.depin)
    }

    #[test]
    fn defaults_and_a_valid_list() {
        let s = parse(
            "[depin]\n[[depin.nodes]]\nid = \"storj-1\"\nkind = \"storj\"\n\
             [[depin.nodes]]\nid = \"g\"\nkind = \"golem\"\napp_key_file = \"/k\"\npoll_interval_s = 60\n\
             [[depin.nodes]]\nid = \"st\"\nkind = \"streamr\"\nurl = \"http://10.0.0.2:7171\"\n",
        )
        .expect("valid");
        assert_eq!(s.nodes[0].poll_interval_s, 300);
        assert_eq!(s.nodes[0].url_or_default(), "http://127.0.0.1:14002");
        assert_eq!(s.nodes[1].url_or_default(), "http://127.0.0.1:7465");
        let specs = s.specs();
        assert_eq!(specs.len(), 3);
        assert_eq!(specs[1].adapter.kind(), DepinKind::Golem);
        assert_eq!(specs[1].interval, Duration::from_secs(60));
    }

    #[test]
    fn bad_values_name_the_key() {
        let cases = [
            (
                "kind = \"grass\"",
                "depin.nodes[0].kind: `grass` is not supported: Grass has no local API",
            ),
            ("kind = \"helium\"", "helium"),
            ("kind = \"golem\"", "depin.nodes[0].app_key_file"),
            (
                "kind = \"storj\"\napp_key_file = \"/k\"",
                "depin.nodes[0].app_key_file",
            ),
            (
                "kind = \"storj\"\npoll_interval_s = 1",
                "depin.nodes[0].poll_interval_s",
            ),
            ("kind = \"storj\"\nurl = \"tcp://h:1\"", "depin.nodes[0].url"),
            ("kind = \"storj\"\nurl = \"https://h\"", "depin.nodes[0].url"),
            ("kind = \"storj\"\ntypo = 1", "typo"),
        ];
        for (node, want) in cases {
            let text = format!("[depin]\n[[depin.nodes]]\nid = \"n\"\n{node}\n");
            let e = parse(&text).expect_err(node);
            assert!(e.contains(want), "{node}: {e}");
        }
        let twice = "[depin]\n[[depin.nodes]]\nid = \"a\"\nkind = \"storj\"\n[[depin.nodes]]\nid = \"a\"\nkind = \"streamr\"\n";
        assert!(parse(twice).expect_err("dup").contains("depin.nodes[1].id"));
        let e = parse("[depin]\nrequest_timeout_ms = 1\n").expect_err("timeout");
        assert!(e.contains("depin.request_timeout_ms"), "{e}");
    }
}
