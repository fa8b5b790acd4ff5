//! `Idempotency-Key` on the voice API's POSTs: the first request with a key
//! claims it in the store and acts; the same key with the same body (within
//! 24 hours, across restarts) gets the first answer back — a twin racing the
//! first waits for it — and starts nothing; the same key with another body is
//! 422 IDEMPOTENCY_CONFLICT. Scoped by account and route. A 5xx answer frees
//! the key, so a retry may succeed.

use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::{envelope, ApiError, Ctx, ErrorCode};
use crate::store::Claim;

/// A handler's success: its status, message and result.
pub struct Answer {
    pub status: StatusCode,
    pub message: &'static str,
    pub result: Value,
}

/// How long a twin waits for the first request's answer.
const WAIT: Duration = Duration::from_secs(15);

/// Runs `act` once per idempotency key (when the request has one).
pub async fn once<F, Fut>(
    ctx: &Ctx,
    headers: &HeaderMap,
    route: &str,
    body: &[u8],
    act: F,
) -> Result<Response, ApiError>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<Answer, ApiError>>,
{
    let Some(key) = headers.get("idempotency-key") else {
        return act().await.map(render);
    };
    let key = key
        .to_str()
        .ok()
        .map(str::trim)
        .filter(|k| (1..=255).contains(&k.len()))
        .ok_or_else(|| ApiError::bad_request("Idempotency-Key must be 1 to 255 characters"))?
        .to_string();
    let scope = format!("{}:{route}", ctx.account);
    let hash = body_hash(body);
    let store = &ctx.sw.store;
    match store
        .claim_idempotent_waiting(&scope, &key, &hash, WAIT)
        .await?
    {
        Claim::Fresh => {}
        Claim::Mismatch => {
            return Err(ApiError::new(
                ErrorCode::IdempotencyConflict,
                "this Idempotency-Key was used with a different body",
            ))
        }
        Claim::Done(status, body) => return Ok(replay(status, body)),
        Claim::Running => {
            return Err(ApiError::unavailable(
                "a request with this Idempotency-Key is still running; retry later",
            ))
        }
    }
    let outcome = act().await;
    let (status, text) = match &outcome {
        Ok(a) => (a.status, envelope(a.message, a.result.clone()).to_string()),
        Err(e) => (e.code.status(), String::new()),
    };
    if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
        store.release_idempotent(&scope, &key).await?;
        return outcome.map(render);
    }
    let resp = match outcome {
        Ok(a) => {
            store
                .finish_idempotent(&scope, &key, status.as_u16(), &text)
                .await?;
            render(a)
        }
        Err(e) => {
            let resp = e.into_response();
            let (parts, body) = resp.into_parts();
            let bytes = axum::body::to_bytes(body, 1 << 20)
                .await
                .unwrap_or_default();
            store
                .finish_idempotent(
                    &scope,
                    &key,
                    parts.status.as_u16(),
                    &String::from_utf8_lossy(&bytes),
                )
                .await?;
            Response::from_parts(parts, axum::body::Body::from(bytes))
        }
    };
    Ok(resp)
}

fn render(a: Answer) -> Response {
    (a.status, axum::Json(envelope(a.message, a.result))).into_response()
}

fn replay(status: u16, body: String) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    let mut r = (status, body).into_response();
    let h = r.headers_mut();
    h.insert("content-type", HeaderValue::from_static("application/json"));
    h.insert("idempotent-replayed", HeaderValue::from_static("true"));
    r
}

/// The body's SHA-256, over its canonical JSON when it is JSON (so key order
/// and spacing do not make two bodies differ).
fn body_hash(body: &[u8]) -> String {
    let canonical = serde_json::from_slice::<Value>(body)
        .map(|v| v.to_string().into_bytes())
        .unwrap_or_else(|_| body.to_vec());
    hex::encode(Sha256::digest(&canonical))
}

#[cfg(test)]
mod tests {
    #[test]
    fn equal_json_hashes_equal() {
        let a = super::body_hash(br#"{"from":"1001","to":"+15551234567"}"#);
        let b = super::body_hash(b"{ \"to\": \"+15551234567\", \"from\": \"1001\" }");
        let c = super::body_hash(br#"{"from":"1002","to":"+15551234567"}"#);
        assert_eq!(a, b);
        assert_ne!(a, c);
    }
}
