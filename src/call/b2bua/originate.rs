//! A call the switch places itself, with no inbound leg: its first leg is an
//! extension the switch rings (every registered device; the first to answer
//! wins, the rest are cancelled), with the switch as that leg's media
//! endpoint. Once it answers, the call runs a callflow for it exactly as for
//! a caller the switch answered — prompts, menus, a queue, or a dial round
//! whose answer is bridged to it (click-to-call). From then on the first leg
//! is the call's A leg; only how it came to be differs.

use super::*;
use crate::call::plan::{route, Destination, Origin};
use crate::media::session::Cmd;
use crate::routing::{nodes, Callflow};

/// Why a call could not be placed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OriginateError {
    #[error("no account {0:?}")]
    UnknownAccount(String),
    #[error("{0:?} is not an extension of the account")]
    UnknownExtension(String),
    #[error("extension {0:?} has no registered device")]
    NotRegistered(String),
    #[error("{0:?} is not a number the account can connect to")]
    UnknownNumber(String),
}

/// What to place: ring `to` (an extension of `account`), then connect it to
/// `connect` — any number the account can dial (app, callflow, queue,
/// extension, outside number). The first leg sees `caller_id` as the caller.
///
/// With `click`, it is the user's own call instead (click-to-call): placed
/// from extension `to`, whose phone shows `connect` as the party it calls;
/// `connect` sees the extension as the caller — through a trunk with
/// `caller_id` (else the extension's or the trunk's caller ID).
#[derive(Debug, Clone)]
pub struct Originate {
    pub account: String,
    pub to: String,
    pub connect: String,
    pub caller_id: Option<String>,
    pub caller_name: Option<String>,
    pub click: Option<ClickToCall>,
}

/// A click-to-call's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClickToCall {
    /// The number the user's extension calls (`Originate::connect`).
    pub to: String,
    /// Record the call once both parties are bridged.
    pub record: bool,
}

/// Places a call; its handle (with the call's id) once it is under way.
pub fn originate(
    sw: &Arc<Switch>,
    acd: &crate::call::acd::AcdHandle,
    req: Originate,
) -> Result<CallHandle, OriginateError> {
    let dir = sw.directory();
    let account = dir
        .account(&req.account)
        .cloned()
        .ok_or_else(|| OriginateError::UnknownAccount(req.account.clone()))?;
    if dir.extension(&account.id, &req.to).is_none() {
        return Err(OriginateError::UnknownExtension(req.to));
    }
    if sw
        .registrations
        .lookup(&account.id, &req.to, now_ms())
        .is_empty()
    {
        return Err(OriginateError::NotRegistered(req.to));
    }
    let aid = crate::ids::AccountId::from(account.id.as_str());
    let ring = sw.settings.ring_timeout;
    let id = String::from("connect");
    let node: Box<dyn crate::routing::Node> = match route(&dir, &account.id, &req.connect) {
        Destination::Flow(f) => {
            return Ok(place(sw, acd, req, account, f));
        }
        Destination::App(app) => Box::new(nodes::Play {
            id,
            steps: app.steps,
            next: None,
        }),
        Destination::Extension { number } => Box::new(nodes::Extension {
            id,
            number,
            ring,
            next: None,
        }),
        Destination::Trunk { number, .. } => Box::new(nodes::External {
            id,
            number,
            ring,
            next: None,
        }),
        Destination::Nowhere(_) => return Err(OriginateError::UnknownNumber(req.connect)),
    };
    let flow = Callflow::single(aid, &req.connect, node);
    Ok(place(sw, acd, req, account, flow))
}

fn place(
    sw: &Arc<Switch>,
    acd: &crate::call::acd::AcdHandle,
    req: Originate,
    account: crate::store::Account,
    then: Arc<Callflow>,
) -> CallHandle {
    let origin = match &req.click {
        None => Origin {
            caller: req.caller_id.unwrap_or_else(|| req.connect.clone()),
            display_name: req.caller_name,
            external_caller_id: None,
            account,
            from_trunk: false,
        },
        Some(_) => {
            let ext = sw.directory().extension(&account.id, &req.to).cloned();
            Origin {
                caller: req.to.clone(),
                display_name: ext
                    .as_ref()
                    .map(|e| e.display_name.clone())
                    .filter(|n| !n.is_empty()),
                external_caller_id: req.caller_id.or(ext.and_then(|e| e.caller_id)),
                account,
                from_trunk: false,
            }
        }
    };
    tracing::info!(to = %req.to, connect = %req.connect, "originating a call");
    let destination = Destination::Extension {
        number: req.to.clone(),
    };
    spawn_call(
        sw.clone(),
        acd.clone(),
        Start::Originate {
            then,
            click: req.click,
            ring: None,
        },
        origin,
        destination,
        req.to,
    )
}

/// A call to an outside number through the account's trunk, with no inbound
/// leg: the switch rings `number` for at most `ring` and runs `then` once it
/// answers (a spoken message, say). `caller_id` is what the callee sees
/// (else the trunk's).
#[derive(Clone)]
pub struct OutsideCall {
    pub account: String,
    pub number: String,
    pub caller_id: Option<String>,
    pub ring: std::time::Duration,
    pub then: Arc<Callflow>,
}

/// Places an [`OutsideCall`]; its handle once it is under way.
pub fn originate_outside(
    sw: &Arc<Switch>,
    acd: &crate::call::acd::AcdHandle,
    req: OutsideCall,
) -> Result<CallHandle, OriginateError> {
    let dir = sw.directory();
    let account = dir
        .account(&req.account)
        .cloned()
        .ok_or_else(|| OriginateError::UnknownAccount(req.account.clone()))?;
    let destination = match route(&dir, &account.id, &req.number) {
        d @ Destination::Trunk { .. } => d,
        _ => return Err(OriginateError::UnknownNumber(req.number)),
    };
    let origin = Origin {
        caller: req.caller_id.clone().unwrap_or_else(|| account.id.clone()),
        display_name: None,
        external_caller_id: req.caller_id,
        account,
        from_trunk: false,
    };
    tracing::info!(to = %req.number, "placing an outside call");
    Ok(spawn_call(
        sw.clone(),
        acd.clone(),
        Start::Originate {
            then: req.then,
            click: None,
            ring: Some(req.ring),
        },
        origin,
        destination,
        req.number,
    ))
}

impl Call {
    /// Rings the first leg with the switch's own offer.
    pub(super) fn originate(&mut self) {
        let contacts = match &self.destination {
            Destination::Trunk { trunk, number } => {
                super::trunk_contact(trunk, number).into_iter().collect()
            }
            _ => self.extension_contacts(&self.dialled.clone()),
        };
        if contacts.is_empty() {
            return self.finish(HangupCause::UserNotRegistered);
        }
        if !self.ensure_media() {
            return;
        }
        let Some(port) = self.media.as_ref().and_then(|m| m.port(self.leg(Side::A))) else {
            return self.finish(HangupCause::NetworkOutOfOrder);
        };
        self.sdp_session += 1;
        let offer = negotiate::endpoint_offer(self.public_ip(), port, self.sdp_session);
        self.a_forking = true;
        self.ring(contacts, Some(offer.into_bytes()));
    }

    /// A response to one of the first leg's forks.
    pub(super) fn on_a_fork_response(&mut self, i: usize, resp: Response) {
        match resp.status_code.code() {
            100 => {}
            101..=199 => {
                self.forks[i].provisional = true;
                if self.forks[i].cancel_pending {
                    return self.send_cancel(i);
                }
                if !self.a_sent_180 {
                    self.a_sent_180 = true;
                    self.a_chan.ringing();
                }
            }
            200..=299 => {
                // a browser's answer: its stack takes it, the call reads the plain equivalent
                let mut resp = resp;
                self.browser_fork_answered(i, &mut resp);
                self.a_answered(i, resp)
            }
            code => self.fork_failed(i, code),
        }
    }

    /// A fork of the first leg failed; once all have, so has the call.
    pub(super) fn a_fork_failed(&mut self) {
        if self.forks.iter().all(|f| f.done) {
            self.a_forking = false;
            let cause = HangupCause::from_sip_status(self.best_failure.unwrap_or(480));
            tracing::info!(call = %self.id, ?cause, "the originated leg did not answer");
            self.finish(cause);
        }
    }

    /// The first leg answered: acknowledge it, cancel the other devices, point
    /// the media at it, and run the flow.
    fn a_answered(&mut self, i: usize, resp: Response) {
        let Some(mut dialog) = Dialog::uac(&self.forks[i].invite, &resp) else {
            tracing::warn!(call = %self.id, "2xx without a usable To tag; ignoring");
            return;
        };
        self.forks[i].done = true;
        let target = self.forks[i].target;
        let cseq = message::cseq(&self.forks[i].invite.headers)
            .map(|c| c.0)
            .unwrap_or(1);
        let ack = dialog.request(rsip::Method::Ack, self.via(target.kind), None, Some(cseq));
        let call_id = dialog.call_id.clone();
        self.send_stateless(&call_id, SipMessage::Request(ack), target);
        let neg = negotiate::audio_line(&resp.body)
            .ok()
            .flatten()
            .as_ref()
            .and_then(negotiate::choose);
        if self.ended || !self.a_forking || neg.is_none() {
            // lost the race, the call is over, or no codec we can play: release it
            let bye = dialog.request(rsip::Method::Bye, self.via(target.kind), None, None);
            self.sw.to_shard(
                &call_id,
                ShardMsg::Request {
                    req: bye,
                    target,
                    owner: self.me.clone(),
                    token: IGNORED,
                },
            );
            if self.a_forking {
                self.a_fork_failed();
            }
            return;
        }
        for j in 0..self.forks.len() {
            if j != i && !self.forks[j].done {
                self.cancel_fork(j);
            }
        }
        self.mark_answered(i); // while still forking: the A leg's, not a B leg's
        self.a_forking = false;
        self.a_call_id = call_id;
        self.a_chan.info.sip_call_id = self.a_call_id.clone();
        self.a_source = target;
        self.a_invite = self.forks[i].invite.clone();
        self.a_dialog = Some(dialog);
        self.a_acked = true;
        let a = self.leg(Side::A);
        if let Some(m) = self.media.as_mut() {
            m.send(Cmd::SignallingIp {
                leg: a,
                ip: target.addr.ip(),
            });
            if let Some((rtp, rtcp)) = sdp_remote(&resp.body) {
                m.set_remote(a, rtp, rtcp);
            }
            m.apply(Cmd::SetCodec {
                leg: a,
                neg: neg.clone(),
            });
        }
        self.a_rate = neg.as_ref().map(|n| negotiate::pcm_rate(n, None));
        self.endpoint = true;
        self.a_chan.answer(&self.sw.bus, &self.sw.metrics);
        tracing::info!(call = %self.id, "the originated leg answered");
        if self.click.is_some() {
            self.report_click_answer();
        }
        if let Some(flow) = self.originating.take() {
            self.start_flow(flow);
        }
    }
}
