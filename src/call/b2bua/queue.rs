//! A call waiting in an ACD queue. The flow's `queue` node asks to join; the
//! queue driver answers (joined with its music class, or refused) and later
//! tells the call to ring agents, to announce its position, or that the queue
//! let it go. The caller hears music on hold throughout, also while agents
//! ring; an agent who answers is bridged like any dial round's answer. What
//! happens to the call (hang-up, exit key, the agent's call ending) goes back
//! to the driver, so the queue's figures and events stay exact.

use super::*;
use crate::call::acd::{AcdMsg, CallerInfo, QueueNotice};
use crate::dialplan::Step;
use crate::ids::{AccountId, ExtensionNumber, QueueId};
use crate::media::session::Cmd;
use crate::routing::queue::{Exit, JoinError, LeaveReason, OfferEnd, QueueKey};
use crate::routing::{DialOutcome, Event, QueueOutcome};

/// Playback ids of the queue's music and announcements.
pub(super) const QUEUE_MOH: u64 = u64::MAX - 5;
pub(super) const QUEUE_ANNOUNCE: u64 = u64::MAX - 6;
/// Dial-round ids of queue offers start here (a flow's own ids are small).
const QUEUE_DIAL: u64 = 1 << 61;
/// Music for at most this long in one go (a wait longer than that is silence).
const MOH_SECS: u32 = 4 * 3600;

/// The call's stay in a queue.
pub(super) struct Queued {
    /// The flow's id for the `queue` command (its `QueueEnded` answer).
    flow_id: u64,
    key: QueueKey,
    /// Set once joined.
    moh: Option<String>,
    exit_key: Option<char>,
    offer: Option<Offer>,
    offers: u64,
    /// An agent answered: the driver hears when their call ends.
    answered: bool,
    /// When the caller joined (the agent's phone is told the wait).
    joined: Option<std::time::Instant>,
}

/// Agents being rung for the caller now.
struct Offer {
    dial_id: u64,
    /// Fork index → the agent it rings.
    forks: Vec<(usize, ExtensionNumber)>,
    unreachable: Vec<ExtensionNumber>,
}

impl Queued {
    /// Seconds the caller has waited so far.
    pub(super) fn waited_secs(&self) -> Option<u64> {
        self.joined.map(|t| t.elapsed().as_secs())
    }

    /// An agent answered: the call is bridged to it.
    pub(super) fn is_answered(&self) -> bool {
        self.answered
    }
}

impl Call {
    /// The flow's `queue` node: join `queue` of the caller's account.
    pub(super) fn enter_queue(&mut self, queue: QueueId, id: u64) {
        let key = (
            AccountId::from(self.origin.account.id.as_str()),
            queue.clone(),
        );
        tracing::info!(call = %self.id, %queue, "joining a queue");
        self.route_changed(|r| r.queue_id = Some(queue.to_string()));
        self.queued = Some(Queued {
            flow_id: id,
            key: key.clone(),
            moh: None,
            joined: None,
            exit_key: None,
            offer: None,
            offers: 0,
            answered: false,
        });
        self.acd.send(AcdMsg::Join {
            call: self.id,
            queue: key,
            caller: CallerInfo {
                number: self.origin.caller.clone(),
                name: self.origin.display_name.clone(),
                dnis: self.dialled.clone(),
            },
            notify: self.queue_tx.clone(),
        });
    }

    pub(super) fn on_queue_notice(&mut self, notice: QueueNotice) {
        if self.ended {
            return;
        }
        let Some(q) = self.queued.as_mut() else {
            return;
        };
        match notice {
            QueueNotice::Joined {
                position,
                moh,
                exit_key,
            } => {
                tracing::info!(call = %self.id, queue = %q.key.1, position, "waiting in the queue");
                q.moh = Some(moh);
                q.joined = Some(std::time::Instant::now());
                q.exit_key = exit_key;
                self.queue_music();
            }
            QueueNotice::Refused(e) => {
                let outcome = match e {
                    JoinError::Full => QueueOutcome::Full,
                    JoinError::Empty => QueueOutcome::Empty,
                    JoinError::NoSuchQueue | JoinError::AlreadyWaiting => QueueOutcome::NoSuchQueue,
                };
                self.queue_over(outcome);
            }
            QueueNotice::Offer { agents, ring } => self.offer(agents, ring),
            QueueNotice::Announce {
                position,
                estimate,
                say_position,
                say_estimate,
            } => self.announce(position, estimate, say_position, say_estimate),
            QueueNotice::Leave(reason) => {
                self.cancel_offer();
                self.queue_over(match reason {
                    LeaveReason::Timeout => QueueOutcome::Timeout,
                    LeaveReason::Empty => QueueOutcome::Empty,
                    LeaveReason::Removed => QueueOutcome::NoSuchQueue,
                });
            }
        }
    }

    /// The stay is over without an agent: the music stops, the flow goes on.
    fn queue_over(&mut self, outcome: QueueOutcome) {
        let Some(q) = self.queued.take() else { return };
        self.stop_queue_music();
        self.flow_event(Event::QueueEnded {
            id: q.flow_id,
            outcome,
        });
    }

    /// Music on hold of the queue's class to the caller (loaded off the call task).
    fn queue_music(&mut self) {
        let Some(class) = self.queued.as_ref().and_then(|q| q.moh.clone()) else {
            return;
        };
        let (Some(m), Some(rate)) = (self.media.as_ref(), self.a_rate) else {
            return;
        };
        let generation = self.hold_generation.fetch_add(1, Relaxed) + 1;
        let current = self.hold_generation.clone();
        let (library, tx, call, leg) = (
            self.sw.settings.media.clone(),
            m.sender(),
            self.id,
            self.leg(Side::A),
        );
        tokio::spawn(async move {
            match library.moh(&class, MOH_SECS, rate).await {
                // not if the caller was answered (or the music stopped) meanwhile
                Ok(source) if current.load(Relaxed) == generation => {
                    let _ = tx.send(Cmd::Play {
                        leg,
                        source,
                        barge_in: false,
                        id: QUEUE_MOH,
                    });
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(%call, error = %e, "no music on hold for the queue"),
            }
        });
    }

    fn stop_queue_music(&mut self) {
        self.hold_generation.fetch_add(1, Relaxed);
        self.stop_prompt();
    }

    /// "You are caller number N": the music pauses for it.
    fn announce(
        &mut self,
        position: usize,
        estimate: Option<Duration>,
        say_position: bool,
        say_estimate: bool,
    ) {
        let mut text = String::new();
        if say_position {
            text.push_str(&format!("You are caller number {position}. "));
        }
        if let (true, Some(e)) = (say_estimate, estimate) {
            let minutes = e.as_secs().div_ceil(60);
            if minutes <= 1 {
                text.push_str("Your estimated wait is less than a minute. ");
            } else {
                text.push_str(&format!("Your estimated wait is about {minutes} minutes. "));
            }
        }
        if text.is_empty() {
            return;
        }
        text.push_str("Please stay on the line.");
        self.hold_generation.fetch_add(1, Relaxed);
        self.play_prompt(vec![Step::Say { text, voice: None }], QUEUE_ANNOUNCE);
    }

    /// A prompt the flow did not ask for ended: an announcement, so the music resumes.
    pub(super) fn queue_prompt_done(&mut self, id: u64) -> bool {
        if id != QUEUE_ANNOUNCE {
            return false;
        }
        if self.queued.as_ref().is_some_and(|q| !q.answered) && self.b.is_none() {
            self.queue_music();
        }
        true
    }

    /// Rings the agents the queue chose, the caller still hearing music.
    fn offer(&mut self, agents: Vec<ExtensionNumber>, ring: Duration) {
        if self.dialing.is_some() || self.b.is_some() {
            // one offer at a time; this one fails at once
            return self.acd.send(AcdMsg::OfferEnded {
                call: self.id,
                end: OfferEnd::NotAnswered {
                    unreachable: Vec::new(),
                },
                reasons: Vec::new(),
            });
        }
        let first = self.forks.len();
        let (mut contacts, mut forks, mut unreachable) = (Vec::new(), Vec::new(), Vec::new());
        for a in &agents {
            let found = self.extension_contacts(a.as_str());
            if found.is_empty() {
                unreachable.push(a.clone());
            }
            for c in found {
                forks.push((first + contacts.len(), a.clone()));
                contacts.push(c);
            }
        }
        if contacts.is_empty() {
            let reasons = unreachable
                .iter()
                .map(|a| (a.clone(), "unreachable"))
                .collect();
            return self.acd.send(AcdMsg::OfferEnded {
                call: self.id,
                end: OfferEnd::NotAnswered { unreachable },
                reasons,
            });
        }
        let Some(sdp) = self.open_b_leg(agents[0].as_str()) else {
            return;
        };
        let Some(q) = self.queued.as_mut() else {
            return;
        };
        q.offers += 1;
        let dial_id = QUEUE_DIAL + q.offers;
        q.offer = Some(Offer {
            dial_id,
            forks,
            unreachable,
        });
        self.best_failure = None;
        self.dialing = Some(flow::Dialing {
            id: dial_id,
            first_fork: first,
            deadline: Instant::now() + ring,
        });
        tracing::info!(call = %self.id, ?agents, forks = contacts.len(), "queue rings agents");
        self.ring(contacts, sdp);
    }

    /// Whether a dial round is the queue's offer (so the flow does not hear of it).
    pub(super) fn is_queue_dial(&self, id: u64) -> bool {
        self.queued
            .as_ref()
            .and_then(|q| q.offer.as_ref())
            .is_some_and(|o| o.dial_id == id)
    }

    /// The offer's round ended: fork `answered` took the call, or nobody did.
    pub(super) fn queue_offer_over(&mut self, answered: Option<usize>, outcome: DialOutcome) {
        let call = self.id;
        let Some(q) = self.queued.as_mut() else {
            return;
        };
        let Some(offer) = q.offer.take() else { return };
        let agent = answered.and_then(|i| {
            offer
                .forks
                .iter()
                .find(|(f, _)| *f == i)
                .map(|(_, a)| a.clone())
        });
        match agent {
            Some(agent) => {
                tracing::info!(%call, %agent, "agent answered the queue call");
                q.answered = true;
                let flow_id = q.flow_id;
                self.acd.send(AcdMsg::OfferEnded {
                    call,
                    end: OfferEnd::Answered(agent),
                    reasons: Vec::new(),
                });
                self.hold_generation.fetch_add(1, Relaxed);
                self.flow_event(Event::QueueEnded {
                    id: flow_id,
                    outcome: QueueOutcome::Answered,
                });
            }
            None => {
                let why = match outcome {
                    DialOutcome::Busy => "busy",
                    DialOutcome::Unavailable => "unreachable",
                    _ => "no_answer",
                };
                let mut reasons: Vec<(ExtensionNumber, &'static str)> =
                    offer.forks.iter().map(|(_, a)| (a.clone(), why)).collect();
                reasons.extend(offer.unreachable.iter().map(|a| (a.clone(), "unreachable")));
                self.acd.send(AcdMsg::OfferEnded {
                    call,
                    end: OfferEnd::NotAnswered {
                        unreachable: offer.unreachable,
                    },
                    reasons,
                });
            }
        }
    }

    /// The queue let the caller go while agents rang: stop ringing them.
    fn cancel_offer(&mut self) {
        let Some(first) = self.dialing.as_ref().map(|d| d.first_fork) else {
            return;
        };
        if let Some(q) = self.queued.as_mut() {
            q.offer = None;
        }
        for j in first..self.forks.len() {
            self.cancel_fork(j);
        }
        self.end_round(DialOutcome::NoAnswer, HangupCause::NoAnswer);
    }

    /// A key from the caller: the queue's exit key takes it out.
    pub(super) fn queue_digit(&mut self, digit: char) -> bool {
        let Some(q) = self.queued.as_ref() else {
            return false;
        };
        if q.answered || q.exit_key != Some(digit) {
            return false;
        }
        tracing::info!(call = %self.id, "caller pressed the queue's exit key");
        self.acd.send(AcdMsg::Leave {
            call: self.id,
            exit: Exit::ExitKey,
        });
        self.cancel_offer();
        self.queue_over(QueueOutcome::ExitKey);
        true
    }

    /// An agent's feature code: the driver applies it off the call task and
    /// the flow hears how many queues changed.
    pub(super) fn agent_command(
        &mut self,
        action: crate::routing::AgentAction,
        queue: Option<QueueId>,
        id: u64,
    ) {
        use crate::routing::AgentAction;
        let agent = (
            AccountId::from(self.origin.account.id.as_str()),
            ExtensionNumber::from(self.origin.caller.as_str()),
        );
        let (acd, done) = (self.acd.clone(), self.agent_tx.clone());
        tokio::spawn(async move {
            let queues = match action {
                AgentAction::Login => acd.login(agent, queue).await,
                AgentAction::Logout => acd.logout(agent, queue).await,
                AgentAction::Pause => acd.pause(agent, Some("break".into())).await as usize,
                AgentAction::Unpause => acd.pause(agent, None).await as usize,
            };
            let _ = done.send((id, queues));
        });
    }

    /// The call is over: a waiting caller abandoned, an answered one's agent is free.
    pub(super) fn queue_call_over(&mut self) {
        let Some(q) = self.queued.take() else { return };
        if q.answered {
            self.acd.send(AcdMsg::CallEnded { call: self.id });
        } else {
            self.acd.send(AcdMsg::Leave {
                call: self.id,
                exit: Exit::Abandoned,
            });
        }
    }
}
