//! WAMP v2 messages in the JSON serialization (`wamp.2.json`): each message is one JSON array
//! whose first element is the message code. Only the messages a subscriber/caller exchanges with
//! a router are modelled; anything else decodes to [`Message::Other`] so a newer router cannot
//! break the session by sending something we do not use.
//!
//! Must never panic on input: every shape error is a [`DecodeError`] naming what was wrong.

use serde_json::{json, Map, Value};

/// WAMP message codes (WAMP v2 basic profile).
pub mod code {
    pub const HELLO: u64 = 1;
    pub const WELCOME: u64 = 2;
    pub const ABORT: u64 = 3;
    pub const CHALLENGE: u64 = 4;
    pub const AUTHENTICATE: u64 = 5;
    pub const GOODBYE: u64 = 6;
    pub const ERROR: u64 = 8;
    pub const SUBSCRIBE: u64 = 32;
    pub const SUBSCRIBED: u64 = 33;
    pub const EVENT: u64 = 36;
    pub const CALL: u64 = 48;
    pub const RESULT: u64 = 50;
}

#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    Hello {
        realm: String,
        details: Map<String, Value>,
    },
    Welcome {
        session: u64,
        details: Map<String, Value>,
    },
    Abort {
        details: Map<String, Value>,
        reason: String,
    },
    Challenge {
        authmethod: String,
        extra: Map<String, Value>,
    },
    Authenticate {
        signature: String,
        extra: Map<String, Value>,
    },
    Goodbye {
        details: Map<String, Value>,
        reason: String,
    },
    Error {
        request_type: u64,
        request: u64,
        details: Map<String, Value>,
        error: String,
        args: Vec<Value>,
        kwargs: Map<String, Value>,
    },
    Subscribe {
        request: u64,
        options: Map<String, Value>,
        topic: String,
    },
    Subscribed {
        request: u64,
        subscription: u64,
    },
    Event {
        subscription: u64,
        publication: u64,
        details: Map<String, Value>,
        args: Vec<Value>,
        kwargs: Map<String, Value>,
    },
    Call {
        request: u64,
        options: Map<String, Value>,
        procedure: String,
        args: Vec<Value>,
    },
    Result {
        request: u64,
        details: Map<String, Value>,
        args: Vec<Value>,
        kwargs: Map<String, Value>,
    },
    /// A well-formed message of a type this client does not use (its code).
    Other(u64),
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DecodeError {
    #[error("not JSON: {0}")]
    Json(String),
    #[error("not a JSON array with a message code first")]
    NotAMessage,
    #[error("message {code}: element {index} missing or not {expected}")]
    Field {
        code: u64,
        index: usize,
        expected: &'static str,
    },
}

impl Message {
    pub fn encode(&self) -> String {
        let v = match self {
            Message::Hello { realm, details } => json!([code::HELLO, realm, details]),
            Message::Welcome { session, details } => json!([code::WELCOME, session, details]),
            Message::Abort { details, reason } => json!([code::ABORT, details, reason]),
            Message::Challenge { authmethod, extra } => json!([code::CHALLENGE, authmethod, extra]),
            Message::Authenticate { signature, extra } => json!([code::AUTHENTICATE, signature, extra]),
            Message::Goodbye { details, reason } => json!([code::GOODBYE, details, reason]),
            Message::Error {
                request_type,
                request,
                details,
                error,
                args,
                kwargs,
            } => json!([code::ERROR, request_type, request, details, error, args, kwargs]),
            Message::Subscribe {
                request,
                options,
                topic,
            } => json!([code::SUBSCRIBE, request, options, topic]),
            Message::Subscribed {
                request,
                subscription,
            } => json!([code::SUBSCRIBED, request, subscription]),
            Message::Event {
                subscription,
                publication,
                details,
                args,
                kwargs,
            } => json!([code::EVENT, subscription, publication, details, args, kwargs]),
            Message::Call {
                request,
                options,
                procedure,
                args,
            } => json!([code::CALL, request, options, procedure, args]),
            Message::Result {
                request,
                details,
                args,
                kwargs,
            } => json!([code::RESULT, request, details, args, kwargs]),
            Message::Other(c) => json!([c]),
        };
        v.to_string()
    }

    pub fn decode(text: &str) -> Result<Message, DecodeError> {
        let v: Value = serde_json::from_str(text).map_err(|e| DecodeError::Json(e.to_string()))?;
        let Value::Array(items) = v else {
            return Err(DecodeError::NotAMessage);
        };
        let code = items
            .first()
            .and_then(Value::as_u64)
            .ok_or(DecodeError::NotAMessage)?;
        let f = Fields { code, items: &items };
        Ok(match code {
            code::HELLO => Message::Hello {
                realm: f.string(1)?,
                details: f.dict(2)?,
            },
            code::WELCOME => Message::Welcome {
                session: f.id(1)?,
                details: f.dict(2)?,
            },
            code::ABORT => Message::Abort {
                details: f.dict(1)?,
                reason: f.string(2)?,
            },
            code::CHALLENGE => Message::Challenge {
                authmethod: f.string(1)?,
                extra: f.dict(2)?,
            },
            code::AUTHENTICATE => Message::Authenticate {
                signature: f.string(1)?,
                extra: f.dict(2)?,
            },
            code::GOODBYE => Message::Goodbye {
                details: f.dict(1)?,
                reason: f.string(2)?,
            },
            code::ERROR => Message::Error {
                request_type: f.id(1)?,
                request: f.id(2)?,
                details: f.dict(3)?,
                error: f.string(4)?,
                args: f.opt_list(5)?,
                kwargs: f.opt_dict(6)?,
            },
            code::SUBSCRIBE => Message::Subscribe {
                request: f.id(1)?,
                options: f.dict(2)?,
                topic: f.string(3)?,
            },
            code::SUBSCRIBED => Message::Subscribed {
                request: f.id(1)?,
                subscription: f.id(2)?,
            },
            code::EVENT => Message::Event {
                subscription: f.id(1)?,
                publication: f.id(2)?,
                details: f.dict(3)?,
                args: f.opt_list(4)?,
                kwargs: f.opt_dict(5)?,
            },
            code::CALL => Message::Call {
                request: f.id(1)?,
                options: f.dict(2)?,
                procedure: f.string(3)?,
                args: f.opt_list(4)?,
            },
            code::RESULT => Message::Result {
                request: f.id(1)?,
                details: f.dict(2)?,
                args: f.opt_list(3)?,
                kwargs: f.opt_dict(4)?,
            },
            other => Message::Other(other),
        })
    }
}

/// Positional access to a message's elements, each failure naming the element.
struct Fields<'a> {
    code: u64,
    items: &'a [Value],
}

impl Fields<'_> {
    fn err(&self, index: usize, expected: &'static str) -> DecodeError {
        DecodeError::Field {
            code: self.code,
            index,
            expected,
        }
    }
    fn id(&self, i: usize) -> Result<u64, DecodeError> {
        self.items
            .get(i)
            .and_then(Value::as_u64)
            .ok_or(self.err(i, "an id"))
    }
    fn string(&self, i: usize) -> Result<String, DecodeError> {
        self.items
            .get(i)
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or(self.err(i, "a string"))
    }
    fn dict(&self, i: usize) -> Result<Map<String, Value>, DecodeError> {
        match self.items.get(i) {
            Some(Value::Object(m)) => Ok(m.clone()),
            _ => Err(self.err(i, "a dict")),
        }
    }
    fn opt_list(&self, i: usize) -> Result<Vec<Value>, DecodeError> {
        match self.items.get(i) {
            None => Ok(Vec::new()),
            Some(Value::Array(a)) => Ok(a.clone()),
            Some(_) => Err(self.err(i, "a list")),
        }
    }
    fn opt_dict(&self, i: usize) -> Result<Map<String, Value>, DecodeError> {
        match self.items.get(i) {
            None => Ok(Map::new()),
            Some(_) => self.dict(i),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_router_messages_as_the_spec_writes_them() {
        let m = Message::decode(r#"[4,"wampcra",{"challenge":"{\"nonce\":\"x\"}"}]"#).expect("challenge");
        let Message::Challenge { authmethod, extra } = m else {
            panic!("{m:?}")
        };
        assert_eq!(authmethod, "wampcra");
        assert_eq!(extra["challenge"], "{\"nonce\":\"x\"}");
        assert_eq!(
            Message::decode(r#"[33, 7, 5512315355]"#),
            Ok(Message::Subscribed {
                request: 7,
                subscription: 5512315355
            })
        );
        // EVENT without args/kwargs (both are optional on the wire).
        let m = Message::decode(r#"[36, 5512315355, 4429313566, {}]"#).expect("event");
        assert!(
            matches!(m, Message::Event { ref args, .. } if args.is_empty()),
            "{m:?}"
        );
        let m = Message::decode(r#"[50, 3, {}, [{"1":{"usd":0.5}}]]"#).expect("result");
        assert!(matches!(m, Message::Result { request: 3, ref args, .. } if args.len() == 1));
        assert_eq!(Message::decode("[70, 1, {}]"), Ok(Message::Other(70)));
    }

    #[test]
    fn encodes_client_messages_in_positional_order() {
        let call = Message::Call {
            request: 2,
            options: Map::new(),
            procedure: "f_all_miner_updates".into(),
            args: vec![json!("KEY")],
        };
        assert_eq!(call.encode(), r#"[48,2,{},"f_all_miner_updates",["KEY"]]"#);
        let sub = Message::Subscribe {
            request: 3,
            options: Map::new(),
            topic: "profitability_updates".into(),
        };
        assert_eq!(sub.encode(), r#"[32,3,{},"profitability_updates"]"#);
        for m in [call, sub] {
            assert_eq!(Message::decode(&m.encode()), Ok(m));
        }
    }

    #[test]
    fn bad_shapes_are_errors_naming_the_element() {
        assert!(matches!(Message::decode("{"), Err(DecodeError::Json(_))));
        assert_eq!(Message::decode(r#"{"a":1}"#), Err(DecodeError::NotAMessage));
        assert_eq!(Message::decode(r#"["x"]"#), Err(DecodeError::NotAMessage));
        assert_eq!(Message::decode("[]"), Err(DecodeError::NotAMessage));
        assert_eq!(
            Message::decode(r#"[2, "abc", {}]"#),
            Err(DecodeError::Field {
                code: 2,
                index: 1,
                expected: "an id"
            })
        );
        assert_eq!(
            Message::decode(r#"[36, 1, 2, {}, "notalist"]"#),
            Err(DecodeError::Field {
                code: 36,
                index: 4,
                expected: "a list"
            })
        );
        assert!(Message::decode(r#"[4, "wampcra"]"#).is_err());
    }
}
