//! Operator routes that steer a live call leg by leg (same access rule and
//! error shape as the other operator routes):
//!
//! - `GET /calls/{call_id}`: the call and its legs (role, number, state, bridge, mix role);
//! - `POST /calls/{call_id}/legs`: dial a new leg — alone, bridged to a leg, or
//!   as a supervisor monitoring a leg (`listen`, `whisper`, `barge`);
//! - `DELETE /calls/{call_id}/legs/{leg_id}`: hang up (or cancel) one leg;
//! - `POST /calls/{call_id}/bridge`: bridge two legs; `POST …/legs/{leg_id}/unbridge`;
//! - `PUT /calls/{call_id}/legs/{leg_id}/mix` (`speak`, `listen`, `whisper` to a leg),
//!   `DELETE` the same to leave the conference;
//! - `POST /calls/{call_id}/legs/{leg_id}/play`: steps (say, play, tone, moh, pause);
//! - `POST /calls/{call_id}/legs/{leg_id}/collect`: digits, answered when collected;
//! - `POST /calls/{call_id}/legs/{leg_id}/record` (`DELETE` to stop): a stereo WAV.

use std::net::SocketAddr;

use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use tokio::sync::oneshot;

use super::operator::{allowed, call_handle, switch, OpError};
use super::AppState;
use crate::dialplan::Step;
use crate::ids::LegId;
use crate::switch::commands::{
    CallCommand, CollectSpec, CommandError, Join, MixMode, MonitorMode, Reply,
};
use crate::switch::CallInput;

/// The longest a collection may wait for a digit.
const MAX_DIGIT_WAIT_MS: u64 = 120_000;

fn bad(message: impl Into<String>) -> OpError {
    OpError::new(StatusCode::BAD_REQUEST, "invalid_request", message)
}

fn refused(e: CommandError) -> OpError {
    let status = match e {
        CommandError::Over | CommandError::UnknownLeg => StatusCode::NOT_FOUND,
        CommandError::UnknownNumber | CommandError::Invalid => StatusCode::UNPROCESSABLE_ENTITY,
        CommandError::NoPorts => StatusCode::SERVICE_UNAVAILABLE,
        CommandError::NotAnswered
        | CommandError::LegBusy
        | CommandError::Collecting
        | CommandError::Unreachable => StatusCode::CONFLICT,
    };
    OpError::new(status, e.code(), e.to_string())
}

/// The access check, the call the path names (404 first), then its leg id.
fn leg_of_call(
    s: &AppState,
    peer: SocketAddr,
    headers: &HeaderMap,
    call: &str,
    leg: &str,
) -> Result<LegId, OpError> {
    allowed(s, peer, headers)?;
    call_handle(switch(s)?, call)?;
    leg_id(leg)
}

fn leg_id(v: &str) -> Result<LegId, OpError> {
    v.parse()
        .map_err(|_| OpError::new(StatusCode::NOT_FOUND, "unknown_leg", "no such leg"))
}

/// Sends a command to the call the path names and waits for its answer.
async fn ask<T>(
    s: &AppState,
    call: &str,
    make: impl FnOnce(Reply<T>) -> CallCommand,
) -> Result<T, OpError> {
    let sw = switch(s)?;
    let (_, handle) = call_handle(sw, call)?;
    let (reply, rx) = oneshot::channel();
    let over = || OpError::new(StatusCode::NOT_FOUND, "not_found", "no such call");
    handle
        .tx
        .send(CallInput::Command(make(reply)))
        .map_err(|_| over())?;
    match rx.await {
        Ok(r) => r.map_err(refused),
        Err(_) => Err(over()),
    }
}

fn json_body<T>(body: Result<Json<T>, JsonRejection>) -> Result<T, OpError> {
    body.map(|Json(b)| b).map_err(|e| bad(e.body_text()))
}

/// `GET /calls/{call_id}`
pub async fn show(
    State(s): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(call): Path<String>,
) -> Result<Response, OpError> {
    allowed(&s, peer, &headers)?;
    let view = ask(&s, &call, |reply| CallCommand::Show { reply }).await?;
    Ok(Json(view).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DialLeg {
    /// An extension of the call's account, or an outside number (E.164).
    number: Option<String>,
    /// Several, rung at once (the first to answer is the leg); instead of `number`.
    numbers: Option<Vec<String>>,
    /// Default 30, at most 300.
    ring_seconds: Option<u32>,
    /// Bridge the new leg to this leg once it answers.
    bridge_to: Option<String>,
    /// Monitor this leg (and whoever it is bridged to) once the new leg answers.
    monitor: Option<String>,
    /// With `monitor`: listen (default), whisper or barge.
    mode: Option<MonitorMode>,
}

/// `POST /calls/{call_id}/legs`: 201 `{"leg_id": …}`; the leg rings on.
pub async fn dial(
    State(s): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(call): Path<String>,
    body: Result<Json<DialLeg>, JsonRejection>,
) -> Result<Response, OpError> {
    allowed(&s, peer, &headers)?;
    let req = json_body(body)?;
    let numbers = match (req.number, req.numbers) {
        (Some(n), None) => vec![n],
        (None, Some(ns)) if (1..=10).contains(&ns.len()) => ns,
        (None, Some(_)) => return Err(bad("`numbers` must hold 1 to 10 numbers")),
        _ => return Err(bad("give `number` or `numbers`")),
    };
    let ok_number = |n: &str| {
        (1..=32).contains(&n.len())
            && n.bytes()
                .enumerate()
                .all(|(i, b)| b.is_ascii_digit() || (i == 0 && b == b'+') || b == b'*')
    };
    if !numbers.iter().all(|n| ok_number(n)) {
        return Err(bad(
            "each number must be 1 to 32 digits (a leading + for E.164)",
        ));
    }
    let ring_secs = req.ring_seconds.unwrap_or(30);
    if !(1..=300).contains(&ring_secs) {
        return Err(bad("`ring_seconds` must be 1 to 300"));
    }
    let join = match (req.bridge_to, req.monitor, req.mode) {
        (Some(_), Some(_), _) => return Err(bad("give `bridge_to` or `monitor`, not both")),
        (Some(_), None, Some(_)) | (None, None, Some(_)) => {
            return Err(bad("`mode` goes with `monitor`"))
        }
        (Some(b), None, None) => Join::Bridge(leg_id(&b)?),
        (None, Some(m), mode) => Join::Monitor {
            leg: leg_id(&m)?,
            mode: mode.unwrap_or(MonitorMode::Listen),
        },
        (None, None, None) => Join::Alone,
    };
    let leg = ask(&s, &call, |reply| CallCommand::Dial {
        numbers,
        ring_secs,
        join,
        reply,
    })
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({ "leg_id": leg })),
    )
        .into_response())
}

/// `DELETE /calls/{call_id}/legs/{leg_id}`: 204.
pub async fn hang_up_leg(
    State(s): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path((call, leg)): Path<(String, String)>,
) -> Result<Response, OpError> {
    let leg = leg_of_call(&s, peer, &headers, &call, &leg)?;
    ask(&s, &call, |reply| CallCommand::HangupLeg { leg, reply }).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BridgeLegs {
    a: String,
    b: String,
}

/// `POST /calls/{call_id}/bridge` `{"a": leg, "b": leg}`: 204.
pub async fn bridge(
    State(s): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(call): Path<String>,
    body: Result<Json<BridgeLegs>, JsonRejection>,
) -> Result<Response, OpError> {
    allowed(&s, peer, &headers)?;
    call_handle(switch(&s)?, &call)?;
    let req = json_body(body)?;
    let (a, b) = (leg_id(&req.a)?, leg_id(&req.b)?);
    ask(&s, &call, |reply| CallCommand::Bridge { a, b, reply }).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST /calls/{call_id}/legs/{leg_id}/unbridge`: 204.
pub async fn unbridge(
    State(s): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path((call, leg)): Path<(String, String)>,
) -> Result<Response, OpError> {
    let leg = leg_of_call(&s, peer, &headers, &call, &leg)?;
    ask(&s, &call, |reply| CallCommand::Unbridge { leg, reply }).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MixRoleName {
    Speak,
    Listen,
    Whisper,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MixLeg {
    role: MixRoleName,
    /// With `whisper`: the one leg that hears this one.
    to: Option<String>,
}

/// `PUT /calls/{call_id}/legs/{leg_id}/mix`: 204.
pub async fn mix(
    State(s): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path((call, leg)): Path<(String, String)>,
    body: Result<Json<MixLeg>, JsonRejection>,
) -> Result<Response, OpError> {
    let leg = leg_of_call(&s, peer, &headers, &call, &leg)?;
    let req = json_body(body)?;
    let role = match (req.role, req.to) {
        (MixRoleName::Whisper, Some(to)) => MixMode::Whisper(leg_id(&to)?),
        (MixRoleName::Whisper, None) => return Err(bad("`whisper` needs `to`")),
        (_, Some(_)) => return Err(bad("`to` goes with `whisper` only")),
        (MixRoleName::Speak, None) => MixMode::Speak,
        (MixRoleName::Listen, None) => MixMode::Listen,
    };
    ask(&s, &call, |reply| CallCommand::Mix {
        leg,
        role: Some(role),
        reply,
    })
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `DELETE /calls/{call_id}/legs/{leg_id}/mix`: 204.
pub async fn unmix(
    State(s): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path((call, leg)): Path<(String, String)>,
) -> Result<Response, OpError> {
    let leg = leg_of_call(&s, peer, &headers, &call, &leg)?;
    ask(&s, &call, |reply| CallCommand::Mix {
        leg,
        role: None,
        reply,
    })
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST /calls/{call_id}/legs/{leg_id}/record`: 201 `{"path": …}`; the
/// leg (left) and what it hears (right), until `DELETE` the same path, another
/// recording or the call's end; then stored and announced as `recording`.
pub async fn record(
    State(s): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path((call, leg)): Path<(String, String)>,
) -> Result<Response, OpError> {
    let leg = leg_of_call(&s, peer, &headers, &call, &leg)?;
    let path = ask(&s, &call, |reply| CallCommand::Record {
        leg,
        on: true,
        reply,
    })
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({ "path": path })),
    )
        .into_response())
}

/// `DELETE /calls/{call_id}/legs/{leg_id}/record`: 204; the recording closes.
pub async fn stop_recording(
    State(s): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path((call, leg)): Path<(String, String)>,
) -> Result<Response, OpError> {
    let leg = leg_of_call(&s, peer, &headers, &call, &leg)?;
    ask(&s, &call, |reply| CallCommand::Record {
        leg,
        on: false,
        reply,
    })
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Steps as the dialplan writes them (`{"say": "…"}`, `{"tone": "ringback",
/// "seconds": 2}` …), checked by the dialplan's own rules; `hangup` is not a
/// playback and `echo` is refused here too.
fn checked_steps(steps: Vec<Step>) -> Result<Vec<Step>, OpError> {
    if steps.len() > 20 {
        return Err(bad("at most 20 steps"));
    }
    if steps
        .iter()
        .any(|s| matches!(s, Step::Hangup | Step::Echo { .. }))
    {
        return Err(bad("steps may be say, play, tone, moh or pause"));
    }
    let problems = crate::dialplan::step_problems(&steps);
    if !problems.is_empty() {
        return Err(bad(problems.join("; ")));
    }
    Ok(steps)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlayLeg {
    steps: Vec<Step>,
}

/// `POST /calls/{call_id}/legs/{leg_id}/play`: 202 once it plays.
pub async fn play(
    State(s): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path((call, leg)): Path<(String, String)>,
    body: Result<Json<PlayLeg>, JsonRejection>,
) -> Result<Response, OpError> {
    let leg = leg_of_call(&s, peer, &headers, &call, &leg)?;
    let steps = checked_steps(json_body(body)?.steps)?;
    if steps.is_empty() {
        return Err(bad("`steps` must not be empty"));
    }
    ask(&s, &call, |reply| CallCommand::Play { leg, steps, reply }).await?;
    Ok(StatusCode::ACCEPTED.into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CollectLeg {
    /// 1–64, default 1.
    max_digits: Option<usize>,
    /// Digits that end the collection, default "#".
    terminators: Option<String>,
    /// Default 5000.
    first_digit_timeout_ms: Option<u64>,
    /// Default 3000.
    inter_digit_timeout_ms: Option<u64>,
    /// Played first; the first digit stops it.
    #[serde(default)]
    prompt: Vec<Step>,
}

/// `POST /calls/{call_id}/legs/{leg_id}/collect`: 200
/// `{"digits", "terminator", "ended_by"}` once collected.
pub async fn collect(
    State(s): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path((call, leg)): Path<(String, String)>,
    body: Result<Json<CollectLeg>, JsonRejection>,
) -> Result<Response, OpError> {
    let leg = leg_of_call(&s, peer, &headers, &call, &leg)?;
    let req = json_body(body)?;
    let max_digits = req.max_digits.unwrap_or(1);
    if !(1..=64).contains(&max_digits) {
        return Err(bad("`max_digits` must be 1 to 64"));
    }
    let terminators = req.terminators.unwrap_or_else(|| "#".into());
    if terminators.len() > 12 || !terminators.chars().all(|c| "0123456789*#ABCD".contains(c)) {
        return Err(bad("`terminators` must be DTMF digits (0-9 * # A-D)"));
    }
    let first = req.first_digit_timeout_ms.unwrap_or(5000);
    let inter = req.inter_digit_timeout_ms.unwrap_or(3000);
    if !(1..=MAX_DIGIT_WAIT_MS).contains(&first) || !(1..=MAX_DIGIT_WAIT_MS).contains(&inter) {
        return Err(bad("digit timeouts must be 1 to 120000 ms"));
    }
    let spec = CollectSpec {
        max_digits,
        terminators,
        first_digit_ms: first,
        inter_digit_ms: inter,
        prompt: checked_steps(req.prompt)?,
    };
    let got = ask(&s, &call, |reply| CallCommand::Collect { leg, spec, reply }).await?;
    Ok(Json(got).into_response())
}
