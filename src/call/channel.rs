//! A channel is one leg of a call: its identity, its state machine
//! (created → ringing → answered → bridged → destroyed) and the events it puts on
//! the bus at each step. Transitions out of order are ignored, never panics.

use crate::ids::{AccountId, CallId, LegId};
use std::sync::atomic::Ordering::Relaxed;

use crate::events::{now_ms, Bus, ChannelInfo, Direction, Event, HangupCause, Route};
use crate::metrics::Metrics;

/// The facts of a new leg `leg` of call `call` in `account` (no names, no route yet).
pub fn leg_info(
    leg: LegId,
    call_id: CallId,
    account_id: &str,
    sip_call_id: &str,
    direction: Direction,
    caller: &str,
    callee: &str,
) -> ChannelInfo {
    ChannelInfo {
        channel_id: leg,
        call_id,
        account_id: AccountId::from(account_id),
        sip_call_id: sip_call_id.to_string(),
        direction,
        caller: caller.to_string(),
        callee: callee.to_string(),
        caller_name: None,
        callee_name: None,
        route: Route::default(),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ChannelState {
    Created,
    Ringing,
    Answered,
    Bridged,
    Destroyed,
}

pub struct Channel {
    pub info: ChannelInfo,
    pub state: ChannelState,
    pub created_ms: i64,
    pub answered_ms: Option<i64>,
    /// The leg's RTP figures, reported with channel_destroy.
    pub rtp: Option<crate::media::session::LegStats>,
}

impl Channel {
    /// Creates the channel and emits channel_create.
    pub fn create(bus: &Bus, metrics: &Metrics, info: ChannelInfo) -> Channel {
        let created_ms = now_ms();
        metrics.active_channels.fetch_add(1, Relaxed);
        metrics.live_legs.insert(
            info.channel_id,
            crate::metrics::LiveLeg {
                call_id: info.call_id,
                account: info.account_id.clone(),
                caller: info.caller.clone(),
                callee: info.callee.clone(),
                created_ms,
                answered_ms: None,
            },
        );
        bus.publish(Event::ChannelCreate {
            channel: info.clone(),
            timestamp_ms: created_ms,
        });
        Channel {
            info,
            state: ChannelState::Created,
            created_ms,
            answered_ms: None,
            rtp: None,
        }
    }

    pub fn id(&self) -> LegId {
        self.info.channel_id
    }

    pub fn ringing(&mut self) {
        if self.state == ChannelState::Created {
            self.state = ChannelState::Ringing;
        }
    }

    pub fn answer(&mut self, bus: &Bus, metrics: &Metrics) {
        if self.state < ChannelState::Answered {
            self.state = ChannelState::Answered;
            let ts = now_ms();
            self.answered_ms = Some(ts);
            metrics.live_legs.answered(self.info.channel_id, ts);
            bus.publish(Event::ChannelAnswer {
                channel: self.info.clone(),
                timestamp_ms: ts,
            });
        }
    }

    pub fn bridge(&mut self, bus: &Bus, other: LegId) {
        if self.state == ChannelState::Answered {
            self.state = ChannelState::Bridged;
            bus.publish(Event::ChannelBridge {
                channel: self.info.clone(),
                other_channel_id: other,
                timestamp_ms: now_ms(),
            });
        }
    }

    /// Emits channel_destroy once; returns (duration, billsec) in ms.
    pub fn destroy(&mut self, bus: &Bus, metrics: &Metrics, cause: HangupCause) -> (i64, i64) {
        let now = now_ms();
        let duration = now - self.created_ms;
        let billsec = self.answered_ms.map(|a| now - a).unwrap_or(0);
        if self.state != ChannelState::Destroyed {
            self.state = ChannelState::Destroyed;
            metrics.active_channels.fetch_sub(1, Relaxed);
            metrics.live_legs.remove(self.info.channel_id);
            bus.publish(Event::ChannelDestroy {
                channel: self.info.clone(),
                hangup_cause: cause,
                duration_ms: duration,
                billsec_ms: billsec,
                rtp: self.rtp,
                timestamp_ms: now,
            });
        }
        (duration, billsec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn lifecycle_emits_each_event_once_in_order() {
        let bus = Bus::new(16);
        let mut rx = bus.subscribe();
        let m = Metrics::default();
        let info = leg_info(
            LegId::new(),
            CallId::new(),
            "demo",
            "cid",
            Direction::Inbound,
            "1001",
            "1002",
        );
        let mut c = Channel::create(&bus, &m, info);
        c.ringing();
        c.answer(&bus, &m);
        c.answer(&bus, &m);
        c.bridge(&bus, LegId::new());
        c.destroy(&bus, &m, HangupCause::NormalClearing);
        c.destroy(&bus, &m, HangupCause::NormalClearing);
        let names: Vec<&str> = std::iter::from_fn(|| rx.try_recv().ok())
            .map(|e| e.name())
            .collect();
        assert_eq!(
            names,
            vec![
                "channel_create",
                "channel_answer",
                "channel_bridge",
                "channel_destroy"
            ]
        );
        assert_eq!(m.active_channels.load(Relaxed), 0);
        assert!(m.live_legs.is_empty());
    }
}
