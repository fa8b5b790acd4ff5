//! The queue engine on a fake clock: every strategy, penalties, wrap-up,
//! pauses, retries, the longest waiter first, and the figures.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::*;
use crate::dialplan::QueueStrategy;

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn cfg(id: &str, strategy: QueueStrategy, members: &[(&str, u32)]) -> QueueConfig {
    QueueConfig {
        account: AccountId::from("demo"),
        id: QueueId::from(id),
        name: format!("{id} queue"),
        number: None,
        strategy,
        members: members
            .iter()
            .map(|(e, p)| (ExtensionNumber::from(*e), *p))
            .collect(),
        timeout: secs(15),
        retry: secs(5),
        wrapup: Duration::ZERO,
        maxlen: 0,
        joinempty: true,
        leavewhenempty: false,
        ringinuse: false,
        moh: "default".into(),
        announce_every: None,
        announce_position: true,
        announce_holdtime: false,
        max_wait: None,
        exit_key: None,
        service_level: secs(20),
    }
}

fn key(id: &str) -> QueueKey {
    (AccountId::from("demo"), QueueId::from(id))
}

fn agent(ext: &str) -> AgentKey {
    (AccountId::from("demo"), ExtensionNumber::from(ext))
}

fn exts(v: &[ExtensionNumber]) -> Vec<&str> {
    v.iter().map(|e| e.as_str()).collect()
}

/// The offers among `actions`, as (call, agents). (The names are leaked so
/// the result outlives the actions: a test's few bytes.)
fn offers(actions: &[Action]) -> Vec<(CallId, Vec<&'static str>)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Offer { call, agents, .. } => Some((
                *call,
                exts(agents)
                    .into_iter()
                    .map(|e| &*Box::leak(e.to_string().into_boxed_str()))
                    .collect(),
            )),
            _ => None,
        })
        .collect()
}

struct Bench {
    acd: Acd,
    t0: Instant,
}

impl Bench {
    fn new(queues: Vec<QueueConfig>) -> Bench {
        let mut acd = Acd::new(7);
        let t0 = Instant::now();
        acd.configure(queues, t0);
        Bench { acd, t0 }
    }
    fn at(&self, s: u64) -> Instant {
        self.t0 + secs(s)
    }
    fn join(&mut self, q: &str, s: u64) -> CallId {
        let call = CallId::new();
        self.acd.join(call, &key(q), self.at(s)).expect("joins");
        call
    }
    /// One caller joins at `s`, is offered, the offered agent answers and
    /// talks for `talk` seconds. Which agent it was.
    fn serve(&mut self, q: &str, s: u64, talk: u64) -> String {
        let call = self.join(q, s);
        let got = offers(&self.acd.poll(self.at(s)));
        assert_eq!(got.len(), 1, "one offer: {got:?}");
        let who = got[0].1[0].to_string();
        self.acd.offer_ended(
            call,
            OfferEnd::Answered(ExtensionNumber::from(who.as_str())),
            self.at(s),
        );
        self.acd.call_ended(call, self.at(s + talk));
        who
    }
}

#[test]
fn ringall_rings_every_free_agent_of_the_lowest_penalty() {
    let mut b = Bench::new(vec![cfg(
        "q",
        QueueStrategy::Ringall,
        &[("1", 0), ("2", 0), ("3", 1)],
    )]);
    let c = b.join("q", 0);
    assert_eq!(offers(&b.acd.poll(b.at(0))), vec![(c, vec!["1", "2"])]);
    b.acd
        .offer_ended(c, OfferEnd::Answered(ExtensionNumber::from("2")), b.at(1));
    // 1 is free again, 2 talks: the next caller rings 1 only
    let d = b.join("q", 2);
    assert_eq!(offers(&b.acd.poll(b.at(2))), vec![(d, vec!["1"])]);
    // with both penalty-0 agents busy, penalty 1 is rung
    let e = b.join("q", 3);
    assert_eq!(offers(&b.acd.poll(b.at(3))), vec![(e, vec!["3"])]);
}

#[test]
fn linear_always_starts_from_the_top() {
    let mut b = Bench::new(vec![cfg(
        "q",
        QueueStrategy::Linear,
        &[("1", 0), ("2", 0), ("3", 0)],
    )]);
    let got: Vec<String> = (0..3).map(|i| b.serve("q", i * 100, 10)).collect();
    assert_eq!(got, ["1", "1", "1"]);
}

#[test]
fn rrmemory_goes_round_remembering_the_last() {
    let mut b = Bench::new(vec![cfg(
        "q",
        QueueStrategy::Rrmemory,
        &[("1", 0), ("2", 0), ("3", 0)],
    )]);
    let got: Vec<String> = (0..4).map(|i| b.serve("q", i * 100, 10)).collect();
    assert_eq!(got, ["1", "2", "3", "1"]);
    // a busy agent is passed over, and the memory moves past the one chosen
    let c = b.join("q", 1000);
    let first = offers(&b.acd.poll(b.at(1000)));
    assert_eq!(first, vec![(c, vec!["2"])]);
    b.acd.offer_ended(
        c,
        OfferEnd::Answered(ExtensionNumber::from("2")),
        b.at(1000),
    );
    let d = b.join("q", 1001);
    assert_eq!(offers(&b.acd.poll(b.at(1001))), vec![(d, vec!["3"])]);
}

#[test]
fn leastrecent_picks_the_agent_idle_longest() {
    let mut b = Bench::new(vec![cfg(
        "q",
        QueueStrategy::Leastrecent,
        &[("1", 0), ("2", 0), ("3", 0)],
    )]);
    // nobody has had a call: listed order; then the one whose call ended first
    assert_eq!(b.serve("q", 0, 50), "1"); // 1 ends at 50
    assert_eq!(b.serve("q", 10, 10), "2"); // 2 ends at 20
    assert_eq!(b.serve("q", 100, 10), "3"); // never had a call
    assert_eq!(b.serve("q", 200, 10), "2"); // ended at 20, before 1 (50) and 3 (110)
    assert_eq!(b.serve("q", 300, 10), "1");
}

#[test]
fn fewestcalls_picks_the_agent_with_fewest_calls() {
    let mut b = Bench::new(vec![cfg(
        "q",
        QueueStrategy::Fewestcalls,
        &[("1", 0), ("2", 0), ("3", 0)],
    )]);
    let mut count: HashMap<String, u32> = HashMap::new();
    for i in 0..9 {
        *count.entry(b.serve("q", i * 100, 10)).or_default() += 1;
    }
    assert_eq!(count.values().copied().collect::<Vec<_>>(), vec![3, 3, 3]);
    let views = b.acd.agents(&key("q"));
    assert!(views.iter().all(|v| v.calls == 3), "{views:?}");
}

#[test]
fn random_spreads_over_the_lowest_penalty_only() {
    let mut b = Bench::new(vec![cfg(
        "q",
        QueueStrategy::Random,
        &[("1", 0), ("2", 0), ("3", 0), ("4", 5)],
    )]);
    let mut count: HashMap<String, u32> = HashMap::new();
    for i in 0..300 {
        *count.entry(b.serve("q", i * 100, 10)).or_default() += 1;
    }
    assert!(!count.contains_key("4"), "{count:?}");
    for a in ["1", "2", "3"] {
        let n = count.get(a).copied().unwrap_or(0);
        assert!((60..=140).contains(&n), "{a}: {count:?}");
    }
}

#[test]
fn wrandom_weights_by_penalty() {
    let mut b = Bench::new(vec![cfg(
        "q",
        QueueStrategy::Wrandom,
        &[("1", 0), ("2", 3)],
    )]);
    let mut count: HashMap<String, u32> = HashMap::new();
    for i in 0..400 {
        *count.entry(b.serve("q", i * 100, 10)).or_default() += 1;
    }
    let (low, high) = (count["1"], count.get("2").copied().unwrap_or(0));
    // penalty 0 draws below 1000, penalty 3 below 4000: 2 wins about 1/8 of the time
    assert!(high > 10 && low > high * 3, "{count:?}");
}

#[test]
fn penalties_tier_every_strategy_but_wrandom() {
    for s in [
        QueueStrategy::Ringall,
        QueueStrategy::Leastrecent,
        QueueStrategy::Fewestcalls,
        QueueStrategy::Random,
        QueueStrategy::Rrmemory,
        QueueStrategy::Linear,
    ] {
        let mut b = Bench::new(vec![cfg("q", s, &[("9", 2), ("8", 1), ("7", 1)])]);
        b.join("q", 0);
        let got = offers(&b.acd.poll(b.at(0)));
        assert_eq!(got.len(), 1, "{s:?}");
        assert!(got[0].1.iter().all(|a| *a != "9"), "{s:?}: {got:?}");
    }
}

#[test]
fn wrap_up_keeps_an_agent_out_until_it_is_over() {
    let mut q = cfg("q", QueueStrategy::Linear, &[("1", 0)]);
    q.wrapup = secs(30);
    let mut b = Bench::new(vec![q]);
    assert_eq!(b.serve("q", 0, 10), "1"); // call over at 10, wrap-up until 40
    let c = b.join("q", 11);
    assert!(offers(&b.acd.poll(b.at(11))).is_empty());
    assert_eq!(b.acd.agents(&key("q"))[0].status, AgentStatus::WrapUp);
    assert_eq!(b.acd.next_deadline(), Some(b.at(40)));
    assert!(offers(&b.acd.poll(b.at(39))).is_empty());
    assert_eq!(offers(&b.acd.poll(b.at(40))), vec![(c, vec!["1"])]);
}

#[test]
fn a_paused_agent_is_skipped_until_unpaused() {
    let mut b = Bench::new(vec![cfg("q", QueueStrategy::Linear, &[("1", 0), ("2", 0)])]);
    assert!(b.acd.pause(&agent("1"), Some("lunch".into())));
    assert_eq!(b.serve("q", 0, 10), "2");
    let v = b.acd.agents(&key("q"));
    assert_eq!(
        (v[0].status, v[0].pause_reason.as_deref()),
        (AgentStatus::Paused, Some("lunch"))
    );
    b.acd.pause(&agent("1"), None);
    assert_eq!(b.serve("q", 100, 10), "1");
}

#[test]
fn the_longest_waiter_gets_the_agent_that_frees_up() {
    let mut b = Bench::new(vec![
        cfg("a", QueueStrategy::Linear, &[("1", 0)]),
        cfg("b", QueueStrategy::Linear, &[("1", 0)]),
    ]);
    assert_eq!(b.acd.logout(&agent("1"), None), 2);
    let first = b.join("b", 0);
    let second = b.join("a", 1);
    let third = b.join("b", 2);
    assert_eq!(b.acd.position(third), Some(2));
    assert_eq!(b.acd.position(second), Some(1));
    assert!(offers(&b.acd.poll(b.at(3))).is_empty());
    assert_eq!(b.acd.login(&agent("1"), None), 2);
    assert_eq!(offers(&b.acd.poll(b.at(4))), vec![(first, vec!["1"])]);
    b.acd.offer_ended(
        first,
        OfferEnd::Answered(ExtensionNumber::from("1")),
        b.at(5),
    );
    b.acd.call_ended(first, b.at(6));
    assert_eq!(offers(&b.acd.poll(b.at(6))), vec![(second, vec!["1"])]);
}

#[test]
fn a_missed_offer_waits_for_retry_then_tries_someone_else() {
    let mut b = Bench::new(vec![cfg("q", QueueStrategy::Linear, &[("1", 0), ("2", 0)])]);
    let c = b.join("q", 0);
    assert_eq!(offers(&b.acd.poll(b.at(0))), vec![(c, vec!["1"])]);
    // ringing agents are not offered to the next caller
    let d = b.join("q", 1);
    assert_eq!(offers(&b.acd.poll(b.at(1))), vec![(d, vec!["2"])]);
    b.acd.offer_ended(
        c,
        OfferEnd::NotAnswered {
            unreachable: vec![],
        },
        b.at(15),
    );
    b.acd.offer_ended(
        d,
        OfferEnd::NotAnswered {
            unreachable: vec![],
        },
        b.at(16),
    );
    assert!(offers(&b.acd.poll(b.at(17))).is_empty(), "retry not over");
    assert_eq!(b.acd.next_deadline(), Some(b.at(20)));
    // c tried 1: now 2; d tried 2: now 1
    let got = offers(&b.acd.poll(b.at(21)));
    assert_eq!(got, vec![(c, vec!["2"]), (d, vec!["1"])]);
    // once everyone was tried, round again
    for call in [c, d] {
        b.acd.offer_ended(
            call,
            OfferEnd::NotAnswered {
                unreachable: vec![],
            },
            b.at(30),
        );
    }
    assert_eq!(
        offers(&b.acd.poll(b.at(40))),
        vec![(c, vec!["1"]), (d, vec!["2"])]
    );
}

#[test]
fn an_unreachable_agent_is_skipped_until_it_registers() {
    let mut b = Bench::new(vec![cfg("q", QueueStrategy::Linear, &[("1", 0)])]);
    let c = b.join("q", 0);
    assert_eq!(offers(&b.acd.poll(b.at(0))).len(), 1);
    b.acd.offer_ended(
        c,
        OfferEnd::NotAnswered {
            unreachable: vec![ExtensionNumber::from("1")],
        },
        b.at(0),
    );
    assert!(offers(&b.acd.poll(b.at(60))).is_empty());
    assert_eq!(b.acd.agents(&key("q"))[0].status, AgentStatus::Unreachable);
    b.acd.set_reachable(&agent("1"), true);
    assert_eq!(offers(&b.acd.poll(b.at(61))), vec![(c, vec!["1"])]);
}

#[test]
fn the_door_full_and_empty() {
    let mut q = cfg("q", QueueStrategy::Linear, &[("1", 0)]);
    q.maxlen = 2;
    q.joinempty = false;
    let mut b = Bench::new(vec![q]);
    b.acd.pause(&agent("1"), Some("x".into())); // paused still counts as staffed
    b.join("q", 0);
    b.join("q", 0);
    let t = b.at(0);
    assert_eq!(
        b.acd.join(CallId::new(), &key("q"), t),
        Err(JoinError::Full)
    );
    b.acd.logout(&agent("1"), None);
    let mut b2 = Bench::new(vec![{
        let mut q = cfg("e", QueueStrategy::Linear, &[("1", 0)]);
        q.joinempty = false;
        q
    }]);
    b2.acd.logout(&agent("1"), None);
    let t = b2.at(0);
    assert_eq!(
        b2.acd.join(CallId::new(), &key("e"), t),
        Err(JoinError::Empty)
    );
    assert_eq!(b.acd.stats(&key("q"), b.at(0)).map(|s| s.refused), Some(1));
    assert_eq!(
        b.acd.join(CallId::new(), &key("nope"), t),
        Err(JoinError::NoSuchQueue)
    );
}

#[test]
fn max_wait_and_leavewhenempty_let_callers_go() {
    let mut q = cfg("q", QueueStrategy::Linear, &[("1", 0)]);
    q.max_wait = Some(secs(60));
    q.leavewhenempty = true;
    let mut b = Bench::new(vec![q]);
    b.acd.pause(&agent("1"), Some("x".into()));
    let c = b.join("q", 0);
    let d = b.join("q", 30);
    assert_eq!(b.acd.next_deadline(), Some(b.at(60)));
    assert_eq!(
        b.acd.poll(b.at(60)),
        vec![Action::Leave {
            call: c,
            reason: LeaveReason::Timeout
        }]
    );
    b.acd.logout(&agent("1"), None);
    assert_eq!(
        b.acd.poll(b.at(61)),
        vec![Action::Leave {
            call: d,
            reason: LeaveReason::Empty
        }]
    );
    let s = b.acd.stats(&key("q"), b.at(61)).expect("stats");
    assert_eq!((s.timed_out, s.left, s.calls_waiting), (1, 1, 0));
}

#[test]
fn figures_are_exact() {
    let mut q = cfg("q", QueueStrategy::Linear, &[("1", 0), ("2", 0)]);
    q.service_level = secs(10);
    let mut b = Bench::new(vec![q]);
    b.acd.pause(&agent("2"), Some("x".into()));
    // answered after 4 s, talks 60 s
    let c = b.join("q", 0);
    b.acd.poll(b.at(0));
    b.acd
        .offer_ended(c, OfferEnd::Answered(ExtensionNumber::from("1")), b.at(4));
    // waits while 1 talks; abandons after 20 s
    let d = b.join("q", 5);
    b.acd.poll(b.at(5));
    let s = b.acd.stats(&key("q"), b.at(15)).expect("stats");
    assert_eq!(
        (
            s.agents_online,
            s.agents_available,
            s.agents_on_call,
            s.agents_paused
        ),
        (2, 0, 1, 1)
    );
    assert_eq!((s.calls_waiting, s.longest_wait_secs), (1, 10.0));
    b.acd.leave(d, Exit::Abandoned, b.at(25));
    b.acd.call_ended(c, b.at(64));
    // answered after 30 s
    let e = b.join("q", 100);
    b.acd.poll(b.at(100));
    b.acd
        .offer_ended(e, OfferEnd::Answered(ExtensionNumber::from("1")), b.at(130));
    b.acd.call_ended(e, b.at(150));
    let s = b.acd.stats(&key("q"), b.at(200)).expect("stats");
    assert_eq!((s.answered, s.abandoned, s.timed_out), (2, 1, 0));
    assert_eq!(s.avg_wait_secs, 17.0); // (4 + 30) / 2
    assert_eq!(s.avg_talk_secs, 40.0); // (60 + 20) / 2
    assert!((s.service_level_pct - 100.0 / 3.0).abs() < 1e-9, "{s:?}");
    assert_eq!(s.agents_available, 1);
}

#[test]
fn announcements_say_the_position_and_estimate() {
    let mut q = cfg("q", QueueStrategy::Linear, &[("1", 0)]);
    q.announce_every = Some(secs(30));
    let mut b = Bench::new(vec![q]);
    assert_eq!(b.serve("q", 0, 100), "1"); // a finished call gives the mean talk time
    b.acd.pause(&agent("1"), Some("x".into()));
    let c = b.join("q", 200);
    let d = b.join("q", 210);
    assert!(b.acd.poll(b.at(229)).is_empty());
    let got = b.acd.poll(b.at(230));
    assert_eq!(
        got,
        vec![Action::Announce {
            call: c,
            position: 1,
            estimate: Some(secs(100))
        }]
    );
    let got = b.acd.poll(b.at(240));
    assert_eq!(
        got,
        vec![Action::Announce {
            call: d,
            position: 2,
            estimate: Some(secs(200))
        }]
    );
    assert_eq!(b.acd.next_deadline(), Some(b.at(260)));
}

#[test]
fn dynamic_login_and_reconfiguration_keep_state() {
    let mut b = Bench::new(vec![cfg("q", QueueStrategy::Linear, &[("1", 0)])]);
    assert_eq!(b.acd.login(&agent("5"), Some(&QueueId::from("q"))), 1);
    assert_eq!(b.acd.login(&agent("5"), Some(&QueueId::from("q"))), 0);
    b.acd.pause(&agent("1"), Some("x".into()));
    assert_eq!(b.serve("q", 0, 10), "5");
    // a new dialplan: 1 gone, 2 added; 5 (dynamic) stays with its figures
    b.acd
        .configure(vec![cfg("q", QueueStrategy::Linear, &[("2", 0)])], b.at(20));
    let v = b.acd.agents(&key("q"));
    let listed: Vec<(&str, bool, u32)> = v
        .iter()
        .map(|v| (v.extension.as_str(), v.dynamic, v.calls))
        .collect();
    assert_eq!(listed, vec![("2", false, 0), ("5", true, 1)]);
    assert_eq!(b.acd.logout(&agent("5"), None), 1);
    assert_eq!(b.acd.agents(&key("q")).len(), 1);
    // the queue removed: its callers are let go
    let c = b.join("q", 30);
    b.acd.pause(&agent("2"), Some("x".into()));
    let out = b.acd.configure(vec![], b.at(31));
    assert_eq!(
        out,
        vec![Action::Leave {
            call: c,
            reason: LeaveReason::Removed
        }]
    );
    assert!(!b.acd.is_waiting(c));
}

#[test]
fn a_caller_hanging_up_while_ringing_frees_the_agent() {
    let mut b = Bench::new(vec![cfg("q", QueueStrategy::Linear, &[("1", 0)])]);
    let c = b.join("q", 0);
    assert_eq!(offers(&b.acd.poll(b.at(0))).len(), 1);
    assert_eq!(b.acd.agents(&key("q"))[0].status, AgentStatus::Ringing);
    b.acd.leave(c, Exit::Abandoned, b.at(3));
    assert_eq!(b.acd.agents(&key("q"))[0].status, AgentStatus::Available);
    let d = b.join("q", 4);
    assert_eq!(offers(&b.acd.poll(b.at(4))), vec![(d, vec!["1"])]);
}

#[test]
fn an_agent_on_another_call_is_offered_only_by_ringinuse_queues() {
    let mut inuse = cfg("b", QueueStrategy::Linear, &[("1", 0)]);
    inuse.ringinuse = true;
    let mut b = Bench::new(vec![cfg("a", QueueStrategy::Linear, &[("1", 0)]), inuse]);
    assert!(b.acd.set_in_use(&agent("1"), true), "a change");
    assert!(!b.acd.set_in_use(&agent("1"), true), "no change");
    assert!(!b.acd.set_in_use(&agent("9"), true), "no such agent");
    let c = b.join("a", 0);
    assert!(
        offers(&b.acd.poll(b.at(0))).is_empty(),
        "queue a does not ring in use"
    );
    let d = b.join("b", 1);
    assert_eq!(offers(&b.acd.poll(b.at(1))), vec![(d, vec!["1"])]);
    b.acd.offer_ended(
        d,
        OfferEnd::NotAnswered {
            unreachable: vec![],
        },
        b.at(2),
    );
    assert!(b.acd.set_in_use(&agent("1"), false));
    assert_eq!(
        offers(&b.acd.poll(b.at(3))),
        vec![(c, vec!["1"])],
        "free again: the longest waiter"
    );
}
