//! Money and oversight: `POST /api/v1/billing/upgrade` (a payment for more
//! units, PENDING until the payment provider confirms; the embedded provider
//! is manual — `switchyard payment confirm <paymentId>` — and credits and
//! `fulfilled` change only then), `GET /api/v1/alerts` and
//! `GET /api/v1/reports/usage?from=&to=` (counts, provider cost, markup and
//! charges from the price list; PROVISIONAL while any message in range lacks
//! a provider's final outcome, FINAL once all have one).

use axum::body::Bytes;
use axum::extract::Query;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;

use super::auth::Tenant;
use super::idempotency::once;
use super::merchants::find;
use super::schema::{
    AlertView, MerchantUpgradeView, V1MerchantUpgradeRequest, V1UsageReportResponse,
};
use super::{iso_ms, json_object, merchant_id, opt_int, opt_str, req_str, V1Code, V1Error};
use crate::events::now_ms;
use crate::merchant::pricing::{cents, charge};
use crate::merchant::Channel;
use crate::store::PaymentRow;

/// The upgrade view of a payment, with the merchant's credits on its channel now.
pub fn upgrade_view(p: &PaymentRow, merchant_id: &str, credits: i64) -> MerchantUpgradeView {
    MerchantUpgradeView {
        merchant_id: merchant_id.to_string(),
        channel: p.channel.clone(),
        units_requested: p.units,
        amount_cents: p.amount_cents,
        currency: p.currency.clone(),
        payment_id: p.id.clone(),
        payment_status: p.status.clone(),
        fulfilled: p.fulfilled,
        remaining_credits: credits,
    }
}

#[utoipa::path(
    post,
    path = "/api/v1/billing/upgrade",
    tag = "billing",
    summary = "Request additional SMS, voice, or email units for a merchant",
    description = "The payment is PENDING until the payment provider confirms it; only then are the units added to the merchant's credits and fulfilled set.",
    params(("Idempotency-Key" = Option<String>, Header, description = "Retries with the same key and body get the first answer")),
    request_body = V1MerchantUpgradeRequest,
    security(("merchant_key" = [], "merchant_secret" = [])),
    responses((status = 200, description = "The pending payment", body = MerchantUpgradeView))
)]
pub async fn upgrade(t: Tenant, headers: HeaderMap, body: Bytes) -> Result<Response, V1Error> {
    let v = json_object(&body)?;
    let id = merchant_id(&v)?;
    let channel = Channel::parse(req_str(&v, "channel")?)
        .ok_or_else(|| V1Error::field("channel", "channel: SMS, VOICE or EMAIL"))?;
    let units = opt_int(&v, "units", 1..=100_000_000)?
        .ok_or_else(|| V1Error::field("units", "units is required (1 to 100000000)"))?;
    let amount = opt_int(&v, "amountCents", 0..=10_000_000_000)?
        .ok_or_else(|| V1Error::field("amountCents", "amountCents is required"))?;
    let currency = opt_str(&v, "currency")?
        .unwrap_or("USD")
        .trim()
        .to_ascii_uppercase();
    if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_alphabetic()) {
        return Err(V1Error::field(
            "currency",
            "currency: an ISO 4217 code (USD)",
        ));
    }
    let text = |f: &'static str| -> Result<Option<String>, V1Error> {
        let s = opt_str(&v, f)?.map(str::trim).map(str::to_string);
        if s.as_deref().is_some_and(|s| s.chars().count() > 500) {
            return Err(V1Error::field(f, format!("{f}: at most 500 characters")));
        }
        Ok(s)
    };
    let (method, reference, note) = (
        text("paymentMethodId")?,
        text("referenceId")?,
        text("note")?,
    );
    let m = find(&t, &id).await?;
    let store = t.svc().store.clone();
    once(
        &store,
        &t.account,
        &headers,
        "billing/upgrade",
        &body,
        || async {
            let p = PaymentRow {
                id: format!("pay_{}", uuid::Uuid::new_v4().simple()),
                account_id: t.account.clone(),
                merchant_pk: m.pk,
                channel: channel.as_str().into(),
                units,
                amount_cents: amount,
                currency: currency.clone(),
                payment_method_id: method.clone(),
                reference_id: reference.clone(),
                note: note.clone(),
                status: "PENDING".into(),
                fulfilled: false,
                created_at: now_ms(),
                settled_at: None,
            };
            store.create_payment(&p).await?;
            let credits = m.credits(channel.as_str());
            Ok((
                StatusCode::OK,
                serde_json::to_value(upgrade_view(&p, &m.merchant_id, credits)).unwrap_or_default(),
            ))
        },
    )
    .await
}

#[utoipa::path(
    get,
    path = "/api/v1/alerts",
    tag = "billing",
    summary = "List merchant usage and provider alerts for the tenant",
    security(("merchant_key" = [], "merchant_secret" = [])),
    responses((status = 200, description = "Newest first (up to 500)", body = [AlertView]))
)]
pub async fn alerts(t: Tenant) -> Result<Response, V1Error> {
    let store = &t.svc().store;
    let merchants = store.merchants(&t.account).await?;
    let name = |pk: Option<i64>| {
        pk.and_then(|pk| merchants.iter().find(|m| m.pk == pk))
            .map(|m| m.merchant_id.clone())
    };
    let out: Vec<AlertView> = store
        .alerts(&t.account, 500)
        .await?
        .into_iter()
        .map(|a| AlertView {
            alert_id: a.id.to_string(),
            merchant_id: name(a.merchant_pk),
            kind: a.kind,
            severity: a.severity,
            channel: a.channel,
            message: a.message,
            created_at: iso_ms(a.created_at),
        })
        .collect();
    Ok(Json(out).into_response())
}

#[derive(Debug, Deserialize)]
pub struct ReportQuery {
    from: String,
    to: String,
}

fn day(field: &'static str, s: &str) -> Result<chrono::NaiveDate, V1Error> {
    chrono::NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .map_err(|_| V1Error::field(field, format!("{field}: a date as YYYY-MM-DD")))
}

#[utoipa::path(
    get,
    path = "/api/v1/reports/usage",
    tag = "billing",
    summary = "Read summarized usage, cost, markup, and freshness state",
    params(
        ("from" = String, Query, description = "First day, YYYY-MM-DD (UTC)"),
        ("to" = String, Query, description = "Last day, YYYY-MM-DD (UTC), included")
    ),
    security(("merchant_key" = [], "merchant_secret" = [])),
    responses((status = 200, description = "The report", body = V1UsageReportResponse))
)]
pub async fn usage(
    t: Tenant,
    q: Result<Query<ReportQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, V1Error> {
    let Query(q) = q.map_err(|e| V1Error::new(V1Code::Validation, e.body_text()))?;
    let (from, to) = (day("from", &q.from)?, day("to", &q.to)?);
    if to < from {
        return Err(V1Error::field("to", "to: on or after from"));
    }
    if (to - from).num_days() > 366 {
        return Err(V1Error::field("to", "a report covers at most 366 days"));
    }
    let start = from
        .and_hms_opt(0, 0, 0)
        .unwrap_or_default()
        .and_utc()
        .timestamp_millis();
    let end = (to + chrono::Duration::days(1))
        .and_hms_opt(0, 0, 0)
        .unwrap_or_default()
        .and_utc()
        .timestamp_millis();
    let svc = t.svc();
    let sums = svc.store.usage_sums(&t.account, start, end).await?;
    let (mut cost, mut markup, mut total) = (0.0, 0.0, 0.0);
    let (mut sms, mut email, mut voice, mut minutes, mut pending) = (0, 0, 0, 0, 0);
    for s in &sums {
        let c = charge(
            &svc.pricing,
            &s.channel,
            s.units,
            s.count,
            s.cost_micros,
            s.unpriced,
        );
        cost += c.provider_cost;
        markup += c.markup;
        total += c.final_charges;
        pending += s.pending;
        match s.channel.as_str() {
            "SMS" => sms += s.count,
            "EMAIL" => email += s.count,
            _ => {
                voice += s.count;
                minutes += s.units;
            }
        }
    }
    let (state, reason) = if pending > 0 {
        (
            "PROVISIONAL",
            format!("Provider finalization still pending for {pending} message(s)."),
        )
    } else {
        (
            "FINAL",
            "Every message in range has a final provider outcome.".to_string(),
        )
    };
    Ok(Json(V1UsageReportResponse {
        from: from.to_string(),
        to: to.to_string(),
        total_sms_count: sms,
        total_email_count: email,
        total_voice_count: voice,
        total_voice_minutes: minutes,
        aws_cost: cents(cost),
        hq_markup: cents(markup),
        final_charges: cents(total),
        freshness_state: state.into(),
        freshness_reason: reason,
    })
    .into_response())
}
