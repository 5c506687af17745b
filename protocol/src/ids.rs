//! Validated identifiers for sites and rigs.
//!
//! An id becomes an MQTT topic level and a mosquitto ACL user (`%u`), so it must never contain
//! `/`, `+`, `#`, whitespace or control characters, and it is capped in length. Decoding
//! (postcard, JSON, TOML) goes through the same validation, so an invalid id never exists.

use serde::{Deserialize, Serialize};
use std::fmt;

/// How a `.` of an id is written in a topic level (see `RigId::topic_level`). `%` is outside
/// the id alphabet, so the encoding cannot collide with an id.
pub const DOT_IN_TOPIC: &str = "%2E";

/// Longest id accepted, in bytes.
pub const MAX_ID_LEN: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("id is empty")]
    Empty,
    #[error("id is {0} bytes long, the maximum is {MAX_ID_LEN}")]
    TooLong(usize),
    #[error("id {0:?} contains {1:?}; allowed are ASCII letters, digits, '-', '_' and '.'")]
    BadChar(String, char),
}

fn validate(s: &str) -> Result<(), IdError> {
    if s.is_empty() {
        return Err(IdError::Empty);
    }
    if s.len() > MAX_ID_LEN {
        return Err(IdError::TooLong(s.len()));
    }
    if let Some(c) = s
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        return Err(IdError::BadChar(s.to_string(), c));
    }
    Ok(())
}

macro_rules! id_type {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub fn new(s: impl Into<String>) -> Result<Self, IdError> {
                let s = s.into();
                validate(&s)?;
                Ok(Self(s))
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
            /// The id as one MQTT topic level, `.` written [`DOT_IN_TOPIC`]: NATS's MQTT
            /// listener maps `/` to its subject separator `.` and refuses topics holding a
            /// `.` (nats-server 2.9), so a dotted id could not be published there otherwise.
            pub fn topic_level(&self) -> std::borrow::Cow<'_, str> {
                if self.0.contains('.') {
                    std::borrow::Cow::Owned(self.0.replace('.', DOT_IN_TOPIC))
                } else {
                    std::borrow::Cow::Borrowed(&self.0)
                }
            }
            /// Reads a topic level in either form: encoded ([`Self::topic_level`]) or with a
            /// raw `.`, as agents before the encoding publish it on mosquitto. Any other `%` is
            /// refused like every character outside the id alphabet.
            pub fn from_topic_level(level: &str) -> Result<Self, IdError> {
                if level.contains('%') {
                    Self::new(level.replace(DOT_IN_TOPIC, ".").replace("%2e", "."))
                } else {
                    Self::new(level)
                }
            }
        }
        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(s: String) -> Result<Self, IdError> {
                Self::new(s)
            }
        }
        impl std::str::FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                Self::new(s)
            }
        }
        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

id_type!(
    /// A rig's id, unique across the fleet (it is also the rig's MQTT user name).
    RigId
);
id_type!(
    /// A site's id: a group of rigs that share configuration.
    SiteId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_plain_ids_and_rejects_topic_syntax() {
        assert!(RigId::new("rig-01.a_b").is_ok());
        assert_eq!(RigId::new(""), Err(IdError::Empty));
        for bad in ["a/b", "a+", "#", "a b", "é"] {
            assert!(matches!(RigId::new(bad), Err(IdError::BadChar(..))), "{bad}");
        }
        assert_eq!(SiteId::new("x".repeat(65)), Err(IdError::TooLong(65)));
    }

    #[test]
    fn a_dot_is_encoded_in_topic_levels_and_both_forms_decode() {
        let rig = RigId::new("rig.01.a").expect("id");
        assert_eq!(rig.topic_level(), "rig%2E01%2Ea");
        assert_eq!(RigId::new("plain").expect("id").topic_level(), "plain");
        assert_eq!(RigId::from_topic_level("rig%2E01%2ea"), Ok(rig.clone()));
        assert_eq!(RigId::from_topic_level("rig.01.a"), Ok(rig));
        for bad in ["rig%2F01", "rig%", "%2"] {
            assert!(
                matches!(RigId::from_topic_level(bad), Err(IdError::BadChar(_, '%'))),
                "{bad}"
            );
        }
    }

    #[test]
    fn decoding_validates() {
        let bytes = postcard::to_stdvec(&"a/b".to_string()).expect("encode");
        assert!(postcard::from_bytes::<RigId>(&bytes).is_err());
        assert!(serde_json::from_str::<RigId>("\"ok\"").is_ok());
        assert!(serde_json::from_str::<RigId>("\"no/t\"").is_err());
    }
}
