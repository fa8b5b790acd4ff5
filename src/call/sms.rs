//! Text messages over SIP (RFC 3428 MESSAGE): one message to one number of an
//! account — to every registered device of the extension the number reaches
//! (delivered when any accepts it), or out through the account's trunk for
//! an outside number. Each MESSAGE is a client transaction of the shards, its
//! answers coming back on a channel of this task's own. A number with no
//! `targets` (an extension without a device, no trunk) has no SIP route: the
//! caller hands the message to the simulator instead.

use std::sync::Arc;
use std::time::Duration;

use rsip::{Header, Request};
use tokio::sync::mpsc;

use super::plan::{route, Destination};
use super::CallInput;
use crate::sip::message;
use crate::sip::target::Target;
use crate::switch::{ShardMsg, Switch};

/// How a message over SIP ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SmsOutcome {
    /// A device or the trunk accepted it (2xx).
    Delivered,
    /// Every target refused it (the best status), or none answered (`None`).
    Failed(Option<u16>),
}

/// Longer than the transaction's own timeout (timer F, 32 s): it always ends first.
const GIVE_UP: Duration = Duration::from_secs(40);

/// One place a message goes: (Request-URI, To, where to send it).
pub type SmsTarget = (String, String, Target);

/// Where a message to `to` in `account` goes over SIP (none: no SIP route).
pub fn targets(sw: &Switch, account: &str, to: &str) -> Vec<SmsTarget> {
    let dir = sw.directory();
    let Some(acc) = dir.account(account) else {
        return Vec::new();
    };
    match route(&dir, account, to) {
        Destination::Extension { number } => {
            let to_uri = format!("<sip:{number}@{}>", acc.sip_domain);
            sw.registrations
                .lookup(account, &number, crate::events::now_ms())
                .into_iter()
                .map(|b| (b.uri, to_uri.clone(), b.source))
                .collect()
        }
        Destination::Trunk { trunk, number } => super::b2bua::trunk_contact(&trunk, &number)
            .into_iter()
            .collect(),
        _ => Vec::new(),
    }
}

/// Sends `text` from `from` (a number of `account`) to `targets` (from
/// [`targets`]); delivered once any of them accepts it.
pub async fn send(
    sw: &Arc<Switch>,
    account: &str,
    from: &str,
    targets: &[SmsTarget],
    text: &str,
) -> SmsOutcome {
    let Some(domain) = sw
        .directory()
        .account(account)
        .map(|a| a.sip_domain.clone())
    else {
        return SmsOutcome::Failed(None);
    };
    let (tx, mut rx) = mpsc::unbounded_channel();
    let call_id = format!("{}@switchyard", message::random_token(20));
    for (token, (uri, to_header, target)) in targets.iter().enumerate() {
        let req = build(
            sw, uri, to_header, from, &domain, &call_id, token, *target, text,
        );
        sw.to_shard(
            &call_id,
            ShardMsg::Request {
                req,
                target: *target,
                owner: tx.clone(),
                token: token as u64,
            },
        );
    }
    drop(tx);
    let mut open = targets.len();
    let mut best: Option<u16> = None;
    let deadline = tokio::time::Instant::now() + GIVE_UP;
    while open > 0 {
        let input = match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(i)) => i,
            _ => break,
        };
        match input {
            CallInput::Response { resp, .. } => {
                let code = resp.status_code.code();
                if (200..300).contains(&code) {
                    return SmsOutcome::Delivered;
                }
                if code >= 300 {
                    open -= 1;
                    best = Some(best.map_or(code, |b| b.min(code)));
                }
            }
            CallInput::Timeout { .. } | CallInput::TransportError { .. } => open -= 1,
            _ => {}
        }
    }
    SmsOutcome::Failed(best)
}

#[allow(clippy::too_many_arguments)]
fn build(
    sw: &Switch,
    uri: &str,
    to: &str,
    from: &str,
    domain: &str,
    call_id: &str,
    n: usize,
    target: Target,
    text: &str,
) -> Request {
    let mut h = rsip::Headers::default();
    h.push(Header::Via(rsip::headers::Via::from(sw.via(target.kind))));
    h.push(Header::MaxForwards(rsip::headers::MaxForwards::from("70")));
    h.push(Header::From(rsip::headers::From::from(format!(
        "<sip:{from}@{domain}>;tag={}",
        message::random_token(12)
    ))));
    h.push(Header::To(rsip::headers::To::from(to.to_string())));
    h.push(Header::CallId(rsip::headers::CallId::from(call_id)));
    h.push(Header::CSeq(rsip::headers::CSeq::from(format!(
        "{} MESSAGE",
        n + 1
    ))));
    h.push(Header::UserAgent(rsip::headers::UserAgent::from(
        "Switchyard",
    )));
    let mut req = Request {
        method: rsip::Method::Message,
        uri: rsip::Uri::try_from(uri).unwrap_or_default(),
        version: rsip::Version::V2,
        headers: h,
        body: Vec::new(),
    };
    message::set_body(
        &mut req.headers,
        &mut req.body,
        text.as_bytes().to_vec(),
        Some("text/plain;charset=UTF-8"),
    );
    req
}
