//! The session's conference: legs that hear a mix rather than one bridged peer.
//! A supervisor listening in is a muted party, a whisper is heard by one party
//! only, a barge (or a plain conference) is an ordinary party. The mixing is
//! [`crate::media::mixer`]'s; this file keeps which leg is which party and in
//! which role, and recomputes the whisper targets as legs come and go.
//! While a leg is in the conference its packets are terminated (never relayed)
//! and its bridge, if any, is inert; leaving the conference restores it.

use crate::ids::LegId;
use crate::media::mixer::{Mixer, PartyId};

/// Rate the conference mixes at: wideband, so Opus legs keep their voice band
/// and G.711 legs lose nothing.
pub const MIX_RATE: u32 = 16_000;

/// How a leg takes part in the session's conference.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MixRole {
    /// Hears everyone, heard by everyone (a barge, a conference member).
    Speak,
    /// Hears everyone, heard by nobody (a supervisor listening in).
    Listen,
    /// Hears everyone, heard by that one leg only (a supervisor coaching an agent).
    Whisper(LegId),
}

struct Member {
    leg: LegId,
    party: PartyId,
    role: MixRole,
}

pub(super) struct Conference {
    mixer: Mixer,
    members: Vec<Member>,
}

impl Conference {
    pub(super) fn new() -> Self {
        Conference {
            mixer: Mixer::new(MIX_RATE).expect("16 kHz has whole 20 ms frames"),
            members: Vec::with_capacity(4),
        }
    }

    pub(super) fn contains(&self, leg: LegId) -> bool {
        self.members.iter().any(|m| m.leg == leg)
    }

    pub(super) fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Adds `leg` in `role`, or changes its role when it is in already.
    pub(super) fn join(&mut self, leg: LegId, role: MixRole) {
        match self.members.iter_mut().find(|m| m.leg == leg) {
            Some(m) => m.role = role,
            None => {
                let party = self.mixer.add_party();
                self.members.push(Member { leg, party, role });
            }
        }
        self.apply_roles();
    }

    /// Takes `leg` out; false when it was not in.
    pub(super) fn leave(&mut self, leg: LegId) -> bool {
        let Some(at) = self.members.iter().position(|m| m.leg == leg) else {
            return false;
        };
        let m = self.members.remove(at);
        let _ = self.mixer.remove_party(m.party);
        self.apply_roles();
        true
    }

    /// Mutes and whisper targets from the roles: a whisper to a leg that is not
    /// (or no longer) in the conference is heard by nobody.
    fn apply_roles(&mut self) {
        for m in &self.members {
            let muted = match m.role {
                MixRole::Speak => false,
                MixRole::Listen => true,
                MixRole::Whisper(to) => !self.members.iter().any(|o| o.leg == to && o.leg != m.leg),
            };
            let _ = self.mixer.set_muted(m.party, muted);
            let to = match m.role {
                MixRole::Whisper(to) => self
                    .members
                    .iter()
                    .find(|o| o.leg == to && o.leg != m.leg)
                    .map(|o| o.party),
                _ => None,
            };
            let _ = self.mixer.set_whisper(m.party, to);
        }
    }

    /// One frame of `leg` for this tick, already at [`MIX_RATE`].
    pub(super) fn push(&mut self, leg: LegId, frame: &[i16]) {
        if let Some(m) = self.members.iter().find(|m| m.leg == leg) {
            let _ = self.mixer.push(m.party, frame);
        }
    }

    /// Mixes this tick (every member pushed or stays silent).
    pub(super) fn mix(&mut self) {
        self.mixer.mix();
    }

    /// What `leg` hears this tick, at [`MIX_RATE`].
    pub(super) fn output(&self, leg: LegId) -> Option<&[i16]> {
        let m = self.members.iter().find(|m| m.leg == leg)?;
        self.mixer.output(m.party)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: LegId = LegId(uuid::Uuid::from_u128(1));
    const B: LegId = LegId(uuid::Uuid::from_u128(2));
    const S: LegId = LegId(uuid::Uuid::from_u128(3));
    const N: usize = (MIX_RATE / 50) as usize;

    fn tick(c: &mut Conference, a: i16, b: i16, s: i16) -> [i16; 3] {
        c.push(A, &[a; N]);
        c.push(B, &[b; N]);
        c.push(S, &[s; N]);
        c.mix();
        [A, B, S].map(|l| c.output(l).map(|o| o[0]).unwrap_or(i16::MIN))
    }

    fn three(role: MixRole) -> Conference {
        let mut c = Conference::new();
        c.join(A, MixRole::Speak);
        c.join(B, MixRole::Speak);
        c.join(S, role);
        c
    }

    #[test]
    fn listen_hears_both_and_is_heard_by_none() {
        let mut c = three(MixRole::Listen);
        assert_eq!(tick(&mut c, 100, 20, 3), [20, 100, 120]);
    }

    #[test]
    fn whisper_reaches_its_target_only() {
        let mut c = three(MixRole::Whisper(A));
        assert_eq!(tick(&mut c, 100, 20, 3), [23, 100, 120]);
    }

    #[test]
    fn barge_is_a_three_way_call() {
        let mut c = three(MixRole::Speak);
        assert_eq!(tick(&mut c, 100, 20, 3), [23, 103, 120]);
    }

    #[test]
    fn role_changes_and_target_leaving_apply_at_once() {
        let mut c = three(MixRole::Listen);
        c.join(S, MixRole::Whisper(B));
        assert_eq!(tick(&mut c, 100, 20, 3), [20, 103, 120]);
        // the whisper target leaves: the whisperer is heard by nobody, never by all
        assert!(c.leave(B));
        assert!(!c.leave(B));
        c.push(A, &[100; N]);
        c.push(S, &[3; N]);
        c.mix();
        assert_eq!(c.output(A).unwrap()[0], 0);
        assert_eq!(c.output(S).unwrap()[0], 100);
        assert!(c.output(B).is_none());
    }

    #[test]
    fn whisper_to_itself_is_heard_by_nobody() {
        let mut c = Conference::new();
        c.join(A, MixRole::Speak);
        c.join(S, MixRole::Whisper(S));
        c.push(A, &[50; N]);
        c.push(S, &[7; N]);
        c.mix();
        assert_eq!(c.output(A).unwrap()[0], 0);
        assert_eq!(c.output(S).unwrap()[0], 50);
    }
}
