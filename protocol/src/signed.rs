//! ed25519-signed payloads, the only form in which the hub may change an agent's behaviour
//! (config pushes, commands, model announcements).
//!
//! The signature covers every field but itself, under a domain tag, so a signed config cannot be
//! replayed as a command or moved to another scope. Verification here checks the signature only;
//! the agent also checks the scope, the version (replay), the expiry and the values.

use crate::ids::{IdError, RigId, SiteId};
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};
use std::fmt;

const DOMAIN: &[u8] = b"hashward/v1/signed";

/// Who a push is for. Precedence when merged on the agent: fleet < site < rig.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Scope {
    Fleet,
    Site(SiteId),
    Rig(SiteId, RigId),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScopeError {
    #[error("scope {0:?} is not `fleet`, `site:SITE` or `rig:SITE/RIG`")]
    Syntax(String),
    #[error("scope {0:?}: {1}")]
    Id(String, IdError),
}

impl std::str::FromStr for Scope {
    type Err = ScopeError;
    fn from_str(s: &str) -> Result<Scope, ScopeError> {
        let id_err = |e| ScopeError::Id(s.to_string(), e);
        if s == "fleet" {
            return Ok(Scope::Fleet);
        }
        if let Some(site) = s.strip_prefix("site:") {
            return Ok(Scope::Site(SiteId::new(site).map_err(id_err)?));
        }
        if let Some(rest) = s.strip_prefix("rig:") {
            let (site, rig) = rest
                .split_once('/')
                .ok_or_else(|| ScopeError::Syntax(s.to_string()))?;
            return Ok(Scope::Rig(
                SiteId::new(site).map_err(id_err)?,
                RigId::new(rig).map_err(id_err)?,
            ));
        }
        Err(ScopeError::Syntax(s.to_string()))
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scope::Fleet => f.write_str("fleet"),
            Scope::Site(s) => write!(f, "site:{s}"),
            Scope::Rig(s, r) => write!(f, "rig:{s}/{r}"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PayloadKind {
    /// A partial agent config (TOML text), merged by scope.
    Config,
    /// A one-shot command; carries an expiry and a nonce.
    Command,
    /// A model registry announcement.
    ModelAnnouncement,
}

/// The signed part of a message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignedContent {
    pub kind: PayloadKind,
    pub scope: Scope,
    /// Per-scope monotonic version (configs) or unique nonce (commands).
    pub version: u64,
    pub issued_ms: u64,
    /// After this instant the message must be ignored (commands); `None` for configs.
    pub expires_ms: Option<u64>,
    pub payload: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignedMessage {
    pub content: SignedContent,
    /// ed25519 signature (64 bytes) over the domain tag and the postcard encoding of `content`.
    pub signature: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("signature is {0} bytes, expected 64")]
    Length(usize),
    #[error("signature does not verify against the pinned hub key")]
    Invalid,
    #[error("content could not be encoded for verification: {0}")]
    Encoding(String),
}

fn signed_bytes(content: &SignedContent) -> Result<Vec<u8>, SignatureError> {
    let body = postcard::to_stdvec(content).map_err(|e| SignatureError::Encoding(e.to_string()))?;
    let mut bytes = Vec::with_capacity(DOMAIN.len() + body.len());
    bytes.extend_from_slice(DOMAIN);
    bytes.extend_from_slice(&body);
    Ok(bytes)
}

impl SignedMessage {
    pub fn sign(content: SignedContent, key: &SigningKey) -> Result<SignedMessage, SignatureError> {
        let signature = key.sign(&signed_bytes(&content)?).to_bytes().to_vec();
        Ok(SignedMessage { content, signature })
    }

    /// Checks the signature; on success the content can be trusted to come from the key's owner.
    pub fn verify(&self, key: &VerifyingKey) -> Result<&SignedContent, SignatureError> {
        let sig: [u8; 64] = self
            .signature
            .as_slice()
            .try_into()
            .map_err(|_| SignatureError::Length(self.signature.len()))?;
        key.verify(&signed_bytes(&self.content)?, &Signature::from_bytes(&sig))
            .map_err(|_| SignatureError::Invalid)?;
        Ok(&self.content)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    fn content() -> SignedContent {
        SignedContent {
            kind: PayloadKind::Config,
            scope: "rig:s1/r1".parse().expect("scope"),
            version: 7,
            issued_ms: 1,
            expires_ms: None,
            payload: b"[thermal]\nsoft_limit_c = 80".to_vec(),
        }
    }

    #[test]
    fn verifies_with_the_right_key_only() {
        let msg = SignedMessage::sign(content(), &key(1)).expect("sign");
        assert!(msg.verify(&key(1).verifying_key()).is_ok());
        assert_eq!(msg.verify(&key(2).verifying_key()), Err(SignatureError::Invalid));
    }

    #[test]
    fn any_tampered_field_fails() {
        let msg = SignedMessage::sign(content(), &key(1)).expect("sign");
        let vk = key(1).verifying_key();
        let mut m = msg.clone();
        m.content.version = 8;
        assert!(m.verify(&vk).is_err());
        let mut m = msg.clone();
        m.content.scope = Scope::Fleet;
        assert!(m.verify(&vk).is_err());
        let mut m = msg.clone();
        m.content.kind = PayloadKind::Command;
        assert!(m.verify(&vk).is_err());
        let mut m = msg.clone();
        m.content.payload[0] ^= 1;
        assert!(m.verify(&vk).is_err());
        let mut m = msg;
        m.signature.pop();
        assert_eq!(m.verify(&vk), Err(SignatureError::Length(63)));
    }

    #[test]
    fn scopes_parse_and_print() {
        for s in ["fleet", "site:north", "rig:north/r-7"] {
            assert_eq!(s.parse::<Scope>().expect("scope").to_string(), s);
        }
        for bad in ["", "site:", "rig:north", "rig:a/b/c", "planet:x"] {
            assert!(bad.parse::<Scope>().is_err(), "{bad}");
        }
    }
}
