//! The `/api/v1` surface (seed 000). Its one error type is [`V1Error`]:
//! `{"error": {"code", "message", "field"}}` with the status the code stands
//! for; handlers return it and never build error JSON themselves. The
//! merchant API (`merchants`, `consents`, `messages`, `billing`, `messaging`,
//! with its keys in `auth` and Idempotency-Key in `idempotency`) and browser
//! provisioning (`provisioning`) share it.

pub mod auth;
pub mod billing;
pub mod consents;
pub mod idempotency;
pub mod merchants;
pub mod messages;
pub mod messaging;
pub mod openapi;
pub mod provisioning;
pub mod schema;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// The machine codes of `/api/v1` errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum V1Code {
    Validation,
    AuthRequired,
    AuthInvalid,
    NotFound,
    /// The merchant's limit is used and no credit is left (402).
    LimitReached,
    /// The recipient opted out of the channel (409).
    OptedOut,
    /// A marketing message without the recipient's opt-in (409).
    ConsentRequired,
    /// The merchant is not active (409).
    MerchantInactive,
    /// The state does not allow it (409: cancelling a sent message, ...).
    Conflict,
    /// The Idempotency-Key was used with another body (422).
    IdempotencyConflict,
    /// Over the request rate (429).
    RateLimited,
    Unavailable,
    Internal,
}

impl V1Code {
    pub fn as_str(self) -> &'static str {
        match self {
            V1Code::Validation => "VALIDATION_ERROR",
            V1Code::AuthRequired => "AUTH_REQUIRED",
            V1Code::AuthInvalid => "AUTH_INVALID",
            V1Code::NotFound => "NOT_FOUND",
            V1Code::LimitReached => "LIMIT_REACHED",
            V1Code::OptedOut => "CONSENT_OPTED_OUT",
            V1Code::ConsentRequired => "CONSENT_REQUIRED",
            V1Code::MerchantInactive => "MERCHANT_INACTIVE",
            V1Code::Conflict => "CONFLICT",
            V1Code::IdempotencyConflict => "IDEMPOTENCY_CONFLICT",
            V1Code::RateLimited => "RATE_LIMITED",
            V1Code::Unavailable => "SERVICE_UNAVAILABLE",
            V1Code::Internal => "INTERNAL_ERROR",
        }
    }

    pub fn status(self) -> StatusCode {
        match self {
            V1Code::Validation => StatusCode::BAD_REQUEST,
            V1Code::AuthRequired | V1Code::AuthInvalid => StatusCode::UNAUTHORIZED,
            V1Code::NotFound => StatusCode::NOT_FOUND,
            V1Code::LimitReached => StatusCode::PAYMENT_REQUIRED,
            V1Code::OptedOut
            | V1Code::ConsentRequired
            | V1Code::MerchantInactive
            | V1Code::Conflict => StatusCode::CONFLICT,
            V1Code::IdempotencyConflict => StatusCode::UNPROCESSABLE_ENTITY,
            V1Code::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            V1Code::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            V1Code::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// An `/api/v1` failure: its code, a message for people and the field at fault.
#[derive(Debug)]
pub struct V1Error {
    pub code: V1Code,
    pub message: String,
    pub field: Option<&'static str>,
}

impl V1Error {
    pub fn new(code: V1Code, message: impl Into<String>) -> Self {
        V1Error {
            code,
            message: message.into(),
            field: None,
        }
    }

    /// A request field that is missing or wrong.
    pub fn field(field: &'static str, message: impl Into<String>) -> Self {
        V1Error {
            code: V1Code::Validation,
            message: message.into(),
            field: Some(field),
        }
    }
}

impl V1Error {
    pub fn not_found(what: &str) -> Self {
        V1Error::new(V1Code::NotFound, format!("no such {what}"))
    }

    /// The store failed (503: a retry may succeed).
    pub fn store(e: crate::store::StoreError) -> Self {
        tracing::warn!(error = %e, "merchant API: the store failed");
        V1Error::new(V1Code::Unavailable, "the store cannot be reached; retry")
    }
}

impl From<crate::store::StoreError> for V1Error {
    fn from(e: crate::store::StoreError) -> Self {
        V1Error::store(e)
    }
}

impl IntoResponse for V1Error {
    fn into_response(self) -> Response {
        let body = json!({"error": {
            "code": self.code.as_str(),
            "message": self.message,
            "field": self.field,
        }});
        (self.code.status(), axum::Json(body)).into_response()
    }
}

/// The largest body a merchant API POST may carry (an HTML email fits).
pub const MAX_BODY: usize = 600 * 1024;

/// A POST's body as the JSON object it must be.
pub fn json_object(body: &[u8]) -> Result<serde_json::Value, V1Error> {
    let v: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| V1Error::new(V1Code::Validation, format!("the body is not JSON: {e}")))?;
    if v.is_object() {
        Ok(v)
    } else {
        Err(V1Error::new(
            V1Code::Validation,
            "the body must be a JSON object",
        ))
    }
}

/// A string field: `Ok(None)` when absent or null, an error when not a string.
pub fn opt_str<'a>(
    v: &'a serde_json::Value,
    field: &'static str,
) -> Result<Option<&'a str>, V1Error> {
    match &v[field] {
        serde_json::Value::Null => Ok(None),
        serde_json::Value::String(s) => Ok(Some(s.as_str())),
        _ => Err(V1Error::field(field, format!("{field} must be a string"))),
    }
}

/// A required, non-blank string field (trimmed).
pub fn req_str<'a>(v: &'a serde_json::Value, field: &'static str) -> Result<&'a str, V1Error> {
    opt_str(v, field)?
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| V1Error::field(field, format!("{field} is required")))
}

/// An optional boolean field.
pub fn opt_bool(v: &serde_json::Value, field: &'static str) -> Result<Option<bool>, V1Error> {
    match &v[field] {
        serde_json::Value::Null => Ok(None),
        serde_json::Value::Bool(b) => Ok(Some(*b)),
        _ => Err(V1Error::field(
            field,
            format!("{field} must be true or false"),
        )),
    }
}

/// An optional whole number within `range`.
pub fn opt_int(
    v: &serde_json::Value,
    field: &'static str,
    range: std::ops::RangeInclusive<i64>,
) -> Result<Option<i64>, V1Error> {
    match &v[field] {
        serde_json::Value::Null => Ok(None),
        n => match n.as_i64() {
            Some(i) if range.contains(&i) => Ok(Some(i)),
            _ => Err(V1Error::field(
                field,
                format!(
                    "{field} must be a whole number from {} to {}",
                    range.start(),
                    range.end()
                ),
            )),
        },
    }
}

/// A merchant id: 1 to 64 letters, digits, `.`, `_` or `-`.
pub fn merchant_id(v: &serde_json::Value) -> Result<String, V1Error> {
    let id = req_str(v, "merchantId")?;
    valid_merchant_id(id)?;
    Ok(id.to_string())
}

pub fn valid_merchant_id(id: &str) -> Result<(), V1Error> {
    if id.is_empty()
        || id.len() > 64
        || !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        return Err(V1Error::field(
            "merchantId",
            "merchantId: 1 to 64 letters, digits, '.', '_' or '-'",
        ));
    }
    Ok(())
}

/// Unix milliseconds as ISO 8601 UTC with milliseconds (`2026-04-16T13:20:32.942Z`).
pub fn iso_ms(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}
