//! What arrives from the broker: fleet hints, model announcements, signed config pushes and
//! signed commands, each routed by its topic and acked on the rig's ack topic.
//!
//! Must never act on a message whose topic is not one the agent subscribed to, and never ack a
//! cleared retained push (it carries nothing to apply).

use super::Agent;
use crate::link::Inbound;
use hashward_protocol::codec::decode_value;
use hashward_protocol::signed::{Scope, SignedMessage};
use hashward_protocol::{Ack, AckOutcome, Body, FleetHints, Topic};

/// Where an inbound message goes, by its topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Route {
    Hints,
    Models,
    /// A signed config push, checked against the scope its topic names.
    Config(Scope),
    /// A signed command for this rig.
    Command(Scope),
    /// Not a topic the agent subscribes to: counted as bad input.
    Unexpected,
}

pub(super) fn route(topic: &str) -> Route {
    match Topic::parse(topic) {
        Ok(Topic::FleetHints) => Route::Hints,
        Ok(Topic::FleetModels) => Route::Models,
        Ok(Topic::FleetCfg) => Route::Config(Scope::Fleet),
        Ok(Topic::SiteCfg { site }) => Route::Config(Scope::Site(site)),
        Ok(Topic::RigCfg { site, rig }) => Route::Config(Scope::Rig(site, rig)),
        Ok(Topic::RigCmd { site, rig }) => Route::Command(Scope::Rig(site, rig)),
        _ => Route::Unexpected,
    }
}

impl Agent {
    /// One message from the broker.
    pub(super) async fn on_inbound(&mut self, msg: Inbound) {
        let ack = match route(&msg.topic) {
            Route::Hints => {
                match decode_value::<FleetHints>(&msg.payload) {
                    Ok(h) => {
                        self.hints.send_replace(Some(h));
                    }
                    Err(e) => {
                        self.input_errors += 1;
                        log::warn!("fleet hints on {} refused: {e}", msg.topic);
                    }
                }
                return;
            }
            Route::Unexpected => {
                self.input_errors += 1;
                log::warn!("unexpected message on {}", msg.topic);
                return;
            }
            // A cleared retained push: nothing to apply, nothing to ack.
            _ if msg.payload.is_empty() => return,
            Route::Models => self.on_models(msg.payload).await,
            Route::Command(scope) => {
                match self
                    .fleet
                    .on_command(&scope, &msg.payload, hashward_common::now_ms())
                {
                    Ok(c) => {
                        let outcome = self.run_command(c.command).await;
                        Ack {
                            scope: "cmd".into(),
                            version: c.nonce,
                            outcome,
                        }
                    }
                    Err(ack) => ack,
                }
            }
            Route::Config(scope) => {
                let out = self.fleet.on_config(&scope, &msg.payload);
                let mut ack = out.ack;
                if let Some(new) = out.config {
                    if let Err(e) = self.on_config_applied(new).await {
                        log::error!("fleet: {e}");
                        ack.outcome = AckOutcome::Rejected(e);
                    }
                }
                ack
            }
        };
        let topic = self.topics.ack.clone();
        self.spool_body(&topic, Body::Ack(ack)).await;
    }

    /// A `fleet/models` announcement: the inference service fetches and verifies it.
    async fn on_models(&mut self, payload: Vec<u8>) -> Ack {
        // The version is only for the ack; the service refuses a message it cannot read.
        let version = postcard::from_bytes::<SignedMessage>(&payload)
            .map(|m| m.content.version)
            .unwrap_or(0);
        let outcome = match &self.infer {
            Some(svc) => svc.update(payload).await,
            None => AckOutcome::Rejected("inference is off on this rig".into()),
        };
        Ack {
            scope: "models".into(),
            version,
            outcome,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hashward_protocol::{RigId, SiteId};

    fn ids() -> (SiteId, RigId) {
        (SiteId::new("s1").expect("site"), RigId::new("r1").expect("rig"))
    }

    #[test]
    fn every_subscribed_topic_has_its_route() {
        let (site, rig) = ids();
        assert_eq!(route(&Topic::FleetHints.to_string()), Route::Hints);
        assert_eq!(route(&Topic::FleetModels.to_string()), Route::Models);
        assert_eq!(route(&Topic::FleetCfg.to_string()), Route::Config(Scope::Fleet));
        assert_eq!(
            route(&Topic::SiteCfg { site: site.clone() }.to_string()),
            Route::Config(Scope::Site(site.clone()))
        );
        assert_eq!(
            route(
                &Topic::RigCfg {
                    site: site.clone(),
                    rig: rig.clone()
                }
                .to_string()
            ),
            Route::Config(Scope::Rig(site.clone(), rig.clone()))
        );
        assert_eq!(
            route(
                &Topic::RigCmd {
                    site: site.clone(),
                    rig: rig.clone()
                }
                .to_string()
            ),
            Route::Command(Scope::Rig(site, rig))
        );
    }

    #[test]
    fn other_topics_and_garbage_are_unexpected() {
        let (site, rig) = ids();
        assert_eq!(route(&Topic::Tele { site, rig }.to_string()), Route::Unexpected);
        assert_eq!(route("not/a/hashward/topic"), Route::Unexpected);
        assert_eq!(route(""), Route::Unexpected);
    }
}
