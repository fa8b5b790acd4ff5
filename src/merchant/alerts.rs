//! Alerts (`GET /api/v1/alerts`): a merchant's usage at 80 % and 100 % of a
//! limit and its credits running out (raised as admissions count them), and
//! a provider's trouble — too high a failure rate over its last hand-offs,
//! or failures to connect in a row (the thresholds are `health`'s).
//! Each condition is raised once (per merchant, channel and period; per
//! provider and hour), by its dedup key. The providers' recent outcomes are
//! kept by `health`.

use super::health::{Verdict, FAILURE_RATE};
use super::service::Service;
use crate::events::now_ms;

/// Notes a provider's successful hand-off (and raises what it calls for).
pub async fn provider_ok(svc: &Service, provider: &str) {
    if provider == "none" {
        return;
    }
    let v = svc.health.note(provider, true, false);
    raise_provider(svc, provider, v).await;
}

/// Notes a provider's failed hand-off (`unreachable`: not even connected).
pub async fn provider_failed(svc: &Service, provider: &str, unreachable: bool) {
    // a message no provider could take says nothing about a provider
    if provider == "none" {
        return;
    }
    let v = svc.health.note(provider, false, unreachable);
    raise_provider(svc, provider, v).await;
}

async fn raise_provider(svc: &Service, provider: &str, v: Verdict) {
    let (kind, message) = match v {
        Verdict::Fine => return,
        Verdict::FailureRate(r) => (
            "PROVIDER_FAILURE_RATE",
            format!(
                "{provider}: {:.0} % of the last hand-offs failed (threshold {:.0} %)",
                r * 100.0,
                FAILURE_RATE * 100.0
            ),
        ),
        Verdict::Down(n) => (
            "PROVIDER_DOWN",
            format!("{provider}: {n} attempts in a row could not reach it"),
        ),
    };
    let hour = now_ms() / 3_600_000;
    // a provider serves every account: each account with messages on it hears of it
    let accounts = svc
        .store
        .lane_accounts_using(provider)
        .await
        .unwrap_or_default();
    for account in accounts {
        let key = format!("{account}:{kind}:{provider}:{hour}");
        if let Err(e) = svc
            .store
            .raise_alert(
                &account,
                None,
                kind,
                "CRITICAL",
                None,
                &message,
                &key,
                now_ms(),
            )
            .await
        {
            tracing::warn!(error = %e, "cannot raise a provider alert");
        }
    }
}

/// The usage alerts one admission calls for: `used` of `limit` on `channel`
/// (whether a credit paid it, and the credits left).
#[allow(clippy::too_many_arguments)]
pub async fn usage(
    svc: &Service,
    account: &str,
    merchant_pk: i64,
    merchant_id: &str,
    channel: &str,
    period: &str,
    used: i64,
    limit: i64,
) {
    let mut raise = Vec::new();
    if limit > 0 && used * 100 >= limit * 80 {
        raise.push((
            "USAGE_80",
            "WARNING",
            format!(
                "{merchant_id}: {used} of {limit} {} used this period (80 %)",
                super::accept::unit_name(channel)
            ),
        ));
    }
    if used >= limit {
        raise.push((
            "USAGE_100",
            "CRITICAL",
            format!("{merchant_id}: the {channel} limit of {limit} is used up this period"),
        ));
    }
    for (kind, severity, message) in raise {
        let key = format!("{merchant_pk}:{channel}:{period}:{kind}");
        if let Err(e) = svc
            .store
            .raise_alert(
                account,
                Some(merchant_pk),
                kind,
                severity,
                Some(channel),
                &message,
                &key,
                now_ms(),
            )
            .await
        {
            tracing::warn!(error = %e, "cannot raise a usage alert");
        }
    }
}

/// A merchant that could not send for want of credits.
pub async fn credits_exhausted(
    svc: &Service,
    account: &str,
    merchant_pk: i64,
    merchant_id: &str,
    channel: &str,
    period: &str,
) {
    let key = format!("{merchant_pk}:{channel}:{period}:CREDITS_EXHAUSTED");
    let message = format!(
        "{merchant_id}: a {channel} message was refused: the limit is used and no credits are left"
    );
    if let Err(e) = svc
        .store
        .raise_alert(
            account,
            Some(merchant_pk),
            "CREDITS_EXHAUSTED",
            "CRITICAL",
            Some(channel),
            &message,
            &key,
            now_ms(),
        )
        .await
    {
        tracing::warn!(error = %e, "cannot raise a credits alert");
    }
}
