//! Commands the hub process itself sends: the web dashboard's actions (pause/resume, with the
//! operator token) and Home Assistant's buttons and numbers. Each becomes a command signed with
//! the fleet key exactly as `hashward-hub command` signs it, published on the rig's command
//! topic, not retained, with an expiry; the agent verifies it like any other.
//!
//! `sign` is pure; [`Control`] hands signed commands to the MQTT service that publishes them.
//! Must never publish an unsigned command, or sign one for a rig the hub does not know.

pub mod service;

use ed25519_dalek::SigningKey;
use hashward_protocol::command::MAX_COMMAND_TTL_MS;
use hashward_protocol::signed::{PayloadKind, Scope, SignedContent, SignedMessage};
use hashward_protocol::{Command, RigId, SiteId, Topic};
use serde::Serialize;
use std::path::Path;
use std::sync::Arc;
use tokio::sync::mpsc;

/// The `serve` settings of the dashboard's actions, the signing key and Home Assistant.
#[derive(Clone, Default)]
pub struct DashboardOptions {
    pub operator_token: Option<String>,
    pub signing_key: Option<std::path::PathBuf>,
    /// Home Assistant's discovery prefix; `None`: Home Assistant off.
    pub ha_discovery_prefix: Option<String>,
}

impl std::fmt::Debug for DashboardOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DashboardOptions")
            .field("operator_token", &self.operator_token.as_ref().map(|_| "<set>"))
            .field("signing_key", &self.signing_key)
            .field("ha_discovery_prefix", &self.ha_discovery_prefix)
            .finish()
    }
}

/// Shortest operator token accepted: a guessable one would hand out pause/resume.
pub const MIN_TOKEN_LEN: usize = 16;

impl DashboardOptions {
    /// From the config file's `[web]`, `[commands]` and `[home_assistant]`; refuses a short
    /// token, a token without a key to sign with, and a prefix that is not one topic level.
    pub fn from_config(file: &crate::config::HubConfig) -> Result<DashboardOptions, String> {
        let operator_token = file.web.as_ref().and_then(|w| w.operator_token.clone());
        let signing_key = file.commands.as_ref().and_then(|c| c.signing_key.clone());
        if let Some(t) = &operator_token {
            if t.chars().count() < MIN_TOKEN_LEN || t.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(format!(
                    "[web] operator_token must be at least {MIN_TOKEN_LEN} characters without spaces"
                ));
            }
            if signing_key.is_none() {
                return Err(
                    "[web] operator_token needs [commands] signing_key to sign the actions with".into(),
                );
            }
        }
        let ha_discovery_prefix = match &file.home_assistant {
            Some(h) if h.enabled => {
                let p = h
                    .discovery_prefix
                    .clone()
                    .unwrap_or_else(|| crate::ha::DEFAULT_DISCOVERY_PREFIX.to_string());
                if p.is_empty() || p.contains(['/', '+', '#']) {
                    return Err(format!(
                        "[home_assistant] discovery_prefix {p:?} must be one MQTT topic level"
                    ));
                }
                Some(p)
            }
            _ => None,
        };
        Ok(DashboardOptions {
            operator_token,
            signing_key,
            ha_discovery_prefix,
        })
    }
}

/// How long a command from the dashboard or Home Assistant stays valid: long enough for a rig
/// reconnecting after a short outage, short enough that a late one does not surprise anyone.
pub const COMMAND_TTL_MS: u64 = 120_000;

#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("signing key: {0}")]
    Key(#[from] crate::keys::KeyError),
    #[error("signing: {0}")]
    Sign(String),
    #[error("encoding: {0}")]
    Encode(#[from] postcard::Error),
    #[error("the command publisher has stopped")]
    Stopped,
    #[error("the command queue is full; try again")]
    Busy,
}

/// A signed command ready to publish.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SentCommand {
    pub site: String,
    pub rig: String,
    pub command: &'static str,
    pub nonce: u64,
    pub expires_ms: u64,
    #[serde(skip)]
    pub topic: String,
    #[serde(skip)]
    pub payload: Vec<u8>,
    /// Published retained: a config push, so a rig offline now gets it when it returns.
    #[serde(skip)]
    pub retain: bool,
}

/// Signs `command` for one rig.
pub fn sign(
    key: &SigningKey,
    site: &SiteId,
    rig: &RigId,
    command: &Command,
    now_ms: u64,
    nonce: u64,
) -> Result<SentCommand, ControlError> {
    let ttl = COMMAND_TTL_MS.min(MAX_COMMAND_TTL_MS);
    let msg = SignedMessage::sign(
        SignedContent {
            kind: PayloadKind::Command,
            scope: Scope::Rig(site.clone(), rig.clone()),
            version: nonce,
            issued_ms: now_ms,
            expires_ms: Some(now_ms + ttl),
            payload: postcard::to_stdvec(command)?,
        },
        key,
    )
    .map_err(|e| ControlError::Sign(e.to_string()))?;
    Ok(SentCommand {
        site: site.to_string(),
        rig: rig.to_string(),
        command: command.name(),
        nonce,
        expires_ms: now_ms + ttl,
        topic: Topic::RigCmd {
            site: site.clone(),
            rig: rig.clone(),
        }
        .to_string(),
        payload: postcard::to_stdvec(&msg)?,
        retain: false,
    })
}

/// Signs a config patch for one rig's scope (`rig:SITE/RIG`) at `version`, as
/// `hashward-hub push-config` does; published retained on the rig's config topic.
pub fn sign_config(
    key: &SigningKey,
    site: &SiteId,
    rig: &RigId,
    patch: &str,
    version: u64,
    now_ms: u64,
) -> Result<SentCommand, ControlError> {
    let msg = SignedMessage::sign(
        SignedContent {
            kind: PayloadKind::Config,
            scope: Scope::Rig(site.clone(), rig.clone()),
            version,
            issued_ms: now_ms,
            expires_ms: None,
            payload: patch.as_bytes().to_vec(),
        },
        key,
    )
    .map_err(|e| ControlError::Sign(e.to_string()))?;
    Ok(SentCommand {
        site: site.to_string(),
        rig: rig.to_string(),
        command: "config",
        nonce: version,
        expires_ms: 0,
        topic: Topic::RigCfg {
            site: site.clone(),
            rig: rig.clone(),
        }
        .to_string(),
        payload: postcard::to_stdvec(&msg)?,
        retain: true,
    })
}

/// What other parts of the hub hold to send commands: the key and the queue to the publisher.
#[derive(Clone)]
pub struct Control {
    key: Arc<SigningKey>,
    tx: mpsc::Sender<SentCommand>,
}

/// Commands waiting to be published; beyond this a sender is told to retry.
const QUEUE: usize = 64;

impl Control {
    pub fn load(key_path: &Path) -> Result<(Control, mpsc::Receiver<SentCommand>), ControlError> {
        let key = crate::keys::load(key_path)?;
        Ok(Control::with_key(key))
    }

    pub fn with_key(key: SigningKey) -> (Control, mpsc::Receiver<SentCommand>) {
        let (tx, rx) = mpsc::channel(QUEUE);
        (
            Control {
                key: Arc::new(key),
                tx,
            },
            rx,
        )
    }

    /// Signs and queues `command` for the rig; returns what was sent.
    pub fn send(&self, site: &SiteId, rig: &RigId, command: &Command) -> Result<SentCommand, ControlError> {
        let sent = sign(
            &self.key,
            site,
            rig,
            command,
            hashward_common::now_ms(),
            rand::random(),
        )?;
        self.tx.try_send(sent.clone()).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => ControlError::Busy,
            mpsc::error::TrySendError::Closed(_) => ControlError::Stopped,
        })?;
        Ok(sent)
    }

    /// Signs and queues a config patch for the rig's own scope; returns what was sent.
    pub fn push_config(
        &self,
        site: &SiteId,
        rig: &RigId,
        patch: &str,
        version: u64,
    ) -> Result<SentCommand, ControlError> {
        let sent = sign_config(&self.key, site, rig, patch, version, hashward_common::now_ms())?;
        self.tx.try_send(sent.clone()).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => ControlError::Busy,
            mpsc::error::TrySendError::Closed(_) => ControlError::Stopped,
        })?;
        Ok(sent)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hashward_protocol::signed::SignedMessage;

    #[test]
    fn a_command_is_signed_for_its_rig_with_an_expiry_and_verifies() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let site = SiteId::new("farm").expect("id");
        let rig = RigId::new("rig-a").expect("id");
        let sent = sign(&key, &site, &rig, &Command::PauseMining, 1_000, 42).expect("sign");
        assert_eq!(sent.topic, "hashward/v1/farm/rig-a/cmd");
        assert_eq!((sent.nonce, sent.expires_ms), (42, 1_000 + COMMAND_TTL_MS));
        let msg: SignedMessage = postcard::from_bytes(&sent.payload).expect("decode");
        let content = msg.verify(&key.verifying_key()).expect("verifies");
        assert_eq!(content.scope, Scope::Rig(site, rig));
        assert_eq!(content.kind, PayloadKind::Command);
        let cmd: Command = postcard::from_bytes(&content.payload).expect("command");
        assert_eq!(cmd, Command::PauseMining);
        // Another key does not verify it.
        let other = SigningKey::from_bytes(&[8; 32]);
        assert!(msg.verify(&other.verifying_key()).is_err());
    }
}

#[cfg(test)]
mod options_tests {
    use super::*;
    use crate::config::HubConfig;

    fn opts(toml: &str) -> Result<DashboardOptions, String> {
        DashboardOptions::from_config(&HubConfig::parse(toml).expect("parses"))
    }

    #[test]
    fn a_token_needs_length_and_a_key_and_the_prefix_is_one_level() {
        let key = "[commands]\nsigning_key = \"/k\"\n";
        assert!(opts(&format!("{key}[web]\noperator_token = \"short\"\n"))
            .expect_err("short")
            .contains("at least 16"));
        assert!(opts("[web]\noperator_token = \"0123456789abcdefgh\"\n")
            .expect_err("no key")
            .contains("signing_key"));
        let ok = opts(&format!("{key}[web]\noperator_token = \"0123456789abcdefgh\"\n")).expect("ok");
        assert!(
            !format!("{ok:?}").contains("0123456789abcdefgh"),
            "Debug hides the token"
        );
        assert_eq!(opts("").expect("empty").ha_discovery_prefix, None);
        assert_eq!(
            opts("[home_assistant]\nenabled = true\n")
                .expect("ha")
                .ha_discovery_prefix
                .as_deref(),
            Some("homeassistant")
        );
        assert!(opts("[home_assistant]\nenabled = true\ndiscovery_prefix = \"a/b\"\n").is_err());
        assert_eq!(
            opts("[home_assistant]\ndiscovery_prefix = \"ha\"\n")
                .expect("off")
                .ha_discovery_prefix,
            None
        );
    }
}
