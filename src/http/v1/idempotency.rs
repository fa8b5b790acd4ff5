//! `Idempotency-Key` on the merchant API's POSTs that are not message sends
//! (those are admitted in one transaction with their key: `merchant::accept`):
//! the first request with a key claims it in the store and acts; the same
//! key and body within 24 hours (across restarts) gets the first answer back
//! — a racing twin waits for it — and does nothing; another body is 422
//! IDEMPOTENCY_CONFLICT. Keys are scoped by account and route. A 5xx or 429
//! frees the key, so a retry may succeed.

use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::{V1Code, V1Error};
use crate::store::{Claim, Store};

/// How long a twin waits for the first request's answer.
const WAIT: Duration = Duration::from_secs(15);

/// The key a request carries (1 to 255 characters), if any.
pub fn key_of(headers: &HeaderMap) -> Result<Option<String>, V1Error> {
    let Some(v) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    v.to_str()
        .ok()
        .map(str::trim)
        .filter(|k| (1..=255).contains(&k.len()))
        .map(|k| Some(k.to_string()))
        .ok_or_else(|| {
            V1Error::new(
                V1Code::Validation,
                "Idempotency-Key must be 1 to 255 characters",
            )
        })
}

/// The body's SHA-256 over its canonical JSON (key order and spacing do not count).
pub fn body_hash(body: &[u8]) -> String {
    let canonical = serde_json::from_slice::<Value>(body)
        .map(|v| v.to_string().into_bytes())
        .unwrap_or_else(|_| body.to_vec());
    hex::encode(Sha256::digest(&canonical))
}

/// The scope of a key: the account and the route.
pub fn scope(account: &str, route: &str) -> String {
    format!("v1:{account}:{route}")
}

/// A kept answer, replayed.
pub fn replay(status: u16, body: String) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    let mut r = (status, body).into_response();
    let h = r.headers_mut();
    h.insert("content-type", HeaderValue::from_static("application/json"));
    h.insert("idempotent-replayed", HeaderValue::from_static("true"));
    r
}

/// Runs `act` once per key (when the request has one); `act` answers (status, JSON).
pub async fn once<F, Fut>(
    store: &Store,
    account: &str,
    headers: &HeaderMap,
    route: &str,
    body: &[u8],
    act: F,
) -> Result<Response, V1Error>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<(StatusCode, Value), V1Error>>,
{
    let render = |(st, v): (StatusCode, Value)| (st, axum::Json(v)).into_response();
    let Some(key) = key_of(headers)? else {
        return act().await.map(render);
    };
    let scope = scope(account, route);
    let hash = body_hash(body);
    match store
        .claim_idempotent_waiting(&scope, &key, &hash, WAIT)
        .await?
    {
        Claim::Fresh => {}
        Claim::Mismatch => {
            return Err(V1Error::new(
                V1Code::IdempotencyConflict,
                "this Idempotency-Key was used with a different body",
            ))
        }
        Claim::Done(status, body) => return Ok(replay(status, body)),
        Claim::Running => {
            return Err(V1Error::new(
                V1Code::Unavailable,
                "a request with this Idempotency-Key is still running; retry later",
            ))
        }
    }
    let outcome = act().await;
    let status = match &outcome {
        Ok((st, _)) => *st,
        Err(e) => e.code.status(),
    };
    if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
        store.release_idempotent(&scope, &key).await?;
        return outcome.map(render);
    }
    let resp = match outcome {
        Ok(ok) => render(ok),
        Err(e) => e.into_response(),
    };
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
    Ok(Response::from_parts(parts, axum::body::Body::from(bytes)))
}
