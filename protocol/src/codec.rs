//! postcard encoding of [`Envelope`]s with a hard size cap.
//!
//! Decoding never panics and never allocates more than the payload allows: the size is checked
//! before postcard sees the bytes, and a schema newer than this build is refused with its number.

use crate::envelope::{Envelope, SCHEMA};
use serde::{de::DeserializeOwned, Serialize};

/// Largest payload accepted or produced, in bytes. Telemetry is a few hundred bytes; an ASIC with
/// many boards and errors a few KiB. Anything past this is garbage or an attack.
pub const MAX_PAYLOAD: usize = 64 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("payload is {0} bytes, the limit is {MAX_PAYLOAD}")]
    TooLarge(usize),
    #[error("payload is empty")]
    Empty,
    #[error("malformed payload: {0}")]
    Malformed(#[from] postcard::Error),
    #[error("{0} trailing bytes after the message")]
    Trailing(usize),
    #[error("schema {0} is newer than this build understands ({SCHEMA})")]
    UnknownSchema(u16),
}

#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    #[error("encoded message is {0} bytes, the limit is {MAX_PAYLOAD}")]
    TooLarge(usize),
    #[error("encoding failed: {0}")]
    Postcard(#[from] postcard::Error),
}

/// Encodes any protocol value (envelopes, signed payloads) with the size cap.
pub fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, EncodeError> {
    let bytes = postcard::to_stdvec(value)?;
    if bytes.len() > MAX_PAYLOAD {
        return Err(EncodeError::TooLarge(bytes.len()));
    }
    Ok(bytes)
}

/// Decodes one value that must use every byte of `bytes`.
pub fn decode_value<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, DecodeError> {
    if bytes.is_empty() {
        return Err(DecodeError::Empty);
    }
    if bytes.len() > MAX_PAYLOAD {
        return Err(DecodeError::TooLarge(bytes.len()));
    }
    let (value, rest) = postcard::take_from_bytes::<T>(bytes)?;
    if !rest.is_empty() {
        return Err(DecodeError::Trailing(rest.len()));
    }
    Ok(value)
}

/// Decodes an [`Envelope`], refusing schemas newer than [`SCHEMA`].
pub fn decode(bytes: &[u8]) -> Result<Envelope, DecodeError> {
    // The schema is the envelope's first field (a varint), so it can be checked before the body,
    // whose newer variants this build could not decode anyway.
    if let Ok((schema, _)) = postcard::take_from_bytes::<u16>(bytes) {
        if schema > SCHEMA {
            return Err(DecodeError::UnknownSchema(schema));
        }
    }
    decode_value(bytes)
}
