//! The call's side of media negotiation and the media session's reports.
//! Offers pass to the other leg anchored at our ports and widened with the
//! codecs we can transcode; an answer picks the codec each leg speaks: the
//! same codec on both legs keeps the untouched relay, a codec the offerer did
//! not offer makes the switch answer the offerer itself and transcode. Digits
//! and recordings the session reports become bus events and store rows.

use super::*;
use crate::events::Event;
use crate::media::session::negotiate::{self, Negotiated};
use crate::media::session::Cmd;
use crate::sdp::MediaLine;

/// The music-on-hold class a held party hears.
const MOH_CLASS: &str = "default";
/// Longest hold with music (the held party then hears silence).
const HOLD_LIMIT_SECS: u32 = 4 * 3600;
/// Playback id of hold music (app steps count from 1).
const HOLD_MUSIC: u64 = u64::MAX - 1;

impl Call {
    fn channel_info(&self, side: Side) -> Option<crate::events::ChannelInfo> {
        match side {
            Side::A => Some(self.a_chan.info.clone()),
            Side::B => self.b_chan.as_ref().map(|c| c.info.clone()),
        }
    }

    /// An SDP offer from `from`: anchored for the other leg and widened with
    /// the codecs we transcode; remembered for the answer.
    pub(super) fn anchor_offer(&mut self, from: Side, body: &[u8]) -> Option<Vec<u8>> {
        self.last_offer = negotiate::audio_line(body)
            .ok()
            .flatten()
            .map(|line| (from, line));
        self.offer_holds = std::str::from_utf8(body)
            .ok()
            .and_then(|t| crate::sdp::parse_media(t).ok())
            .is_some_and(|s| s.is_hold());
        let anchored = self.anchor_sdp(from, body)?;
        let text = String::from_utf8(anchored).ok()?;
        Some(negotiate::widen_offer(&text).into_bytes())
    }

    /// An SDP answer from `from` to the last offer: sets each leg's codec and
    /// returns the body for the offerer (ours when the legs must be transcoded).
    pub(super) fn anchor_answer(&mut self, from: Side, body: &[u8]) -> Option<Vec<u8>> {
        let relayed = self.anchor_sdp(from, body)?;
        let answer = negotiate::audio_line(body).ok().flatten();
        let Some((offerer, offer)) = self.last_offer.clone() else {
            return Some(relayed);
        };
        if offerer == from {
            return Some(relayed);
        }
        self.hold_music(offerer, self.offer_holds);
        let Some(answered) = answer.as_ref().and_then(negotiate::choose) else {
            // no codec of ours: relay as before, nothing decoded
            self.set_codec(from, None);
            self.set_codec(offerer, None);
            return Some(relayed);
        };
        if let Some(same) = same_codec(&offer, &answered) {
            self.set_codec(from, Some(answered));
            self.set_codec(offerer, Some(same));
            if let Some(m) = self.media.as_ref() {
                m.send(Cmd::SetSending {
                    leg: self.leg(offerer),
                    on: true,
                });
            }
            return Some(relayed);
        }
        // the answerer picked a codec the offerer never offered: transcode
        let Some(own) = negotiate::choose(&offer) else {
            return Some(relayed);
        };
        tracing::info!(call = %self.id, offerer = ?offerer, a = ?own.codec, b = ?answered.codec, "transcoding");
        let port = self.media.as_ref()?.port(self.leg(offerer))?;
        self.set_codec(from, Some(answered));
        self.set_codec(offerer, Some(own.clone()));
        let direction = negotiate::answer_direction(offer.direction);
        if let Some(m) = self.media.as_ref() {
            m.send(Cmd::SetSending {
                leg: self.leg(offerer),
                on: negotiate::we_send(direction),
            });
        }
        Some(
            negotiate::endpoint_sdp(
                self.public_ip(),
                port,
                &offer.proto,
                &own,
                self.sdp_version(),
                direction,
            )
            .into_bytes(),
        )
    }

    /// `holder` put the other side on hold (or resumed): the held side hears
    /// the `default` music-on-hold class from the switch until the call resumes.
    pub(super) fn hold_music(&mut self, holder: Side, hold: bool) {
        let held = match holder {
            Side::A => Side::B,
            Side::B => Side::A,
        };
        let Some(m) = self.media.as_ref() else {
            return;
        };
        if !hold {
            if self.on_hold.take().is_some() {
                self.hold_generation.fetch_add(1, Relaxed);
                m.send(Cmd::StopPlay {
                    leg: self.leg(held),
                });
            }
            return;
        }
        if self.on_hold == Some(held) || self.b.is_none() {
            return;
        }
        self.on_hold = Some(held);
        let generation = self.hold_generation.fetch_add(1, Relaxed) + 1;
        let current = self.hold_generation.clone();
        let (library, tx, call) = (self.sw.settings.media.clone(), m.sender(), self.id);
        let held = self.leg(held);
        tokio::spawn(async move {
            match library.moh(MOH_CLASS, HOLD_LIMIT_SECS, 8000).await {
                Ok(source) if current.load(Relaxed) == generation => {
                    let _ = tx.send(Cmd::Play {
                        leg: held,
                        source,
                        barge_in: false,
                        id: HOLD_MUSIC,
                    });
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(%call, error = %e, "no music on hold"),
            }
        });
    }

    fn sdp_version(&mut self) -> u64 {
        self.sdp_session += 1;
        self.sdp_session
    }

    fn set_codec(&mut self, side: Side, neg: Option<Negotiated>) {
        let leg = self.leg(side);
        if let Some(m) = self.media.as_mut() {
            m.apply(Cmd::SetCodec { leg, neg });
        }
    }

    /// The caller's or the callee's extension asks for its calls to be recorded.
    pub(super) fn records(&self) -> bool {
        let dir = self.sw.directory();
        let account = &self.origin.account.id;
        let caller = !self.origin.from_trunk
            && dir
                .extension(account, &self.origin.caller)
                .is_some_and(|e| e.record);
        let callee = match &self.destination {
            Destination::Extension { number } => {
                dir.extension(account, number).is_some_and(|e| e.record)
            }
            _ => false,
        };
        caller || callee || self.click.as_ref().is_some_and(|c| c.record)
    }

    /// Starts recording the call to the data dir (caller left, callee right).
    pub(super) fn start_recording(&mut self) {
        let Some(m) = self.media.as_ref() else {
            return;
        };
        let path = self
            .sw
            .settings
            .data_dir
            .join("recordings")
            .join(&self.origin.account.id)
            .join(format!("{}.wav", self.id));
        m.send(Cmd::Record {
            leg: self.a_chan.id(),
            path,
            silence: None,
        });
    }

    pub(super) fn on_media_event(&mut self, ev: SessionEvent) {
        match ev {
            SessionEvent::Dtmf { leg, event, source } => {
                let channel = match self.side_of(leg) {
                    Some(s) => self.channel_info(s),
                    None => self
                        .extra
                        .iter()
                        .find(|e| e.leg == leg)
                        .map(|e| e.chan.info.clone()),
                };
                let Some(channel) = channel else {
                    return;
                };
                tracing::info!(call = %self.id, digit = %event.digit, ?source, "dtmf");
                let from_caller = leg == self.leg(Side::A);
                self.sw.bus.publish(Event::Dtmf {
                    channel,
                    digit: event.digit.as_char().to_string(),
                    duration_ms: event.duration_ms,
                    source,
                    timestamp_ms: now_ms(),
                });
                if self.collect_digit(leg, event.digit.as_char()) {
                    return;
                }
                if from_caller && self.b.is_none() {
                    self.flow_event(crate::routing::Event::Digit(event.digit.as_char()));
                }
            }
            SessionEvent::Recorded(Ok(info)) => self.recording_sink().publish(info),
            SessionEvent::Silence { .. } => {
                tracing::info!(call = %self.id, "the caller fell silent");
                self.flow_event(crate::routing::Event::Silence);
            }
            SessionEvent::Recorded(Err(e)) => {
                tracing::error!(call = %self.id, error = %e, "recording failed");
            }
            SessionEvent::PlayDone { leg, id, .. } => {
                // the flow's and apps' playbacks are all to the caller
                if !self.command_play_step_done(leg, id) && leg == self.leg(Side::A) {
                    self.on_play_done(id)
                }
            }
            SessionEvent::MediaGone { leg } => {
                // a browser that vanished (tab closed, network gone) hangs up its side
                if self.side_of(leg).is_some() && !self.ended {
                    tracing::info!(call = %self.id, %leg, "browser media gone: hanging up");
                    self.hangup_both(HangupCause::RecoveryOnTimerExpire);
                }
            }
            SessionEvent::Stats { leg, stats } => {
                tracing::debug!(call = %self.id, %leg, ?stats, "media figures");
            }
        }
    }
}

impl Call {
    fn recording_sink(&self) -> RecordingSink {
        RecordingSink {
            bus: self.sw.bus.clone(),
            channel: self.a_chan.info.clone(),
            call_id: self.id,
            voicemail: self.voicemail.clone(),
        }
    }

    /// The call is over but its media session may still close a recording:
    /// a small task waits for the session's last reports.
    pub(super) fn drain_media_events(&mut self) {
        let Some(mut rx) = self.media_events.take() else {
            return;
        };
        let sink = self.recording_sink();
        tokio::spawn(async move {
            while let Some(ev) = rx.recv().await {
                match ev {
                    SessionEvent::Recorded(Ok(info)) => sink.publish(info),
                    SessionEvent::Recorded(Err(e)) => {
                        tracing::error!(call = %sink.call_id, error = %e, "recording failed")
                    }
                    _ => {}
                }
            }
        });
    }
}

/// Where a closed recording is announced (bus) and kept (store).
struct RecordingSink {
    bus: crate::events::Bus,
    channel: crate::events::ChannelInfo,
    call_id: CallId,
    voicemail: Option<super::flow::VoicemailTarget>,
}

impl RecordingSink {
    /// A voicemail message was closed: stored in its box and announced.
    fn publish_voicemail(
        &self,
        vm: &super::flow::VoicemailTarget,
        info: crate::media::record::RecordingInfo,
    ) {
        let msg = crate::store::Voicemail {
            id: uuid::Uuid::new_v4().to_string(),
            account_id: self.channel.account_id.to_string(),
            r#box: vm.r#box.clone(),
            caller: self.channel.caller.clone(),
            call_id: self.call_id.to_string(),
            path: info.path.to_string_lossy().into_owned(),
            duration_ms: info.duration_ms as i64,
            heard: false,
            created_at: now_ms(),
        };
        tracing::info!(call = %self.call_id, r#box = %msg.r#box, duration_ms = msg.duration_ms, "voicemail left");
        // the row goes to the store with its event, in one transaction
        let ev = Event::VoicemailNew {
            account_id: self.channel.account_id.clone(),
            mailbox: msg.r#box.clone(),
            voicemail_id: msg.id.clone(),
            call_id: self.call_id,
            caller: msg.caller.clone(),
            path: msg.path.clone(),
            duration_ms: msg.duration_ms,
            timestamp_ms: msg.created_at,
        };
        let id = msg.id.clone();
        self.bus
            .publish_with(ev, Some(crate::events::kept::Kept::Voicemail(msg)));
        self.bus
            .publish(Event::DocCreated(crate::events::ObjectEvent::now(
                self.channel.account_id.clone(),
                "mailbox_message",
                id,
                Some(self.call_id),
            )));
    }

    fn publish(&self, info: crate::media::record::RecordingInfo) {
        if let Some(vm) = self.voicemail.as_ref().filter(|v| v.path == info.path) {
            return self.publish_voicemail(vm, info);
        }
        let rec = crate::store::Recording {
            id: uuid::Uuid::new_v4().to_string(),
            account_id: self.channel.account_id.to_string(),
            call_id: self.call_id.to_string(),
            channel_id: self.channel.channel_id.to_string(),
            path: info.path.to_string_lossy().into_owned(),
            duration_ms: info.duration_ms as i64,
            size_bytes: info.size_bytes as i64,
            rate: info.rate,
            created_at: now_ms(),
        };
        tracing::info!(call = %self.call_id, path = %rec.path, duration_ms = rec.duration_ms, "recording closed");
        let ev = Event::Recording {
            channel: self.channel.clone(),
            recording_id: rec.id.clone(),
            path: rec.path.clone(),
            duration_ms: rec.duration_ms,
            size_bytes: rec.size_bytes,
            timestamp_ms: rec.created_at,
        };
        let id = rec.id.clone();
        self.bus
            .publish_with(ev, Some(crate::events::kept::Kept::Recording(rec)));
        self.bus
            .publish(Event::DocCreated(crate::events::ObjectEvent::now(
                self.channel.account_id.clone(),
                "call_recording",
                id,
                Some(self.call_id),
            )));
    }
}

/// The offerer's own payload type for the codec the answerer chose, if it offered it.
fn same_codec(offer: &MediaLine, answered: &Negotiated) -> Option<Negotiated> {
    let (pt, codec) = negotiate::offered_codecs(offer)
        .into_iter()
        .find(|(pt, k)| *k == answered.codec && *pt == answered.pt)
        .or_else(|| {
            negotiate::offered_codecs(offer)
                .into_iter()
                .find(|(_, k)| *k == answered.codec)
        })?;
    let te = negotiate::telephone_event(offer, codec.clock_rate());
    Some(Negotiated {
        codec,
        pt,
        te_pt: te.map(|t| t.0),
        te_rate: te.map(|t| t.1).unwrap_or(8000),
    })
}
