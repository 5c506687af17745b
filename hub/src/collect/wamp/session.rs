//! The WAMP v2 client session as a state machine with no I/O: text frames in, text frames to
//! send and [`Output`]s out. It says HELLO (realm, authid, authmethods `["wampcra"]`), answers
//! a WAMP-CRA CHALLENGE, and once WELCOMEd makes its configured CALLs and SUBSCRIBEs; RESULTs
//! and EVENTs come out tagged with the caller's label `L`, never with the topic or procedure
//! name (those may embed an API key, which must stay out of logs).
//!
//! Must never panic on what the router sends, and never send the secret itself.

use super::cra;
use super::message::{code, DecodeError, Message};
use serde_json::{json, Map, Value};
use std::collections::HashMap;

/// A procedure to call once per session.
#[derive(Debug, Clone, PartialEq)]
pub struct CallSpec<L> {
    pub label: L,
    pub procedure: String,
    pub args: Vec<Value>,
}

/// A topic to subscribe to once per session.
#[derive(Debug, Clone, PartialEq)]
pub struct SubscribeSpec<L> {
    pub label: L,
    pub topic: String,
}

#[derive(Debug, Clone)]
pub struct SessionConfig<L> {
    pub realm: String,
    pub authid: String,
    /// The WAMP-CRA secret (Prohashing's is the public `web`).
    pub secret: String,
    pub calls: Vec<CallSpec<L>>,
    pub subscriptions: Vec<SubscribeSpec<L>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// HELLO not sent yet.
    Start,
    /// HELLO sent, waiting for CHALLENGE or WELCOME.
    Greeting,
    /// AUTHENTICATE sent, waiting for WELCOME.
    Authenticating,
    Established,
    Closed,
}

/// What the session tells its driver.
#[derive(Debug, Clone, PartialEq)]
pub enum Output<L> {
    /// Send this text frame.
    Send(String),
    /// The router welcomed us: the session id.
    Established(u64),
    /// A call's result.
    Result {
        label: L,
        args: Vec<Value>,
        kwargs: Map<String, Value>,
    },
    /// The router confirmed a subscription.
    Subscribed(L),
    /// A published event on a subscribed topic.
    Event {
        label: L,
        args: Vec<Value>,
        kwargs: Map<String, Value>,
    },
    /// The router refused a call or a subscription (its error URI).
    Refused { label: L, error: String },
    /// The session is over (ABORT, GOODBYE or a fatal protocol error): reconnect.
    Closed(CloseReason),
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CloseReason {
    #[error("router aborted: {0}")]
    Aborted(String),
    #[error("router said goodbye: {0}")]
    Goodbye(String),
    #[error("router asked for authentication method {0:?}, only wampcra is offered")]
    UnsupportedAuth(String),
    #[error("cannot answer the challenge: {0}")]
    Challenge(#[from] cra::CraError),
    #[error("router sent message {code} while {phase:?}")]
    Unexpected { code: u64, phase: Phase },
}

/// A frame the session could not use. The session carries on: the driver counts it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Ignored {
    #[error("undecodable frame: {0}")]
    Decode(#[from] DecodeError),
    #[error("message {code} for unknown request or subscription {id}")]
    UnknownId { code: u64, id: u64 },
}

pub struct Session<L> {
    cfg: SessionConfig<L>,
    phase: Phase,
    next_request: u64,
    pending_calls: HashMap<u64, L>,
    pending_subs: HashMap<u64, L>,
    subscriptions: HashMap<u64, L>,
}

impl<L: Clone> Session<L> {
    pub fn new(cfg: SessionConfig<L>) -> Session<L> {
        Session {
            cfg,
            phase: Phase::Start,
            next_request: 1,
            pending_calls: HashMap::new(),
            pending_subs: HashMap::new(),
            subscriptions: HashMap::new(),
        }
    }

    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// The HELLO that opens the session.
    pub fn open(&mut self) -> Vec<Output<L>> {
        self.phase = Phase::Greeting;
        let details = json!({
            "authmethods": ["wampcra"],
            "authid": self.cfg.authid,
            "roles": {"caller": {}, "subscriber": {}},
        });
        let details = match details {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        vec![Output::Send(
            Message::Hello {
                realm: self.cfg.realm.clone(),
                details,
            }
            .encode(),
        )]
    }

    /// The GOODBYE a client sends to leave cleanly.
    pub fn close(&mut self) -> Option<String> {
        let was = self.phase;
        self.phase = Phase::Closed;
        (was == Phase::Established).then(|| {
            Message::Goodbye {
                details: Map::new(),
                reason: "wamp.close.system_shutdown".into(),
            }
            .encode()
        })
    }

    /// One text frame from the router.
    pub fn receive(&mut self, text: &str) -> Result<Vec<Output<L>>, Ignored> {
        let msg = Message::decode(text)?;
        Ok(match (self.phase, msg) {
            (_, Message::Abort { reason, .. }) => self.closed(CloseReason::Aborted(reason)),
            (Phase::Established, Message::Goodbye { reason, .. }) => {
                let reply = Message::Goodbye {
                    details: Map::new(),
                    reason: "wamp.close.goodbye_and_out".into(),
                };
                let mut out = vec![Output::Send(reply.encode())];
                out.extend(self.closed(CloseReason::Goodbye(reason)));
                out
            }
            (Phase::Greeting, Message::Challenge { authmethod, extra }) => {
                if authmethod != "wampcra" {
                    return Ok(self.closed(CloseReason::UnsupportedAuth(authmethod)));
                }
                match cra::respond(&self.cfg.secret, &extra) {
                    Ok(signature) => {
                        self.phase = Phase::Authenticating;
                        vec![Output::Send(
                            Message::Authenticate {
                                signature,
                                extra: Map::new(),
                            }
                            .encode(),
                        )]
                    }
                    Err(e) => self.closed(CloseReason::Challenge(e)),
                }
            }
            (Phase::Greeting | Phase::Authenticating, Message::Welcome { session, .. }) => {
                self.phase = Phase::Established;
                let mut out = vec![Output::Established(session)];
                out.extend(self.requests());
                out
            }
            (
                Phase::Established,
                Message::Result {
                    request,
                    args,
                    kwargs,
                    ..
                },
            ) => match self.pending_calls.remove(&request) {
                Some(label) => vec![Output::Result { label, args, kwargs }],
                None => {
                    return Err(Ignored::UnknownId {
                        code: code::RESULT,
                        id: request,
                    })
                }
            },
            (
                Phase::Established,
                Message::Subscribed {
                    request,
                    subscription,
                },
            ) => match self.pending_subs.remove(&request) {
                Some(label) => {
                    self.subscriptions.insert(subscription, label.clone());
                    vec![Output::Subscribed(label)]
                }
                None => {
                    return Err(Ignored::UnknownId {
                        code: code::SUBSCRIBED,
                        id: request,
                    })
                }
            },
            (
                Phase::Established,
                Message::Event {
                    subscription,
                    args,
                    kwargs,
                    ..
                },
            ) => match self.subscriptions.get(&subscription) {
                Some(label) => vec![Output::Event {
                    label: label.clone(),
                    args,
                    kwargs,
                }],
                None => {
                    return Err(Ignored::UnknownId {
                        code: code::EVENT,
                        id: subscription,
                    })
                }
            },
            (
                Phase::Established,
                Message::Error {
                    request_type,
                    request,
                    error,
                    ..
                },
            ) => {
                let label = match request_type {
                    code::CALL => self.pending_calls.remove(&request),
                    code::SUBSCRIBE => self.pending_subs.remove(&request),
                    _ => None,
                };
                match label {
                    Some(label) => vec![Output::Refused { label, error }],
                    None => {
                        return Err(Ignored::UnknownId {
                            code: code::ERROR,
                            id: request,
                        })
                    }
                }
            }
            (phase, other) => self.closed(CloseReason::Unexpected {
                code: code_of(&other),
                phase,
            }),
        })
    }

    fn closed(&mut self, why: CloseReason) -> Vec<Output<L>> {
        self.phase = Phase::Closed;
        vec![Output::Closed(why)]
    }

    /// The session's CALLs and SUBSCRIBEs, each with a fresh request id.
    fn requests(&mut self) -> Vec<Output<L>> {
        let mut out = Vec::new();
        for call in self.cfg.calls.clone() {
            let request = self.request_id();
            self.pending_calls.insert(request, call.label);
            out.push(Output::Send(
                Message::Call {
                    request,
                    options: Map::new(),
                    procedure: call.procedure,
                    args: call.args,
                }
                .encode(),
            ));
        }
        for sub in self.cfg.subscriptions.clone() {
            let request = self.request_id();
            self.pending_subs.insert(request, sub.label);
            out.push(Output::Send(
                Message::Subscribe {
                    request,
                    options: Map::new(),
                    topic: sub.topic,
                }
                .encode(),
            ));
        }
        out
    }

    fn request_id(&mut self) -> u64 {
        let id = self.next_request;
        self.next_request += 1;
        id
    }
}

fn code_of(m: &Message) -> u64 {
    match m {
        Message::Hello { .. } => code::HELLO,
        Message::Welcome { .. } => code::WELCOME,
        Message::Abort { .. } => code::ABORT,
        Message::Challenge { .. } => code::CHALLENGE,
        Message::Authenticate { .. } => code::AUTHENTICATE,
        Message::Goodbye { .. } => code::GOODBYE,
        Message::Error { .. } => code::ERROR,
        Message::Subscribe { .. } => code::SUBSCRIBE,
        Message::Subscribed { .. } => code::SUBSCRIBED,
        Message::Event { .. } => code::EVENT,
        Message::Call { .. } => code::CALL,
        Message::Result { .. } => code::RESULT,
        Message::Other(c) => *c,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session() -> Session<&'static str> {
        Session::new(SessionConfig {
            realm: "mining".into(),
            authid: "web".into(),
            secret: "web".into(),
            calls: vec![
                CallSpec {
                    label: "profit",
                    procedure: "f_all_profitability_updates".into(),
                    args: vec![],
                },
                CallSpec {
                    label: "miners",
                    procedure: "f_all_miner_updates".into(),
                    args: vec![json!("KEY")],
                },
            ],
            subscriptions: vec![SubscribeSpec {
                label: "miners",
                topic: "miner_update_diffs_KEY".into(),
            }],
        })
    }

    fn sent(out: &[Output<&'static str>]) -> Vec<Value> {
        out.iter()
            .filter_map(|o| match o {
                Output::Send(t) => serde_json::from_str(t).ok(),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn hello_challenge_welcome_then_calls_and_subscriptions() {
        let mut s = session();
        let hello = sent(&s.open());
        assert_eq!(hello[0][0], 1);
        assert_eq!(hello[0][1], "mining");
        assert_eq!(hello[0][2]["authmethods"], json!(["wampcra"]));
        assert_eq!(hello[0][2]["authid"], "web");

        // The challenge string is signed as sent: the vector of cra.rs's test.
        let challenge = r#"{"authid": "web", "authrole": "web", "authmethod": "wampcra", "authprovider": "static", "session": 1234, "nonce": "x7Qn", "timestamp": "2026-12-02T08:00:00.000Z"}"#;
        let frame = json!([4, "wampcra", {"challenge": challenge}]).to_string();
        let auth = sent(&s.receive(&frame).expect("challenge"));
        assert_eq!(
            auth[0],
            json!([5, "CQzD9pXKAzyF85GR2uYSqQU3EjkrBa1plTqODlQD7iw=", {}])
        );
        assert_eq!(s.phase(), Phase::Authenticating);

        let out = s.receive(r#"[2, 99, {"authid":"web"}]"#).expect("welcome");
        assert_eq!(out[0], Output::Established(99));
        let reqs = sent(&out);
        assert_eq!(reqs[0], json!([48, 1, {}, "f_all_profitability_updates", []]));
        assert_eq!(reqs[1], json!([48, 2, {}, "f_all_miner_updates", ["KEY"]]));
        assert_eq!(reqs[2], json!([32, 3, {}, "miner_update_diffs_KEY"]));

        let out = s
            .receive(r#"[50, 2, {}, [[{"miner_name":"a"}]]]"#)
            .expect("result");
        assert!(matches!(&out[0], Output::Result { label: "miners", args, .. } if args.len() == 1));
        assert_eq!(
            s.receive("[33, 3, 777]").expect("subscribed"),
            vec![Output::Subscribed("miners")]
        );
        let out = s.receive(r#"[36, 777, 1, {}, [{"uuid":"u"}]]"#).expect("event");
        assert!(matches!(&out[0], Output::Event { label: "miners", .. }));
        // The same result twice, or an event on a subscription never made: ignored, counted.
        assert!(matches!(
            s.receive(r#"[50, 2, {}, []]"#),
            Err(Ignored::UnknownId { code: 50, id: 2 })
        ));
        assert!(matches!(
            s.receive(r#"[36, 5, 1, {}]"#),
            Err(Ignored::UnknownId { .. })
        ));
        let out = s
            .receive(r#"[8, 48, 1, {}, "wamp.error.no_such_procedure"]"#)
            .expect("error");
        assert_eq!(
            out,
            vec![Output::Refused {
                label: "profit",
                error: "wamp.error.no_such_procedure".into()
            }]
        );
        assert!(s.close().is_some_and(|g| g.starts_with("[6,")));
    }

    #[test]
    fn abort_goodbye_and_protocol_errors_close_the_session() {
        let mut s = session();
        s.open();
        let out = s
            .receive(r#"[3, {}, "wamp.error.not_authorized"]"#)
            .expect("abort");
        assert_eq!(
            out,
            vec![Output::Closed(CloseReason::Aborted(
                "wamp.error.not_authorized".into()
            ))]
        );

        let mut s = session();
        s.open();
        let out = s.receive(r#"[4, "ticket", {}]"#).expect("challenge");
        assert!(matches!(&out[0], Output::Closed(CloseReason::UnsupportedAuth(m)) if m == "ticket"));

        let mut s = session();
        s.open();
        let out = s.receive(r#"[4, "wampcra", {"nonce": 1}]"#).expect("challenge");
        assert!(matches!(&out[0], Output::Closed(CloseReason::Challenge(_))));

        // An EVENT before WELCOME is a protocol violation.
        let mut s = session();
        s.open();
        let out = s.receive(r#"[36, 1, 1, {}]"#).expect("event");
        assert!(matches!(
            &out[0],
            Output::Closed(CloseReason::Unexpected {
                code: 36,
                phase: Phase::Greeting
            })
        ));

        let mut s = session();
        s.open();
        s.receive(r#"[2, 5, {}]"#).expect("welcome without auth");
        let out = s
            .receive(r#"[6, {}, "wamp.close.system_shutdown"]"#)
            .expect("goodbye");
        assert_eq!(sent(&out)[0][0], 6, "goodbye answered");
        assert_eq!(s.phase(), Phase::Closed);
        assert!(matches!(s.receive("not json"), Err(Ignored::Decode(_))));
    }
}
