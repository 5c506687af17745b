//! Decides whether a signed message from the hub is genuine, meant for this rig, new and valid.
//! Pure: the caller supplies the pinned key, the rig's identity, what was applied before and
//! the clock.
//!
//! Must never: accept a message that fails any check, or let a rejected message change state.

use super::patch::{self, PatchError};
use super::state::{scope_rank, Applied};
use crate::config::Config;
use ed25519_dalek::VerifyingKey;
use hashward_protocol::command::MAX_COMMAND_TTL_MS;
use hashward_protocol::signed::{PayloadKind, Scope, SignedMessage};
use hashward_protocol::{Command, RigId, SiteId};
use sha2::{Digest, Sha256};

/// Who this rig is and whose signature it trusts.
#[derive(Debug, Clone)]
pub struct Identity {
    pub site: SiteId,
    pub rig: RigId,
    /// The hub's public key pinned in the rig's own config; `None`: nothing is accepted.
    pub hub_key: Option<VerifyingKey>,
}

/// Why a message was refused; the text is the ack's reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("no hub public key pinned in this rig's config ([fleet] hub_public_key): pushes and commands are refused")]
    NoPinnedKey,
    #[error("not a signed hashward message: {0}")]
    NotSigned(String),
    #[error("bad signature: {0}")]
    BadSignature(String),
    #[error("a {got:?} message on a {expected:?} topic")]
    WrongKind { got: PayloadKind, expected: PayloadKind },
    #[error("signed for scope {signed} but published on the topic of {topic}")]
    ScopeMismatch { signed: String, topic: String },
    #[error("scope {0} is not this rig's")]
    NotOurs(String),
    #[error("replay: version {version} is not newer than the applied version {applied}")]
    Replay { version: u64, applied: u64 },
    #[error("{0}")]
    Patch(#[from] PatchError),
    #[error("expired at {expires_ms} (now {now_ms})")]
    Expired { expires_ms: u64, now_ms: u64 },
    #[error("command validity {0} ms is missing or longer than the allowed {MAX_COMMAND_TTL_MS} ms")]
    BadValidity(u64),
    #[error("replay: command nonce {0} was already used")]
    NonceUsed(u64),
    #[error("not a command: {0}")]
    NotACommand(String),
}

/// An accepted config push.
#[derive(Debug, Clone)]
pub struct Verified {
    pub scope: Scope,
    pub version: u64,
    pub issued_ms: u64,
    pub patch_text: String,
    pub digest: String,
    /// The config in force once this push is applied.
    pub config: Config,
    /// The same push was applied before (a redelivery of the retained message): ack it again,
    /// change nothing.
    pub already_applied: bool,
}

/// An accepted command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedCommand {
    pub nonce: u64,
    pub expires_ms: u64,
    pub command: Command,
}

impl Identity {
    fn is_ours(&self, scope: &Scope) -> bool {
        match scope {
            Scope::Fleet => true,
            Scope::Site(s) => s == &self.site,
            Scope::Rig(s, r) => s == &self.site && r == &self.rig,
        }
    }

    /// Decodes and checks the signature, the kind and that `topic_scope` is the signed scope.
    fn open(
        &self,
        payload: &[u8],
        kind: PayloadKind,
        topic_scope: &Scope,
    ) -> Result<SignedMessage, Rejection> {
        let key = self.hub_key.as_ref().ok_or(Rejection::NoPinnedKey)?;
        let msg: SignedMessage =
            postcard::from_bytes(payload).map_err(|e| Rejection::NotSigned(e.to_string()))?;
        msg.verify(key)
            .map_err(|e| Rejection::BadSignature(e.to_string()))?;
        let c = &msg.content;
        if c.kind != kind {
            return Err(Rejection::WrongKind {
                got: c.kind,
                expected: kind,
            });
        }
        if &c.scope != topic_scope {
            return Err(Rejection::ScopeMismatch {
                signed: c.scope.to_string(),
                topic: topic_scope.to_string(),
            });
        }
        if !self.is_ours(&c.scope) {
            return Err(Rejection::NotOurs(c.scope.to_string()));
        }
        Ok(msg)
    }

    /// Checks a config push that arrived on the config topic of `topic_scope`; `local` is the
    /// rig's own config (defaults and file), `applied` what was accepted before.
    pub fn check_push(
        &self,
        payload: &[u8],
        topic_scope: &Scope,
        local: &Config,
        applied: &Applied,
    ) -> Result<Verified, Rejection> {
        let msg = self.open(payload, PayloadKind::Config, topic_scope)?;
        let c = &msg.content;
        let scope_key = c.scope.to_string();
        let digest = hex::encode(Sha256::digest(payload));
        let previous = applied.scopes.get(&scope_key);
        if let Some(prev) = previous {
            if c.version == prev.version && prev.digest == digest {
                let config = effective_from_saved(local, applied)?;
                return Ok(Verified {
                    scope: c.scope.clone(),
                    version: c.version,
                    issued_ms: c.issued_ms,
                    patch_text: prev.patch.clone(),
                    digest,
                    config,
                    already_applied: true,
                });
            }
            if c.version <= prev.version {
                return Err(Rejection::Replay {
                    version: c.version,
                    applied: prev.version,
                });
            }
        }
        let table = patch::parse(&c.payload)?;
        let patch_text = String::from_utf8_lossy(&c.payload).into_owned();
        let mut layers = Vec::new();
        for (scope, p) in applied.layers() {
            if scope == scope_key {
                continue;
            }
            layers.push((scope.to_string(), patch::parse(p.patch.as_bytes())?));
        }
        layers.push((scope_key, table));
        layers.sort_by_key(|(s, _)| scope_rank(s));
        let tables: Vec<&toml::Table> = layers.iter().map(|(_, t)| t).collect();
        let config = patch::effective(local, &tables)?;
        Ok(Verified {
            scope: c.scope.clone(),
            version: c.version,
            issued_ms: c.issued_ms,
            patch_text,
            digest,
            config,
            already_applied: false,
        })
    }

    /// Checks a command for this rig at `now_ms`.
    pub fn check_command(
        &self,
        payload: &[u8],
        topic_scope: &Scope,
        applied: &Applied,
        now_ms: u64,
    ) -> Result<VerifiedCommand, Rejection> {
        let msg = self.open(payload, PayloadKind::Command, topic_scope)?;
        let c = &msg.content;
        let expires_ms = c.expires_ms.ok_or(Rejection::BadValidity(0))?;
        if expires_ms < now_ms {
            return Err(Rejection::Expired { expires_ms, now_ms });
        }
        let ttl = expires_ms.saturating_sub(c.issued_ms);
        if expires_ms < c.issued_ms || ttl > MAX_COMMAND_TTL_MS {
            return Err(Rejection::BadValidity(ttl));
        }
        if applied.nonces.contains_key(&c.version) {
            return Err(Rejection::NonceUsed(c.version));
        }
        let command: Command =
            postcard::from_bytes(&c.payload).map_err(|e| Rejection::NotACommand(e.to_string()))?;
        Ok(VerifiedCommand {
            nonce: c.version,
            expires_ms,
            command,
        })
    }
}

fn parse_layers(layers: &[(&str, &super::AppliedPush)]) -> Result<Vec<toml::Table>, Rejection> {
    layers
        .iter()
        .map(|(_, p)| patch::parse(p.patch.as_bytes()).map_err(Rejection::from))
        .collect()
}

/// The config in force from `local` and the saved pushes.
pub fn effective_from_saved(local: &Config, applied: &Applied) -> Result<Config, Rejection> {
    let tables = parse_layers(&applied.layers())?;
    Ok(patch::effective(local, &tables.iter().collect::<Vec<_>>())?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fleet::AppliedPush;
    use ed25519_dalek::SigningKey;
    use hashward_protocol::signed::SignedContent;

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    fn me() -> Identity {
        Identity {
            site: SiteId::new("s1").expect("id"),
            rig: RigId::new("r1").expect("id"),
            hub_key: Some(key(1).verifying_key()),
        }
    }

    fn local() -> Config {
        Config::from_toml("site = \"s1\"\nrig = \"r1\"\n").expect("cfg")
    }

    fn signed(scope: &str, version: u64, patch: &str, k: &SigningKey) -> Vec<u8> {
        let msg = SignedMessage::sign(
            SignedContent {
                kind: PayloadKind::Config,
                scope: scope.parse().expect("scope"),
                version,
                issued_ms: 1,
                expires_ms: None,
                payload: patch.as_bytes().to_vec(),
            },
            k,
        )
        .expect("sign");
        postcard::to_stdvec(&msg).expect("encode")
    }

    fn scope(s: &str) -> Scope {
        s.parse().expect("scope")
    }

    const P: &str = "[miner]\nmax_batch_size = 8\n";

    #[test]
    fn accepts_a_valid_push_for_any_of_our_scopes() {
        for s in ["fleet", "site:s1", "rig:s1/r1"] {
            let v = me()
                .check_push(
                    &signed(s, 1, P, &key(1)),
                    &scope(s),
                    &local(),
                    &Applied::default(),
                )
                .expect(s);
            assert_eq!(v.config.tune.max_batch_size, 8);
            assert!(!v.already_applied);
        }
    }

    #[test]
    fn each_rejection_has_its_reason() {
        let applied = {
            let mut a = Applied::default();
            a.scopes.insert(
                "fleet".into(),
                AppliedPush {
                    version: 5,
                    issued_ms: 1,
                    patch: P.into(),
                    digest: "other".into(),
                },
            );
            a
        };
        let fleet = scope("fleet");
        let check = |payload: &[u8], s: &Scope| me().check_push(payload, s, &local(), &applied);
        assert!(matches!(
            check(&signed("fleet", 6, P, &key(2)), &fleet),
            Err(Rejection::BadSignature(_))
        ));
        let mut tampered = signed("fleet", 6, P, &key(1));
        let n = tampered.len();
        tampered[n - 70] ^= 1;
        assert!(matches!(
            check(&tampered, &fleet),
            Err(Rejection::BadSignature(_)) | Err(Rejection::NotSigned(_))
        ));
        assert_eq!(
            check(&signed("fleet", 5, P, &key(1)), &fleet).err(),
            Some(Rejection::Replay {
                version: 5,
                applied: 5
            })
        );
        assert!(matches!(
            check(&signed("rig:s1/r2", 1, P, &key(1)), &scope("rig:s1/r2")),
            Err(Rejection::NotOurs(_))
        ));
        assert!(matches!(
            check(&signed("rig:s1/r1", 1, P, &key(1)), &fleet),
            Err(Rejection::ScopeMismatch { .. })
        ));
        assert!(matches!(
            check(
                &signed("fleet", 6, "[miner]\nthermal_hard_limit_c = 130\n", &key(1)),
                &fleet
            ),
            Err(Rejection::Patch(PatchError::Invalid(_)))
        ));
        assert!(matches!(check(b"garbage", &fleet), Err(Rejection::NotSigned(_))));
        let nokey = Identity {
            hub_key: None,
            ..me()
        };
        assert_eq!(
            nokey
                .check_push(&signed("fleet", 6, P, &key(1)), &fleet, &local(), &applied)
                .err(),
            Some(Rejection::NoPinnedKey)
        );
    }

    #[test]
    fn a_redelivered_push_is_acked_again_without_change() {
        let payload = signed("fleet", 3, P, &key(1));
        let first = me()
            .check_push(&payload, &scope("fleet"), &local(), &Applied::default())
            .expect("first");
        let mut applied = Applied::default();
        applied.scopes.insert(
            "fleet".into(),
            AppliedPush {
                version: first.version,
                issued_ms: first.issued_ms,
                patch: first.patch_text,
                digest: first.digest,
            },
        );
        let again = me()
            .check_push(&payload, &scope("fleet"), &local(), &applied)
            .expect("again");
        assert!(again.already_applied);
        assert_eq!(again.config.tune.max_batch_size, 8);
    }

    fn command(nonce: u64, issued: u64, expires: Option<u64>, cmd: Command) -> Vec<u8> {
        let msg = SignedMessage::sign(
            SignedContent {
                kind: PayloadKind::Command,
                scope: scope("rig:s1/r1"),
                version: nonce,
                issued_ms: issued,
                expires_ms: expires,
                payload: postcard::to_stdvec(&cmd).expect("encode"),
            },
            &key(1),
        )
        .expect("sign");
        postcard::to_stdvec(&msg).expect("encode")
    }

    #[test]
    fn commands_expire_and_cannot_be_replayed() {
        let s = scope("rig:s1/r1");
        let mut applied = Applied::default();
        let ok = me()
            .check_command(
                &command(7, 1000, Some(61_000), Command::Retune),
                &s,
                &applied,
                2000,
            )
            .expect("valid");
        assert_eq!(ok.command, Command::Retune);
        applied.nonces.insert(7, 61_000);
        assert_eq!(
            me().check_command(
                &command(7, 1000, Some(61_000), Command::Retune),
                &s,
                &applied,
                2000
            ),
            Err(Rejection::NonceUsed(7))
        );
        assert!(matches!(
            me().check_command(
                &command(8, 1000, Some(61_000), Command::Retune),
                &s,
                &applied,
                70_000
            ),
            Err(Rejection::Expired { .. })
        ));
        assert!(matches!(
            me().check_command(&command(9, 0, None, Command::Retune), &s, &applied, 1),
            Err(Rejection::BadValidity(_))
        ));
        assert!(matches!(
            me().check_command(
                &command(9, 0, Some(MAX_COMMAND_TTL_MS + 1), Command::Retune),
                &s,
                &applied,
                1
            ),
            Err(Rejection::BadValidity(_))
        ));
        // A config push is not a command, even with a good signature.
        assert!(matches!(
            me().check_command(&signed("rig:s1/r1", 1, P, &key(1)), &s, &applied, 1),
            Err(Rejection::WrongKind { .. })
        ));
    }
}
