//! The choice among a queue's available agents for one caller. Agents with
//! the lowest penalty present are chosen from first (all strategies but
//! `wrandom`, which uses the penalty as a weight instead).

use std::time::Instant;

use rand::rngs::StdRng;
use rand::Rng;

use crate::dialplan::QueueStrategy;

/// An available member of the queue.
#[derive(Debug, Clone, Copy)]
pub(super) struct Candidate {
    /// Index in the queue's member list (its listed order).
    pub idx: usize,
    pub penalty: u32,
    /// Calls taken from this queue.
    pub calls: u32,
    /// When the member's last call from this queue ended.
    pub last_end: Option<Instant>,
}

/// Member indexes to ring at once (one, or the whole tier for `ringall`);
/// `rr_next` is the round-robin memory of the queue.
pub(super) fn choose(
    strategy: QueueStrategy,
    cands: &[Candidate],
    members: usize,
    rr_next: &mut usize,
    rng: &mut StdRng,
) -> Vec<usize> {
    if cands.is_empty() {
        return Vec::new();
    }
    if strategy == QueueStrategy::Wrandom {
        // a metric drawn below (1 + penalty) × 1000; the lowest wins
        let best = cands
            .iter()
            .map(|c| {
                let span = (u64::from(c.penalty) + 1) * 1000;
                (rng.gen_range(0..span), c.idx)
            })
            .min();
        return best.map(|(_, i)| vec![i]).unwrap_or_default();
    }
    let low = cands.iter().map(|c| c.penalty).min().unwrap_or(0);
    let tier: Vec<&Candidate> = cands.iter().filter(|c| c.penalty == low).collect();
    let one = match strategy {
        QueueStrategy::Ringall => return tier.iter().map(|c| c.idx).collect(),
        QueueStrategy::Linear => tier.iter().map(|c| c.idx).min(),
        QueueStrategy::Rrmemory => {
            let n = members.max(1);
            let from = *rr_next % n;
            let pick = tier
                .iter()
                .map(|c| c.idx)
                .min_by_key(|i| (i + n - from) % n);
            if let Some(i) = pick {
                *rr_next = (i + 1) % n;
            }
            pick
        }
        QueueStrategy::Leastrecent => tier
            .iter()
            .min_by_key(|c| (c.last_end, c.idx))
            .map(|c| c.idx),
        QueueStrategy::Fewestcalls => tier.iter().min_by_key(|c| (c.calls, c.idx)).map(|c| c.idx),
        QueueStrategy::Random => Some(tier[rng.gen_range(0..tier.len())].idx),
        QueueStrategy::Wrandom => None,
    };
    one.map(|i| vec![i]).unwrap_or_default()
}
