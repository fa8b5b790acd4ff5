//! Sending: `POST /api/v1/messages/sms`, `/messages/voice`, `/messages/email`
//! and the simple `POST /api/v1/email/send`. Each request is validated, its
//! merchant must be active, consent must allow it (an opt-out always blocks;
//! marketing needs an opt-in), and it is admitted — usage against the limit
//! or a credit, the queue row, its Idempotency-Key — in one group-committed
//! transaction, answered `DispatchResponse` at once. `GET /api/v1/messages/{id}`
//! shows a message's lifecycle; `GET /api/v1/messages?status=` lists them
//! (the SCHEDULED voice messages waiting for the calling window, say); and
//! `POST /api/v1/messages/{id}/cancel` cancels one not yet handed over.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, Query};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::auth::Tenant;
use super::idempotency::{body_hash, key_of, replay, scope};
use super::merchants::find;
use super::schema::{
    DispatchResponse, MessageEventView, MessageView, V1EmailSendRequest, V1MessageResponse,
    V1OmniEmailSendRequest, V1OmniSmsSendRequest, V1OmniVoiceSendRequest,
};
use super::{
    iso_ms, json_object, merchant_id, opt_bool, opt_int, opt_str, req_str, V1Code, V1Error,
};
use crate::dialplan::is_e164;
use crate::events::now_ms;
use crate::merchant::{consent_allows, period_of, Channel, ConsentRefusal, MessageType};
use crate::store::{Admit, Claim, MessageRow, NewMessage};

/// The longest SMS text (ten segments and some).
const MAX_SMS_CHARS: usize = 1600;
const MAX_VOICE_CHARS: usize = 3000;
const MAX_SUBJECT: usize = 998;
const MAX_HTML: usize = 512 * 1024;

/// A checked send, ready to admit.
struct Send {
    channel: Channel,
    kind: MessageType,
    to: String,
    payload: Value,
    units: i64,
    /// A voice message outside the calling window: when it opens.
    scheduled: Option<i64>,
}

fn kind_of(v: &Value, default: Option<MessageType>) -> Result<MessageType, V1Error> {
    match (opt_str(v, "type")?, default) {
        (Some(t), _) => MessageType::parse(t.trim()).ok_or_else(|| {
            V1Error::field("type", "type: OTP, REMINDER, TRANSACTIONAL or MARKETING")
        }),
        (None, Some(d)) => Ok(d),
        (None, None) => Err(V1Error::field(
            "type",
            "type is required: OTP, REMINDER, TRANSACTIONAL or MARKETING",
        )),
    }
}

fn e164(v: &Value, field: &'static str) -> Result<String, V1Error> {
    let n = req_str(v, field)?;
    if !is_e164(n) {
        return Err(V1Error::field(
            field,
            format!("{field}: {n:?} is not an E.164 number (+ and 7 to 15 digits)"),
        ));
    }
    Ok(n.to_string())
}

fn sms(v: &Value) -> Result<Send, V1Error> {
    let to = e164(v, "to")?;
    let message = opt_str(v, "message")?
        .filter(|m| !m.trim().is_empty())
        .ok_or_else(|| V1Error::field("message", "message is required"))?;
    let chars = message.chars().count();
    if chars > MAX_SMS_CHARS {
        return Err(V1Error::field(
            "message",
            format!("message: at most {MAX_SMS_CHARS} characters (this one has {chars})"),
        ));
    }
    let from = match opt_str(v, "from")? {
        Some(f) if is_e164(f.trim()) => Some(f.trim().to_string()),
        Some(f) => {
            return Err(V1Error::field(
                "from",
                format!("from: {f:?} is not an E.164 number"),
            ))
        }
        None => None,
    };
    Ok(Send {
        channel: Channel::Sms,
        kind: kind_of(v, None)?,
        units: crate::merchant::text::sms_segments(message),
        payload: json!({"message": message, "from": from}),
        to,
        scheduled: None,
    })
}

fn voice(v: &Value) -> Result<Send, V1Error> {
    let to = e164(v, "to")?;
    let text = req_str(v, "text")?;
    if text.chars().count() > MAX_VOICE_CHARS {
        return Err(V1Error::field(
            "text",
            format!("text: at most {MAX_VOICE_CHARS} characters"),
        ));
    }
    let record = opt_bool(v, "record")?.unwrap_or(false);
    let repeat = opt_bool(v, "repeat")?.unwrap_or(false);
    let timeout = opt_int(v, "timeoutSeconds", 5..=120)?.unwrap_or(30);
    let zone = match opt_str(v, "timeZone")? {
        Some(z) => Some(
            z.trim()
                .parse::<chrono_tz::Tz>()
                .map_err(|_| {
                    V1Error::field(
                        "timeZone",
                        format!("timeZone: {z:?} is not an IANA time zone"),
                    )
                })?
                .name()
                .to_string(),
        ),
        None => None,
    };
    let caller_id = match opt_str(v, "callerId")? {
        Some(c) if is_e164(c.trim()) || c.trim().chars().all(|d| d.is_ascii_digit()) => {
            Some(c.trim().to_string())
        }
        Some(c) => {
            return Err(V1Error::field(
                "callerId",
                format!("callerId: {c:?} is not a number"),
            ))
        }
        None => None,
    };
    let tz = crate::merchant::window::zone(&to, zone.as_deref());
    Ok(Send {
        channel: Channel::Voice,
        kind: kind_of(v, None)?,
        units: crate::merchant::text::speech_minutes(text, repeat),
        payload: json!({
            "text": text, "record": record, "timeoutSeconds": timeout, "timeZone": zone,
            "repeat": repeat, "callerId": caller_id, "voice": opt_str(v, "voice")?,
        }),
        scheduled: crate::merchant::window::next_open(now_ms(), tz),
        to,
    })
}

fn email(v: &Value, default_kind: Option<MessageType>) -> Result<Send, V1Error> {
    let raw = req_str(v, "to")?;
    let to = super::consents::contact_for(Channel::Email, raw)
        .map_err(|_| V1Error::field("to", format!("to: {raw:?} is not an email address")))?;
    let subject = req_str(v, "subject")?;
    if subject.chars().count() > MAX_SUBJECT || subject.contains(['\r', '\n']) {
        return Err(V1Error::field(
            "subject",
            "subject: one line of at most 998 characters",
        ));
    }
    let body = match (opt_str(v, "body")?, opt_str(v, "html")?) {
        (Some(b), _) | (None, Some(b)) if !b.trim().is_empty() => b,
        _ => {
            return Err(V1Error::field(
                "body",
                "body is required (HTML or plain text)",
            ))
        }
    };
    if body.len() > MAX_HTML {
        return Err(V1Error::field("body", "body: at most 512 KiB"));
    }
    if body.contains('\0') {
        return Err(V1Error::field(
            "body",
            "body: must not contain NUL characters",
        ));
    }
    if body.to_ascii_lowercase().contains("<script") {
        return Err(V1Error::field(
            "body",
            "body: scripts are not allowed in email HTML",
        ));
    }
    let reply_to = match opt_str(v, "replyTo")? {
        Some(r) => Some(
            r.parse::<lettre::Address>()
                .map_err(|_| V1Error::field("replyTo", "replyTo: not an email address"))?
                .to_string(),
        ),
        None => None,
    };
    Ok(Send {
        channel: Channel::Email,
        kind: kind_of(v, default_kind)?,
        units: 1,
        payload: json!({
            "subject": subject, "body": body, "text": opt_str(v, "text")?, "replyTo": reply_to,
        }),
        to,
        scheduled: None,
    })
}

/// Checks the merchant and consent, then admits the send.
async fn dispatch(
    t: &Tenant,
    headers: &HeaderMap,
    route: &str,
    body: &[u8],
    send: Send,
    merchant: String,
) -> Result<Response, V1Error> {
    let svc = t.svc();
    let store = &svc.store;
    let idem = key_of(headers)?.map(|key| (scope(&t.account, route), key, body_hash(body)));
    let checked: Result<crate::store::MerchantRow, V1Error> = async {
        let m = svc
            .merchant_cached(&t.account, &merchant)
            .await?
            .ok_or_else(|| {
                V1Error::field("merchantId", format!("no merchant {merchant:?}")).not_found_code()
            })?;
        if !m.active {
            return Err(V1Error {
                code: V1Code::MerchantInactive,
                message: format!("merchant {merchant:?} is not active"),
                field: Some("merchantId"),
            });
        }
        let consent = svc
            .consent_cached(m.pk, send.channel.as_str(), &send.to)
            .await?;
        if let Err(why) = consent_allows(send.kind, consent) {
            let (code, message) = match why {
                ConsentRefusal::OptedOut => (
                    V1Code::OptedOut,
                    format!(
                        "{} opted out of {} from this merchant",
                        send.to,
                        send.channel.as_str()
                    ),
                ),
                ConsentRefusal::NoOptIn => (
                    V1Code::ConsentRequired,
                    format!(
                        "a MARKETING message needs {}'s OPT_IN on {} (POST /api/v1/consents)",
                        send.to,
                        send.channel.as_str()
                    ),
                ),
            };
            return Err(V1Error {
                code,
                message,
                field: Some("to"),
            });
        }
        Ok(m)
    }
    .await;
    let m = match checked {
        Ok(m) => m,
        Err(refused) => {
            // a retry of a request answered before gets that answer, whatever changed since
            if let Some((sc, key, hash)) = &idem {
                match store.idempotent_state(sc, key, hash).await? {
                    Claim::Done(st, b) => return Ok(replay(st, b)),
                    Claim::Mismatch => {
                        return Err(V1Error::new(
                            V1Code::IdempotencyConflict,
                            "this Idempotency-Key was used with a different body",
                        ))
                    }
                    _ => {}
                }
            }
            return Err(refused);
        }
    };
    let now = now_ms();
    let limit = match send.channel {
        Channel::Sms => m.sms_limit,
        Channel::Voice => m.voice_minutes_limit,
        Channel::Email => m.email_limit,
    };
    let period = period_of(now);
    let msg = NewMessage {
        account_id: t.account.clone(),
        merchant_pk: m.pk,
        channel: send.channel.as_str(),
        msg_type: send.kind.as_str(),
        recipient: send.to.clone(),
        payload: send.payload.to_string(),
        status: if send.scheduled.is_some() {
            "SCHEDULED"
        } else {
            "QUEUED"
        },
        next_at: send.scheduled.unwrap_or(now),
        units: send.units,
        limit,
        period: period.clone(),
        idem: idem.clone(),
        now_ms: now,
    };
    let admitted = svc
        .acceptor
        .admit(msg, &m.merchant_id)
        .await
        .map_err(|e| V1Error::new(V1Code::Unavailable, e.to_string()))?;
    let ch = send.channel.as_str();
    match admitted {
        Admit::Accepted { id, used, .. } => {
            svc.enqueued(send.channel);
            if limit == 0 || used * 100 >= limit * 80 {
                crate::merchant::alerts::usage(
                    svc,
                    &t.account,
                    m.pk,
                    &m.merchant_id,
                    ch,
                    &period,
                    used,
                    limit,
                )
                .await;
            }
            let status = if send.scheduled.is_some() {
                "SCHEDULED"
            } else {
                "QUEUED"
            };
            let row = MessageRow {
                id,
                account_id: t.account.clone(),
                merchant_pk: m.pk,
                channel: ch.into(),
                msg_type: send.kind.as_str().into(),
                recipient: send.to.clone(),
                payload: send.payload.to_string(),
                status: status.into(),
                attempts: 0,
                next_at: send.scheduled.unwrap_or(now),
                provider: None,
                provider_ref: None,
                cost_micros: None,
                units: send.units,
                is_final: false,
                error: None,
                created_at: now,
                updated_at: now,
            };
            svc.publish(&row, status, None, None).await;
            Ok(Json(DispatchResponse {
                merchant_id: m.merchant_id,
                channel: ch.into(),
                message_id: id.to_string(),
                status: status.into(),
            })
            .into_response())
        }
        Admit::LimitReached { used } => {
            crate::merchant::alerts::usage(
                svc,
                &t.account,
                m.pk,
                &m.merchant_id,
                ch,
                &period,
                used.max(limit),
                limit,
            )
            .await;
            crate::merchant::alerts::credits_exhausted(
                svc,
                &t.account,
                m.pk,
                &m.merchant_id,
                ch,
                &period,
            )
            .await;
            Ok((
                StatusCode::PAYMENT_REQUIRED,
                [("content-type", "application/json")],
                crate::merchant::accept::limit_refusal(ch, used, limit),
            )
                .into_response())
        }
        Admit::Replay(st, b) => Ok(replay(st, b)),
        Admit::Mismatch => Err(V1Error::new(
            V1Code::IdempotencyConflict,
            "this Idempotency-Key was used with a different body",
        )),
        Admit::Running => {
            let (sc, key, hash) = idem.unwrap_or_default();
            for _ in 0..750 {
                tokio::time::sleep(Duration::from_millis(20)).await;
                if let Claim::Done(st, b) = store.idempotent_state(&sc, &key, &hash).await? {
                    return Ok(replay(st, b));
                }
            }
            Err(V1Error::new(
                V1Code::Unavailable,
                "a request with this Idempotency-Key is still running; retry later",
            ))
        }
    }
}

#[utoipa::path(
    post,
    path = "/api/v1/messages/sms",
    tag = "messages",
    summary = "Queue and dispatch an outbound merchant SMS",
    params(("Idempotency-Key" = Option<String>, Header, description = "A retried logical action converges on the same message")),
    request_body = V1OmniSmsSendRequest,
    security(("merchant_key" = [], "merchant_secret" = [])),
    responses((status = 200, description = "Queued", body = DispatchResponse))
)]
pub async fn send_sms(t: Tenant, headers: HeaderMap, body: Bytes) -> Result<Response, V1Error> {
    let v = json_object(&body)?;
    let merchant = merchant_id(&v)?;
    let send = sms(&v)?;
    dispatch(&t, &headers, "messages/sms", &body, send, merchant).await
}

#[utoipa::path(
    post,
    path = "/api/v1/messages/voice",
    tag = "messages",
    summary = "Start an outbound text-to-speech merchant voice call",
    description = "Calls go out between 08:00 and 21:00 in the recipient's time zone (timeZone, else from the number); outside it the message is SCHEDULED for the next window.",
    params(("Idempotency-Key" = Option<String>, Header, description = "A retried logical action converges on the same message")),
    request_body = V1OmniVoiceSendRequest,
    security(("merchant_key" = [], "merchant_secret" = [])),
    responses((status = 200, description = "Queued or scheduled", body = DispatchResponse))
)]
pub async fn send_voice(t: Tenant, headers: HeaderMap, body: Bytes) -> Result<Response, V1Error> {
    let v = json_object(&body)?;
    let merchant = merchant_id(&v)?;
    let send = voice(&v)?;
    dispatch(&t, &headers, "messages/voice", &body, send, merchant).await
}

#[utoipa::path(
    post,
    path = "/api/v1/messages/email",
    tag = "messages",
    summary = "Dispatch an outbound merchant email",
    params(("Idempotency-Key" = Option<String>, Header, description = "A retried logical action converges on the same message")),
    request_body = V1OmniEmailSendRequest,
    security(("merchant_key" = [], "merchant_secret" = [])),
    responses((status = 200, description = "Queued", body = DispatchResponse))
)]
pub async fn send_email(t: Tenant, headers: HeaderMap, body: Bytes) -> Result<Response, V1Error> {
    let v = json_object(&body)?;
    let merchant = merchant_id(&v)?;
    let send = email(&v, None)?;
    dispatch(&t, &headers, "messages/email", &body, send, merchant).await
}

#[utoipa::path(
    post,
    path = "/api/v1/email/send",
    tag = "messages",
    summary = "Simple direct email send (type defaults to TRANSACTIONAL)",
    params(("Idempotency-Key" = Option<String>, Header, description = "A retried logical action converges on the same message")),
    request_body = V1EmailSendRequest,
    security(("merchant_key" = [], "merchant_secret" = [])),
    responses((status = 200, description = "Queued", body = V1MessageResponse))
)]
pub async fn email_send(t: Tenant, headers: HeaderMap, body: Bytes) -> Result<Response, V1Error> {
    let v = json_object(&body)?;
    let merchant = merchant_id(&v)?;
    let send = email(&v, Some(MessageType::Transactional))?;
    let to = send.to.clone();
    let r = dispatch(&t, &headers, "email/send", &body, send, merchant).await?;
    if !r.status().is_success() {
        return Ok(r);
    }
    // the omni answer, reshaped as V1MessageResponse
    let (parts, b) = r.into_parts();
    let bytes = axum::body::to_bytes(b, 1 << 20).await.unwrap_or_default();
    let d: Value = serde_json::from_slice(&bytes).unwrap_or_default();
    let out = V1MessageResponse {
        success: true,
        message_id: d["messageId"].as_str().unwrap_or("").into(),
        status: d["status"].as_str().unwrap_or("QUEUED").into(),
        channel: "EMAIL".into(),
        to,
    };
    let mut resp = Json(out).into_response();
    if let Some(h) = parts.headers.get("idempotent-replayed") {
        resp.headers_mut().insert("idempotent-replayed", h.clone());
    }
    Ok(resp)
}

async fn view(t: &Tenant, m: &MessageRow) -> Result<MessageView, V1Error> {
    let store = &t.svc().store;
    let merchant = store
        .merchant_by_pk(m.merchant_pk)
        .await?
        .map(|x| x.merchant_id)
        .unwrap_or_default();
    let events = store
        .message_events(m.id)
        .await?
        .into_iter()
        .map(|e| MessageEventView {
            status: e.status,
            at: iso_ms(e.at),
            provider: e.provider,
            detail: e.detail,
        })
        .collect();
    let waiting = matches!(m.status.as_str(), "SCHEDULED" | "RETRY" | "QUEUED");
    Ok(MessageView {
        message_id: m.id.to_string(),
        merchant_id: merchant,
        channel: m.channel.clone(),
        kind: m.msg_type.clone(),
        to: m.recipient.clone(),
        status: m.status.clone(),
        final_state: m.is_final,
        provider: m.provider.clone(),
        provider_message_id: m.provider_ref.clone().filter(|r| !r.is_empty()),
        attempts: m.attempts,
        units: m.units,
        error: m.error.clone(),
        next_attempt_at: waiting.then(|| iso_ms(m.next_at)),
        created_at: iso_ms(m.created_at),
        updated_at: iso_ms(m.updated_at),
        events,
    })
}

/// The tenant's message a path names, or 404.
async fn message(t: &Tenant, raw: &str) -> Result<MessageRow, V1Error> {
    let id: i64 = raw
        .parse()
        .map_err(|_| V1Error::new(V1Code::NotFound, "no such message"))?;
    t.svc()
        .store
        .merchant_message(&t.account, id)
        .await?
        .ok_or_else(|| V1Error::not_found("message"))
}

#[utoipa::path(
    get,
    path = "/api/v1/messages/{messageId}",
    tag = "messages",
    summary = "A message and its lifecycle",
    params(("messageId" = String, Path, description = "From the DispatchResponse")),
    security(("merchant_key" = [], "merchant_secret" = [])),
    responses((status = 200, description = "The message", body = MessageView))
)]
pub async fn show(t: Tenant, Path(id): Path<String>) -> Result<Response, V1Error> {
    let m = message(&t, &id).await?;
    Ok(Json(view(&t, &m).await?).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListQuery {
    status: String,
    merchant_id: Option<String>,
}

#[utoipa::path(
    get,
    path = "/api/v1/messages",
    tag = "messages",
    summary = "Messages in one state (SCHEDULED: voice messages waiting for the calling window)",
    params(
        ("status" = String, Query, description = "QUEUED, SCHEDULED, RETRY, RECONCILING, SENT, DELIVERED, UNDELIVERED, FAILED, DEAD_LETTER or CANCELLED"),
        ("merchantId" = Option<String>, Query, description = "Only this merchant's")
    ),
    security(("merchant_key" = [], "merchant_secret" = [])),
    responses((status = 200, description = "Up to 500, soonest first", body = [MessageView]))
)]
pub async fn list(
    t: Tenant,
    q: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, V1Error> {
    let Query(q) = q.map_err(|e| V1Error::new(V1Code::Validation, e.body_text()))?;
    let status = crate::merchant::Status::parse(&q.status).ok_or_else(|| {
        V1Error::field("status", "status: a message state (QUEUED, SCHEDULED, …)")
    })?;
    let pk = match &q.merchant_id {
        Some(id) => Some(find(&t, id).await?.pk),
        None => None,
    };
    let rows = t
        .svc()
        .store
        .messages_in(&t.account, status.as_str(), pk, 500)
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for m in &rows {
        out.push(view(&t, m).await?);
    }
    Ok(Json(out).into_response())
}

#[utoipa::path(
    post,
    path = "/api/v1/messages/{messageId}/cancel",
    tag = "messages",
    summary = "Cancel a message not yet handed to a provider (a scheduled voice message, say)",
    params(("messageId" = String, Path, description = "From the DispatchResponse")),
    security(("merchant_key" = [], "merchant_secret" = [])),
    responses((status = 200, description = "Cancelled (or it was already)", body = MessageView))
)]
pub async fn cancel(t: Tenant, Path(id): Path<String>) -> Result<Response, V1Error> {
    let m = message(&t, &id).await?;
    if m.status != "CANCELLED" {
        let done = t
            .svc()
            .advance(
                &m,
                &["QUEUED", "SCHEDULED", "RETRY"],
                crate::store::Transition {
                    status: "CANCELLED",
                    is_final: true,
                    detail: Some("cancelled through the API"),
                    ..Default::default()
                },
            )
            .await?;
        if !done {
            return Err(V1Error::new(
                V1Code::Conflict,
                format!(
                    "message {id} is {} and can no longer be cancelled",
                    m.status
                ),
            ));
        }
    }
    let m = message(&t, &id).await?;
    Ok(Json(view(&t, &m).await?).into_response())
}
