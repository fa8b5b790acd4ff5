//! Admission of a new INVITE: who is calling (a trunk recognised by its source
//! address, or an extension proven by digest auth with a 407 challenge) and where
//! the call goes (an extension, a DID's extension, or out through the account's
//! trunk). Refusals that need no call (auth, unknown trunk DID) are answered here.

use rsip::{Request, Response};
use std::sync::Arc;

use super::plan::{route, Destination, Origin};
use super::{b2bua, CallHandle, CallSender};
use crate::events::HangupCause;
use crate::sip::message;
use crate::sip::target::Target;
use crate::sip::transaction::TxId;
use crate::switch::register::{gate, Gate};
use crate::switch::Switch;

/// How long an extension with voicemail rings before the box takes the call.
const VOICEMAIL_AFTER: std::time::Duration = std::time::Duration::from_secs(20);

/// The call layer's [`crate::switch::Admission`]: the server installs it on
/// the switch. It hands every call the queue driver.
pub struct Admitter {
    pub acd: super::acd::AcdHandle,
}

impl crate::switch::Admission for Admitter {
    fn admit(
        &self,
        sw: &Arc<Switch>,
        tx: TxId,
        req: Request,
        source: Target,
    ) -> Result<CallSender, Response> {
        admit(sw, &self.acd, tx, req, source)
            .map(|h| h.tx)
            .map_err(|(_, r)| r)
    }
}

pub fn admit(
    sw: &Arc<Switch>,
    acd: &super::acd::AcdHandle,
    tx: TxId,
    req: Request,
    source: Target,
) -> Result<CallHandle, (Request, Response)> {
    let tag = message::random_token(10);
    let dir = sw.directory();
    let ruri = req.uri.to_string();
    let Some(dialled) = message::uri_user(&ruri).map(str::to_string) else {
        let r = message::response(&req, 404, "Not Found - No User In Request-URI", Some(&tag));
        return Err((req, r));
    };
    let from = message::from_value(&req.headers)
        .map(message::uri_part)
        .unwrap_or("")
        .to_string();
    let from_user = message::uri_user(&from).unwrap_or("anonymous").to_string();

    let (origin, destination) = if let Some(trunk) = dir.trunk_by_source(source.addr) {
        let account = match dir.account(&trunk.account_id) {
            Some(a) => a.clone(),
            None => {
                let r = message::response(
                    &req,
                    503,
                    "Service Unavailable - Trunk Without Account",
                    Some(&tag),
                );
                return Err((req, r));
            }
        };
        let origin = Origin {
            account,
            caller: from_user,
            display_name: None,
            external_caller_id: None,
            from_trunk: true,
        };
        let dest = match (dir.callflow_for_did(&dialled), dir.number(&dialled)) {
            (Some(flow), _) if flow.account.as_str() == origin.account.id => {
                Destination::Flow(flow.clone())
            }
            (_, Some(n)) => Destination::Extension {
                number: n.extension.clone(),
            },
            _ => Destination::Nowhere(HangupCause::UnallocatedNumber),
        };
        (origin, dest)
    } else {
        let host = message::uri_host(&from).unwrap_or("");
        let (account, ext) = match gate(sw, &req, &source, host, &from_user, true) {
            Gate::Pass(a, e) => (a, e),
            Gate::Reply(r) => return Err((req, r)),
        };
        let dest = if dialled == "*97" {
            // the caller's own voicemail box
            Destination::Flow(crate::routing::Callflow::voicemail_check(
                crate::ids::AccountId::from(account.id.as_str()),
                &ext.number,
            ))
        } else if let Some((action, number)) = crate::routing::AgentAction::from_code(&dialled) {
            // an agent's feature code: for the queue with that number, or all its queues
            let queue = match number {
                "" => None,
                n => match dir.queue_by_number(&account.id, n) {
                    Some(q) => Some(q.id.clone()),
                    None => {
                        let r =
                            message::response(&req, 404, "Not Found - No Such Queue", Some(&tag));
                        return Err((req, r));
                    }
                },
            };
            Destination::Flow(crate::routing::Callflow::agent_code(
                crate::ids::AccountId::from(account.id.as_str()),
                &dialled,
                action,
                queue,
            ))
        } else {
            route(&dir, &account.id, &dialled)
        };
        let origin = Origin {
            caller: ext.number.clone(),
            display_name: Some(ext.display_name.clone()).filter(|d| !d.is_empty()),
            external_caller_id: ext.caller_id.clone(),
            account,
            from_trunk: false,
        };
        (origin, dest)
    };
    // an extension with voicemail: ring it, then take a message
    let destination = match destination {
        Destination::Extension { number }
            if dir
                .extension(&origin.account.id, &number)
                .is_some_and(|e| e.voicemail) =>
        {
            Destination::Flow(crate::routing::Callflow::extension_with_voicemail(
                crate::ids::AccountId::from(origin.account.id.as_str()),
                &number,
                sw.settings.ring_timeout.min(VOICEMAIL_AFTER),
            ))
        }
        d => d,
    };
    Ok(b2bua::spawn(
        sw.clone(),
        acd.clone(),
        tx,
        req,
        source,
        origin,
        destination,
        dialled,
    ))
}
