//! Messaging compliance (10DLC) records: a merchant's SMS brand, its
//! campaigns and its messaging numbers, each with a status lifecycle —
//! brand PENDING → VERIFIED; campaign PENDING → APPROVED once its brand is
//! verified; number UNASSIGNED, then (assigned to a campaign) PENDING →
//! ACTIVE once the campaign is approved. In SIMULATOR mode the simulator
//! reviews each step after `--messaging-review-secs`; in LIVE mode a record
//! waits for the carrier's registry, which an operator relays
//! (`POST /admin/messaging/{id}/status`). `next` is the rule, without IO.

use super::service::Service;
use crate::events::now_ms;
use crate::store::{MessagingRecord, StoreError};

/// What a record's next simulated step is, given its parent's status.
pub fn next(kind: &str, status: &str, parent_status: Option<&str>) -> Option<&'static str> {
    match (kind, status, parent_status) {
        ("BRAND", "PENDING", _) => Some("VERIFIED"),
        ("CAMPAIGN", "PENDING", Some("VERIFIED")) => Some("APPROVED"),
        ("NUMBER", "PENDING", Some("APPROVED")) => Some("ACTIVE"),
        _ => None,
    }
}

/// Advances the records due (the simulator's review).
pub async fn advance_due(svc: &Service) -> Result<(), StoreError> {
    let now = now_ms();
    for mut r in svc.store.messaging_due(now).await? {
        let parent = match &r.parent_id {
            Some(p) => svc
                .store
                .messaging_records(r.merchant_pk, None)
                .await?
                .into_iter()
                .find(|x| &x.id == p)
                .map(|x| x.status),
            None => None,
        };
        match next(&r.kind, &r.status, parent.as_deref()) {
            Some(to) => {
                r.status = to.to_string();
                r.status_reason = Some("reviewed by the simulator".into());
                r.advance_at = None;
            }
            // waiting on its parent: look again later
            None if r.status == "PENDING" => {
                r.advance_at = Some(now + svc.args.messaging_review_secs as i64 * 1000);
            }
            None => r.advance_at = None,
        }
        r.updated_at = now;
        svc.store.put_messaging_record(&r).await?;
        if r.advance_at.is_none() {
            wake_children(svc, &r).await?;
        }
    }
    Ok(())
}

/// A record that reached its state: its children waiting on it get reviewed soon.
async fn wake_children(svc: &Service, parent: &MessagingRecord) -> Result<(), StoreError> {
    let soon = now_ms() + svc.args.messaging_review_secs as i64 * 1000;
    for mut c in svc
        .store
        .messaging_records(parent.merchant_pk, None)
        .await?
    {
        if c.parent_id.as_deref() == Some(parent.id.as_str())
            && c.status == "PENDING"
            && c.advance_at.is_none_or(|a| a > soon)
        {
            c.advance_at = Some(soon);
            svc.store.put_messaging_record(&c).await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn each_step_waits_for_its_parent() {
        use super::next;
        assert_eq!(next("BRAND", "PENDING", None), Some("VERIFIED"));
        assert_eq!(next("CAMPAIGN", "PENDING", Some("PENDING")), None);
        assert_eq!(
            next("CAMPAIGN", "PENDING", Some("VERIFIED")),
            Some("APPROVED")
        );
        assert_eq!(next("NUMBER", "PENDING", Some("APPROVED")), Some("ACTIVE"));
        assert_eq!(next("NUMBER", "UNASSIGNED", None), None);
        assert_eq!(next("BRAND", "VERIFIED", None), None);
    }
}
