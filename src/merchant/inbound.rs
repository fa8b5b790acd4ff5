//! Replies to merchant SMS: STOP (and its synonyms) records an OPT_OUT, START
//! an OPT_IN, on SMS for the merchants the number the reply came to belongs
//! to — the merchant its messaging number is assigned to, else every
//! merchant of the account (an opt-out is never missed; a START restores only
//! the merchants the sender had stopped). Every reply is an SMS_RECEIVED event.

use super::service::Service;
use super::{reply_keyword, ConsentStatus};
use crate::events::{now_ms, Event, Numbers, SmsEvent, SmsMeta};
use crate::ids::AccountId;
use crate::store::StoreError;

/// Handles an SMS from `from` to the account's number `to`; the consent it recorded.
pub async fn reply(
    svc: &Service,
    account: &str,
    from: &str,
    to: &str,
    body: &str,
    provider_id: &str,
) -> Result<Option<ConsentStatus>, StoreError> {
    svc.bus.publish(Event::SmsReceived(SmsEvent::now(
        AccountId::from(account),
        SmsMeta {
            from_number: Some(from.to_string()),
            to_number: Some(Numbers::One(to.to_string())),
            body: Some(body.to_string()),
            message_id: provider_id.to_string(),
            ..SmsMeta::default()
        },
    )));
    let Some(consent) = reply_keyword(body) else {
        return Ok(None);
    };
    let merchants = match svc.store.merchant_of_number(account, to).await? {
        Some(pk) => vec![pk],
        None => svc
            .store
            .merchants(account)
            .await?
            .into_iter()
            .map(|m| m.pk)
            .collect(),
    };
    let source = format!("sms-reply:{}", body.trim().to_ascii_uppercase());
    for pk in merchants {
        // START undoes a STOP; it opts nobody in to a merchant they never stopped
        if consent == ConsentStatus::OptIn {
            let was = svc.store.consent(pk, "SMS", from).await?;
            if was.is_none_or(|c| c.status != ConsentStatus::OptOut.as_str()) {
                continue;
            }
        }
        svc.store
            .add_consent(pk, "SMS", from, consent.as_str(), Some(&source), now_ms())
            .await?;
        svc.forget_consent(pk, "SMS", from);
    }
    Ok(Some(consent))
}
