//! Process-wide counters and gauges, rendered in the Prometheus text format by
//! `GET /metrics`. Plain atomics: updating one is a relaxed add, never a lock.

use std::fmt::Write;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};

const METHODS: [&str; 12] = [
    "INVITE", "ACK", "CANCEL", "BYE", "OPTIONS", "REGISTER", "INFO", "UPDATE", "NOTIFY", "MESSAGE",
    "PRACK", "OTHER",
];

fn method_index(m: &str) -> usize {
    METHODS
        .iter()
        .position(|x| x.eq_ignore_ascii_case(m))
        .unwrap_or(METHODS.len() - 1)
}

/// Counts by method (requests) or by status code 100..=699 (responses).
pub struct MessageCounts {
    requests: [AtomicU64; 12],
    responses: Box<[AtomicU64]>,
}

impl Default for MessageCounts {
    fn default() -> Self {
        MessageCounts {
            requests: Default::default(),
            responses: (0..600).map(|_| AtomicU64::new(0)).collect(),
        }
    }
}

impl MessageCounts {
    pub fn request(&self, method: &str) {
        self.requests[method_index(method)].fetch_add(1, Relaxed);
    }
    pub fn response(&self, code: u16) {
        if (100..700).contains(&code) {
            self.responses[(code - 100) as usize].fetch_add(1, Relaxed);
        }
    }
    fn render(&self, out: &mut String, dir: &str) {
        for (i, m) in METHODS.iter().enumerate() {
            let v = self.requests[i].load(Relaxed);
            if v > 0 {
                let _ = writeln!(
                    out,
                    "switchyard_sip_requests_total{{direction=\"{dir}\",method=\"{m}\"}} {v}"
                );
            }
        }
        for (i, c) in self.responses.iter().enumerate() {
            let v = c.load(Relaxed);
            if v > 0 {
                let _ = writeln!(
                    out,
                    "switchyard_sip_responses_total{{direction=\"{dir}\",status=\"{}\"}} {v}",
                    i + 100
                );
            }
        }
    }
}

#[derive(Default)]
pub struct Metrics {
    pub sip_in: MessageCounts,
    pub sip_out: MessageCounts,
    pub sip_parse_errors: AtomicU64,
    pub sip_dropped_overload: AtomicU64,
    pub registrations: AtomicI64,
    pub active_channels: AtomicI64,
    pub active_calls: AtomicI64,
    /// RTP/RTCP port pairs bound by live media sessions.
    pub rtp_port_pairs_in_use: AtomicI64,
    pub transactions: AtomicI64,
    pub calls_total: AtomicU64,
    pub rtp_packets_relayed: AtomicU64,
    pub rtp_packets_dropped: AtomicU64,
    /// 20 ms frames the media engine encoded and sent (played, transcoded, echoed).
    pub media_frames: AtomicU64,
    /// Media ticks that ran more than 2 ms after their deadline.
    pub media_ticks_late: AtomicU64,
    /// Frames not sent at all because a tick ran more than 60 ms late.
    pub media_frames_skipped: AtomicU64,
    pub auth_failures: AtomicU64,
    pub auth_blocks: AtomicU64,
    pub auth_blocked_requests: AtomicU64,
    pub connections: AtomicI64,
    pub connections_refused: AtomicU64,
    /// Every live call leg (kept by the channels), for the voice API's
    /// availability: who is on a call, with whom, since when.
    pub live_legs: LiveLegs,
}

/// One live leg's parties and times.
#[derive(Debug, Clone)]
pub struct LiveLeg {
    pub call_id: crate::ids::CallId,
    pub account: crate::ids::AccountId,
    pub caller: String,
    pub callee: String,
    pub created_ms: i64,
    pub answered_ms: Option<i64>,
}

/// The live legs by id: one insert when a leg is made, one update when it
/// answers, one remove when it ends.
#[derive(Default)]
pub struct LiveLegs(dashmap::DashMap<crate::ids::LegId, LiveLeg>);

impl LiveLegs {
    pub fn insert(&self, leg: crate::ids::LegId, info: LiveLeg) {
        self.0.insert(leg, info);
    }

    pub fn answered(&self, leg: crate::ids::LegId, at_ms: i64) {
        if let Some(mut l) = self.0.get_mut(&leg) {
            l.answered_ms = Some(at_ms);
        }
    }

    pub fn remove(&self, leg: crate::ids::LegId) {
        self.0.remove(&leg);
    }

    /// The live legs of `account`, copied out.
    pub fn of_account(&self, account: &str) -> Vec<LiveLeg> {
        self.0
            .iter()
            .filter(|l| l.account.as_str() == account)
            .map(|l| l.value().clone())
            .collect()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Metrics {
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(4096);
        out.push_str("# TYPE switchyard_sip_requests_total counter\n# TYPE switchyard_sip_responses_total counter\n");
        self.sip_in.render(&mut out, "in");
        self.sip_out.render(&mut out, "out");
        let gauges: [(&str, &str, i64); 7] = [
            (
                "switchyard_rtp_port_pairs_in_use",
                "gauge",
                self.rtp_port_pairs_in_use.load(Relaxed),
            ),
            (
                "switchyard_registrations",
                "gauge",
                self.registrations.load(Relaxed),
            ),
            (
                "switchyard_active_channels",
                "gauge",
                self.active_channels.load(Relaxed),
            ),
            (
                "switchyard_active_calls",
                "gauge",
                self.active_calls.load(Relaxed),
            ),
            (
                "switchyard_transactions",
                "gauge",
                self.transactions.load(Relaxed),
            ),
            (
                "switchyard_connections",
                "gauge",
                self.connections.load(Relaxed),
            ),
            (
                "switchyard_calls_total",
                "counter",
                self.calls_total.load(Relaxed) as i64,
            ),
        ];
        for (name, kind, v) in gauges {
            let _ = writeln!(out, "# TYPE {name} {kind}\n{name} {v}");
        }
        let counters: [(&str, &AtomicU64); 11] = [
            ("switchyard_media_frames_total", &self.media_frames),
            ("switchyard_media_ticks_late_total", &self.media_ticks_late),
            (
                "switchyard_media_frames_skipped_total",
                &self.media_frames_skipped,
            ),
            (
                "switchyard_sip_dropped_overload_total",
                &self.sip_dropped_overload,
            ),
            ("switchyard_sip_parse_errors_total", &self.sip_parse_errors),
            (
                "switchyard_rtp_packets_relayed_total",
                &self.rtp_packets_relayed,
            ),
            (
                "switchyard_rtp_packets_dropped_total",
                &self.rtp_packets_dropped,
            ),
            ("switchyard_auth_failures_total", &self.auth_failures),
            ("switchyard_auth_blocks_total", &self.auth_blocks),
            (
                "switchyard_auth_blocked_requests_total",
                &self.auth_blocked_requests,
            ),
            (
                "switchyard_connections_refused_total",
                &self.connections_refused,
            ),
        ];
        for (name, c) in counters {
            let _ = writeln!(out, "# TYPE {name} counter\n{name} {}", c.load(Relaxed));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn renders_counts() {
        let m = Metrics::default();
        m.sip_in.request("REGISTER");
        m.sip_in.request("REGISTER");
        m.sip_out.response(401);
        let text = m.render();
        assert!(
            text.contains("switchyard_sip_requests_total{direction=\"in\",method=\"REGISTER\"} 2")
        );
        assert!(text.contains("switchyard_sip_responses_total{direction=\"out\",status=\"401\"} 1"));
    }
}
