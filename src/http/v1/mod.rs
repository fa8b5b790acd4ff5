//! The `/api/v1` surface (seed 000). Its one error type is [`V1Error`]:
//! `{"error": {"code", "message", "field"}}` with the status the code stands
//! for; handlers return it and never build error JSON themselves. Browser
//! provisioning lives in [`provisioning`].

pub mod provisioning;

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
            V1Code::Unavailable => "SERVICE_UNAVAILABLE",
            V1Code::Internal => "INTERNAL_ERROR",
        }
    }

    fn status(self) -> StatusCode {
        match self {
            V1Code::Validation => StatusCode::BAD_REQUEST,
            V1Code::AuthRequired | V1Code::AuthInvalid => StatusCode::UNAUTHORIZED,
            V1Code::NotFound => StatusCode::NOT_FOUND,
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
