//! `POST /api/v1/merchants` (create or update), `GET /api/v1/merchants` and
//! `GET /api/v1/merchants/{merchantId}`: a tenant's merchants with their
//! limits, credits and this month's usage (`MerchantView`). Another
//! tenant's merchant is 404.

use axum::body::Bytes;
use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::auth::Tenant;
use super::idempotency::once;
use super::schema::{Credits, Limits, MerchantView, Usage, V1MerchantUpsertRequest};
use super::{json_object, merchant_id, opt_bool, opt_int, opt_str, V1Error};
use crate::events::now_ms;
use crate::merchant::period_of;
use crate::store::{MerchantRow, MerchantUpsert, Store, StoreError};

/// The largest limit a merchant may have.
const MAX_LIMIT: i64 = 1_000_000_000;

/// A merchant as the API shows it, with this period's usage.
pub async fn view(store: &Store, m: &MerchantRow) -> Result<MerchantView, StoreError> {
    let period = period_of(now_ms());
    let used = store.merchant_usage(m.pk, &period).await?;
    Ok(MerchantView {
        merchant_id: m.merchant_id.clone(),
        display_name: m.display_name.clone(),
        active: m.active,
        limits: Limits {
            sms_limit: m.sms_limit,
            voice_minutes_limit: m.voice_minutes_limit,
            email_limit: m.email_limit,
        },
        credits: Credits {
            sms_credits: m.sms_credits,
            voice_minutes_credits: m.voice_credits,
            email_credits: m.email_credits,
        },
        usage: Usage {
            sms_used: used.sms_used,
            voice_used: used.voice_used,
            email_used: used.email_used,
            period_start: period,
        },
    })
}

/// The tenant's merchant `id`, or 404.
pub async fn find(t: &Tenant, id: &str) -> Result<MerchantRow, V1Error> {
    t.svc()
        .store
        .merchant(&t.account, id)
        .await?
        .ok_or_else(|| V1Error::field("merchantId", format!("no merchant {id:?}")).not_found_code())
}

impl V1Error {
    /// The same message and field, as a 404.
    pub fn not_found_code(mut self) -> Self {
        self.code = super::V1Code::NotFound;
        self
    }
}

#[utoipa::path(
    post,
    path = "/api/v1/merchants",
    tag = "merchants",
    summary = "Create or update a merchant under the authenticated tenant",
    params(("Idempotency-Key" = Option<String>, Header, description = "Retries with the same key and body get the first answer")),
    request_body = V1MerchantUpsertRequest,
    security(("merchant_key" = [], "merchant_secret" = [])),
    responses((status = 200, description = "The merchant", body = MerchantView))
)]
pub async fn upsert(t: Tenant, headers: HeaderMap, body: Bytes) -> Result<Response, V1Error> {
    let v = json_object(&body)?;
    let id = merchant_id(&v)?;
    let display_name = opt_str(&v, "displayName")?
        .map(str::trim)
        .map(str::to_string);
    if display_name
        .as_deref()
        .is_some_and(|d| d.is_empty() || d.chars().count() > 200)
    {
        return Err(V1Error::field(
            "displayName",
            "displayName: 1 to 200 characters",
        ));
    }
    let active = opt_bool(&v, "active")?;
    let sms = opt_int(&v, "smsLimit", 0..=MAX_LIMIT)?;
    let voice = opt_int(&v, "voiceMinutesLimit", 0..=MAX_LIMIT)?;
    let email = opt_int(&v, "emailLimit", 0..=MAX_LIMIT)?;
    let store = t.svc().store.clone();
    let account = t.account.clone();
    once(&store, &account, &headers, "merchants", &body, || async {
        let m = store
            .upsert_merchant(
                &account,
                &id,
                &MerchantUpsert {
                    display_name: display_name.as_deref(),
                    active,
                    sms_limit: sms,
                    voice_minutes_limit: voice,
                    email_limit: email,
                },
                now_ms(),
            )
            .await?;
        t.svc().forget_merchant(&account, &id);
        let view = view(&store, &m).await?;
        Ok((
            StatusCode::OK,
            serde_json::to_value(view).unwrap_or_default(),
        ))
    })
    .await
}

#[utoipa::path(
    get,
    path = "/api/v1/merchants",
    tag = "merchants",
    summary = "List merchants with limits, credits, and current usage",
    security(("merchant_key" = [], "merchant_secret" = [])),
    responses((status = 200, description = "The tenant's merchants", body = [MerchantView]))
)]
pub async fn list(t: Tenant) -> Result<Response, V1Error> {
    let store = &t.svc().store;
    let mut out = Vec::new();
    for m in store.merchants(&t.account).await? {
        out.push(view(store, &m).await?);
    }
    Ok(Json(out).into_response())
}

#[utoipa::path(
    get,
    path = "/api/v1/merchants/{merchantId}",
    tag = "merchants",
    summary = "Fetch one merchant by external merchant identifier",
    params(("merchantId" = String, Path, description = "The merchant's id")),
    security(("merchant_key" = [], "merchant_secret" = [])),
    responses((status = 200, description = "The merchant", body = MerchantView))
)]
pub async fn show(t: Tenant, Path(id): Path<String>) -> Result<Response, V1Error> {
    let m = find(&t, &id).await?;
    Ok(Json(view(&t.svc().store, &m).await?).into_response())
}
