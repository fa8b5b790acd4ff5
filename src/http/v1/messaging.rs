//! A merchant's messaging compliance (10DLC) under
//! `/api/v1/merchants/{merchantId}/messaging/`: `brand` (POST to register or
//! update, GET), `campaigns` (POST, GET), `numbers` (POST to add, GET),
//! `numbers/{number}/assignment` (POST a campaign) and `status` (the whole
//! standing and whether the merchant is ready to send). Records move
//! through their lifecycle as `merchant::messaging` says.

use axum::body::Bytes;
use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::Value;

use super::auth::Tenant;
use super::idempotency::once;
use super::merchants::find;
use super::schema::{MessagingRecordView, MessagingStatusView};
use super::{iso_ms, json_object, req_str, V1Code, V1Error};
use crate::dialplan::is_e164;
use crate::events::now_ms;
use crate::store::{MerchantRow, MessagingRecord};

fn view(r: &MessagingRecord, merchant: &str) -> MessagingRecordView {
    MessagingRecordView {
        id: r.id.clone(),
        merchant_id: merchant.to_string(),
        kind: r.kind.clone(),
        status: r.status.clone(),
        status_reason: r.status_reason.clone(),
        parent_id: r.parent_id.clone(),
        data: serde_json::from_str(&r.data).unwrap_or(Value::Null),
        created_at: iso_ms(r.created_at),
        updated_at: iso_ms(r.updated_at),
    }
}

/// When the simulator reviews a new record (never in LIVE mode: the registry does).
async fn review_at(t: &Tenant) -> Result<Option<i64>, V1Error> {
    let svc = t.svc();
    let live = svc.store.delivery_settings(&t.account).await?.mode == "LIVE";
    Ok((!live).then(|| now_ms() + svc.args.messaging_review_secs as i64 * 1000))
}

/// The fields of a record's data a request must and may carry.
fn data(v: &Value, required: &[&'static str], optional: &[&'static str]) -> Result<Value, V1Error> {
    let mut out = serde_json::Map::new();
    for f in required {
        out.insert((*f).into(), Value::from(req_str(v, f)?));
    }
    for f in optional {
        match &v[*f] {
            Value::Null => {}
            Value::String(s) if s.chars().count() <= 2000 => {
                out.insert((*f).into(), Value::from(s.as_str()));
            }
            Value::Array(list)
                if *f == "sampleMessages"
                    && list.len() <= 5
                    && list.iter().all(Value::is_string) =>
            {
                out.insert((*f).into(), Value::Array(list.clone()));
            }
            _ => return Err(V1Error::field(f, format!("{f}: not a valid value"))),
        }
    }
    Ok(Value::Object(out))
}

async fn put(
    t: &Tenant,
    m: &MerchantRow,
    id: String,
    kind: &str,
    parent: Option<String>,
    data: Value,
    status: &str,
) -> Result<MessagingRecord, V1Error> {
    let store = &t.svc().store;
    let now = now_ms();
    let existing = store
        .messaging_records(m.pk, Some(kind))
        .await?
        .into_iter()
        .find(|r| r.id == id);
    let advance_at = if status == "PENDING" {
        review_at(t).await?
    } else {
        None
    };
    let r = MessagingRecord {
        id,
        account_id: t.account.clone(),
        merchant_pk: m.pk,
        kind: kind.into(),
        parent_id: parent,
        data: data.to_string(),
        status: status.into(),
        status_reason: Some(if advance_at.is_some() {
            "submitted for review".into()
        } else {
            "waiting for the carrier registry".into()
        }),
        advance_at,
        created_at: existing.as_ref().map(|e| e.created_at).unwrap_or(now),
        updated_at: now,
    };
    store.put_messaging_record(&r).await?;
    Ok(r)
}

#[utoipa::path(
    post,
    path = "/api/v1/merchants/{merchantId}/messaging/brand",
    tag = "messaging",
    summary = "Register (or update) the merchant's SMS brand: PENDING, then VERIFIED",
    params(("merchantId" = String, Path, description = "The merchant's id")),
    request_body(content = Object, description = "brandName, companyName, ein, website, vertical, email, phone"),
    security(("merchant_key" = [], "merchant_secret" = [])),
    responses((status = 200, description = "The brand", body = MessagingRecordView))
)]
pub async fn put_brand(
    t: Tenant,
    Path(mid): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, V1Error> {
    let v = json_object(&body)?;
    let d = data(
        &v,
        &["brandName", "companyName"],
        &["ein", "website", "vertical", "email", "phone", "country"],
    )?;
    let m = find(&t, &mid).await?;
    let store = t.svc().store.clone();
    once(
        &store,
        &t.account,
        &headers,
        "messaging/brand",
        &body,
        || async {
            let r = put(
                &t,
                &m,
                format!("brand_{}", m.pk),
                "BRAND",
                None,
                d,
                "PENDING",
            )
            .await?;
            Ok((
                StatusCode::OK,
                serde_json::to_value(view(&r, &m.merchant_id)).unwrap_or_default(),
            ))
        },
    )
    .await
}

#[utoipa::path(
    get,
    path = "/api/v1/merchants/{merchantId}/messaging/brand",
    tag = "messaging",
    summary = "The merchant's SMS brand",
    params(("merchantId" = String, Path, description = "The merchant's id")),
    security(("merchant_key" = [], "merchant_secret" = [])),
    responses((status = 200, description = "The brand", body = MessagingRecordView))
)]
pub async fn get_brand(t: Tenant, Path(mid): Path<String>) -> Result<Response, V1Error> {
    let m = find(&t, &mid).await?;
    let r = t
        .svc()
        .store
        .messaging_records(m.pk, Some("BRAND"))
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| V1Error::not_found("brand (POST one first)"))?;
    Ok(Json(view(&r, &m.merchant_id)).into_response())
}

#[utoipa::path(
    post,
    path = "/api/v1/merchants/{merchantId}/messaging/campaigns",
    tag = "messaging",
    summary = "Submit a campaign under the brand: PENDING, then APPROVED once the brand is verified",
    params(("merchantId" = String, Path, description = "The merchant's id")),
    request_body(content = Object, description = "useCase, description, sampleMessages (up to 5), messageFlow, optInKeywords, optOutKeywords"),
    security(("merchant_key" = [], "merchant_secret" = [])),
    responses((status = 200, description = "The campaign", body = MessagingRecordView))
)]
pub async fn add_campaign(
    t: Tenant,
    Path(mid): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, V1Error> {
    let v = json_object(&body)?;
    let d = data(
        &v,
        &["useCase", "description"],
        &[
            "sampleMessages",
            "messageFlow",
            "optInKeywords",
            "optOutKeywords",
            "helpMessage",
        ],
    )?;
    let m = find(&t, &mid).await?;
    let store = t.svc().store.clone();
    once(
        &store,
        &t.account,
        &headers,
        "messaging/campaigns",
        &body,
        || async {
            let brand = store
                .messaging_records(m.pk, Some("BRAND"))
                .await?
                .into_iter()
                .next()
                .ok_or_else(|| {
                    V1Error::new(
                        V1Code::Conflict,
                        "register the brand first (POST …/messaging/brand)",
                    )
                })?;
            let id = format!("cmp_{}", uuid::Uuid::new_v4().simple());
            let r = put(&t, &m, id, "CAMPAIGN", Some(brand.id), d, "PENDING").await?;
            Ok((
                StatusCode::OK,
                serde_json::to_value(view(&r, &m.merchant_id)).unwrap_or_default(),
            ))
        },
    )
    .await
}

async fn list_kind(t: Tenant, mid: String, kind: &str) -> Result<Response, V1Error> {
    let m = find(&t, &mid).await?;
    let rows = t.svc().store.messaging_records(m.pk, Some(kind)).await?;
    Ok(Json(
        rows.iter()
            .map(|r| view(r, &m.merchant_id))
            .collect::<Vec<_>>(),
    )
    .into_response())
}

#[utoipa::path(
    get,
    path = "/api/v1/merchants/{merchantId}/messaging/campaigns",
    tag = "messaging",
    summary = "The merchant's campaigns",
    params(("merchantId" = String, Path, description = "The merchant's id")),
    security(("merchant_key" = [], "merchant_secret" = [])),
    responses((status = 200, description = "Campaigns", body = [MessagingRecordView]))
)]
pub async fn campaigns(t: Tenant, Path(mid): Path<String>) -> Result<Response, V1Error> {
    list_kind(t, mid, "CAMPAIGN").await
}

#[utoipa::path(
    post,
    path = "/api/v1/merchants/{merchantId}/messaging/numbers",
    tag = "messaging",
    summary = "Add a messaging number (UNASSIGNED until assigned to a campaign)",
    params(("merchantId" = String, Path, description = "The merchant's id")),
    request_body(content = Object, description = "phoneNumber (E.164)"),
    security(("merchant_key" = [], "merchant_secret" = [])),
    responses((status = 200, description = "The number", body = MessagingRecordView))
)]
pub async fn add_number(
    t: Tenant,
    Path(mid): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, V1Error> {
    let v = json_object(&body)?;
    let number = req_str(&v, "phoneNumber")?.to_string();
    if !is_e164(&number) {
        return Err(V1Error::field(
            "phoneNumber",
            "phoneNumber: an E.164 number",
        ));
    }
    let m = find(&t, &mid).await?;
    let store = t.svc().store.clone();
    let id = number_id(&t.account, &number);
    if let Some(owner) = store.merchant_of_number(&t.account, &number).await? {
        if owner != m.pk {
            return Err(V1Error::new(
                V1Code::Conflict,
                format!("{number} belongs to another merchant"),
            ));
        }
    }
    once(
        &store,
        &t.account,
        &headers,
        "messaging/numbers",
        &body,
        || async {
            let d = serde_json::json!({ "phoneNumber": number });
            let r = put(&t, &m, id, "NUMBER", None, d, "UNASSIGNED").await?;
            Ok((
                StatusCode::OK,
                serde_json::to_value(view(&r, &m.merchant_id)).unwrap_or_default(),
            ))
        },
    )
    .await
}

/// A messaging number's record id.
pub fn number_id(account: &str, number: &str) -> String {
    format!("num_{}_{}", account, number.trim_start_matches('+'))
}

#[utoipa::path(
    get,
    path = "/api/v1/merchants/{merchantId}/messaging/numbers",
    tag = "messaging",
    summary = "The merchant's messaging numbers",
    params(("merchantId" = String, Path, description = "The merchant's id")),
    security(("merchant_key" = [], "merchant_secret" = [])),
    responses((status = 200, description = "Numbers", body = [MessagingRecordView]))
)]
pub async fn numbers(t: Tenant, Path(mid): Path<String>) -> Result<Response, V1Error> {
    list_kind(t, mid, "NUMBER").await
}

#[utoipa::path(
    post,
    path = "/api/v1/merchants/{merchantId}/messaging/numbers/{number}/assignment",
    tag = "messaging",
    summary = "Assign a number to a campaign: PENDING, then ACTIVE once the campaign is approved",
    params(("merchantId" = String, Path, description = "The merchant's id"), ("number" = String, Path, description = "The number (E.164)")),
    request_body(content = Object, description = "campaignId"),
    security(("merchant_key" = [], "merchant_secret" = [])),
    responses((status = 200, description = "The number", body = MessagingRecordView))
)]
pub async fn assign(
    t: Tenant,
    Path((mid, number)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, V1Error> {
    let v = json_object(&body)?;
    let campaign = req_str(&v, "campaignId")?.to_string();
    let m = find(&t, &mid).await?;
    let store = t.svc().store.clone();
    let records = store.messaging_records(m.pk, None).await?;
    let id = number_id(&t.account, &number);
    let n = records
        .iter()
        .find(|r| r.kind == "NUMBER" && r.id == id)
        .cloned()
        .ok_or_else(|| {
            V1Error::not_found("messaging number (POST it to …/messaging/numbers first)")
        })?;
    if !records
        .iter()
        .any(|r| r.kind == "CAMPAIGN" && r.id == campaign)
    {
        return Err(V1Error::field(
            "campaignId",
            format!("no campaign {campaign:?} of this merchant"),
        ));
    }
    once(
        &store,
        &t.account,
        &headers,
        "messaging/assignment",
        &body,
        || async {
            let d: Value = serde_json::from_str(&n.data).unwrap_or(Value::Null);
            let r = put(
                &t,
                &m,
                n.id.clone(),
                "NUMBER",
                Some(campaign.clone()),
                d,
                "PENDING",
            )
            .await?;
            Ok((
                StatusCode::OK,
                serde_json::to_value(view(&r, &m.merchant_id)).unwrap_or_default(),
            ))
        },
    )
    .await
}

#[utoipa::path(
    get,
    path = "/api/v1/merchants/{merchantId}/messaging/status",
    tag = "messaging",
    summary = "The merchant's 10DLC standing: brand, campaigns, numbers, ready to send",
    params(("merchantId" = String, Path, description = "The merchant's id")),
    security(("merchant_key" = [], "merchant_secret" = [])),
    responses((status = 200, description = "The standing", body = MessagingStatusView))
)]
pub async fn status(t: Tenant, Path(mid): Path<String>) -> Result<Response, V1Error> {
    let m = find(&t, &mid).await?;
    let all = t.svc().store.messaging_records(m.pk, None).await?;
    let of = |k: &str| {
        all.iter()
            .filter(|r| r.kind == k)
            .map(|r| view(r, &m.merchant_id))
            .collect::<Vec<_>>()
    };
    let brand = of("BRAND").into_iter().next();
    let campaigns = of("CAMPAIGN");
    let numbers = of("NUMBER");
    let ready = brand.as_ref().is_some_and(|b| b.status == "VERIFIED")
        && numbers.iter().any(|n| {
            n.status == "ACTIVE"
                && campaigns
                    .iter()
                    .any(|c| Some(&c.id) == n.parent_id.as_ref() && c.status == "APPROVED")
        });
    Ok(Json(MessagingStatusView {
        merchant_id: m.merchant_id.clone(),
        brand,
        campaigns,
        numbers,
        ready,
    })
    .into_response())
}
