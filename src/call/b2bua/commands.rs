//! Commands on a call from outside its task ([`CallCommand`]): show its legs,
//! dial a leg, hang up one leg, bridge and unbridge two legs, mix legs into the
//! call's conference, play to a leg, collect digits from a leg. The caller's
//! leg takes no command while a callflow or app steers it (until the flow
//! bridges it); every other leg does.

use super::extra::Extra;
use super::*;
use crate::media::session::{Cmd, MixRole};
use crate::switch::commands::{
    CallCommand, CallView, CollectEnd, CollectSpec, Collected, CommandError, LegView, MixMode,
    Reply,
};

/// Ids of command playbacks on the prompt channel (flow ids stay far below).
pub(super) const CMD_PLAY: u64 = 1 << 61;

/// A digit collection running on a leg.
pub(super) struct Collecting {
    leg: LegId,
    spec: CollectSpec,
    digits: String,
    /// `None` while the prompt plays.
    deadline: Option<Instant>,
    /// The prompt's playback id while it plays.
    prompt: Option<u64>,
    reply: Reply<Collected>,
}

impl Collecting {
    pub(super) fn leg_id(&self) -> LegId {
        self.leg
    }
}

impl Call {
    pub(super) fn on_command(&mut self, cmd: CallCommand) {
        match cmd {
            CallCommand::Show { reply } => {
                let _ = reply.send(Ok(self.view()));
            }
            CallCommand::Dial {
                numbers,
                ring_secs,
                join,
                reply,
            } => {
                let _ = reply.send(self.dial_leg(&numbers, ring_secs, join));
            }
            CallCommand::HangupLeg { leg, reply } => {
                let _ = reply.send(self.hangup_leg(leg));
            }
            CallCommand::Bridge { a, b, reply } => {
                let r = self.commandable(a).and_then(|_| self.commandable(b));
                let r = r.and_then(|_| {
                    if a == b {
                        Err(CommandError::Invalid)
                    } else {
                        Ok(())
                    }
                });
                if r.is_ok() {
                    if let Some(m) = self.media.as_mut() {
                        m.apply(Cmd::Unmix { leg: a });
                        m.apply(Cmd::Unmix { leg: b });
                        m.apply(Cmd::Bridge { a, b });
                    }
                }
                let _ = reply.send(r);
            }
            CallCommand::Unbridge { leg, reply } => {
                let r = self.commandable(leg);
                if r.is_ok() {
                    if let Some(m) = self.media.as_mut() {
                        m.apply(Cmd::Unbridge { leg });
                    }
                }
                let _ = reply.send(r);
            }
            CallCommand::Mix { leg, role, reply } => {
                let r = self.commandable(leg).and_then(|_| match role {
                    Some(MixMode::Whisper(to)) if !self.leg_up(to) => Err(CommandError::UnknownLeg),
                    Some(MixMode::Whisper(to)) if to == leg => Err(CommandError::Invalid),
                    _ => Ok(()),
                });
                if r.is_ok() {
                    if let Some(m) = self.media.as_mut() {
                        m.apply(match role {
                            None => Cmd::Unmix { leg },
                            Some(MixMode::Speak) => Cmd::Mix {
                                leg,
                                role: MixRole::Speak,
                            },
                            Some(MixMode::Listen) => Cmd::Mix {
                                leg,
                                role: MixRole::Listen,
                            },
                            Some(MixMode::Whisper(to)) => Cmd::Mix {
                                leg,
                                role: MixRole::Whisper(to),
                            },
                        });
                    }
                }
                let _ = reply.send(r);
            }
            CallCommand::Play { leg, steps, reply } => {
                let r = self.commandable(leg).and_then(|_| {
                    if steps.is_empty() {
                        Err(CommandError::Invalid)
                    } else {
                        Ok(())
                    }
                });
                if r.is_ok() {
                    self.play_to(leg, steps);
                }
                let _ = reply.send(r);
            }
            CallCommand::Record { leg, on, reply } => {
                let r = self.commandable(leg).and_then(|_| {
                    if self.voicemail.is_some() {
                        Err(CommandError::LegBusy)
                    } else {
                        Ok(())
                    }
                });
                let r = r.map(|_| {
                    let m = self.media.as_ref()?;
                    if !on {
                        m.send(Cmd::StopRecord);
                        return None;
                    }
                    let path = self
                        .sw
                        .settings
                        .data_dir
                        .join("recordings")
                        .join(&self.origin.account.id)
                        .join(format!("{}-{leg}.wav", self.id));
                    m.send(Cmd::Record {
                        leg,
                        path: path.clone(),
                        silence: None,
                    });
                    tracing::info!(call = %self.id, %leg, "recording a leg");
                    Some(path.to_string_lossy().into_owned())
                });
                let _ = reply.send(r);
            }
            CallCommand::Collect { leg, spec, reply } => {
                if let Err(e) = self.commandable(leg) {
                    let _ = reply.send(Err(e));
                    return;
                }
                if self.collects.iter().any(|c| c.leg == leg) {
                    let _ = reply.send(Err(CommandError::Collecting));
                    return;
                }
                let prompt =
                    (!spec.prompt.is_empty()).then(|| self.play_to(leg, spec.prompt.clone()));
                let deadline = prompt
                    .is_none()
                    .then(|| Instant::now() + Duration::from_millis(spec.first_digit_ms));
                self.collects.push(Collecting {
                    leg,
                    spec,
                    digits: String::new(),
                    deadline,
                    prompt,
                    reply,
                });
            }
        }
    }

    /// Whether `leg` is a live, answered leg that takes commands.
    fn commandable(&self, leg: LegId) -> Result<(), CommandError> {
        if self.ended {
            return Err(CommandError::Over);
        }
        if !self.has_leg(leg) {
            return Err(CommandError::UnknownLeg);
        }
        if !self.leg_up(leg) {
            return Err(CommandError::NotAnswered);
        }
        if leg == self.leg(Side::A) && self.flow_controls_caller() {
            return Err(CommandError::LegBusy);
        }
        if self.media.is_none() {
            return Err(CommandError::Over);
        }
        Ok(())
    }

    /// A callflow, app or queue steers the caller (it is not bridged to a callee).
    pub(super) fn flow_controls_caller(&self) -> bool {
        (self.flow.is_some() || self.app.is_some() || self.app_waiting.is_some())
            && self.b.is_none()
    }

    fn has_leg(&self, leg: LegId) -> bool {
        leg == self.leg(Side::A)
            || (self.b_chan.is_some() && leg == self.b_leg)
            || self.extra_index(leg).is_some()
    }

    /// The leg is live and answered.
    pub(super) fn leg_up(&self, leg: LegId) -> bool {
        if leg == self.leg(Side::A) {
            return self.a_chan.answered_ms.is_some() && !self.ended;
        }
        if leg == self.b_leg {
            return self.b.is_some();
        }
        self.extra_index(leg)
            .is_some_and(|k| self.extra[k].up.is_some())
    }

    /// Starts a command playback on `leg` (replacing what plays to it);
    /// returns its id.
    fn play_to(&mut self, leg: LegId, steps: Vec<crate::dialplan::Step>) -> u64 {
        self.next_cmd_play += 1;
        let id = CMD_PLAY + self.next_cmd_play;
        let Some(m) = self.media.as_ref() else {
            return id;
        };
        let rate = m.rate(leg).unwrap_or(8000);
        let done = crate::call::app::spawn(
            steps,
            self.sw.settings.media.clone(),
            m.sender(),
            leg,
            rate,
            crate::call::app::AppEnd::Notify(self.flow_tx.clone(), id),
        );
        // a playback replaced: its runner stops when its sender is dropped
        self.cmd_plays.insert(leg, (id, done));
        id
    }

    /// The session finished a playback on `leg`; true when it was a
    /// command's (its runner is told, so it can go on to its next step).
    pub(super) fn command_play_step_done(&mut self, leg: LegId, id: u64) -> bool {
        match self.cmd_plays.get(&leg) {
            Some((_, done)) => {
                let _ = done.send(id);
                true
            }
            None => false,
        }
    }

    /// A command playback's runner finished all its steps.
    pub(super) fn command_play_over(&mut self, id: u64) {
        let Some(leg) = self
            .cmd_plays
            .iter()
            .find(|(_, (i, _))| *i == id)
            .map(|(l, _)| *l)
        else {
            return;
        };
        self.cmd_plays.remove(&leg);
        let now = Instant::now();
        for c in self.collects.iter_mut().filter(|c| c.prompt == Some(id)) {
            c.prompt = None;
            c.deadline = Some(now + Duration::from_millis(c.spec.first_digit_ms));
        }
    }

    /// A digit from `leg`: true when a collection took it.
    pub(super) fn collect_digit(&mut self, leg: LegId, digit: char) -> bool {
        let Some(at) = self.collects.iter().position(|c| c.leg == leg) else {
            return false;
        };
        let now = Instant::now();
        let c = &mut self.collects[at];
        if let Some(id) = c.prompt.take() {
            // barge-in: the first digit stops the prompt
            if self.cmd_plays.get(&leg).is_some_and(|(i, _)| *i == id) {
                self.cmd_plays.remove(&leg);
                if let Some(m) = self.media.as_ref() {
                    m.send(Cmd::StopPlay { leg });
                }
            }
        }
        let c = &mut self.collects[at];
        if c.spec.terminators.contains(digit) {
            return self.collect_end(at, Some(digit), CollectEnd::Terminator);
        }
        c.digits.push(digit);
        if c.digits.len() >= c.spec.max_digits {
            return self.collect_end(at, None, CollectEnd::MaxDigits);
        }
        c.deadline = Some(now + Duration::from_millis(c.spec.inter_digit_ms));
        true
    }

    fn collect_end(&mut self, at: usize, terminator: Option<char>, ended_by: CollectEnd) -> bool {
        let c = self.collects.remove(at);
        tracing::info!(call = %self.id, leg = %c.leg, digits = %c.digits, ?ended_by, "digits collected");
        let _ = c.reply.send(Ok(Collected {
            digits: c.digits,
            terminator,
            ended_by,
        }));
        true
    }

    /// Collections on `leg` end with it.
    pub(super) fn collect_over(&mut self, leg: LegId) {
        while let Some(at) = self.collects.iter().position(|c| c.leg == leg) {
            self.collect_end(at, None, CollectEnd::LegEnded);
        }
    }

    /// The next time a command has something to do (a dialled leg's ring
    /// time, a collection's digit timeout).
    pub(super) fn command_deadline(&self) -> Option<Instant> {
        let collect = self.collects.iter().filter_map(|c| c.deadline).min();
        match (collect, self.extra_deadline()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    pub(super) fn command_timeout(&mut self) {
        self.extra_timeout();
        let now = Instant::now();
        while let Some(at) = self
            .collects
            .iter()
            .position(|c| c.deadline.is_some_and(|d| d <= now))
        {
            self.collect_end(at, None, CollectEnd::Timeout);
        }
    }

    /// Hangs up one leg: the caller's ends the call; the callee's leaves the
    /// caller with the legs it dialled (or ends the call when there are none);
    /// a dialled one ends alone.
    fn hangup_leg(&mut self, leg: LegId) -> Result<(), CommandError> {
        if self.ended {
            return Err(CommandError::Over);
        }
        if leg == self.leg(Side::A) {
            self.on_input(CallInput::Hangup);
            return Ok(());
        }
        if leg == self.b_leg && self.b.is_some() {
            if self.extra.iter().any(|e| !e.ended && e.up.is_some()) {
                self.drop_b(HangupCause::NormalClearing, true);
            } else {
                self.hangup_both(HangupCause::NormalClearing);
            }
            return Ok(());
        }
        let k = self.extra_index(leg).ok_or(CommandError::UnknownLeg)?;
        let cause = if self.extra[k].up.is_some() {
            HangupCause::NormalClearing
        } else {
            HangupCause::OriginatorCancel
        };
        self.end_extra(k, cause, true);
        Ok(())
    }

    /// The callee's leg leaves (hung up by command, or its BYE while the
    /// caller is bridged to a dialled leg): the switch terminates the caller's
    /// media from now on.
    pub(super) fn drop_b(&mut self, cause: HangupCause, send_bye: bool) {
        if send_bye {
            self.send_bye_b();
        }
        self.b = None;
        let b_leg = self.b_leg;
        if let Some(ext) = self.b_mark.take() {
            self.sw.unmark_busy(&self.origin.account.id, &ext);
            if let Some(at) = self.busy_marks.iter().position(|e| *e == ext) {
                self.busy_marks.remove(at);
            }
        }
        self.collect_over(b_leg);
        self.cmd_plays.remove(&b_leg);
        if let Some(m) = self.media.as_mut() {
            if let Some(c) = self.b_chan.as_mut() {
                c.rtp = m.figures(b_leg);
            }
            let was_mixed = m.role(b_leg).is_some();
            m.remove_leg(b_leg);
            if was_mixed && m.mixed().len() <= 2 {
                for l in m.mixed() {
                    m.apply(Cmd::Unmix { leg: l });
                }
            }
            if self.a_rate.is_none() {
                self.a_rate = m.rate(self.a_chan.id());
            }
        }
        if let Some(c) = self.b_chan.as_mut() {
            c.destroy(&self.sw.bus, &self.sw.metrics, cause);
        }
        self.endpoint = true;
        // the operator took the call over: the callflow that bridged it is done
        self.flow = None;
        self.dialing = None;
        tracing::info!(call = %self.id, "callee leg left; the caller stays with the dialled legs");
    }

    /// The call and its legs as they are now.
    fn view(&self) -> CallView {
        let m = self.media.as_ref();
        let mix = |leg: LegId| {
            m.and_then(|m| m.role(leg)).map(|r| match r {
                MixRole::Speak => "speak",
                MixRole::Listen => "listen",
                MixRole::Whisper(_) => "whisper",
            })
        };
        let peer = |leg: LegId| m.and_then(|m| m.peer(leg));
        let a = self.leg(Side::A);
        let mut legs = vec![LegView {
            id: a,
            role: "caller",
            // an originated call's first leg is the number it rang
            number: match self.a_chan.info.direction {
                Direction::Outbound => self.a_chan.info.callee.clone(),
                _ => self.a_chan.info.caller.clone(),
            },
            state: if self.a_chan.answered_ms.is_some() {
                "answered"
            } else {
                "ringing"
            },
            bridged_to: peer(a),
            mix: mix(a),
        }];
        if self.b.is_some()
            || (self.dialing.is_some() && self.b_chan.is_some())
            || (self.forks.iter().any(|f| !f.done) && self.b_chan.is_some())
        {
            legs.push(LegView {
                id: self.b_leg,
                role: "callee",
                number: self
                    .b_chan
                    .as_ref()
                    .map(|c| c.info.callee.clone())
                    .unwrap_or_else(|| self.dialled.clone()),
                state: if self.b.is_some() {
                    "answered"
                } else {
                    "ringing"
                },
                bridged_to: peer(self.b_leg),
                mix: mix(self.b_leg),
            });
        }
        for e in self.extra.iter().filter(|e| !e.ended) {
            legs.push(extra_view(e, peer(e.leg), mix(e.leg)));
        }
        CallView {
            id: self.id,
            account_id: self.origin.account.id.clone(),
            caller: self.origin.caller.clone(),
            dialled: self.dialled.clone(),
            legs,
        }
    }
}

fn extra_view(e: &Extra, bridged_to: Option<LegId>, mix: Option<&'static str>) -> LegView {
    LegView {
        id: e.leg,
        role: "dialled",
        number: e.number.clone(),
        state: if e.up.is_some() {
            "answered"
        } else {
            "ringing"
        },
        bridged_to,
        mix,
    }
}
