//! Alerts (`GET /api/v1/alerts`): a merchant's usage at 80 % and 100 % of a
//! limit and its credits running out (raised as admissions count them), and
//! a provider's trouble — a failure rate over [`FAILURE_RATE`] across its
//! last [`WINDOW`] hand-offs, or [`DOWN_AFTER`] failures to connect in a row.
//! Each condition is raised once (per merchant, channel and period; per
//! provider and hour), by its dedup key.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use super::service::Service;
use crate::events::now_ms;

/// Hand-offs a provider's failure rate is taken over.
pub const WINDOW: usize = 50;
/// Failure rate that raises an alert (with at least [`MIN_SAMPLES`]).
pub const FAILURE_RATE: f64 = 0.2;
pub const MIN_SAMPLES: usize = 10;
/// Connection failures in a row that mean a provider is down.
pub const DOWN_AFTER: u32 = 5;

#[derive(Default)]
struct Track {
    recent: VecDeque<bool>,
    unreachable_in_a_row: u32,
}

/// Providers' recent outcomes.
#[derive(Default)]
pub struct Health {
    by_provider: Mutex<HashMap<String, Track>>,
}

/// What one outcome says about a provider.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Verdict {
    Fine,
    FailureRate(f64),
    Down(u32),
}

impl Health {
    /// Notes one outcome (`unreachable`: not even connected); the alert it calls for.
    pub fn note(&self, provider: &str, ok: bool, unreachable: bool) -> Verdict {
        let mut all = self.by_provider.lock().unwrap_or_else(|p| p.into_inner());
        let t = all.entry(provider.to_string()).or_default();
        t.recent.push_back(ok);
        while t.recent.len() > WINDOW {
            t.recent.pop_front();
        }
        t.unreachable_in_a_row = if unreachable {
            t.unreachable_in_a_row + 1
        } else {
            0
        };
        if t.unreachable_in_a_row >= DOWN_AFTER {
            return Verdict::Down(t.unreachable_in_a_row);
        }
        let failed = t.recent.iter().filter(|ok| !**ok).count();
        let rate = failed as f64 / t.recent.len() as f64;
        if t.recent.len() >= MIN_SAMPLES && rate > FAILURE_RATE {
            return Verdict::FailureRate(rate);
        }
        Verdict::Fine
    }

    pub async fn ok(&self, svc: &Service, provider: &str) {
        if provider == "none" {
            return;
        }
        let v = self.note(provider, true, false);
        raise_provider(svc, provider, v).await;
    }

    pub async fn failed(&self, svc: &Service, provider: &str, unreachable: bool) {
        // a message no provider could take says nothing about a provider
        if provider == "none" {
            return;
        }
        let v = self.note(provider, false, unreachable);
        raise_provider(svc, provider, v).await;
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_rate_and_down_are_judged_over_the_window() {
        let h = Health::default();
        for _ in 0..9 {
            assert_eq!(h.note("twilio", false, false), Verdict::Fine);
        }
        assert!(matches!(h.note("twilio", false, false), Verdict::FailureRate(r) if r > 0.99));
        let h = Health::default();
        for _ in 0..40 {
            h.note("telnyx", true, false);
        }
        for _ in 0..4 {
            h.note("telnyx", false, true);
        }
        assert_eq!(h.note("telnyx", false, true), Verdict::Down(5));
        assert_eq!(h.note("telnyx", true, false), Verdict::Fine);
    }
}
