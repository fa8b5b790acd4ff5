//! A call steered by a callflow: the routing runner decides, this file
//! carries out its commands on the call's legs — answer the caller as the
//! media endpoint, play prompts, ring a set of targets as a new B leg (with
//! ringback to an answered caller), bridge the leg that answers, transfer to
//! another number, hang up — and feeds back what happened (prompt done,
//! digits, how each dial ended).
//!
//! Each dial round is a leg of its own: a failed round's channel is destroyed
//! and its media leg and ports released at once, before the next node runs.

use std::sync::Arc;

use super::*;
use crate::call::app;
use crate::media::playback::{MediaLibrary, ToneKind, ToneRegion};
use crate::media::session::Cmd;
use crate::routing::{nodes, Callflow, Command, DialOutcome, DialTarget, Event, FlowRunner};

/// Playback id of the ringback a caller hears while the flow dials.
const RINGBACK: u64 = u64::MAX - 3;
/// Playback ids of stored files a flow plays start here (flow ids are small).
const FILE_PLAY: u64 = 1 << 62;

/// Where the recording in progress goes: a message in this box.
#[derive(Clone, Debug)]
pub(super) struct VoicemailTarget {
    pub r#box: String,
    pub path: std::path::PathBuf,
}

/// The dial round in progress.
pub(super) struct Dialing {
    pub(super) id: u64,
    /// Forks from this index on belong to the round.
    pub(super) first_fork: usize,
    pub(super) deadline: Instant,
}

/// A message ends after this long of silence from the caller.
const VOICEMAIL_SILENCE: Duration = Duration::from_secs(5);

/// The prompt a box without a greeting of its own plays.
const DEFAULT_GREETING: &str = "prompts/en/vm-greeting";

/// Where a box's own greeting is kept (uploaded over HTTP), apart from its messages.
pub fn greeting_path(data_dir: &std::path::Path, account: &str, r#box: &str) -> std::path::PathBuf {
    data_dir
        .join("voicemail-greetings")
        .join(account)
        .join(format!("{box}.wav"))
}

fn wall_secs() -> i64 {
    now_ms() / 1000
}

impl Call {
    pub(super) fn start_flow(&mut self, flow: Arc<Callflow>) {
        tracing::info!(call = %self.id, flow = %flow.number, "callflow");
        let number = flow.number.clone();
        let (runner, cmds) =
            FlowRunner::start(flow, self.endpoint, Instant::now().into_std(), wall_secs());
        self.flow = Some(runner);
        self.route_changed(|r| r.callflow = Some(number));
        self.exec(cmds);
    }

    /// The ACK of a flow's caller the switch made the offer to: its answer
    /// sets the caller's codec and the flow goes on; without a usable answer
    /// the call ends.
    pub(super) fn flow_answer_in_ack(&mut self, req: &Request) {
        let Some(cmds) = self.flow_deferred.take() else {
            return;
        };
        if self.caller_answer_in_ack(req).is_some() {
            self.exec(cmds);
        }
    }

    /// Something happened that the flow may act on.
    pub(super) fn flow_event(&mut self, ev: Event) {
        if self.ended {
            return;
        }
        match ev {
            Event::PlayDone { id } if self.queue_prompt_done(id) => return,
            Event::Digit(d) if self.queue_digit(d) => return,
            _ => {}
        }
        let Some(r) = self.flow.as_mut() else { return };
        let cmds = r.on_event(&ev, Instant::now().into_std(), wall_secs());
        self.exec(cmds);
    }

    pub(super) fn flow_deadline(&self) -> Option<Instant> {
        if self.flow_deferred.is_some() {
            return None; // its clock starts with the caller's answer
        }
        self.flow
            .as_ref()
            .and_then(FlowRunner::deadline)
            .map(Instant::from_std)
    }

    pub(super) fn flow_timeout(&mut self) {
        let Some(r) = self.flow.as_mut() else { return };
        let cmds = r.on_timeout(Instant::now().into_std(), wall_secs());
        self.exec(cmds);
    }

    fn exec(&mut self, cmds: Vec<Command>) {
        let mut cmds = cmds.into_iter();
        while let Some(cmd) = cmds.next() {
            if self.ended {
                return;
            }
            match cmd {
                Command::Answer => {
                    if !self.endpoint && !self.a_final_sent {
                        // an INVITE without SDP: our offer goes in the 200, the
                        // caller's answer comes in its ACK; the flow waits for it
                        if let Some(None) = self.answer_endpoint(true) {
                            self.flow_deferred = Some(cmds.collect());
                            return;
                        }
                    }
                }
                Command::Play { steps, id } => self.play_prompt(steps, id),
                Command::StopPlay => self.stop_prompt(),
                Command::Dial { targets, ring, id } => self.dial(targets, ring, id),
                Command::Transfer { number } => self.transfer(&number),
                Command::Queue { queue, id } => self.enter_queue(queue, id),
                Command::Agent { action, queue, id } => self.agent_command(action, queue, id),
                Command::Record { r#box, max: _ } => self.record_voicemail(&r#box),
                Command::OpenMailbox { r#box, pin, id } => self.open_mailbox(&r#box, &pin, id),
                Command::PlayFile { path, id } => self.play_file(path, id),
                Command::PlayGreeting { r#box, id } => {
                    let own =
                        greeting_path(&self.sw.settings.data_dir, &self.origin.account.id, &r#box);
                    let default = self.sw.settings.media.resolve(DEFAULT_GREETING);
                    let path = match (own.exists(), default) {
                        (true, _) => own,
                        (false, Ok(d)) => d,
                        (false, Err(e)) => {
                            tracing::warn!(error = %e, "no voicemail greeting");
                            self.flow_event(Event::PlayDone { id });
                            continue;
                        }
                    };
                    self.play_file(path.display().to_string(), id)
                }
                Command::Audit {
                    node,
                    input,
                    outcome,
                } => self.audit(node, input, outcome),
                Command::MarkHeard { message } => {
                    let store = self.sw.store.clone();
                    tokio::spawn(async move {
                        if let Err(e) = store.mark_voicemail_heard(&message).await {
                            tracing::warn!(error = %e, "voicemail not marked heard");
                        }
                    });
                }
                Command::DeleteMessage {
                    r#box,
                    message,
                    path,
                } => {
                    let (store, account) = (self.sw.store.clone(), self.origin.account.id.clone());
                    tracing::info!(call = %self.id, %r#box, %message, "voicemail deleted by its owner");
                    tokio::spawn(async move {
                        match store.delete_voicemail(&account, &r#box, &message).await {
                            Ok(_) => {
                                if let Err(e) = tokio::fs::remove_file(&path).await {
                                    tracing::warn!(%path, error = %e, "voicemail file not removed");
                                }
                            }
                            Err(e) => tracing::warn!(error = %e, "voicemail not deleted"),
                        }
                    });
                }
                Command::StopRecord => {
                    if let Some(m) = self.media.as_ref() {
                        m.send(Cmd::StopRecord);
                    }
                }
                Command::Hangup(cause) => {
                    if self.a_final_sent {
                        self.send_bye_a();
                        self.finish(cause);
                    } else {
                        self.fail_a(cause);
                    }
                }
            }
        }
    }

    pub(super) fn play_prompt(&mut self, steps: Vec<crate::dialplan::Step>, id: u64) {
        self.stop_prompt();
        let (Some(m), Some(rate)) = (self.media.as_ref(), self.a_rate) else {
            // nothing to play to (not answered with a codec): the prompt is over
            return self.flow_event(Event::PlayDone { id });
        };
        let done = app::spawn(
            steps,
            self.sw.settings.media.clone(),
            m.sender(),
            self.leg(Side::A),
            rate,
            app::AppEnd::Notify(self.flow_tx.clone(), id),
        );
        self.prompt = Some(done);
    }

    /// Records the caller (left) into a file of `box`'s voicemail; the
    /// session reports it closed — at `#`, the time limit or the hangup — and
    /// the recording sink stores it as a message.
    fn record_voicemail(&mut self, r#box: &str) {
        let Some(m) = self.media.as_ref() else { return };
        let path = self
            .sw
            .settings
            .data_dir
            .join("voicemail")
            .join(&self.origin.account.id)
            .join(r#box)
            .join(format!("{}.wav", uuid::Uuid::new_v4()));
        m.send(Cmd::Record {
            leg: self.leg(Side::A),
            path: path.clone(),
            silence: Some(VOICEMAIL_SILENCE),
        });
        tracing::info!(call = %self.id, %r#box, "recording a voicemail");
        self.voicemail = Some(VoicemailTarget {
            r#box: r#box.to_string(),
            path,
        });
    }

    pub(super) fn stop_prompt(&mut self) {
        self.prompt = None;
        if let Some(m) = self.media.as_ref() {
            m.send(Cmd::StopPlay {
                leg: self.leg(Side::A),
            });
        }
    }

    /// The PIN is checked here (the directory has it); the box's unheard
    /// messages come from the store on a task of their own.
    fn open_mailbox(&mut self, r#box: &str, pin: &str, id: u64) {
        let dir = self.sw.directory();
        let ok = dir
            .extension(&self.origin.account.id, r#box)
            .and_then(|e| e.voicemail_pin.as_deref())
            .is_some_and(|p| p == pin);
        if !ok {
            tracing::info!(call = %self.id, %r#box, "wrong voicemail PIN");
            return self.flow_event(Event::Mailbox { id, messages: None });
        }
        let (store, account, b, tx) = (
            self.sw.store.clone(),
            self.origin.account.id.clone(),
            r#box.to_string(),
            self.mailbox_tx.clone(),
        );
        tokio::spawn(async move {
            let list = match store.voicemails(&account, &b, true).await {
                Ok(v) => v.into_iter().map(|m| (m.id, m.path)).collect(),
                Err(e) => {
                    tracing::warn!(error = %e, "voicemail box unreadable");
                    Vec::new()
                }
            };
            let _ = tx.send((id, list));
        });
    }

    /// Loads a stored file and plays it to the caller; its end (or a failure
    /// to load it) comes back as the flow's `PlayDone`.
    fn play_file(&mut self, path: String, id: u64) {
        let (Some(m), Some(rate)) = (self.media.as_ref(), self.a_rate) else {
            return self.flow_event(Event::PlayDone { id });
        };
        let (library, session, leg, done) = (
            self.sw.settings.media.clone(),
            m.sender(),
            self.leg(Side::A),
            self.flow_tx.clone(),
        );
        tokio::spawn(async move {
            match library.file(path.into(), rate).await {
                Ok(source) => {
                    let _ = session.send(Cmd::Play {
                        leg,
                        source,
                        barge_in: false,
                        id: FILE_PLAY + id,
                    });
                }
                Err(e) => {
                    tracing::warn!(error = %e, "message not playable");
                    let _ = done.send(id);
                }
            }
        });
    }

    /// The session finished a playback the flow started with `PlayFile`.
    pub(super) fn file_played(&mut self, session_id: u64) {
        if (FILE_PLAY..RINGBACK).contains(&session_id) {
            self.flow_event(Event::PlayDone {
                id: session_id - FILE_PLAY,
            });
        }
    }

    /// The contacts a dial rings, and whether an extension was left out for
    /// being on a call.
    fn contacts(&self, targets: &[DialTarget]) -> (Vec<Contact>, bool) {
        let mut out = Vec::new();
        let mut skipped = false;
        for t in targets {
            match t {
                DialTarget::Extension(n) => out.extend(self.extension_contacts(n)),
                DialTarget::IdleExtension(n) => {
                    if self.sw.is_busy(&self.origin.account.id, n) {
                        tracing::info!(call = %self.id, extension = %n, "on a call: skipped");
                        skipped = true;
                    } else {
                        out.extend(self.extension_contacts(n));
                    }
                }
                DialTarget::External(n) => {
                    let dir = self.sw.directory();
                    if let Some(c) = dir
                        .trunk_for_account(&self.origin.account.id)
                        .and_then(|t| trunk_contact(t, n))
                    {
                        out.push(c);
                    }
                }
            }
        }
        (out, skipped)
    }

    fn dial(&mut self, targets: Vec<DialTarget>, ring: Duration, id: u64) {
        // a ring group's dial: its legs say so
        let group = self
            .flow
            .as_ref()
            .and_then(|f| f.trail().last())
            .filter(|(_, kind)| *kind == "ring_group")
            .map(|(node, _)| node.clone());
        self.route_changed(|r| r.ring_group = group);
        let (contacts, skipped_busy) = self.contacts(&targets);
        if contacts.is_empty() {
            let outcome = if skipped_busy {
                DialOutcome::Busy
            } else {
                DialOutcome::Unavailable
            };
            return self.flow_event(Event::DialEnded { id, outcome });
        }
        if !self.ensure_media() {
            return;
        }
        let callee = match targets.first() {
            Some(
                DialTarget::Extension(n) | DialTarget::IdleExtension(n) | DialTarget::External(n),
            ) => n.clone(),
            None => self.dialled.clone(),
        };
        let Some(offer) = self.open_b_leg(&callee) else {
            return;
        };
        self.best_failure = None;
        self.dialing = Some(Dialing {
            id,
            first_fork: self.forks.len(),
            deadline: Instant::now() + ring,
        });
        tracing::info!(call = %self.id, ?targets, forks = contacts.len(), "flow dials");
        self.ring(contacts, offer);
        if self.endpoint {
            self.ringback(ring);
        }
    }

    /// The caller, answered by the switch, hears ringback while the flow dials.
    fn ringback(&mut self, ring: Duration) {
        let (Some(m), Some(rate)) = (self.media.as_ref(), self.a_rate) else {
            return;
        };
        let secs = ring.as_secs().clamp(1, 3600) as u32 + 1;
        match MediaLibrary::tone(ToneKind::Ringback, ToneRegion::Us, secs, rate) {
            Ok(source) => m.send(Cmd::Play {
                leg: self.leg(Side::A),
                source,
                barge_in: false,
                id: RINGBACK,
            }),
            Err(e) => tracing::warn!(call = %self.id, error = %e, "no ringback"),
        }
    }

    /// A fork of the round failed: once every one has (`best` is the most
    /// telling status), the round ends. (A round still dialing has no B leg:
    /// an answer ends the round first.)
    pub(super) fn round_failed(&mut self, best: u16) {
        let Some(first) = self.dialing.as_ref().map(|d| d.first_fork) else {
            return;
        };
        if !self.forks[first..].iter().all(|f| f.done) {
            return;
        }
        let outcome = match best {
            486 | 600 => DialOutcome::Busy,
            404 | 480 | 503 | 604 => DialOutcome::Unavailable,
            _ => DialOutcome::NoAnswer,
        };
        self.end_round(outcome, HangupCause::from_sip_status(best));
    }

    /// The flow's ring time is up: cancel the round's forks.
    pub(super) fn dial_timeout(&mut self) {
        let Some(first) = self.dialing.as_ref().map(|d| d.first_fork) else {
            return;
        };
        for j in first..self.forks.len() {
            self.cancel_fork(j);
        }
        self.end_round(DialOutcome::NoAnswer, HangupCause::NoAnswer);
    }

    pub(super) fn end_round(&mut self, outcome: DialOutcome, cause: HangupCause) {
        let Some(d) = self.dialing.take() else { return };
        // the round's leg is over: its channel ends and its ports go back now
        if let Some(mut c) = self.b_chan.take() {
            if let Some(m) = self.media.as_ref() {
                c.rtp = m.figures(self.b_leg);
            }
            c.destroy(&self.sw.bus, &self.sw.metrics, cause);
        }
        let b_leg = self.b_leg;
        if let Some(m) = self.media.as_mut() {
            m.remove_leg(b_leg);
        }
        if self.is_queue_dial(d.id) {
            // the caller keeps hearing the queue's music
            return self.queue_offer_over(None, outcome);
        }
        if self.endpoint {
            self.stop_prompt(); // the ringback
        }
        self.flow_event(Event::DialEnded { id: d.id, outcome });
    }

    /// A fork of the round answered while the call is not bridged to anyone
    /// yet: the flow's dial is over.
    pub(super) fn round_answered(&mut self, fork: usize) {
        if let Some(d) = self.dialing.take() {
            if self.is_queue_dial(d.id) {
                return self.queue_offer_over(Some(fork), DialOutcome::Answered);
            }
            self.flow_event(Event::DialEnded {
                id: d.id,
                outcome: DialOutcome::Answered,
            });
        }
    }

    /// A fork answered the switch's own offer while the switch had answered
    /// the caller itself: acknowledge it and bridge the two media legs.
    pub(super) fn bridge_from_endpoint(&mut self, i: usize, resp: Response, mut dialog: Dialog) {
        let target = self.forks[i].target;
        let cseq = message::cseq(&self.forks[i].invite.headers)
            .map(|c| c.0)
            .unwrap_or(1);
        let ack = dialog.request(rsip::Method::Ack, self.via(target.kind), None, Some(cseq));
        self.send_stateless(&dialog.call_id.clone(), SipMessage::Request(ack), target);
        self.stop_prompt();
        let (a_leg, b_leg) = (self.leg(Side::A), self.b_leg);
        let answer = negotiate::audio_line(&resp.body).ok().flatten();
        let neg = answer.as_ref().and_then(negotiate::choose);
        if let Some(m) = self.media.as_mut() {
            m.send(Cmd::SignallingIp {
                leg: b_leg,
                ip: target.addr.ip(),
            });
            if let Some((rtp, rtcp)) = sdp_remote(&resp.body) {
                m.set_remote(b_leg, rtp, rtcp);
            }
            m.apply(Cmd::SetCodec { leg: b_leg, neg });
            m.apply(Cmd::Bridge { a: a_leg, b: b_leg });
        }
        self.last_offer = None;
        self.b = Some(BLeg {
            dialog,
            target,
            ack_pending: None,
        });
        self.mark_answered(i);
        for j in 0..self.forks.len() {
            if j != i && !self.forks[j].done {
                self.cancel_fork(j);
            }
        }
        let bus = self.sw.bus.clone();
        if let Some(c) = self.b_chan.as_mut() {
            c.info.sip_call_id = self.forks[i].call_id.clone();
            c.answer(&bus, &self.sw.metrics);
            c.bridge(&bus, a_leg);
        }
        self.a_chan.bridge(&bus, b_leg);
        if self.records() {
            self.start_recording();
        }
        self.round_answered(i);
    }

    /// A menu decision: announced (`ivr_choice`) and kept in `ivr_audit`.
    fn audit(&mut self, node: String, input: String, outcome: String) {
        self.route_changed(|r| r.ivr_choices.push(format!("{node}:{input}")));
        let flow = self
            .flow
            .as_ref()
            .map(|r| r.flow().number.clone())
            .unwrap_or_default();
        let row = crate::store::IvrAudit {
            id: uuid::Uuid::new_v4().to_string(),
            account_id: self.origin.account.id.clone(),
            call_id: self.id.to_string(),
            flow,
            node,
            input,
            outcome,
            created_at: now_ms(),
        };
        tracing::info!(call = %self.id, flow = %row.flow, node = %row.node, input = %row.input, outcome = %row.outcome, "ivr");
        let ev = crate::events::Event::IvrChoice {
            channel: self.a_chan.info.clone(),
            flow: row.flow.clone(),
            node: row.node.clone(),
            input: row.input.clone(),
            outcome: row.outcome.clone(),
            timestamp_ms: row.created_at,
        };
        // the audit row reaches the store with its event, in one transaction
        self.sw
            .bus
            .publish_with(ev, Some(crate::events::kept::Kept::IvrAudit(row)));
    }

    /// An operator sends the caller on to `number`: whatever the flow was
    /// doing stops (a queue is left, a dial round cancelled, a bridged B leg
    /// hung up and unbridged) and the number's flow runs for the caller.
    /// Only a caller the switch answered itself can be moved this way.
    pub(super) fn external_transfer(
        &mut self,
        number: &str,
    ) -> Result<(), crate::switch::calls::TransferError> {
        self.transferable(number)?;
        tracing::info!(call = %self.id, %number, "transferred by the operator");
        // the old flow hears nothing more
        self.flow = None;
        if let Some(q) = self.queued.take() {
            if q.is_answered() {
                self.acd
                    .send(crate::call::acd::AcdMsg::CallEnded { call: self.id });
            } else {
                self.acd.send(crate::call::acd::AcdMsg::Leave {
                    call: self.id,
                    exit: crate::routing::queue::Exit::Transferred,
                });
            }
        }
        if let Some(first) = self.dialing.as_ref().map(|d| d.first_fork) {
            for j in first..self.forks.len() {
                self.cancel_fork(j);
            }
            self.end_round(DialOutcome::NoAnswer, HangupCause::NoAnswer);
        }
        if self.b.is_some() {
            let b_leg = self.b_leg;
            let a_leg = self.leg(Side::A);
            if let Some(m) = self.media.as_mut() {
                m.apply(Cmd::Unbridge { leg: a_leg });
            }
            self.send_bye_b();
            self.b = None;
            if let Some(mut c) = self.b_chan.take() {
                if let Some(m) = self.media.as_ref() {
                    c.rtp = m.figures(b_leg);
                }
                c.destroy(&self.sw.bus, &self.sw.metrics, HangupCause::NormalClearing);
            }
            if let Some(m) = self.media.as_mut() {
                m.remove_leg(b_leg);
            }
            if let Some(ext) = self.b_mark.take() {
                self.sw.unmark_busy(&self.origin.account.id, &ext);
                if let Some(i) = self.busy_marks.iter().position(|e| *e == ext) {
                    self.busy_marks.remove(i);
                }
            }
        }
        if self.voicemail.is_some() {
            if let Some(m) = self.media.as_ref() {
                m.send(Cmd::StopRecord);
            }
        }
        self.hold_generation.fetch_add(1, Relaxed);
        self.stop_prompt();
        self.transfer(number);
        Ok(())
    }

    /// Whether the caller can be sent on to `number` now (see `external_transfer`).
    pub(super) fn transferable(
        &self,
        number: &str,
    ) -> Result<(), crate::switch::calls::TransferError> {
        use crate::switch::calls::TransferError;
        if self.ended {
            return Err(TransferError::Over);
        }
        let answered_here = self.endpoint && self.a_acked && self.flow.is_some();
        if !answered_here || self.app.is_some() || self.app_waiting.is_some() {
            return Err(TransferError::NotTransferable);
        }
        if self.flow_for(number).is_none() {
            return Err(TransferError::UnknownNumber);
        }
        Ok(())
    }

    /// Routes the call as if `number` had been dialled in its account.
    fn transfer(&mut self, number: &str) {
        let flow = self.flow_for(number);
        tracing::info!(call = %self.id, %number, "transfer");
        match flow {
            Some(flow) => self.start_flow(flow),
            None => self.exec(vec![Command::Hangup(HangupCause::UnallocatedNumber)]),
        }
    }

    /// The flow a number of the caller's account runs: a callflow, or a
    /// one-node flow for an extension, an app or an outside (E.164) number.
    fn flow_for(&self, number: &str) -> Option<Arc<Callflow>> {
        let dir = self.sw.directory();
        let account = crate::ids::AccountId::from(self.origin.account.id.as_str());
        let ring = self.sw.settings.ring_timeout;
        let id = String::from("transfer");
        let node: Box<dyn crate::routing::Node> =
            match crate::call::plan::route(&dir, &self.origin.account.id, number) {
                Destination::Flow(f) => return Some(f),
                Destination::Extension { number } => Box::new(nodes::Extension {
                    id,
                    number,
                    ring,
                    next: None,
                }),
                Destination::App(app) => Box::new(nodes::Play {
                    id,
                    steps: app.steps,
                    next: None,
                }),
                Destination::Trunk { number, .. } if crate::dialplan::is_e164(&number) => {
                    Box::new(nodes::External {
                        id,
                        number,
                        ring,
                        next: None,
                    })
                }
                _ => return None,
            };
        Some(Callflow::single(account, number, node))
    }
}
