//! Operator routes of the merchant messaging (same access rule as the other
//! operator routes: loopback, or the admin token): the dispatch lanes'
//! figures (`GET /admin/merchant/lanes`), what the simulator was handed
//! (`GET /admin/simulator/messages`), an account's delivery mode
//! (`GET`/`PUT /admin/accounts/{account_id}/delivery`), confirming a payment
//! (`POST /admin/payments/{payment_id}/confirm`, as `switchyard payment
//! confirm` does) and relaying a 10DLC registry decision
//! (`POST /admin/messaging/{record_id}/status`).

use std::net::SocketAddr;
use std::sync::atomic::Ordering::Relaxed;

use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::operator::{allowed, OpError};
use super::AppState;
use crate::merchant::service::Service;
use crate::merchant::Channel;
use crate::store::{DeliverySettings, Settled};

fn svc(s: &AppState) -> Result<std::sync::Arc<Service>, OpError> {
    s.merchant.as_ref().map(|m| m.svc.clone()).ok_or_else(|| {
        OpError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "the merchant service is not running",
        )
    })
}

fn failed(e: crate::store::StoreError) -> OpError {
    OpError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "store_unavailable",
        e.to_string(),
    )
}

/// Each lane's backlog and counts (from the store) and its counters since start.
pub async fn lanes_json(svc: &Service) -> Result<Value, crate::store::StoreError> {
    let counts = svc.store.lane_counts().await?;
    let lanes: Vec<Value> = Channel::ALL
        .iter()
        .map(|c| {
            let by: Vec<(String, i64)> = counts
                .iter()
                .find(|l| l.channel == c.as_str())
                .map(|l| l.by_status.clone())
                .unwrap_or_default();
            let n = |names: &[&str]| -> i64 {
                by.iter().filter(|(s, _)| names.contains(&s.as_str())).map(|(_, n)| n).sum()
            };
            let st = svc.lane(*c);
            json!({
                "lane": c.lane(),
                "backlog": n(&["QUEUED", "RETRY", "SENDING", "RECONCILING"]),
                "scheduled": n(&["SCHEDULED"]),
                "awaitingOutcome": n(&["SENT"]),
                "delivered": n(&["DELIVERED"]),
                "failed": n(&["FAILED", "UNDELIVERED"]),
                "dlq": n(&["DEAD_LETTER"]),
                "byStatus": by.iter().map(|(s, n)| (s.clone(), json!(n))).collect::<serde_json::Map<_, _>>(),
                "sinceStart": {
                    "enqueued": st.enqueued.load(Relaxed),
                    "processed": st.processed.load(Relaxed),
                    "failed": st.failed.load(Relaxed),
                    "retried": st.retried.load(Relaxed),
                    "deadLettered": st.dead_lettered.load(Relaxed),
                    "throttled": st.throttled.load(Relaxed),
                },
            })
        })
        .collect();
    Ok(json!({ "lanes": lanes }))
}

pub async fn lanes(
    State(s): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Result<Response, OpError> {
    allowed(&s, peer, &headers)?;
    let svc = svc(&s)?;
    Ok(Json(lanes_json(&svc).await.map_err(failed)?).into_response())
}

#[derive(Deserialize)]
pub struct SimQuery {
    account: Option<String>,
    limit: Option<i64>,
}

pub async fn simulator(
    State(s): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Query(q): Query<SimQuery>,
) -> Result<Response, OpError> {
    allowed(&s, peer, &headers)?;
    let svc = svc(&s)?;
    let rows = svc
        .store
        .simulated_messages(
            q.account.as_deref(),
            q.limit.unwrap_or(100).clamp(1, 10_000),
        )
        .await
        .map_err(failed)?;
    let list: Vec<Value> = rows
        .into_iter()
        .map(|(id, channel, to, body, outcome, at)| {
            json!({"messageId": id.to_string(), "channel": channel, "direction": "OUTBOUND",
                   "to": to, "body": body, "outcome": outcome, "at": super::v1::iso_ms(at)})
        })
        .collect();
    Ok(Json(json!({ "messages": list })).into_response())
}

fn settings_json(d: &DeliverySettings) -> Value {
    json!({"mode": d.mode, "smsProvider": d.sms_provider, "simulatorFailureRate": d.sim_failure_rate})
}

pub async fn get_delivery(
    State(s): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(account): Path<String>,
) -> Result<Response, OpError> {
    allowed(&s, peer, &headers)?;
    let svc = svc(&s)?;
    let d = svc
        .store
        .delivery_settings(&account)
        .await
        .map_err(failed)?;
    svc.forget_settings(&account);
    Ok(Json(settings_json(&d)).into_response())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PutDelivery {
    mode: String,
    sms_provider: Option<String>,
    simulator_failure_rate: Option<f64>,
}

pub async fn put_delivery(
    State(s): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(account): Path<String>,
    body: Result<Json<PutDelivery>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, OpError> {
    allowed(&s, peer, &headers)?;
    let svc = svc(&s)?;
    let bad = |m: &str| OpError::new(StatusCode::BAD_REQUEST, "invalid_request", m);
    let Json(req) = body.map_err(|e| bad(&e.body_text()))?;
    let mode =
        crate::merchant::Mode::parse(&req.mode).ok_or_else(|| bad("mode: LIVE or SIMULATOR"))?;
    if req
        .sms_provider
        .as_deref()
        .is_some_and(|p| p != "twilio" && p != "telnyx")
    {
        return Err(bad("smsProvider: twilio or telnyx"));
    }
    let rate = req.simulator_failure_rate.unwrap_or(0.0);
    if !(0.0..=1.0).contains(&rate) {
        return Err(bad("simulatorFailureRate: 0 to 1"));
    }
    if svc.store.account(&account).await.map_err(failed)?.is_none() {
        return Err(OpError::new(
            StatusCode::NOT_FOUND,
            "unknown_account",
            "no such account",
        ));
    }
    let d = DeliverySettings {
        mode: mode.as_str().into(),
        sms_provider: req.sms_provider,
        sim_failure_rate: rate,
    };
    svc.store
        .set_delivery_settings(&account, &d, crate::events::now_ms())
        .await
        .map_err(failed)?;
    svc.forget_settings(&account);
    Ok(Json(settings_json(&d)).into_response())
}

/// A payment confirmed, as JSON (shared with `switchyard payment confirm`).
pub async fn confirm_json(
    store: &crate::store::Store,
    id: &str,
) -> Result<Option<Value>, crate::store::StoreError> {
    let (p, credits, now) = match store.confirm_payment(id, crate::events::now_ms()).await? {
        Settled::Confirmed { payment, credits } => (payment, Some(credits), true),
        Settled::Already(p) => (p, None, false),
        Settled::NotFound => return Ok(None),
    };
    let merchant = store.merchant_by_pk(p.merchant_pk).await?;
    let credits = match (credits, &merchant) {
        (Some(c), _) => c,
        (None, Some(m)) => m.credits(&p.channel),
        (None, None) => 0,
    };
    let mid = merchant.map(|m| m.merchant_id).unwrap_or_default();
    let mut v = serde_json::to_value(super::v1::billing::upgrade_view(&p, &mid, credits))
        .unwrap_or_default();
    v["confirmedNow"] = json!(now);
    Ok(Some(v))
}

pub async fn confirm_payment(
    State(s): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, OpError> {
    allowed(&s, peer, &headers)?;
    let svc = svc(&s)?;
    match confirm_json(&svc.store, &id).await.map_err(failed)? {
        Some(v) => Ok(Json(v).into_response()),
        None => Err(OpError::new(
            StatusCode::NOT_FOUND,
            "unknown_payment",
            "no such payment",
        )),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordStatus {
    status: String,
    reason: Option<String>,
}

pub async fn messaging_status(
    State(s): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<Json<RecordStatus>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, OpError> {
    allowed(&s, peer, &headers)?;
    let svc = svc(&s)?;
    let Json(req) =
        body.map_err(|e| OpError::new(StatusCode::BAD_REQUEST, "invalid_request", e.body_text()))?;
    let allowed_states = [
        "PENDING",
        "VERIFIED",
        "APPROVED",
        "ACTIVE",
        "REJECTED",
        "SUSPENDED",
        "UNASSIGNED",
    ];
    if !allowed_states.contains(&req.status.as_str()) {
        return Err(OpError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            format!("status: one of {}", allowed_states.join(", ")),
        ));
    }
    let mut r = svc
        .store
        .messaging_record(&id)
        .await
        .map_err(failed)?
        .ok_or_else(|| {
            OpError::new(
                StatusCode::NOT_FOUND,
                "unknown_record",
                "no such messaging record",
            )
        })?;
    r.status = req.status;
    r.status_reason = req.reason.or(Some("set by an operator".into()));
    r.advance_at = None;
    r.updated_at = crate::events::now_ms();
    svc.store.put_messaging_record(&r).await.map_err(failed)?;
    Ok(
        Json(json!({"id": r.id, "status": r.status, "statusReason": r.status_reason}))
            .into_response(),
    )
}
