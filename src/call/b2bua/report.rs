//! The voice API's call events a call reports (`events::VoiceEvent`):
//! INCOMING_EXTERNAL_CALL when a trunk's call arrives, USER_DIAL when an
//! extension calls out through a trunk, USER_ANSWER when an extension answers,
//! and at the end CALL_ENDED (every call) and USER_HANGUP (an extension's
//! outside call). The channel events say the same per leg; these say it per
//! call, in the voice API's words.

use super::*;
use crate::events::{Event, VoiceEvent, VoiceMeta};

impl Call {
    fn voice(&self, make: fn(VoiceEvent) -> Event, metadata: VoiceMeta) {
        self.voice_with(make, metadata, None);
    }

    fn voice_with(
        &self,
        make: fn(VoiceEvent) -> Event,
        metadata: VoiceMeta,
        kept: Option<crate::events::kept::Kept>,
    ) {
        let account = crate::ids::AccountId::from(self.origin.account.id.as_str());
        self.sw
            .bus
            .publish_with(make(VoiceEvent::now(account, metadata)), kept);
    }

    /// An extension of the account (not a trunk's caller) calls a trunk, or
    /// clicked to call.
    fn user_dials_out(&self) -> bool {
        self.click.is_some()
            || (!self.origin.from_trunk && matches!(self.destination, Destination::Trunk { .. }))
    }

    /// The call goes out through a trunk (its destination, or the number a
    /// click-to-call dials).
    pub(super) fn goes_out(&self) -> bool {
        let click_out = self.click.as_ref().is_some_and(|c| {
            matches!(
                crate::call::plan::route(&self.sw.directory(), &self.origin.account.id, &c.to),
                Destination::Trunk { .. }
            )
        });
        click_out || matches!(self.destination, Destination::Trunk { .. })
    }

    /// The number the user dialled: the click-to-call's, else the call's.
    pub(super) fn user_dialled(&self) -> String {
        match &self.click {
            Some(c) => c.to.clone(),
            None => self.dialled.clone(),
        }
    }

    /// A click-to-call's user answered their phone: USER_ANSWER, then
    /// USER_DIAL as the switch dials the number for them.
    pub(super) fn report_click_answer(&self) {
        self.report_user_answer(&self.origin.caller);
        self.voice(
            Event::UserDial,
            VoiceMeta {
                dialed_number: Some(self.user_dialled()),
                from_user_id: Some(self.origin.caller.clone()),
                caller_id_number: self.origin.external_caller_id.clone(),
                uniqueid: self.id,
                ..VoiceMeta::default()
            },
        );
    }

    /// The call arrived (from an INVITE, not placed by the switch).
    pub(super) fn report_start(&self) {
        if self.origin.from_trunk {
            self.voice(
                Event::IncomingExternalCall,
                VoiceMeta {
                    caller_id_number: Some(self.origin.caller.clone()),
                    caller_id_name: self.origin.display_name.clone(),
                    dnis: Some(self.dialled.clone()),
                    uniqueid: self.id,
                    ..VoiceMeta::default()
                },
            );
        } else if self.user_dials_out() {
            self.voice(
                Event::UserDial,
                VoiceMeta {
                    dialed_number: Some(self.dialled.clone()),
                    from_user_id: Some(self.origin.caller.clone()),
                    uniqueid: self.id,
                    ..VoiceMeta::default()
                },
            );
        }
    }

    /// Extension `ext` answered this call.
    pub(super) fn report_user_answer(&self, ext: &str) {
        self.voice(
            Event::UserAnswer,
            VoiceMeta {
                caller_id_number: Some(self.origin.caller.clone()),
                to_user_id: Some(ext.to_string()),
                uniqueid: self.id,
                ..VoiceMeta::default()
            },
        );
    }

    /// The call is over after `duration_ms`; its detail record is stored
    /// with CALL_ENDED (one transaction).
    pub(super) fn report_end(&self, duration_ms: i64, cdr: crate::store::Cdr) {
        let secs = (duration_ms.max(0) + 500) / 1000;
        let direction = if self.origin.from_trunk {
            "inbound"
        } else if self.goes_out() {
            "outbound"
        } else {
            "internal"
        };
        self.voice_with(
            Event::CallEnded,
            VoiceMeta {
                caller_id_number: Some(self.origin.caller.clone()),
                dnis: Some(self.user_dialled()),
                uniqueid: self.id,
                call_direction: Some(direction),
                to_user_id: self.answered_by.clone(),
                duration: Some(secs),
                ..VoiceMeta::default()
            },
            Some(crate::events::kept::Kept::Cdr(cdr)),
        );
        if self.user_dials_out() {
            self.voice(
                Event::UserHangup,
                VoiceMeta {
                    dialed_number: Some(self.user_dialled()),
                    from_user_id: Some(self.origin.caller.clone()),
                    uniqueid: self.id,
                    duration: Some(secs),
                    ..VoiceMeta::default()
                },
            );
        }
    }
}
