//! Operator routes for account API keys (same access rule and error shape as
//! the other operator routes): `POST /admin/accounts/{account_id}/keys`
//! makes one — `{"type": "developer"|"user"|"merchant", "label", "extension",
//! "scopes"}` — and answers the key once (201); `GET` lists the account's
//! keys (prefix, label, scopes, created, last used; never a key);
//! `DELETE …/keys/{key_id}` revokes one: refused on this node at once, and on
//! every node by the time the answer comes (it waits out `KEY_TRUST`).

use std::net::SocketAddr;

use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use super::operator::{allowed, switch, OpError};
use super::AppState;
use crate::events::now_ms;
use crate::store::{ApiKeyKind, KeyRefusal, NewApiKey};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MakeKey {
    #[serde(rename = "type")]
    kind: String,
    label: Option<String>,
    extension: Option<String>,
    scopes: Option<Vec<String>>,
}

fn store_failed(e: crate::store::StoreError) -> OpError {
    tracing::error!(error = %e, "key route: the store failed");
    OpError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "datastore_fault",
        "the store could not be read or written; try again",
    )
}

/// `POST /admin/accounts/{account_id}/keys`.
pub async fn create(
    State(s): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(account): Path<String>,
    body: Result<Json<MakeKey>, JsonRejection>,
) -> Result<Response, OpError> {
    allowed(&s, peer, &headers)?;
    let sw = switch(&s)?;
    let Json(req) =
        body.map_err(|e| OpError::new(StatusCode::BAD_REQUEST, "invalid_request", e.body_text()))?;
    let kind = match req.kind.as_str() {
        "developer" => ApiKeyKind::Developer,
        "user" => ApiKeyKind::User,
        "merchant" => ApiKeyKind::Merchant,
        other => {
            return Err(OpError::new(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                format!("type {other:?}: developer, user or merchant"),
            ))
        }
    };
    let new = NewApiKey {
        account_id: &account,
        kind,
        label: req.label.as_deref(),
        extension: req.extension.as_deref(),
        scopes: req.scopes.clone(),
    };
    let (key, secret) = sw
        .store
        .create_checked_api_key(&new, now_ms())
        .await
        .map_err(store_failed)?
        .map_err(|why| {
            let (status, code) = match why {
                KeyRefusal::UnknownAccount(_) => (StatusCode::NOT_FOUND, "unknown_account"),
                _ => (StatusCode::BAD_REQUEST, "invalid_request"),
            };
            OpError::new(status, code, why.to_string())
        })?;
    let mut out = serde_json::to_value(&key).unwrap_or_default();
    out["key"] = json!(secret);
    if kind == ApiKeyKind::Merchant {
        let paired = sw
            .store
            .attach_key_secret(&key.id)
            .await
            .map_err(store_failed)?;
        out["secret"] = json!(paired);
    }
    Ok((StatusCode::CREATED, Json(out)).into_response())
}

/// `GET /admin/accounts/{account_id}/keys`.
pub async fn list(
    State(s): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(account): Path<String>,
) -> Result<Response, OpError> {
    allowed(&s, peer, &headers)?;
    let sw = switch(&s)?;
    if sw
        .store
        .account(&account)
        .await
        .map_err(store_failed)?
        .is_none()
    {
        return Err(OpError::new(
            StatusCode::NOT_FOUND,
            "unknown_account",
            "no such account",
        ));
    }
    let keys = sw
        .store
        .list_api_keys(&account)
        .await
        .map_err(store_failed)?;
    Ok(Json(json!({ "keys": keys })).into_response())
}

/// `DELETE /admin/accounts/{account_id}/keys/{key_id}`: 204, or 404.
pub async fn revoke(
    State(s): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path((account, id)): Path<(String, String)>,
) -> Result<Response, OpError> {
    allowed(&s, peer, &headers)?;
    let sw = switch(&s)?;
    let done = sw
        .store
        .revoke_account_api_key(&account, &id, now_ms())
        .await
        .map_err(store_failed)?;
    if done {
        // refused here at once; other nodes trust what they looked up a moment longer
        s.voice.keys.forget(&id);
        tokio::time::sleep(crate::store::KEY_TRUST).await;
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(OpError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "no live key with that id in the account",
        ))
    }
}
