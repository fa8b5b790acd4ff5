//! `/v2/webhooks` (the hook catalogue) and `/v2/accounts/{account_id}/webhooks…`:
//! subscriptions, their attempts log, secret rotation and replays
//! (docs/webhooks.md).

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};

use super::{caller, document, ok, ok_with, V2Error};
use crate::http::AppState;
use crate::store::AttemptRow;
use crate::webhooks::hooks;

type Result<T> = std::result::Result<T, V2Error>;

pub async fn catalogue(State(s): State<AppState>, headers: HeaderMap) -> Result<Response> {
    caller(&s, &headers, None).await?;
    Ok(ok(StatusCode::OK, hooks::catalogue()))
}

pub async fn list(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(account): Path<String>,
) -> Result<Response> {
    let (w, account) = caller(&s, &headers, Some(&account)).await?;
    let subs = w.list(&account).await?;
    Ok(ok(
        StatusCode::OK,
        Value::from(subs.iter().map(|s| s.summary()).collect::<Vec<_>>()),
    ))
}

pub async fn create(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(account): Path<String>,
    body: Bytes,
) -> Result<Response> {
    let (w, account) = caller(&s, &headers, Some(&account)).await?;
    let doc = document(&body)?;
    let (sub, secret) = w.create(&account, &doc).await?;
    let mut data = sub.to_doc();
    data["secret"] = json!(secret);
    Ok(ok(StatusCode::CREATED, data))
}

pub async fn get(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path((account, id)): Path<(String, String)>,
) -> Result<Response> {
    let (w, account) = caller(&s, &headers, Some(&account)).await?;
    Ok(ok(StatusCode::OK, w.get(&account, &id).await?.to_doc()))
}

async fn update(
    s: AppState,
    headers: HeaderMap,
    account: String,
    id: String,
    body: Bytes,
    merge: bool,
) -> Result<Response> {
    let (w, account) = caller(&s, &headers, Some(&account)).await?;
    let doc = document(&body)?;
    Ok(ok(
        StatusCode::OK,
        w.update(&account, &id, &doc, merge).await?.to_doc(),
    ))
}

/// POST: the document replaces the subscription's settings.
pub async fn replace(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path((account, id)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response> {
    update(s, headers, account, id, body, false).await
}

/// PATCH: only the fields named change.
pub async fn patch(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path((account, id)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response> {
    update(s, headers, account, id, body, true).await
}

pub async fn delete(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path((account, id)): Path<(String, String)>,
) -> Result<Response> {
    let (w, account) = caller(&s, &headers, Some(&account)).await?;
    Ok(ok(StatusCode::OK, w.delete(&account, &id).await?.to_doc()))
}

pub async fn rotate(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path((account, id)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response> {
    let (w, account) = caller(&s, &headers, Some(&account)).await?;
    let doc = document(&body)?;
    let grace = match doc.get("grace_seconds") {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_u64() {
            Some(n) if n <= 7 * 24 * 3600 => Some(std::time::Duration::from_secs(n)),
            _ => {
                return Err(V2Error::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_data",
                    "grace_seconds must be a whole number of seconds up to 604800",
                ))
            }
        },
    };
    let (sub, secret, until) = w.rotate(&account, &id, grace).await?;
    let previous_until = (grace != Some(std::time::Duration::ZERO)).then_some(until / 1000);
    Ok(ok(
        StatusCode::OK,
        json!({"id": sub.id.to_string(), "secret": secret, "previous_secret_valid_until": previous_until}),
    ))
}

#[derive(serde::Deserialize)]
pub struct Paging {
    /// Attempts per page (default 50, at most 500).
    limit: Option<u32>,
    /// `next_start_key` of the previous page (`<unix ms>_<attempt id>`).
    start_key: Option<String>,
}

/// A page key: the time and id of the last attempt shown (a bare time, as
/// earlier pages gave, starts before every attempt of that millisecond… and after).
fn page_key(k: &str) -> Option<(i64, &str)> {
    match k.split_once('_') {
        Some((at, id)) => Some((at.parse().ok()?, id)),
        // every attempt of that millisecond and before
        None => Some((k.parse::<i64>().ok()?.checked_add(1)?, "")),
    }
}

fn attempt_doc(a: &AttemptRow) -> Value {
    json!({
        "id": a.id,
        "hook_id": a.webhook_id,
        "event_id": a.event_seq.to_string(),
        "event_name": a.event_name,
        "attempt": a.attempt,
        "timestamp": a.at / 1000,
        "timestamp_ms": a.at,
        "result": a.result,
        "response_code": a.status_code,
        "latency_ms": a.latency_ms,
        "reason": a.error,
        "response_body": a.response,
        "retries_left": a.retries_left,
    })
}

async fn attempts_page(
    s: AppState,
    headers: HeaderMap,
    account: String,
    id: Option<String>,
    p: Paging,
) -> Result<Response> {
    let (w, account) = caller(&s, &headers, Some(&account)).await?;
    let limit = p.limit.unwrap_or(50).clamp(1, 500);
    let before = match p.start_key.as_deref() {
        None => None,
        Some(k) => Some(page_key(k).ok_or_else(|| {
            V2Error::new(
                StatusCode::BAD_REQUEST,
                "invalid_start_key",
                "start_key must be a next_start_key this API gave",
            )
        })?),
    };
    let rows = w
        .attempts(&account, id.as_deref(), before, limit + 1)
        .await?;
    let more = rows.len() > limit as usize;
    let page: Vec<Value> = rows.iter().take(limit as usize).map(attempt_doc).collect();
    // the next page starts before the oldest attempt shown
    let next = more
        .then(|| {
            rows.get(limit as usize - 1)
                .map(|a| format!("{}_{}", a.at, a.id))
        })
        .flatten();
    let extra = next.map(|n| json!({ "next_start_key": n }));
    Ok(ok_with(StatusCode::OK, Value::from(page), extra))
}

pub async fn attempts(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path((account, id)): Path<(String, String)>,
    Query(p): Query<Paging>,
) -> Result<Response> {
    attempts_page(s, headers, account, Some(id), p).await
}

pub async fn account_attempts(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(account): Path<String>,
    Query(p): Query<Paging>,
) -> Result<Response> {
    attempts_page(s, headers, account, None, p).await
}

fn queued(webhook: String, seq: u64) -> Response {
    ok(
        StatusCode::ACCEPTED,
        json!({"webhook_id": webhook, "event_id": seq.to_string(), "state": "queued"}),
    )
}

pub async fn replay_attempt(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path((account, id, attempt)): Path<(String, String, String)>,
) -> Result<Response> {
    let (w, account) = caller(&s, &headers, Some(&account)).await?;
    let (sub, seq) = w.replay_attempt(&account, &id, &attempt).await?;
    Ok(queued(sub.id.to_string(), seq))
}

/// `POST …/{webhook_id}/replay` with `{"data": {"event_id": "…"}}`.
pub async fn replay_event(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path((account, id)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response> {
    let (w, account) = caller(&s, &headers, Some(&account)).await?;
    let doc = document(&body)?;
    let seq = match &doc["event_id"] {
        Value::String(s) => s.parse::<u64>().ok(),
        Value::Number(n) => n.as_u64(),
        _ => None,
    }
    .ok_or_else(|| {
        V2Error::new(
            StatusCode::BAD_REQUEST,
            "invalid_data",
            "event_id must be an event id from the log",
        )
    })?;
    let sub = w.replay_event(&account, &id, seq).await?;
    Ok(queued(sub.id.to_string(), seq))
}
