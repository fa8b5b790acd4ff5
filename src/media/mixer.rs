//! Conference mixing for three or more parties: conferences, and a
//! supervisor's listen (a muted party), whisper (heard by the agent only)
//! and barge (an ordinary party).
//!
//! Sans-IO and clock-free: the owner of the conference pushes one 20 ms frame
//! per party per tick, already decoded and resampled to the mixer's rate,
//! calls [`Mixer::mix`] once per tick, then reads each party's
//! [`Mixer::output`] to encode and send. It must not pace ticks, decode,
//! resample or touch RTP. Each tick costs O(parties × frame): one running
//! total of everyone audible to all, from which each listener's own voice is
//! taken back out. Sums are clamped to the i16 range (hard saturation, no
//! soft limiting). Buffers are sized when a party joins and reused, so a tick
//! allocates nothing.

/// A party of one [`Mixer`]; ids are never reused within a mixer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PartyId(u32);

/// Everything the mixer refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MixerError {
    /// A rate with no whole 20 ms frame (it must be a non-zero multiple of 50).
    #[error("unsupported mixer rate {rate} Hz")]
    UnsupportedRate { rate: u32 },
    /// No such party in this mixer (never added, or removed).
    #[error("no party {0:?} in this mixer")]
    UnknownParty(PartyId),
    /// A pushed frame of the wrong length; it was dropped.
    #[error("{party:?} pushed {got} samples where {expected} are required")]
    FrameLength {
        party: PartyId,
        got: usize,
        expected: usize,
    },
    /// A party cannot whisper to itself.
    #[error("{0:?} cannot whisper to itself")]
    WhisperToSelf(PartyId),
}

#[derive(Debug)]
struct Party {
    id: PartyId,
    /// This tick's frame; meaningful only when `pushed`.
    input: Vec<i16>,
    pushed: bool,
    /// What this party hears, valid after the last `mix`.
    output: Vec<i16>,
    /// Sum of the whispers addressed to this party this tick.
    whispers: Vec<i32>,
    whispered: bool,
    muted: bool,
    deaf: bool,
    /// When set, this party is heard by that one party only.
    whisper_to: Option<PartyId>,
}

impl Party {
    /// Heard by everyone else this tick: sent audio, not muted, not whispering.
    fn in_total(&self) -> bool {
        self.pushed && !self.muted && self.whisper_to.is_none()
    }
}

/// An N-party mixer at one fixed rate, 20 ms per tick.
#[derive(Debug)]
pub struct Mixer {
    rate: u32,
    frame: usize,
    next_id: u32,
    /// Parties in joining order; looked up by a linear scan (conferences
    /// are small, and a scan beats hashing at these sizes).
    parties: Vec<Party>,
    /// Sum over the parties in the total, per sample.
    total: Vec<i32>,
}

impl Mixer {
    /// A mixer at `rate` Hz (8000, 16000, 48000 …).
    pub fn new(rate: u32) -> Result<Self, MixerError> {
        if rate == 0 || !rate.is_multiple_of(50) {
            return Err(MixerError::UnsupportedRate { rate });
        }
        let frame = (rate / 50) as usize;
        Ok(Self {
            rate,
            frame,
            next_id: 0,
            parties: Vec::new(),
            total: vec![0; frame],
        })
    }

    /// Sample rate, Hz.
    pub fn rate(&self) -> u32 {
        self.rate
    }

    /// Samples in one 20 ms frame (`rate / 50`).
    pub fn frame_samples(&self) -> usize {
        self.frame
    }

    /// Parties now in the mixer.
    pub fn len(&self) -> usize {
        self.parties.len()
    }

    pub fn is_empty(&self) -> bool {
        self.parties.is_empty()
    }

    /// Adds a party that hears everyone and is heard by everyone. Its output
    /// is silence until the next [`mix`](Self::mix).
    pub fn add_party(&mut self) -> PartyId {
        let id = PartyId(self.next_id);
        self.next_id += 1;
        self.parties.push(Party {
            id,
            input: vec![0; self.frame],
            pushed: false,
            output: vec![0; self.frame],
            whispers: vec![0; self.frame],
            whispered: false,
            muted: false,
            deaf: false,
            whisper_to: None,
        });
        id
    }

    /// Removes a party. Anyone whispering to it is then heard by nobody
    /// until their whisper is changed, rather than by everyone.
    pub fn remove_party(&mut self, id: PartyId) -> Result<(), MixerError> {
        let at = self.index(id)?;
        self.parties.remove(at);
        Ok(())
    }

    /// A muted party is heard by nobody but still hears everyone
    /// (a supervisor listening in is a muted party).
    pub fn set_muted(&mut self, id: PartyId, muted: bool) -> Result<(), MixerError> {
        let at = self.index(id)?;
        self.parties[at].muted = muted;
        Ok(())
    }

    /// A deaf party hears nothing (its output is silence) but is still heard.
    pub fn set_deaf(&mut self, id: PartyId, deaf: bool) -> Result<(), MixerError> {
        let at = self.index(id)?;
        self.parties[at].deaf = deaf;
        Ok(())
    }

    /// `Some(to)`: `from` is heard by `to` only (a supervisor whispering to
    /// the agent) while still hearing everyone. `None`: heard by all again.
    /// Muting wins over whispering.
    pub fn set_whisper(
        &mut self,
        from: PartyId,
        only_to: Option<PartyId>,
    ) -> Result<(), MixerError> {
        let at = self.index(from)?;
        if let Some(to) = only_to {
            if to == from {
                return Err(MixerError::WhisperToSelf(from));
            }
            self.index(to)?;
        }
        self.parties[at].whisper_to = only_to;
        Ok(())
    }

    /// Deposits `id`'s frame for this tick (a second push in the same tick
    /// replaces the first). A party that pushes nothing is silent this tick.
    pub fn push(&mut self, id: PartyId, frame: &[i16]) -> Result<(), MixerError> {
        let at = self.index(id)?;
        if frame.len() != self.frame {
            return Err(MixerError::FrameLength {
                party: id,
                got: frame.len(),
                expected: self.frame,
            });
        }
        let party = &mut self.parties[at];
        party.input.copy_from_slice(frame);
        party.pushed = true;
        Ok(())
    }

    /// Mixes this tick: afterwards each party's [`output`](Self::output)
    /// holds everyone it can hear except itself, and all inputs are cleared
    /// for the next tick.
    pub fn mix(&mut self) {
        self.total.fill(0);
        for party in self.parties.iter().filter(|p| p.in_total()) {
            for (t, &s) in self.total.iter_mut().zip(&party.input) {
                *t += i32::from(s);
            }
        }

        // Whispers go straight into their listener's accumulator.
        for w in 0..self.parties.len() {
            let (pushed, muted, to) = {
                let p = &self.parties[w];
                (p.pushed, p.muted, p.whisper_to)
            };
            let Some(to) = to.filter(|_| pushed && !muted) else {
                continue;
            };
            let Some(l) = self.parties.iter().position(|p| p.id == to) else {
                continue; // listener gone: heard by nobody
            };
            let (speaker, listener) = pair_mut(&mut self.parties, w, l);
            if !listener.whispered {
                listener.whispers.fill(0);
                listener.whispered = true;
            }
            for (acc, &s) in listener.whispers.iter_mut().zip(&speaker.input) {
                *acc += i32::from(s);
            }
        }

        for party in &mut self.parties {
            if party.deaf {
                party.output.fill(0);
            } else {
                let own = party.in_total();
                for k in 0..party.output.len() {
                    let mut sum = self.total[k];
                    if own {
                        sum -= i32::from(party.input[k]);
                    }
                    if party.whispered {
                        sum += party.whispers[k];
                    }
                    party.output[k] = saturate(sum);
                }
            }
            party.pushed = false;
            party.whispered = false;
        }
    }

    /// What `id` hears, as of the last [`mix`](Self::mix) (silence before
    /// the first). `None` if there is no such party.
    pub fn output(&self, id: PartyId) -> Option<&[i16]> {
        self.parties
            .iter()
            .find(|p| p.id == id)
            .map(|p| p.output.as_slice())
    }

    fn index(&self, id: PartyId) -> Result<usize, MixerError> {
        self.parties
            .iter()
            .position(|p| p.id == id)
            .ok_or(MixerError::UnknownParty(id))
    }
}

/// Clamps a sum of samples into the i16 range.
fn saturate(sum: i32) -> i16 {
    sum.clamp(i32::from(i16::MIN), i32::from(i16::MAX)) as i16
}

/// Borrows two distinct parties, `a` read-only and `b` mutably.
fn pair_mut(parties: &mut [Party], a: usize, b: usize) -> (&Party, &mut Party) {
    debug_assert_ne!(a, b, "set_whisper refuses whispering to oneself");
    if a < b {
        let (lo, hi) = parties.split_at_mut(b);
        (&lo[a], &mut hi[0])
    } else {
        let (lo, hi) = parties.split_at_mut(a);
        (&hi[0], &mut lo[b])
    }
}

#[cfg(test)]
#[path = "mixer_tests.rs"]
mod tests;
