//! The cost of one ACD queue decision: a queue of 500 agents, every one on a
//! call, 1,000 callers waiting; an agent's call ends and the engine decides
//! who is offered to it (`Acd::poll`). Timed per strategy over many decisions
//! (release build: `cargo run --release --example acd_cost`).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use switchyard::dialplan::QueueStrategy;
use switchyard::ids::{AccountId, CallId, ExtensionNumber, QueueId};
use switchyard::routing::queue::{Acd, Action, OfferEnd, QueueConfig};

const AGENTS: usize = 500;
const WAITING: usize = 1000;
const DECISIONS: usize = 20_000;

fn config(strategy: QueueStrategy) -> QueueConfig {
    QueueConfig {
        account: AccountId::from("bench"),
        id: QueueId::from("q"),
        name: "Bench".into(),
        number: None,
        strategy,
        members: (0..AGENTS)
            .map(|i| {
                (
                    ExtensionNumber::from(format!("{}", 10_000 + i)),
                    (i % 3) as u32,
                )
            })
            .collect(),
        timeout: Duration::from_secs(15),
        retry: Duration::ZERO,
        wrapup: Duration::ZERO,
        maxlen: 0,
        joinempty: true,
        leavewhenempty: false,
        ringinuse: false,
        moh: "default".into(),
        announce_every: None,
        announce_position: false,
        announce_holdtime: false,
        max_wait: None,
        exit_key: None,
        service_level: Duration::from_secs(20),
    }
}

/// Answers every offer in `actions` with its first agent; the calls now talking.
fn answer(acd: &mut Acd, actions: Vec<Action>, now: Instant, talking: &mut VecDeque<CallId>) {
    for a in actions {
        if let Action::Offer { call, agents, .. } = a {
            acd.offer_ended(call, OfferEnd::Answered(agents[0].clone()), now);
            talking.push_back(call);
        }
    }
}

fn main() {
    println!("queue decision with {AGENTS} agents (penalties 0-2), {WAITING} callers waiting");
    for strategy in [
        QueueStrategy::Ringall,
        QueueStrategy::Leastrecent,
        QueueStrategy::Fewestcalls,
        QueueStrategy::Random,
        QueueStrategy::Rrmemory,
        QueueStrategy::Linear,
        QueueStrategy::Wrandom,
    ] {
        let cfg = config(strategy);
        let key = cfg.key();
        let mut acd = Acd::new(7);
        let t0 = Instant::now();
        acd.configure(vec![cfg], t0);
        let mut talking = VecDeque::new();
        // every agent on a call
        while talking.len() < AGENTS {
            acd.join(CallId::new(), &key, t0).expect("join");
            let actions = acd.poll(t0);
            answer(&mut acd, actions, t0, &mut talking);
        }
        for _ in 0..WAITING {
            acd.join(CallId::new(), &key, t0).expect("join");
        }
        assert!(acd.poll(t0).is_empty(), "nobody is free");
        let mut times = Vec::with_capacity(DECISIONS);
        for i in 0..DECISIONS {
            let now = t0 + Duration::from_millis(i as u64 + 1);
            let done = talking.pop_front().expect("a call");
            acd.call_ended(done, now);
            let start = Instant::now();
            let actions = acd.poll(now);
            times.push(start.elapsed());
            assert_eq!(actions.len(), 1, "{strategy:?}: one offer per freed agent");
            answer(&mut acd, actions, now, &mut talking);
            acd.join(CallId::new(), &key, now).expect("join");
        }
        times.sort();
        let mean = times.iter().sum::<Duration>() / times.len() as u32;
        let p99 = times[times.len() * 99 / 100];
        println!(
            "ACDCOST strategy={} mean_us={:.1} p99_us={:.1}",
            strategy.as_str(),
            mean.as_secs_f64() * 1e6,
            p99.as_secs_f64() * 1e6
        );
    }
}
