//! `POST /sms/send` (developer or user key, `sms:send`): from one of the
//! account's SMS numbers (a user key: one of its own) to one or several E.164
//! numbers, at most 160 characters. SMS_SENT at once; then each recipient
//! gets it over SIP MESSAGE where its number has a route — the registered
//! devices of the extension its DID reaches, or the account's trunk — and
//! from the simulator otherwise (no SMS provider is wired yet), each with its
//! SMS_DELIVERED (`delivered`, or `undelivered` when SIP refused it).

use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::Value;

use super::idempotency::{once, Answer};
use super::schema::SmsSent;
#[allow(unused_imports)]
use super::schema::{Envelope, SendSms};
use super::Body;
use super::{ApiError, Ctx};
use crate::call::sms::{self, SmsOutcome};
use crate::dialplan::is_e164;
use crate::events::{Event, Numbers, SmsEvent, SmsMeta};
use crate::ids::AccountId;
use crate::store::ApiKeyKind;

/// The most recipients one request may name.
const MAX_TO: usize = 10;
/// The longest message, in characters (as documented).
const MAX_CHARS: usize = 160;
/// How long the simulated carrier takes to confirm delivery.
const DELIVERY_DELAY: Duration = Duration::from_millis(200);

#[utoipa::path(
    post,
    path = "/v3/voice/{account_id}/sms/send",
    tag = "sms",
    summary = "Send an SMS",
    params(("account_id" = String, Path, description = "The account's id (`demo`)"), ("Idempotency-Key" = Option<String>, Header, min_length = 1, max_length = 255, description = "Retries with the same key and body get the first answer")),
    request_body = SendSms,
    security(("api_key" = [])),
    responses((status = 200, description = "Success", body = Envelope<SmsSent>))
)]
pub async fn send(ctx: Ctx, headers: HeaderMap, body: Body) -> Result<Response, ApiError> {
    let body = super::body_bytes(body)?;
    let account = ctx.account.clone();
    let key = ctx.any_key("sms:send")?.clone();
    let v = super::json_object(&body)?;
    let from = v["from"]
        .as_str()
        .map(str::trim)
        .ok_or_else(|| ApiError::bad_request("from is required (one of your numbers)"))?
        .to_string();
    // `to`, or `to_number` as the SMS events name it; a string or a list either way
    let to_field = if v["to"].is_null() {
        &v["to_number"]
    } else {
        &v["to"]
    };
    let to: Vec<String> = match to_field {
        Value::String(t) => vec![t.trim().to_string()],
        Value::Array(list) => list
            .iter()
            .map(|t| t.as_str().map(|t| t.trim().to_string()))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| ApiError::bad_request("to: numbers must be strings"))?,
        Value::Null => return Err(ApiError::bad_request("to is required")),
        _ => return Err(ApiError::bad_request("to: a number or a list of numbers")),
    };
    let message = v["message"]
        .as_str()
        .ok_or_else(|| ApiError::bad_request("message is required"))?
        .to_string();
    if to.is_empty() || to.len() > MAX_TO {
        return Err(ApiError::bad_request(format!("to: 1 to {MAX_TO} numbers")));
    }
    if let Some(bad) = to.iter().find(|t| !is_e164(t)) {
        return Err(ApiError::bad_request(format!(
            "to: {bad:?} is not an E.164 number (+ and 7 to 15 digits)"
        )));
    }
    let chars = message.chars().count();
    if chars == 0 || chars > MAX_CHARS {
        return Err(ApiError::bad_request(format!(
            "message: 1 to {MAX_CHARS} characters (this one has {chars})"
        )));
    }
    let number = ctx
        .dir
        .number(&from)
        .filter(|n| n.account_id == account)
        .ok_or_else(|| {
            ApiError::bad_request(format!("from: {from:?} is not a number of the account"))
        })?
        .clone();
    let sender = match key.kind {
        ApiKeyKind::User => {
            if key.extension.as_deref() != Some(number.extension.as_str()) {
                return Err(ApiError::forbidden(format!(
                    "from: {from} is not one of this user's numbers"
                )));
            }
            key.extension.clone()
        }
        _ => None,
    };
    if !number.sms_enabled {
        return Err(ApiError::bad_request(format!(
            "from: {from} does not send SMS"
        )));
    }
    let ctx = &ctx;
    once(ctx, &headers, "sms/send", &body, || async move {
        let message_id = uuid::Uuid::new_v4().to_string();
        let aid = AccountId::from(account.as_str());
        let meta = SmsMeta {
            from_number: Some(from.clone()),
            to_number: Some(Numbers::Many(to.clone())),
            body: Some(message.clone()),
            message_id: message_id.clone(),
            sms_sent_by_user_id: sender.clone(),
            status: None,
        };
        ctx.sw
            .bus
            .publish(Event::SmsSent(SmsEvent::now(aid.clone(), meta.clone())));
        // over SIP where the number has a route (a registered extension, the
        // trunk), else the simulator; one SMS_DELIVERED per recipient either way
        let mut over_sip = 0;
        for number in &to {
            let targets = sms::targets(&ctx.sw, &account, number);
            over_sip += usize::from(!targets.is_empty());
            let (sw, aid, account) = (ctx.sw.clone(), aid.clone(), account.clone());
            let (from, text) = (from.clone(), message.clone());
            let meta = SmsMeta {
                to_number: Some(Numbers::One(number.clone())),
                sms_sent_by_user_id: None,
                ..meta.clone()
            };
            tokio::spawn(async move {
                let status = if targets.is_empty() {
                    tokio::time::sleep(DELIVERY_DELAY).await;
                    "delivered"
                } else {
                    match sms::send(&sw, &account, &from, &targets, &text).await {
                        SmsOutcome::Delivered => "delivered",
                        SmsOutcome::Failed(_) => "undelivered",
                    }
                };
                let delivered = SmsMeta {
                    status: Some(status.into()),
                    ..meta
                };
                sw.bus
                    .publish(Event::SmsDelivered(SmsEvent::now(aid, delivered)));
            });
        }
        let delivery = match over_sip {
            0 => "simulator",
            n if n == to.len() => "sip",
            _ => "mixed",
        };
        Ok(Answer {
            status: StatusCode::OK,
            message: "SMS sent successfully",
            result: serde_json::to_value(SmsSent {
                message_id,
                status: "sent".into(),
                from,
                to,
                segments: 1,
                delivery: delivery.into(),
            })
            .unwrap_or_default(),
        })
    })
    .await
}
