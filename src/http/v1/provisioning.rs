//! Browser voice provisioning (seed 000, `/api/v1/voice/provisioning*`):
//! what the agent page needs to register over secure WebSocket.
//!
//! - `POST /api/v1/voice/provisioning/session` `{extension, password[, account_id]}`
//!   → a provisioning token (`sy_prov_…`, 12 h), after the same brute-force
//!   guard as SIP digest;
//! - `GET /api/v1/voice/provisioning` (Bearer token) → WSS URL, SIP URI,
//!   a short-lived SIP credential ([`crate::sip::ephemeral`], 1 h), ICE
//!   servers, and the agent's queue state;
//! - `POST /api/v1/voice/provisioning/presence` `{state: available|paused, reason}`;
//! - `GET /api/v1/voice/provisioning/calls` → the extension's recent calls.
//!
//! Tokens are signed with the extension's password: stateless, valid across
//! restarts and nodes, and void once the password changes.

use axum::extract::{ConnectInfo, State};
use axum::http::HeaderMap;
use axum::Json;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::Sha256;
use std::net::SocketAddr;
use std::sync::Arc;

use super::{V1Code, V1Error};
use crate::http::AppState;
use crate::store::Extension;
use crate::switch::Switch;

/// How long a provisioning token lasts (an agent's day).
const TOKEN_SECS: u64 = 12 * 3600;
/// How long a SIP credential lasts (the page renews it before).
const CREDENTIAL_SECS: u64 = 3600;

/// What browsers are told besides their credentials.
#[derive(Clone, Debug, Default)]
pub struct Config {
    /// `wss://host:port` of `--sip-wss` (or `--wss-url`).
    pub wss_url: Option<String>,
    /// `stun:`/`turn:` URLs for the browser.
    pub ice_servers: Vec<String>,
}

fn unix_secs() -> u64 {
    (crate::events::now_ms() / 1000).max(0) as u64
}

fn rfc3339(secs: u64) -> String {
    crate::http::v3::iso(secs as i64 * 1000)
}

fn signature(password: &str, account: &str, ext: &str, expires: u64) -> String {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(password.as_bytes()) else {
        return String::new();
    };
    mac.update(format!("switchyard-provisioning:{account}:{ext}:{expires}").as_bytes());
    hex::encode(&mac.finalize().into_bytes()[..16])
}

fn token(ext: &Extension, expires: u64) -> String {
    let sig = signature(&ext.password, &ext.account_id, &ext.number, expires);
    format!("sy_prov_{}.{}.{expires}.{sig}", ext.account_id, ext.number)
}

fn switch(state: &AppState) -> Result<&Arc<Switch>, V1Error> {
    state
        .sw
        .as_ref()
        .ok_or_else(|| V1Error::new(V1Code::Unavailable, "the switch is not running"))
}

/// The extension a request's Bearer token is for.
fn authorize(state: &AppState, headers: &HeaderMap) -> Result<Extension, V1Error> {
    let sw = switch(state)?;
    let raw = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .ok_or_else(|| V1Error::new(V1Code::AuthRequired, "send Authorization: Bearer <token>"))?;
    let invalid = || V1Error::new(V1Code::AuthInvalid, "unknown or expired token");
    let body = raw.trim().strip_prefix("sy_prov_").ok_or_else(invalid)?;
    let mut parts = body.rsplitn(4, '.');
    let (sig, expires, ext, account) = (
        parts.next().ok_or_else(invalid)?,
        parts.next().ok_or_else(invalid)?,
        parts.next().ok_or_else(invalid)?,
        parts.next().ok_or_else(invalid)?,
    );
    let expires: u64 = expires.parse().map_err(|_| invalid())?;
    if expires < unix_secs() {
        return Err(invalid());
    }
    let dir = sw.directory();
    let e = dir.extension(account, ext).ok_or_else(invalid)?;
    let want = signature(&e.password, account, ext, expires);
    if !constant_eq(want.as_bytes(), sig.as_bytes()) {
        return Err(invalid());
    }
    Ok(e.clone())
}

fn constant_eq(a: &[u8], b: &[u8]) -> bool {
    subtle::ConstantTimeEq::ct_eq(a, b).into()
}

#[derive(Deserialize)]
pub struct SessionRequest {
    extension: Option<String>,
    password: Option<String>,
    account_id: Option<String>,
}

/// `POST /api/v1/voice/provisioning/session`
pub async fn session(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: Result<Json<SessionRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<Value>, V1Error> {
    let Json(req) = body.map_err(|e| V1Error::new(V1Code::Validation, e.body_text()))?;
    let sw = switch(&state)?;
    let ext = req
        .extension
        .filter(|e| !e.trim().is_empty())
        .ok_or_else(|| V1Error::field("extension", "extension is required"))?;
    let password = req
        .password
        .ok_or_else(|| V1Error::field("password", "password is required"))?;
    let now = std::time::Instant::now();
    if sw.limiter.is_blocked(peer.ip(), now) {
        return Err(V1Error::new(
            V1Code::AuthInvalid,
            "too many failed logins from this address; try again later",
        ));
    }
    let dir = sw.directory();
    let account = match req.account_id.as_deref() {
        Some(a) => dir.account(a),
        None => dir.default_account(),
    };
    let found = account
        .and_then(|a| dir.extension(&a.id, ext.trim()))
        .filter(|e| constant_eq(e.password.as_bytes(), password.as_bytes()));
    let Some(e) = found else {
        sw.limiter.record_failure(peer.ip(), now);
        return Err(V1Error::new(
            V1Code::AuthInvalid,
            "wrong extension or password",
        ));
    };
    sw.limiter.record_success(peer.ip());
    let expires = unix_secs() + TOKEN_SECS;
    Ok(Json(json!({
        "token": token(e, expires),
        "expires_at": rfc3339(expires),
    })))
}

/// The agent's state in its queues: the busiest meaning wins (on a call,
/// ringing, wrap-up, paused, available), `logged_out` in none.
fn agent(state: &AppState, ext: &Extension) -> Value {
    let snap = state.acd.snapshot();
    let mut queues = Vec::new();
    let mut status: Option<(u8, String)> = None;
    let mut reason = None;
    for ((account, queue), q) in snap.queues.iter() {
        if account.as_str() != ext.account_id {
            continue;
        }
        let Some(a) = q.agents.iter().find(|a| a.extension.as_str() == ext.number) else {
            continue;
        };
        queues.push(queue.to_string());
        let name = serde_json::to_value(a.status)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        let rank = match name.as_str() {
            "on_call" => 6,
            "ringing" => 5,
            "wrap_up" => 4,
            "paused" => 3,
            "available" => 2,
            "unreachable" => 1,
            _ => 0,
        };
        if status.as_ref().is_none_or(|(r, _)| rank > *r) {
            status = Some((rank, name));
        }
        if a.pause_reason.is_some() {
            reason = a.pause_reason.clone();
        }
    }
    queues.sort();
    json!({
        "state": status.map(|s| s.1).unwrap_or_else(|| "logged_out".into()),
        "reason": reason,
        "queues": queues,
    })
}

/// `GET /api/v1/voice/provisioning`
pub async fn provisioning(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Value>, V1Error> {
    let ext = authorize(&state, &headers)?;
    let sw = switch(&state)?;
    let dir = sw.directory();
    let domain = dir
        .account(&ext.account_id)
        .map(|a| a.sip_domain.clone())
        .unwrap_or_default();
    let expires = unix_secs() + CREDENTIAL_SECS;
    let user = crate::sip::ephemeral::username(&ext.number, expires);
    let password = crate::sip::ephemeral::password(&ext.password, &user);
    let cfg = &state.provisioning;
    let ice: Vec<Value> = cfg
        .ice_servers
        .iter()
        .map(|u| json!({"urls": [u]}))
        .collect();
    Ok(Json(json!({
        "extension": ext.number,
        "display_name": ext.display_name,
        "account_id": ext.account_id,
        "sip_uri": format!("sip:{}@{domain}", ext.number),
        "authorization_user": user,
        "password": password,
        "realm": domain,
        "wss_url": cfg.wss_url,
        "expires_at": rfc3339(expires),
        "ice_servers": ice,
        "agent": agent(&state, &ext),
    })))
}

#[derive(Deserialize)]
pub struct PresenceRequest {
    state: Option<String>,
    reason: Option<String>,
}

/// `POST /api/v1/voice/provisioning/presence`
pub async fn presence(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Json<PresenceRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<Value>, V1Error> {
    let ext = authorize(&state, &headers)?;
    let Json(req) = body.map_err(|e| V1Error::new(V1Code::Validation, e.body_text()))?;
    let key = (ext.account_id.as_str().into(), ext.number.as_str().into());
    let wanted = req.state.clone();
    match req.state.as_deref() {
        Some("available") => {
            state.acd.pause(key, None).await;
        }
        Some("paused") => {
            let reason = req
                .reason
                .filter(|r| !r.trim().is_empty())
                .unwrap_or_else(|| "break".into());
            if reason.len() > 64 {
                return Err(V1Error::field("reason", "at most 64 characters"));
            }
            state.acd.pause(key, Some(reason)).await;
        }
        _ => {
            return Err(V1Error::field(
                "state",
                "state must be \"available\" or \"paused\"",
            ))
        }
    }
    // the queue engine's next snapshot shows it (within about 100 ms)
    let until = std::time::Instant::now() + std::time::Duration::from_secs(1);
    loop {
        let now = agent(&state, &ext);
        let paused = now["state"] == "paused";
        let settled = match wanted.as_deref() {
            Some("paused") => paused,
            _ => !paused && now["state"] != "unreachable",
        };
        if settled || std::time::Instant::now() > until {
            return Ok(Json(now));
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// `GET /api/v1/voice/provisioning/calls`
pub async fn calls(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Value>, V1Error> {
    let ext = authorize(&state, &headers)?;
    let sw = switch(&state)?;
    let cdrs = sw
        .store
        .list_cdrs_for(&ext.account_id, &ext.number, 20)
        .await
        .map_err(|e| V1Error::new(V1Code::Internal, e.to_string()))?;
    let list: Vec<Value> = cdrs
        .iter()
        .map(|c| {
            let outbound = c.caller == ext.number;
            json!({
                "call_id": c.call_id,
                "direction": if outbound { "outbound" } else { "inbound" },
                "from": c.caller,
                "to": c.callee,
                "started_at": rfc3339((c.started_at / 1000) as u64),
                "duration_s": c.billsec_ms / 1000,
                "status": if c.answered_at.is_some() { "answered" } else { "missed" },
            })
        })
        .collect();
    Ok(Json(Value::Array(list)))
}
