//! The event log: every event the switch publishes gets a sequence number (its
//! id: sortable, never reused — the store's last one is where a restarted
//! switch goes on), its account, its time and its JSON, serialised once. The
//! newest records stay in a ring in memory; each reader keeps its own cursor
//! and reads what follows it, so a slow reader never makes another lose
//! anything (one that fell behind the ring reads the rest from the store).
//! A writer (in the store) takes every record in order for durable keeping.
//! Ids are handed out within blocks the store grants ahead of use (the next
//! one asked for when half of the current one is gone; each grant is a fresh
//! range no other run or node holds), so a switch that crashes before its
//! last events were written restarts above them, and several switch nodes on
//! one store never hand out the same id: an id a reader saw is never given to
//! another event. Publishing never blocks and never waits for the database.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use tokio::sync::{mpsc, watch};

use super::Event;

/// One logged event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The event's id: 1, 2, 3 … across restarts.
    pub seq: u64,
    pub name: String,
    pub account_id: String,
    pub timestamp_ms: i64,
    /// The event as the wire shows it (`/events` data, webhook bodies).
    pub json: Arc<str>,
    /// The row stored with it, in the same transaction (the durable writer's
    /// concern; records read back from the store do not carry it).
    pub kept: Option<Arc<super::kept::Kept>>,
}

/// A reader's cursor fell out of the ring: what it wants is older than
/// `oldest` (read it from the store).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Behind {
    pub oldest: u64,
}

struct Inner {
    next: u64,
    /// The last id of the block in use.
    end: u64,
    /// Blocks granted ahead, oldest first.
    granted: VecDeque<(u64, u64)>,
    ring: VecDeque<Arc<Record>>,
}

pub struct EventLog {
    inner: Mutex<Inner>,
    cap: usize,
    latest: watch::Sender<u64>,
    persist: OnceLock<mpsc::UnboundedSender<Arc<Record>>>,
    /// How many blocks the log asked the store for so far.
    want: watch::Sender<u64>,
    /// A block is asked for and not granted yet.
    asked: AtomicBool,
    block: u64,
    /// The newest id the durable writer has stored (everything before this
    /// run's first id is stored already).
    durable: watch::Sender<u64>,
}

impl EventLog {
    /// A log whose next event is `next_seq` (1 for a new store), keeping the
    /// newest `cap` records in memory.
    pub fn new(next_seq: u64, cap: usize) -> EventLog {
        let next = next_seq.max(1);
        EventLog {
            inner: Mutex::new(Inner {
                next,
                end: u64::MAX,
                granted: VecDeque::new(),
                ring: VecDeque::with_capacity(cap.min(4096)),
            }),
            cap: cap.max(1),
            latest: watch::channel(next - 1).0,
            persist: OnceLock::new(),
            want: watch::channel(0).0,
            asked: AtomicBool::new(false),
            block: u64::MAX,
            durable: watch::channel(next - 1).0,
        }
    }

    /// A log whose first block, granted by the store, is `next_seq..=end`;
    /// it asks for another `block` ids when half the current block is used.
    pub fn reserving(next_seq: u64, cap: usize, end: u64, block: u64) -> EventLog {
        let mut log = EventLog::new(next_seq, cap);
        if let Ok(g) = log.inner.get_mut() {
            g.end = end;
        }
        log.block = block.max(2);
        log
    }

    /// Counts the blocks the log asks for (the reserver grants one per change).
    pub fn reservations(&self) -> watch::Receiver<u64> {
        self.want.subscribe()
    }

    /// The size of the blocks the log asks for.
    pub fn block(&self) -> u64 {
        self.block
    }

    /// The store granted ids `start..=end`: the log moves on to them when its
    /// current block is used up.
    pub fn granted(&self, start: u64, end: u64) {
        let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        g.granted.push_back((start, end));
        self.asked.store(false, Ordering::Release);
    }

    /// Asks for the next block once `seq` is past half of the current one
    /// (called under the lock, with the state it read).
    fn reserve_ahead(&self, seq: u64, end: u64, have_next: bool) {
        if self.block == u64::MAX || have_next || seq.saturating_add(self.block / 2) <= end {
            return;
        }
        if !self.asked.swap(true, Ordering::AcqRel) {
            self.want.send_modify(|n| *n += 1);
        }
    }

    /// Appends `ev`; returns its id.
    pub fn append(&self, ev: &Event) -> u64 {
        self.append_with(ev, None)
    }

    /// Appends `ev` with the row to store alongside it; returns its id.
    pub fn append_with(&self, ev: &Event, kept: Option<super::kept::Kept>) -> u64 {
        let kept = kept.map(Arc::new);
        let json: Arc<str> = serde_json::to_string(ev).unwrap_or_default().into();
        let (name, account_id, timestamp_ms) = (ev.name(), ev.account_id(), ev.timestamp_ms());
        let seq = {
            let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
            if g.next > g.end {
                match g.granted.pop_front() {
                    Some((start, end)) => {
                        g.next = g.next.max(start);
                        g.end = end;
                    }
                    None if g.next == g.end.saturating_add(1) => {
                        tracing::warn!(seq = g.next, "event ids outran their reservation");
                    }
                    None => {}
                }
            }
            let seq = g.next;
            g.next += 1;
            self.reserve_ahead(seq, g.end, !g.granted.is_empty());
            let rec = Arc::new(Record {
                seq,
                name: name.to_string(),
                account_id: account_id.to_string(),
                timestamp_ms,
                json,
                kept,
            });
            // to the writer in id order (sent under the lock)
            if let Some(tx) = self.persist.get() {
                let _ = tx.send(rec.clone());
            }
            if g.ring.len() == self.cap {
                g.ring.pop_front();
            }
            g.ring.push_back(rec);
            seq
        };
        self.latest.send_modify(|v| *v = (*v).max(seq));
        seq
    }

    /// The id of the newest event (0 before the first).
    pub fn latest(&self) -> u64 {
        *self.latest.borrow()
    }

    /// Wakes when a newer event is appended.
    pub fn watch(&self) -> watch::Receiver<u64> {
        self.latest.subscribe()
    }

    /// Up to `max` records after `cursor`, oldest first (empty: nothing newer yet).
    pub fn after(&self, cursor: u64, max: usize) -> Result<Vec<Arc<Record>>, Behind> {
        let g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let next = cursor.saturating_add(1);
        let Some(first) = g.ring.front().map(|r| r.seq) else {
            // nothing in memory yet: what a cursor from an earlier run wants
            // (below this run's first id) is in the store
            if next < g.next {
                return Err(Behind { oldest: g.next });
            }
            return Ok(Vec::new());
        };
        if next < first {
            return Err(Behind { oldest: first });
        }
        // ids grow but may jump (a block granted after another node's): find
        // the first after the cursor; a cursor past the newest reads nothing
        let skip = g.ring.partition_point(|r| r.seq <= cursor);
        Ok(g.ring.iter().skip(skip).take(max).cloned().collect())
    }

    /// The durable writer stored every record up to `upto`.
    pub fn mark_durable(&self, upto: u64) {
        self.durable.send_modify(|v| *v = (*v).max(upto));
    }

    /// Follows the newest stored id, when a durable writer is attached
    /// (`None`: nothing is ever stored, so there is nothing to wait for).
    pub fn durable(&self) -> Option<watch::Receiver<u64>> {
        self.persist.get().map(|_| self.durable.subscribe())
    }

    /// Every record from now on, in id order, for the one durable writer
    /// (`None` once taken).
    pub fn take_persist(&self) -> Option<mpsc::UnboundedReceiver<Arc<Record>>> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.persist.set(tx).ok().map(|_| rx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{ChannelInfo, Direction};
    use crate::ids::{AccountId, CallId, LegId};

    fn ev(n: i64) -> Event {
        Event::ChannelAnswer {
            channel: ChannelInfo {
                channel_id: LegId::new(),
                call_id: CallId::new(),
                account_id: AccountId::from("demo"),
                sip_call_id: String::new(),
                direction: Direction::Inbound,
                caller: "1001".into(),
                callee: "1002".into(),
                caller_name: None,
                callee_name: None,
                route: Default::default(),
            },
            timestamp_ms: n,
        }
    }

    #[test]
    fn ids_follow_on_and_readers_read_from_their_own_cursor() {
        let log = EventLog::new(41, 100);
        assert_eq!(log.latest(), 40);
        let ids: Vec<u64> = (0..5).map(|n| log.append(&ev(n))).collect();
        assert_eq!(ids, [41, 42, 43, 44, 45]);
        assert_eq!(log.latest(), 45);
        let all = log.after(40, 100).expect("in the ring");
        assert_eq!(all.len(), 5);
        assert_eq!(
            (
                all[0].name.as_str(),
                all[0].account_id.as_str(),
                all[0].timestamp_ms
            ),
            ("channel_answer", "demo", 0)
        );
        assert!(all[0].json.contains("\"event\":\"channel_answer\""));
        let rest: Vec<u64> = log
            .after(43, 100)
            .expect("ring")
            .iter()
            .map(|r| r.seq)
            .collect();
        assert_eq!(rest, [44, 45]);
        assert_eq!(log.after(43, 1).expect("ring").len(), 1);
        assert!(log.after(45, 10).expect("ring").is_empty());
        assert!(log.after(u64::MAX, 10).expect("no overflow").is_empty());
        assert!(log.after(1 << 40, 10).expect("far ahead").is_empty());
    }

    #[test]
    fn a_reader_behind_the_ring_is_told_where_it_starts() {
        let log = EventLog::new(1, 3);
        for n in 0..5 {
            log.append(&ev(n));
        }
        // ids 3, 4, 5 remain
        assert_eq!(log.after(0, 10), Err(Behind { oldest: 3 }));
        assert_eq!(log.after(1, 10), Err(Behind { oldest: 3 }));
        let seqs: Vec<u64> = log
            .after(2, 10)
            .expect("ring")
            .iter()
            .map(|r| r.seq)
            .collect();
        assert_eq!(seqs, [3, 4, 5]);
    }

    #[test]
    fn a_cursor_from_an_earlier_run_is_behind_an_empty_ring() {
        // a restarted switch whose ids start at 41: events up to 40 are in the store
        let log = EventLog::new(41, 8);
        assert_eq!(log.after(26, 10), Err(Behind { oldest: 41 }));
        assert_eq!(log.after(40, 10), Ok(Vec::new()));
        log.append(&ev(0));
        assert_eq!(log.after(26, 10), Err(Behind { oldest: 41 }));
        assert_eq!(log.after(40, 10).map(|v| v.len()), Ok(1));
    }

    #[test]
    fn the_next_block_is_asked_for_at_half_and_ids_move_on_to_it() {
        let log = EventLog::reserving(1, 100, 10, 10);
        let want = log.reservations();
        for n in 0..5 {
            log.append(&ev(n));
        }
        assert_eq!(
            *want.borrow(),
            0,
            "ids 1-5 of a block of 10: nothing asked yet"
        );
        log.append(&ev(5)); // id 6: past half
        assert_eq!(*want.borrow(), 1);
        log.append(&ev(6));
        assert_eq!(*want.borrow(), 1, "asked once");
        // another node took 11-20: this log's next block is 21-30
        log.granted(21, 30);
        let ids: Vec<u64> = (7..12).map(|n| log.append(&ev(n))).collect();
        assert_eq!(ids, [8, 9, 10, 21, 22], "a jump to the granted block");
        assert_eq!(*want.borrow(), 1);
        for n in 12..16 {
            log.append(&ev(n)); // 23-26: past half of 21-30
        }
        assert_eq!(*want.borrow(), 2);
        let all = log.after(0, 100).expect("ring");
        assert!(all.windows(2).all(|w| w[0].seq < w[1].seq), "ids only grow");
        // a reader's cursor across the jump
        let after: Vec<u64> = log
            .after(10, 3)
            .expect("ring")
            .iter()
            .map(|r| r.seq)
            .collect();
        assert_eq!(after, [21, 22, 23]);
        let after: Vec<u64> = log
            .after(15, 2)
            .expect("ring")
            .iter()
            .map(|r| r.seq)
            .collect();
        assert_eq!(after, [21, 22], "a cursor in the gap");
    }

    #[tokio::test]
    async fn the_writer_gets_every_record_in_order_and_readers_are_woken() {
        let log = EventLog::new(1, 10);
        let mut rx = log.take_persist().expect("first");
        assert!(log.take_persist().is_none(), "one writer");
        let mut w = log.watch();
        for n in 0..3 {
            log.append(&ev(n));
        }
        w.changed().await.expect("woken");
        assert_eq!(*w.borrow(), 3);
        for want in 1..=3 {
            assert_eq!(rx.recv().await.expect("record").seq, want);
        }
    }
}
