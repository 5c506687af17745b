//! The API's one error type: a status and a JSON body `{"error": message, "code": code, ...}`
//! with the offending value in its own field (`rig`, `parameter`, `listing`).
//!
//! Must never put an internal error's text in a response: a store failure is logged and
//! answered with a generic 500.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};

#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    /// Structured details merged into the body.
    fields: Map<String, Value>,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            fields: Map::new(),
        }
    }

    fn with(mut self, key: &str, value: impl Into<Value>) -> ApiError {
        self.fields.insert(key.to_string(), value.into());
        self
    }

    pub fn bad_parameter(parameter: &str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_parameter", message).with("parameter", parameter)
    }

    pub fn rig_not_found(rig: &str) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "rig_not_found", format!("no rig {rig:?}")).with("rig", rig)
    }

    pub fn listing_not_found(listing: &str, known: &[&str]) -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no /rigs/{{rig}}/{listing}; known: {}", known.join(", ")),
        )
        .with("listing", listing)
        .with("known", known.to_vec())
    }

    /// A 404 for a named thing (`coin`, `pool`...) that is not known; the value in its field.
    pub fn not_found(what: &'static str, value: &str) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", format!("no {what} {value:?}")).with(what, value)
    }

    /// Any other failure: a status, a code, and the offending value under `field`.
    pub fn other(
        status: StatusCode,
        code: &'static str,
        message: impl Into<String>,
        field: &str,
        value: impl Into<Value>,
    ) -> ApiError {
        ApiError::new(status, code, message).with(field, value)
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> ApiError {
        log::error!("store read failed: {e}");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "store_error",
            "the store could not be read",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = self.fields;
        body.insert("error".into(), json!(self.message));
        body.insert("code".into(), json!(self.code));
        (self.status, Json(Value::Object(body))).into_response()
    }
}
