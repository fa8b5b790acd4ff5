//! Runs the steps of a dialplan app (`[[accounts.apps]]`) on a call the switch
//! answered itself: each step becomes a playback source (prompt, speech, tone,
//! music on hold, silence) or an echo, handed to the call's media session; the
//! next step starts when the session reports the previous one done (played out
//! or cut short by a digit). After the last step the call is hung up.
//!
//! The runner is its own task so that loading files and rendering speech never
//! stall the call task; it must not touch SIP.

use std::sync::Arc;
use tokio::sync::mpsc;

use super::{CallInput, CallSender};
use crate::dialplan::{Step, ToneName};
use crate::ids::LegId;
use crate::media::playback::{MediaLibrary, PlaybackError, ToneKind, ToneRegion};
use crate::media::session::Cmd;

/// Tells the runner that playback `id` is over; dropping it stops the runner.
pub type DoneSender = mpsc::UnboundedSender<u64>;

/// What the runner does after the last step.
pub enum AppEnd {
    /// Hang the call up (a dialplan app).
    Hangup(CallSender),
    /// Report `id` on the channel (a callflow's prompt; the flow goes on).
    Notify(mpsc::UnboundedSender<u64>, u64),
}

/// Starts the runner; the call forwards `PlayDone` ids to the returned sender.
pub fn spawn(
    steps: Vec<Step>,
    media: Arc<MediaLibrary>,
    session: mpsc::UnboundedSender<Cmd>,
    leg: LegId,
    rate: u32,
    end: AppEnd,
) -> DoneSender {
    let (done_tx, done_rx) = mpsc::unbounded_channel();
    tokio::spawn(run(steps, media, session, leg, rate, end, done_rx));
    done_tx
}

async fn command(
    step: &Step,
    media: &MediaLibrary,
    leg: LegId,
    rate: u32,
    id: u64,
) -> Result<Option<Cmd>, PlaybackError> {
    let play = |source, barge_in| {
        Some(Cmd::Play {
            leg,
            source,
            barge_in,
            id,
        })
    };
    Ok(match step {
        Step::Play { path, barge_in } => play(media.prompt(path, rate).await?, *barge_in),
        Step::Say { text, voice } => play(media.say(text, voice.as_deref(), rate).await?, false),
        Step::Tone { tone, seconds } => {
            let (kind, region) = match tone {
                ToneName::Ringback => (ToneKind::Ringback, ToneRegion::Us),
                ToneName::Busy => (ToneKind::Busy, ToneRegion::Us),
                ToneName::RingbackEu => (ToneKind::Ringback, ToneRegion::Europe),
            };
            play(MediaLibrary::tone(kind, region, *seconds, rate)?, false)
        }
        Step::Moh { class, seconds } => play(media.moh(class, *seconds, rate).await?, false),
        Step::Pause { seconds } => play(MediaLibrary::pause(*seconds, rate)?, false),
        Step::Echo { seconds } => Some(Cmd::Echo {
            leg,
            frames: u64::from(*seconds) * 50,
            id,
        }),
        Step::Hangup => None,
    })
}

async fn run(
    steps: Vec<Step>,
    media: Arc<MediaLibrary>,
    session: mpsc::UnboundedSender<Cmd>,
    leg: LegId,
    rate: u32,
    end: AppEnd,
    mut done: mpsc::UnboundedReceiver<u64>,
) {
    for (i, step) in steps.iter().enumerate() {
        let id = i as u64 + 1;
        let cmd = match command(step, &media, leg, rate, id).await {
            Ok(Some(cmd)) => cmd,
            Ok(None) => break,
            Err(e) => {
                tracing::warn!(step = i, error = %e, "app step skipped");
                continue;
            }
        };
        // stopped while the step was loading: play nothing more
        if done.is_closed() || session.send(cmd).is_err() {
            return;
        }
        loop {
            match done.recv().await {
                Some(d) if d == id => break,
                Some(_) => continue,
                None => return,
            }
        }
    }
    match end {
        AppEnd::Hangup(call) => {
            let _ = call.send(CallInput::Hangup);
        }
        AppEnd::Notify(tx, id) => {
            if !done.is_closed() {
                let _ = tx.send(id);
            }
        }
    }
}
