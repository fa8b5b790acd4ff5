//! Click-to-call: `POST /call/outbound` rings the `from` extension's devices;
//! when the user answers, the switch dials `to` (through the account's trunk
//! with the caller ID, or an extension) and bridges them, recording when
//! asked. It answers at once (`initiating`); USER_ANSWER, USER_DIAL,
//! USER_HANGUP and CALL_ENDED follow as events. `GET /calls/{call_id}` reads
//! the call's progress, which [`Placed`] follows from the event log;
//! `DELETE /calls/{call_id}` hangs it up.

use std::sync::Arc;

use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use dashmap::DashMap;
use serde_json::Value;

use super::idempotency::{once, Answer};
use super::schema::{CallDetails, CallHangup, CallStarted};
#[allow(unused_imports)]
use super::schema::{Envelope, OutboundCall};
use super::Body;
use super::{iso, ok, ApiError, Ctx};
use crate::call::b2bua::{originate, ClickToCall, Originate, OriginateError};
use crate::call::plan::{route, Destination};
use crate::events::now_ms;
use crate::http::AppState;
use crate::ids::CallId;
use crate::switch::CallInput;

/// One call the API placed, as its events tell it.
#[derive(Debug, Clone)]
pub struct PlacedCall {
    pub account: String,
    pub from: String,
    pub to: String,
    pub caller_id: Option<String>,
    pub recording: bool,
    pub created_ms: i64,
    /// `initiating`, `dialing` (the user answered), `in-progress` (bridged),
    /// `completed`, `failed` (never bridged).
    pub status: &'static str,
    pub answered_ms: Option<i64>,
    pub bridged_ms: Option<i64>,
    pub ended_ms: Option<i64>,
    pub duration_secs: Option<i64>,
    pub hangup_cause: Option<String>,
}

/// The calls placed through the API (a day's worth), updated from the event log.
#[derive(Default)]
pub struct Placed(DashMap<CallId, PlacedCall>);

const KEEP_MS: i64 = 24 * 60 * 60 * 1000;

impl Placed {
    fn insert(&self, id: CallId, call: PlacedCall) {
        if self.0.len() > 10_000 {
            let old = now_ms() - KEEP_MS;
            self.0.retain(|_, c| c.created_ms > old);
        }
        self.0.insert(id, call);
    }

    /// Follows one logged event (a no-op for calls the API did not place).
    pub fn follow(&self, name: &str, json: &str) {
        if self.0.is_empty()
            || !matches!(
                name,
                "USER_ANSWER" | "channel_bridge" | "channel_destroy" | "CALL_ENDED"
            )
        {
            return;
        }
        // the call's id read off the text first: only a call placed here is parsed
        let id = ["\"call_id\":\"", "\"uniqueid\":\""]
            .iter()
            .find_map(|marker| {
                let at = json.find(marker)? + marker.len();
                json.get(at..at + 36)?.parse::<CallId>().ok()
            });
        let Some(mut c) = id.and_then(|id| self.0.get_mut(&id)) else {
            return;
        };
        let Ok(v) = serde_json::from_str::<Value>(json) else {
            return;
        };
        let at = v["timestamp_ms"].as_i64().unwrap_or_else(now_ms);
        match name {
            "USER_ANSWER" if c.status == "initiating" => {
                c.status = "dialing";
                c.answered_ms = Some(at);
            }
            "channel_bridge" if c.ended_ms.is_none() => {
                c.status = "in-progress";
                c.bridged_ms.get_or_insert(at);
            }
            "channel_destroy" => {
                if let Some(cause) = v["hangup_cause"].as_str() {
                    c.hangup_cause.get_or_insert_with(|| cause.to_string());
                }
            }
            "CALL_ENDED" => {
                c.status = if c.bridged_ms.is_some() {
                    "completed"
                } else {
                    "failed"
                };
                c.ended_ms = Some(at);
                c.duration_secs = v["metadata"]["duration"].as_i64();
            }
            _ => {}
        }
    }

    fn get(&self, id: &CallId) -> Option<PlacedCall> {
        self.0.get(id).map(|c| c.clone())
    }

    /// Follows the event log from now on, for as long as it lives.
    pub fn track(self: &Arc<Self>, log: Arc<crate::events::EventLog>) {
        let me = self.clone();
        let from = log.latest();
        let mut reader = crate::store::event_log::LogReader::new(log, None, from);
        tokio::spawn(async move {
            while let Some(r) = reader.next().await {
                me.follow(&r.name, &r.json);
            }
        });
    }
}

/// A field given as a string or a number.
fn text(v: &Value, field: &str) -> Result<Option<String>, ApiError> {
    match &v[field] {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s.trim().to_string())),
        Value::Number(n) => Ok(Some(n.to_string())),
        _ => Err(ApiError::bad_request(format!("{field} must be a string"))),
    }
}

fn dialable(s: &str) -> bool {
    let digits = s.strip_prefix('+').unwrap_or(s);
    (1..=32).contains(&s.len())
        && !digits.is_empty()
        && digits
            .bytes()
            .all(|b| b.is_ascii_digit() || b == b'*' || b == b'#')
}

/// `POST /call/outbound` (developer key, `calls:write`).
#[utoipa::path(
    post,
    path = "/v3/voice/{account_id}/call/outbound",
    tag = "calls",
    summary = "Click-to-call: ring the extension, then dial the number",
    params(("account_id" = String, Path, description = "The account's id (`demo`)"), ("Idempotency-Key" = Option<String>, Header, min_length = 1, max_length = 255, description = "Retries with the same key and body get the first answer")),
    request_body = OutboundCall,
    security(("api_key" = [])),
    responses((status = 200, description = "Success", body = Envelope<CallStarted>))
)]
pub async fn outbound(ctx: Ctx, headers: HeaderMap, body: Body) -> Result<Response, ApiError> {
    let body = super::body_bytes(body)?;
    let s = ctx.state.clone();
    let account = ctx.account.clone();
    ctx.developer("calls:write")?;
    let v = super::json_object(&body)?;
    let from = text(&v, "from")?.ok_or_else(|| ApiError::bad_request("from is required"))?;
    let to = text(&v, "to")?.ok_or_else(|| ApiError::bad_request("to is required"))?;
    let caller_id = text(&v, "caller_id")?.filter(|c| !c.is_empty());
    let recording = match &v["recording"] {
        Value::Null => false,
        Value::Bool(b) => *b,
        _ => return Err(ApiError::bad_request("recording must be true or false")),
    };
    if ctx.dir.extension(&account, &from).is_none() {
        return Err(ApiError::bad_request(format!(
            "from: {from:?} is not an extension of the account"
        )));
    }
    if !dialable(&to) {
        return Err(ApiError::bad_request(
            "to: a number of 1 to 32 digits (a leading + allowed)",
        ));
    }
    if let Some(c) = &caller_id {
        if !dialable(c) {
            return Err(ApiError::bad_request(
                "caller_id: a number of 1 to 32 digits (a leading + allowed)",
            ));
        }
    }
    match route(&ctx.dir, &account, &to) {
        Destination::Nowhere(cause) => {
            return Err(ApiError::bad_request(format!(
                "to: {to:?} is not a number the account can call ({})",
                serde_json::to_value(cause)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default()
            )))
        }
        Destination::Extension { number } if number == from => {
            return Err(ApiError::bad_request("to: an extension cannot call itself"))
        }
        _ => {}
    }
    let ctx = &ctx;
    once(ctx, &headers, "call/outbound", &body, || async move {
        let handle = originate(
            &ctx.sw,
            &s.acd,
            Originate {
                account: account.clone(),
                to: from.clone(),
                connect: to.clone(),
                caller_id: caller_id.clone(),
                caller_name: None,
                click: Some(ClickToCall {
                    to: to.clone(),
                    record: recording,
                }),
            },
        )
        .map_err(|e| match e {
            OriginateError::NotRegistered(_) => ApiError::bad_request(format!(
                "from: extension {from} has no registered device to ring"
            )),
            other => ApiError::bad_request(other.to_string()),
        })?;
        let now = now_ms();
        s.voice.placed.insert(
            handle.id,
            PlacedCall {
                account: account.clone(),
                from: from.clone(),
                to: to.clone(),
                caller_id,
                recording,
                created_ms: now,
                status: "initiating",
                answered_ms: None,
                bridged_ms: None,
                ended_ms: None,
                duration_secs: None,
                hangup_cause: None,
            },
        );
        Ok(Answer {
            status: StatusCode::OK,
            message: "Call initiated successfully",
            result: serde_json::to_value(CallStarted {
                call_id: handle.id.to_string(),
                status: "initiating".into(),
                from: from.clone(),
                to: to.clone(),
                timestamp: iso(now),
            })
            .unwrap_or_default(),
        })
    })
    .await
}

/// The call a path names, placed through the API by this account.
fn placed(s: &AppState, ctx: &Ctx, raw: &str) -> Result<(CallId, PlacedCall), ApiError> {
    let id: CallId = raw.parse().map_err(|_| ApiError::not_found("call"))?;
    let call = s
        .voice
        .placed
        .get(&id)
        .filter(|c| c.account == ctx.account)
        .ok_or_else(|| ApiError::not_found("call"))?;
    Ok((id, call))
}

/// `GET /calls/{call_id}` (developer key, `calls:read`).
#[utoipa::path(
    get,
    path = "/v3/voice/{account_id}/calls/{call_id}",
    tag = "calls",
    summary = "A placed call's progress",
    params(("account_id" = String, Path, description = "The account's id (`demo`)"), ("call_id" = String, Path, description = "The call's id (from `/call/outbound`)")),
    security(("api_key" = [])),
    responses((status = 200, description = "Success", body = Envelope<CallDetails>))
)]
pub async fn show(ctx: Ctx) -> Result<Response, ApiError> {
    let s = ctx.state.clone();
    let call_id = ctx.param("call_id");
    ctx.developer("calls:read")?;
    let (id, c) = match placed(&s, &ctx, &call_id) {
        Ok(found) => found,
        // not followed by this process (placed before a restart): its record, once over
        Err(missing) => return ended(&ctx, &call_id).await?.ok_or(missing),
    };
    let talk = c
        .bridged_ms
        .map(|b| (c.ended_ms.unwrap_or_else(now_ms) - b).max(0) / 1000);
    Ok(ok(
        "Call details",
        CallDetails {
            call_id: id.to_string(),
            status: c.status.into(),
            from: c.from,
            to: c.to,
            caller_id: c.caller_id,
            recording: c.recording,
            created_at: iso(c.created_ms),
            answered_at: c.answered_ms.map(iso),
            bridged_at: c.bridged_ms.map(iso),
            ended_at: c.ended_ms.map(iso),
            call_seconds: talk,
            duration: c.duration_secs,
            hangup_cause: c.hangup_cause,
        },
    ))
}

/// A call of the account that is over, from its detail record.
async fn ended(ctx: &Ctx, raw: &str) -> Result<Option<Response>, ApiError> {
    let Ok(id) = raw.parse::<CallId>() else {
        return Ok(None);
    };
    let store = &ctx.sw.store;
    let Some(cdr) = store
        .cdr(&id.to_string())
        .await?
        .filter(|c| c.account_id == ctx.account)
    else {
        return Ok(None);
    };
    let recorded = !store.recordings_for_call(&id.to_string()).await?.is_empty();
    Ok(Some(ok(
        "Call details",
        CallDetails {
            call_id: id.to_string(),
            status: if cdr.answered_at.is_some() {
                "completed"
            } else {
                "failed"
            }
            .into(),
            from: cdr.caller,
            to: cdr.callee,
            caller_id: None,
            recording: recorded,
            created_at: iso(cdr.started_at),
            answered_at: cdr.answered_at.map(iso),
            bridged_at: None,
            ended_at: Some(iso(cdr.ended_at)),
            call_seconds: Some(cdr.billsec_ms / 1000),
            duration: Some((cdr.duration_ms + 500) / 1000),
            hangup_cause: Some(cdr.hangup_cause),
        },
    )))
}

/// `DELETE /calls/{call_id}` (developer key, `calls:write`): hangs up every leg.
#[utoipa::path(
    delete,
    path = "/v3/voice/{account_id}/calls/{call_id}",
    tag = "calls",
    summary = "Hang a placed call up",
    params(("account_id" = String, Path, description = "The account's id (`demo`)"), ("call_id" = String, Path, description = "The call's id (from `/call/outbound`)")),
    security(("api_key" = [])),
    responses((status = 200, description = "Success", body = Envelope<CallHangup>))
)]
pub async fn hang_up(ctx: Ctx) -> Result<Response, ApiError> {
    let s = ctx.state.clone();
    let call_id = ctx.param("call_id");
    ctx.developer("calls:write")?;
    let (id, c) = placed(&s, &ctx, &call_id)?;
    let live = ctx.sw.calls_by_id.get(&id).map(|h| h.clone());
    match live {
        Some(h) if c.ended_ms.is_none() => {
            let _ = h.tx.send(CallInput::Hangup);
            Ok(ok(
                "Call hangup requested",
                CallHangup {
                    call_id: id.to_string(),
                    status: "hanging-up".into(),
                },
            ))
        }
        _ => Err(ApiError::not_found("live call")),
    }
}
