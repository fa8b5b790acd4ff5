//! Providers' callbacks (not part of the public API): Twilio's status
//! callbacks (`POST /hooks/twilio/status/{messageId}`) and inbound messages
//! (`POST /hooks/twilio/inbound`), checked with `X-Twilio-Signature`; Telnyx's
//! webhooks (`POST /hooks/telnyx/{messageId}` for a message's events,
//! `POST /hooks/telnyx/inbound` for `message.received`), checked with its
//! Ed25519 signature. An unsigned or forged callback is 403 and changes
//! nothing; one about a message the switch does not know is 404.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::AppState;
use crate::merchant::providers::{telnyx, twilio, Remote};
use crate::merchant::reconcile::apply_remote;
use crate::merchant::service::Service;

fn refuse(status: StatusCode, why: &str) -> Response {
    (
        status,
        axum::Json(serde_json::json!({"error": {"code": "CALLBACK_REFUSED", "message": why}})),
    )
        .into_response()
}

fn service(s: &AppState) -> Result<std::sync::Arc<Service>, Response> {
    s.merchant.as_ref().map(|m| m.svc.clone()).ok_or_else(|| {
        refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            "the merchant service is not running",
        )
    })
}

/// The URL Twilio called: the public base and the path (and query) it was given.
fn called_url(svc: &Service, uri: &Uri) -> String {
    let pq = uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or(uri.path());
    format!("{}{pq}", svc.public_url)
}

fn twilio_params(
    svc: &Service,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Vec<(String, String)>, Response> {
    let Some(token) = svc.args.twilio_auth_token.as_deref() else {
        return Err(refuse(StatusCode::FORBIDDEN, "Twilio is not configured"));
    };
    let params: Vec<(String, String)> = url::form_urlencoded::parse(body).into_owned().collect();
    let given = headers
        .get("x-twilio-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !twilio::verify(token, &called_url(svc, uri), &params, given) {
        return Err(refuse(
            StatusCode::FORBIDDEN,
            "X-Twilio-Signature does not match",
        ));
    }
    Ok(params)
}

fn param<'a>(p: &'a [(String, String)], name: &str) -> Option<&'a str> {
    p.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

pub async fn twilio_status(
    State(s): State<AppState>,
    Path(id): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let svc = match service(&s) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let p = match twilio_params(&svc, &uri, &headers, &body) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let (Ok(id), Some(sid)) = (id.parse::<i64>(), param(&p, "MessageSid")) else {
        return refuse(StatusCode::BAD_REQUEST, "no MessageSid or message id");
    };
    let m = match svc.store.message_by_id(id).await {
        Ok(Some(m)) if m.provider.as_deref() == Some("twilio") => m,
        Ok(_) => return refuse(StatusCode::NOT_FOUND, "no such Twilio message"),
        Err(_) => {
            return refuse(
                StatusCode::SERVICE_UNAVAILABLE,
                "the store cannot be reached",
            )
        }
    };
    if m.provider_ref
        .as_deref()
        .is_some_and(|r| !r.is_empty() && r != sid)
    {
        return refuse(StatusCode::CONFLICT, "MessageSid is not this message's");
    }
    let status = param(&p, "MessageStatus")
        .or(param(&p, "SmsStatus"))
        .unwrap_or("");
    let state = twilio::remote(status, param(&p, "ErrorCode"));
    match apply_remote(&svc, &m, "twilio", sid, state, None).await {
        Ok(_) => StatusCode::NO_CONTENT.into_response(),
        Err(_) => refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            "the store cannot be reached",
        ),
    }
}

pub async fn twilio_inbound(
    State(s): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let svc = match service(&s) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let p = match twilio_params(&svc, &uri, &headers, &body) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let (Some(from), Some(to)) = (param(&p, "From"), param(&p, "To")) else {
        return refuse(StatusCode::BAD_REQUEST, "From and To are required");
    };
    inbound(
        &svc,
        from,
        to,
        param(&p, "Body").unwrap_or(""),
        param(&p, "MessageSid").unwrap_or(""),
    )
    .await
}

async fn inbound(svc: &Service, from: &str, to: &str, text: &str, id: &str) -> Response {
    let account = svc
        .sw
        .as_ref()
        .and_then(|sw| sw.directory().number(to).map(|n| n.account_id.clone()));
    let Some(account) = account else {
        return refuse(StatusCode::NOT_FOUND, "the number is not one of ours");
    };
    match crate::merchant::inbound::reply(svc, &account, from, to, text, id).await {
        // Twilio reads TwiML; an empty response sends nothing back
        Ok(_) => ([("content-type", "text/xml")], "<Response/>").into_response(),
        Err(_) => refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            "the store cannot be reached",
        ),
    }
}

fn telnyx_checked(svc: &Service, headers: &HeaderMap, body: &[u8]) -> Result<Value, Response> {
    let Some(key) = &svc.telnyx_key else {
        return Err(refuse(
            StatusCode::FORBIDDEN,
            "Telnyx's public key is not configured",
        ));
    };
    let h = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).unwrap_or("");
    let now = crate::events::now_ms() / 1000;
    if !telnyx::verify(
        key,
        h("telnyx-timestamp"),
        h("telnyx-signature-ed25519"),
        body,
        now,
    ) {
        return Err(refuse(
            StatusCode::FORBIDDEN,
            "the Telnyx signature does not match",
        ));
    }
    serde_json::from_slice(body).map_err(|_| refuse(StatusCode::BAD_REQUEST, "not JSON"))
}

pub async fn telnyx_event(
    State(s): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let svc = match service(&s) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let v = match telnyx_checked(&svc, &headers, &body) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let event = v["data"]["event_type"].as_str().unwrap_or("");
    let msg = &v["data"]["payload"];
    if event == "message.received" {
        return telnyx_received(&svc, msg).await;
    }
    let (Ok(id), Some(reference)) = (id.parse::<i64>(), msg["id"].as_str()) else {
        return refuse(StatusCode::BAD_REQUEST, "no message id");
    };
    let m = match svc.store.message_by_id(id).await {
        Ok(Some(m)) if m.provider.as_deref() == Some("telnyx") => m,
        Ok(_) => return refuse(StatusCode::NOT_FOUND, "no such Telnyx message"),
        Err(_) => {
            return refuse(
                StatusCode::SERVICE_UNAVAILABLE,
                "the store cannot be reached",
            )
        }
    };
    if m.provider_ref
        .as_deref()
        .is_some_and(|r| !r.is_empty() && r != reference)
    {
        return refuse(StatusCode::CONFLICT, "the message id is not this message's");
    }
    let (state, cost) = telnyx::state_of(msg);
    // only a finalized event is the last word
    let state = match (event, state) {
        ("message.finalized", s) => s,
        (_, Remote::Undelivered(r)) => Remote::Undelivered(r),
        _ => Remote::Pending,
    };
    match apply_remote(&svc, &m, "telnyx", reference, state, cost).await {
        Ok(_) => StatusCode::NO_CONTENT.into_response(),
        Err(_) => refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            "the store cannot be reached",
        ),
    }
}

pub async fn telnyx_inbound(
    State(s): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let svc = match service(&s) {
        Ok(x) => x,
        Err(r) => return r,
    };
    match telnyx_checked(&svc, &headers, &body) {
        Ok(v) if v["data"]["event_type"] == "message.received" => {
            telnyx_received(&svc, &v["data"]["payload"]).await
        }
        Ok(_) => StatusCode::NO_CONTENT.into_response(),
        Err(r) => r,
    }
}

async fn telnyx_received(svc: &Service, msg: &Value) -> Response {
    let from = msg["from"]["phone_number"].as_str().unwrap_or("");
    let to = msg["to"][0]["phone_number"].as_str().unwrap_or("");
    if from.is_empty() || to.is_empty() {
        return refuse(StatusCode::BAD_REQUEST, "from and to are required");
    }
    let r = inbound(
        svc,
        from,
        to,
        msg["text"].as_str().unwrap_or(""),
        msg["id"].as_str().unwrap_or(""),
    )
    .await;
    if r.status().is_success() {
        StatusCode::NO_CONTENT.into_response()
    } else {
        r
    }
}
