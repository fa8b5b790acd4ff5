//! `POST /api/v1/consents` (record a consent change: every change is kept)
//! and `GET /api/v1/consents?merchantId=&history=` (the current consent per
//! contact and channel, or the whole history). Contacts are E.164 numbers
//! for SMS and voice, email addresses for email.

use axum::body::Bytes;
use axum::extract::Query;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;

use super::auth::Tenant;
use super::idempotency::once;
use super::merchants::find;
use super::schema::{ConsentView, V1MerchantConsentRequest};
use super::{iso_ms, json_object, merchant_id, opt_str, req_str, V1Error};
use crate::dialplan::is_e164;
use crate::events::now_ms;
use crate::merchant::{Channel, ConsentStatus};
use crate::store::ConsentRow;

fn view(c: &ConsentRow) -> ConsentView {
    ConsentView {
        merchant_id: c.merchant_id.clone(),
        channel: c.channel.clone(),
        contact: c.contact.clone(),
        status: c.status.clone(),
        source: c.source.clone(),
        updated_at: iso_ms(c.created_at),
    }
}

/// A contact as stored: numbers as given, email addresses in lower case.
pub fn contact_for(channel: Channel, raw: &str) -> Result<String, V1Error> {
    match channel {
        Channel::Email => {
            let addr: lettre::Address = raw.parse().map_err(|_| {
                V1Error::field(
                    "contact",
                    format!("contact: {raw:?} is not an email address"),
                )
            })?;
            Ok(addr.to_string().to_ascii_lowercase())
        }
        _ if is_e164(raw) => Ok(raw.to_string()),
        _ => Err(V1Error::field(
            "contact",
            format!("contact: {raw:?} is not an E.164 number (+ and 7 to 15 digits)"),
        )),
    }
}

#[utoipa::path(
    post,
    path = "/api/v1/consents",
    tag = "consents",
    summary = "Upsert recipient consent for SMS, voice, or email",
    params(("Idempotency-Key" = Option<String>, Header, description = "Retries with the same key and body get the first answer")),
    request_body = V1MerchantConsentRequest,
    security(("merchant_key" = [], "merchant_secret" = [])),
    responses((status = 200, description = "The consent now", body = ConsentView))
)]
pub async fn upsert(t: Tenant, headers: HeaderMap, body: Bytes) -> Result<Response, V1Error> {
    let v = json_object(&body)?;
    let id = merchant_id(&v)?;
    let channel = Channel::parse(req_str(&v, "channel")?)
        .ok_or_else(|| V1Error::field("channel", "channel: SMS, VOICE or EMAIL"))?;
    let contact = contact_for(channel, req_str(&v, "contact")?)?;
    let status = ConsentStatus::parse(req_str(&v, "status")?)
        .ok_or_else(|| V1Error::field("status", "status: OPT_IN or OPT_OUT"))?;
    let source = opt_str(&v, "source")?.map(str::trim).map(str::to_string);
    if source.as_deref().is_some_and(|s| s.chars().count() > 200) {
        return Err(V1Error::field("source", "source: at most 200 characters"));
    }
    let m = find(&t, &id).await?;
    let store = t.svc().store.clone();
    once(&store, &t.account, &headers, "consents", &body, || async {
        let now = now_ms();
        let row_id = store
            .add_consent(
                m.pk,
                channel.as_str(),
                &contact,
                status.as_str(),
                source.as_deref(),
                now,
            )
            .await?;
        t.svc().forget_consent(m.pk, channel.as_str(), &contact);
        let c = ConsentRow {
            id: row_id,
            merchant_id: m.merchant_id.clone(),
            channel: channel.as_str().into(),
            contact: contact.clone(),
            status: status.as_str().into(),
            source: source.clone(),
            created_at: now,
        };
        Ok((
            StatusCode::OK,
            serde_json::to_value(view(&c)).unwrap_or_default(),
        ))
    })
    .await
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListQuery {
    merchant_id: Option<String>,
    /// Every change, not only the current consent.
    #[serde(default)]
    history: bool,
}

#[utoipa::path(
    get,
    path = "/api/v1/consents",
    tag = "consents",
    summary = "List consent records, optionally filtered by merchant",
    params(
        ("merchantId" = Option<String>, Query, description = "Only this merchant's"),
        ("history" = Option<bool>, Query, description = "Every change (default: the current consent per contact and channel)")
    ),
    security(("merchant_key" = [], "merchant_secret" = [])),
    responses((status = 200, description = "Consents, oldest change first", body = [ConsentView]))
)]
pub async fn list(
    t: Tenant,
    q: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, V1Error> {
    let Query(q) = q.map_err(|e| V1Error::new(super::V1Code::Validation, e.body_text()))?;
    let pk = match &q.merchant_id {
        Some(id) => Some(find(&t, id).await?.pk),
        None => None,
    };
    let rows = t.svc().store.consents(&t.account, pk, q.history).await?;
    Ok(Json(rows.iter().map(view).collect::<Vec<_>>()).into_response())
}
