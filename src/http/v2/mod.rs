//! The v2 API family (seed 002's conventions): every request authenticates
//! with an account API key in `X-Auth-Token`; bodies are `{"data": …}`;
//! answers are `{"data": …, "request_id": …, "status": "success"}` and
//! errors `{"status": "error", "error": "<http status>", "message": <code>,
//! "code": <code>, "data": …, "request_id": …}` — [`V2Error`] renders them.
//! An account's key reaches only that account: any other account id in a
//! path is not found (404), never forbidden.

pub mod webhooks;

use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::AppState;
use crate::ids::AccountId;
use crate::store::ApiKeyKind;
use crate::webhooks::{FieldError, WebhookError, Webhooks};

/// One v2 error: its status, machine code, sentence and details.
#[derive(Debug)]
pub struct V2Error {
    status: StatusCode,
    code: &'static str,
    message: String,
    data: Option<Value>,
}

impl V2Error {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> V2Error {
        V2Error {
            status,
            code,
            message: message.into(),
            data: None,
        }
    }

    fn not_found(what: &str) -> V2Error {
        V2Error::new(
            StatusCode::NOT_FOUND,
            "bad_identifier",
            format!("no such {what}"),
        )
    }

    /// A document's problems, by field (`{field: {code: {message}}}`).
    fn invalid(errs: &[FieldError]) -> V2Error {
        let mut data = serde_json::Map::new();
        for e in errs {
            let entry = data.entry(e.field.to_string()).or_insert_with(|| json!({}));
            entry[e.code] = json!({ "message": e.message });
        }
        V2Error {
            status: StatusCode::BAD_REQUEST,
            code: "invalid_data",
            message: "the document has invalid fields".into(),
            data: Some(Value::Object(data)),
        }
    }
}

impl From<WebhookError> for V2Error {
    fn from(e: WebhookError) -> V2Error {
        match e {
            WebhookError::NotFound => V2Error::not_found("webhook"),
            WebhookError::AttemptNotFound => V2Error::not_found("attempt"),
            WebhookError::EventNotFound => {
                V2Error::new(StatusCode::NOT_FOUND, "event_not_found", e.to_string())
            }
            WebhookError::EventNotForWebhook(_) => V2Error::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "event_not_for_webhook",
                e.to_string(),
            ),
            WebhookError::Invalid(errs) => V2Error::invalid(&errs),
            WebhookError::UriNotAllowed(m) => {
                let mut err = V2Error::new(StatusCode::BAD_REQUEST, "uri_not_allowed", m.clone());
                err.data = Some(json!({"uri": {"not_allowed": {"message": m}}}));
                err
            }
            WebhookError::Stream(_) => {
                tracing::error!(error = %e, "v2 request failed");
                V2Error::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "event_stream_fault",
                    "the event stream could not be written; try again",
                )
            }
            WebhookError::Unseal(_) | WebhookError::Store(_) => {
                tracing::error!(error = %e, "v2 request failed");
                V2Error::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "datastore_fault",
                    "the store could not be read or written; try again",
                )
            }
        }
    }
}

fn request_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

impl IntoResponse for V2Error {
    fn into_response(self) -> Response {
        let rid = request_id();
        let data = self
            .data
            .unwrap_or_else(|| json!({ "message": self.message }));
        let body = json!({
            "status": "error",
            "error": self.status.as_u16().to_string(),
            "message": self.code,
            "code": self.code,
            "data": data,
            "request_id": rid,
        });
        with_request_id(self.status, body, rid)
    }
}

fn with_request_id(status: StatusCode, body: Value, rid: String) -> Response {
    let mut r = (status, Json(body)).into_response();
    if let Ok(v) = HeaderValue::from_str(&rid) {
        r.headers_mut().insert("x-request-id", v);
    }
    r
}

/// A success envelope.
pub fn ok(status: StatusCode, data: Value) -> Response {
    ok_with(status, data, None)
}

/// A success envelope with more top-level fields (`next_start_key`).
pub fn ok_with(status: StatusCode, data: Value, extra: Option<Value>) -> Response {
    let rid = request_id();
    let mut body = json!({ "data": data, "request_id": rid, "status": "success" });
    if let Some(Value::Object(m)) = extra {
        for (k, v) in m {
            body[k] = v;
        }
    }
    with_request_id(status, body, rid)
}

/// The caller's account, checked against the key in `X-Auth-Token`; with
/// `path_account`, that account must be the key's (else 404).
pub async fn caller(
    s: &AppState,
    headers: &HeaderMap,
    path_account: Option<&str>,
) -> Result<(std::sync::Arc<Webhooks>, AccountId), V2Error> {
    let Some(w) = s.webhooks.clone() else {
        return Err(V2Error::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "webhooks are not running on this node",
        ));
    };
    let token = headers
        .get("x-auth-token")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            V2Error::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "an account API key is needed in X-Auth-Token",
            )
        })?;
    let key = w
        .store()
        .api_key_by_secret(token)
        .await
        .map_err(|e| V2Error::from(WebhookError::Store(e)))?
        .ok_or_else(|| {
            V2Error::new(
                StatusCode::UNAUTHORIZED,
                "invalid_credentials",
                "the key in X-Auth-Token is not a live API key",
            )
        })?;
    if key.kind != ApiKeyKind::Developer {
        return Err(V2Error::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!(
                "a {} key cannot use this API; make a developer key",
                key.kind.as_str()
            ),
        ));
    }
    if let Some(a) = path_account {
        if a != key.account_id {
            return Err(V2Error::not_found("account"));
        }
    }
    Ok((w, AccountId::from(key.account_id)))
}

/// A request's document: the `data` of a JSON body (a bare object is taken too).
pub fn document(body: &[u8]) -> Result<Value, V2Error> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(json!({}));
    }
    let v: Value = serde_json::from_slice(body).map_err(|e| {
        V2Error::new(
            StatusCode::BAD_REQUEST,
            "invalid_json",
            format!("the body is not JSON: {e}"),
        )
    })?;
    match v {
        Value::Object(mut m) => Ok(m.remove("data").unwrap_or(Value::Object(m))),
        _ => Err(V2Error::new(
            StatusCode::BAD_REQUEST,
            "invalid_json",
            "the body must be a JSON object {\"data\": {...}}",
        )),
    }
}
