//! Turns a config push or command that arrived from the broker into a decision, a saved state
//! and an ack. The live application of the new config is the caller's (run.rs).
//!
//! Must never: ack `applied` before the new state is on disk, or change anything on rejection.

use super::state::{Applied, AppliedPush};
use super::verify::{effective_from_saved, Identity, Rejection, VerifiedCommand};
use crate::config::{Config, ConfigError};
use hashward_protocol::signed::Scope;
use hashward_protocol::{Ack, AckOutcome};
use std::path::{Path, PathBuf};

pub struct FleetHandler {
    identity: Identity,
    /// The rig's own config: defaults and its file, before any push.
    local: Config,
    applied: Applied,
    path: PathBuf,
    /// Config pushes and commands refused since start (bad signature, replay, invalid, ...).
    pub rejected: u64,
}

/// What a config push led to.
pub struct PushOutcome {
    pub ack: Ack,
    /// The config now in force, when it changed.
    pub config: Option<Config>,
}

impl FleetHandler {
    /// Loads the saved pushes and returns the handler with the config in force. A saved state
    /// that no longer merges with the local file (the file was edited) is set aside and the
    /// local config used; the retained pushes arrive again and are re-checked.
    pub fn open(local: Config) -> Result<(FleetHandler, Config), ConfigError> {
        let identity = Identity {
            site: local.site.clone(),
            rig: local.rig.clone(),
            hub_key: local.fleet.verifying_key()?,
        };
        if identity.hub_key.is_none() {
            log::warn!(
                "fleet: no hub public key pinned ([fleet] hub_public_key); config pushes and commands will be refused"
            );
        }
        let path = Applied::path(&local.data_dir);
        let set_aside = |why: String| {
            match set_aside(&path) {
                Ok(aside) => log::error!(
                    "fleet: {why}; saved pushes moved to {} and the local config used",
                    aside.display()
                ),
                // The file stays where it is; the next saved push replaces it.
                Err(e) => log::error!(
                    "fleet: {why}; the local config used, but the saved pushes could not be moved aside: {e}"
                ),
            }
            Applied::default()
        };
        let applied = match Applied::load(&path) {
            Ok(a) => a,
            Err(e) => set_aside(e.to_string()),
        };
        let (applied, effective) = match effective_from_saved(&local, &applied) {
            Ok(cfg) => (applied, cfg),
            Err(e) => (
                set_aside(format!("saved pushes no longer apply: {e}")),
                local.clone(),
            ),
        };
        for (scope, p) in applied.layers() {
            log::info!("fleet: config from {scope} version {} in force", p.version);
        }
        Ok((
            FleetHandler {
                identity,
                local,
                applied,
                path,
                rejected: 0,
            },
            effective,
        ))
    }

    fn reject(&mut self, scope: String, version: u64, r: Rejection) -> Ack {
        self.rejected += 1;
        log::warn!("fleet: {scope} version {version} rejected: {r}");
        Ack {
            scope,
            version,
            outcome: AckOutcome::Rejected(r.to_string()),
        }
    }

    /// A message on the config topic of `topic_scope`.
    pub fn on_config(&mut self, topic_scope: &Scope, payload: &[u8]) -> PushOutcome {
        let version = peek_version(payload);
        let v = match self
            .identity
            .check_push(payload, topic_scope, &self.local, &self.applied)
        {
            Ok(v) => v,
            Err(r) => {
                return PushOutcome {
                    ack: self.reject(topic_scope.to_string(), version, r),
                    config: None,
                }
            }
        };
        let scope = v.scope.to_string();
        let ack = Ack {
            scope: scope.clone(),
            version: v.version,
            outcome: AckOutcome::Applied,
        };
        if v.already_applied {
            log::info!("fleet: {scope} version {} already in force", v.version);
            return PushOutcome { ack, config: None };
        }
        let mut next = self.applied.clone();
        next.scopes.insert(
            scope.clone(),
            AppliedPush {
                version: v.version,
                issued_ms: v.issued_ms,
                patch: v.patch_text,
                digest: v.digest,
            },
        );
        if let Err(e) = next.save(&self.path) {
            log::error!("fleet: {e}");
            return PushOutcome {
                ack: self.reject(scope, v.version, Rejection::NotSigned(format!("not saved: {e}"))),
                config: None,
            };
        }
        self.applied = next;
        log::info!("fleet: {scope} version {} applied", v.version);
        PushOutcome {
            ack,
            config: Some(v.config),
        }
    }

    /// A message on this rig's command topic at `now_ms`. The nonce is saved before the command
    /// runs, so a crash cannot turn one command into two.
    pub fn on_command(
        &mut self,
        topic_scope: &Scope,
        payload: &[u8],
        now_ms: u64,
    ) -> Result<VerifiedCommand, Ack> {
        let version = peek_version(payload);
        let c = match self
            .identity
            .check_command(payload, topic_scope, &self.applied, now_ms)
        {
            Ok(c) => c,
            Err(r) => return Err(self.reject("cmd".into(), version, r)),
        };
        let mut next = self.applied.clone();
        next.prune_nonces(now_ms);
        next.nonces.insert(c.nonce, c.expires_ms);
        if let Err(e) = next.save(&self.path) {
            return Err(self.reject(
                "cmd".into(),
                c.nonce,
                Rejection::NotSigned(format!("not saved: {e}")),
            ));
        }
        self.applied = next;
        log::info!("fleet: command {} (nonce {})", c.command.name(), c.nonce);
        Ok(c)
    }

    /// Scope -> version of every push in force, for diagnostics.
    pub fn versions(&self) -> Vec<(String, u64)> {
        self.applied
            .layers()
            .iter()
            .map(|(s, p)| (s.to_string(), p.version))
            .collect()
    }
}

/// The version (or nonce) of a message for the ack, before anything about it is trusted; 0 when
/// it does not even decode.
/// Moves a saved state that no longer applies to `<path>.refused` beside it, for the operator
/// to look at; returns where it went.
fn set_aside(path: &Path) -> std::io::Result<PathBuf> {
    let aside = path.with_extension("json.refused");
    std::fs::rename(path, &aside)?;
    Ok(aside)
}

fn peek_version(payload: &[u8]) -> u64 {
    postcard::from_bytes::<hashward_protocol::signed::SignedMessage>(payload)
        .map(|m| m.content.version)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_aside_moves_the_saved_state() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("fleet.json");
        std::fs::write(&path, b"{}").expect("write");
        let aside = set_aside(&path).expect("moved");
        assert_eq!(aside, dir.path().join("fleet.json.refused"));
        assert!(!path.exists());
        assert_eq!(std::fs::read(&aside).expect("read"), b"{}");
    }

    #[test]
    fn set_aside_that_fails_says_so_and_keeps_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("fleet.json");
        std::fs::write(&path, b"{}").expect("write");
        // A non-empty directory where the refused file would go: the rename cannot happen.
        let blocker = dir.path().join("fleet.json.refused");
        std::fs::create_dir(&blocker).expect("dir");
        std::fs::write(blocker.join("x"), b"x").expect("write");
        assert!(set_aside(&path).is_err());
        assert_eq!(std::fs::read(&path).expect("still there"), b"{}");
    }
}
