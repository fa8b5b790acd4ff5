//! The node kinds driven through the runner with a fake clock: every command
//! a flow issues and where each event takes it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::ivr_menu::INTER_DIGIT;
use crate::dialplan::CallflowDef;
use crate::events::HangupCause;
use crate::ids::AccountId;
use crate::routing::compile;
use crate::routing::{Callflow, Command, DialOutcome, DialTarget, Event, FlowRunner};

fn flow(text: &str) -> Arc<Callflow> {
    let def: CallflowDef = toml::from_str(text).expect("callflow parses");
    let exts: std::collections::HashSet<String> = ["1001", "1002", "1003"].map(String::from).into();
    Arc::new(compile::callflow(AccountId::from("demo"), &def, &Arc::new(exts)).expect("compiles"))
}

fn ext(n: &str) -> DialTarget {
    DialTarget::Extension(n.to_string())
}

/// A group member: rung unless on a call.
fn idle(n: &str) -> DialTarget {
    DialTarget::IdleExtension(n.to_string())
}

/// The id of the one dial among `cmds`, and whom it rings.
fn dialled(cmds: &[Command]) -> (u64, Vec<DialTarget>, Duration) {
    let dials: Vec<_> = cmds
        .iter()
        .filter_map(|c| match c {
            Command::Dial { targets, ring, id } => Some((*id, targets.clone(), *ring)),
            _ => None,
        })
        .collect();
    assert_eq!(dials.len(), 1, "one dial in {cmds:?}");
    dials[0].clone()
}

/// The dial `id` ended with `outcome`: what the flow does next.
fn ended(r: &mut FlowRunner, id: u64, outcome: DialOutcome) -> Vec<Command> {
    r.on_event(&Event::DialEnded { id, outcome }, Instant::now(), 0)
}

fn played(cmds: &[Command]) -> u64 {
    cmds.iter()
        .find_map(|c| match c {
            Command::Play { id, .. } => Some(*id),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no play in {cmds:?}"))
}

const MENU: &str = r#"
    number = "8000"
    name = "Main"
    start = "menu"
    [[nodes]]
    id = "menu"
    kind = "ivr_menu"
    prompt = [{ say = "For sales press 1, for support press 2" }]
    invalid = [{ say = "Sorry" }]
    options = { "1" = "sales", "2" = "support" }
    timeout_seconds = 4
    retries = 1
    on_timeout = "operator"
    [[nodes]]
    id = "sales"
    kind = "ring_group"
    name = "Sales"
    members = ["1002", "1003"]
    strategy = "sequential"
    ring_seconds = 15
    next = "bye"
    [[nodes]]
    id = "support"
    kind = "ring_group"
    name = "Support"
    members = ["1004", "1005"]
    [[nodes]]
    id = "operator"
    kind = "extension"
    number = "1001"
    [[nodes]]
    id = "bye"
    kind = "play"
    steps = [{ say = "Goodbye" }]
"#;

#[test]
fn a_key_during_the_prompt_cuts_it_and_rings_the_group_at_once() {
    let t0 = Instant::now();
    let (mut r, cmds) = FlowRunner::start(flow(MENU), false, t0, 0);
    assert_eq!(cmds[0], Command::Answer, "{cmds:?}");
    played(&cmds);
    let cmds = r.on_event(&Event::Digit('2'), t0, 0);
    assert_eq!(cmds[0], Command::StopPlay);
    assert_eq!(
        cmds[1],
        Command::Audit {
            node: "menu".into(),
            input: "2".into(),
            outcome: "support".into()
        }
    );
    let (_, targets, ring) = dialled(&cmds);
    assert_eq!(targets, vec![idle("1004"), idle("1005")], "simultaneous");
    assert_eq!(ring, Duration::from_secs(20), "the default ring");
    let trail: Vec<&str> = r.trail().iter().map(|t| t.1).collect();
    assert_eq!(trail, vec!["ivr_menu", "ring_group"]);
}

#[test]
fn direct_dial_reaches_an_extension_and_keys_that_may_begin_one_wait() {
    // extensions 1001..1003; option 1 may begin one, option 2 cannot
    let menu = MENU.replace(
        "on_timeout = \"operator\"",
        "on_timeout = \"operator\"\n    direct_dial = true",
    );
    let t0 = Instant::now();
    // 2: at once
    let (mut r, _) = FlowRunner::start(flow(&menu), false, t0, 0);
    let (_, targets, _) = dialled(&r.on_event(&Event::Digit('2'), t0, 0));
    assert_eq!(targets, vec![idle("1004"), idle("1005")]);
    // 1 0 0 2: waits after each key until the number is an extension's
    let (mut r, _) = FlowRunner::start(flow(&menu), false, t0, 0);
    assert_eq!(
        r.on_event(&Event::Digit('1'), t0, 0),
        vec![Command::StopPlay]
    );
    assert_eq!(r.deadline(), Some(t0 + INTER_DIGIT));
    for d in ['0', '0'] {
        assert!(r.on_event(&Event::Digit(d), t0, 0).is_empty());
    }
    let cmds = r.on_event(&Event::Digit('2'), t0, 0);
    assert_eq!(
        cmds,
        vec![
            Command::Audit {
                node: "menu".into(),
                input: "1002".into(),
                outcome: "extension 1002".into()
            },
            Command::Transfer {
                number: "1002".into()
            }
        ]
    );
    assert!(r.is_done());
    // 1, then a pause: option 1
    let (mut r, _) = FlowRunner::start(flow(&menu), false, t0, 0);
    r.on_event(&Event::Digit('1'), t0, 0);
    let (_, targets, _) = dialled(&r.on_timeout(t0 + INTER_DIGIT, 0));
    assert_eq!(targets, vec![idle("1002")], "sales rings 1002 first");
    // 1 0 #: no option, no extension: invalid, the menu again
    let (mut r, _) = FlowRunner::start(flow(&menu), false, t0, 0);
    r.on_event(&Event::Digit('1'), t0, 0);
    r.on_event(&Event::Digit('0'), t0, 0);
    let cmds = r.on_event(&Event::Digit('#'), t0, 0);
    assert_eq!(
        cmds[0],
        Command::Audit {
            node: "menu".into(),
            input: "10".into(),
            outcome: "invalid".into()
        }
    );
    played(&cmds);
    // without direct dial, 1 is option 1 at once
    let (mut r, _) = FlowRunner::start(flow(MENU), false, t0, 0);
    let (_, targets, _) = dialled(&r.on_event(&Event::Digit('1'), t0, 0));
    assert_eq!(targets, vec![idle("1002")]);
}

#[test]
fn silence_replays_the_menu_then_goes_to_its_timeout_node() {
    let t0 = Instant::now();
    let (mut r, cmds) = FlowRunner::start(flow(MENU), false, t0, 0);
    let id = played(&cmds);
    assert!(r.deadline().is_none(), "no timer while the prompt plays");
    assert!(r.on_event(&Event::PlayDone { id }, t0, 0).is_empty());
    assert_eq!(r.deadline(), Some(t0 + Duration::from_secs(4)));
    // too early: nothing
    assert!(r.on_timeout(t0 + Duration::from_secs(3), 0).is_empty());
    let cmds = r.on_timeout(t0 + Duration::from_secs(4), 0);
    let again = played(&cmds);
    assert_ne!(again, id);
    assert!(!cmds.contains(&Command::Answer), "answered once only");
    let t1 = t0 + Duration::from_secs(10);
    r.on_event(&Event::PlayDone { id: again }, t1, 0);
    let cmds = r.on_timeout(t1 + Duration::from_secs(4), 0);
    let (_, targets, _) = dialled(&cmds);
    assert_eq!(targets, vec![ext("1001")], "retries used up: the operator");
}

#[test]
fn a_wrong_key_plays_the_invalid_prompt_and_the_menu_again() {
    let t0 = Instant::now();
    let (mut r, cmds) = FlowRunner::start(flow(MENU), false, t0, 0);
    let id = played(&cmds);
    r.on_event(&Event::PlayDone { id }, t0, 0);
    let cmds = r.on_event(&Event::Digit('9'), t0, 0);
    match &cmds[..] {
        [Command::Audit {
            node,
            input,
            outcome,
        }, Command::Play { steps, .. }] => {
            assert_eq!(
                (node.as_str(), input.as_str(), outcome.as_str()),
                ("menu", "9", "invalid")
            );
            assert_eq!(steps.len(), 2, "invalid, then the menu");
        }
        other => panic!("{other:?}"),
    }
    // a stale PlayDone of the first prompt changes nothing
    assert!(r.on_event(&Event::PlayDone { id }, t0, 0).is_empty());
    assert!(r.deadline().is_none());
}

#[test]
fn a_sequential_group_rings_one_member_after_another_then_goes_on() {
    let t0 = Instant::now();
    let (mut r, cmds) = FlowRunner::start(flow(MENU), false, t0, 0);
    played(&cmds);
    let cmds = r.on_event(&Event::Digit('1'), t0, 0);
    let (id, targets, ring) = dialled(&cmds);
    assert_eq!(
        (targets, ring),
        (vec![idle("1002")], Duration::from_secs(15))
    );
    // a dial that is not the pending one is ignored
    let stale = Event::DialEnded {
        id: id + 100,
        outcome: DialOutcome::NoAnswer,
    };
    assert!(r.on_event(&stale, t0, 0).is_empty());
    let cmds = ended(&mut r, id, DialOutcome::NoAnswer);
    let (id, targets, _) = dialled(&cmds);
    assert_eq!(targets, vec![idle("1003")]);
    let cmds = ended(&mut r, id, DialOutcome::Busy);
    played(&cmds); // nobody answered: the "bye" play node
    assert!(!r.is_done());
}

#[test]
fn an_answered_dial_ends_the_flow() {
    let t0 = Instant::now();
    let (mut r, cmds) = FlowRunner::start(flow(MENU), false, t0, 0);
    played(&cmds);
    let (id, ..) = dialled(&r.on_event(&Event::Digit('2'), t0, 0));
    let cmds = ended(&mut r, id, DialOutcome::Answered);
    assert!(cmds.is_empty());
    assert!(r.is_done());
    assert!(
        r.on_event(&Event::Digit('1'), t0, 0).is_empty(),
        "done is done"
    );
}

#[test]
fn a_group_rings_outside_numbers_too_and_stops_when_its_own_time_is_up() {
    let f = flow(
        r#"
        number = "8700"
        name = "Hunt"
        start = "g"
        [[nodes]]
        id = "g"
        kind = "ring_group"
        name = "Hunt"
        members = ["1002", "+15557654321", "1003"]
        strategy = "sequential"
        ring_seconds = 10
        group_seconds = 15
        next = "bye"
        [[nodes]]
        id = "bye"
        kind = "hangup"
        "#,
    );
    let t0 = Instant::now();
    let (mut r, cmds) = FlowRunner::start(f, false, t0, 0);
    let (id, targets, ring) = dialled(&cmds);
    assert_eq!(
        (targets, ring),
        (vec![idle("1002")], Duration::from_secs(10))
    );
    // 10 s later: the outside number, for the 5 s the group has left
    let t1 = t0 + Duration::from_secs(10);
    let cmds = r.on_event(
        &Event::DialEnded {
            id,
            outcome: DialOutcome::NoAnswer,
        },
        t1,
        0,
    );
    let (id, targets, ring) = dialled(&cmds);
    assert_eq!(
        (targets, ring),
        (
            vec![DialTarget::External("+15557654321".into())],
            Duration::from_secs(5)
        )
    );
    // the group's time is up: 1003 is not rung, the call goes on
    let t2 = t0 + Duration::from_secs(15);
    let cmds = r.on_event(
        &Event::DialEnded {
            id,
            outcome: DialOutcome::NoAnswer,
        },
        t2,
        0,
    );
    assert_eq!(cmds, vec![Command::Hangup(HangupCause::NormalClearing)]);
    // ring_busy: members on a call are rung too
    let f = flow(
        r#"
        number = "8701"
        name = "All"
        start = "g"
        [[nodes]]
        id = "g"
        kind = "ring_group"
        name = "All"
        members = ["1002", "1003"]
        ring_busy = true
        "#,
    );
    let (_, cmds) = FlowRunner::start(f, false, t0, 0);
    assert_eq!(dialled(&cmds).1, vec![ext("1002"), ext("1003")]);
}

#[test]
fn round_robin_starts_one_member_further_on_each_call() {
    let f = flow(
        r#"
        number = "8100"
        name = "Sales"
        start = "q"
        [[nodes]]
        id = "q"
        kind = "ring_group"
        name = "Sales"
        members = ["1002", "1003", "1004"]
        strategy = "round_robin"
        "#,
    );
    let t0 = Instant::now();
    let firsts: Vec<DialTarget> = (0..4)
        .map(|_| {
            let (_, cmds) = FlowRunner::start(f.clone(), false, t0, 0);
            dialled(&cmds).1.remove(0)
        })
        .collect();
    assert_eq!(
        firsts,
        vec![idle("1002"), idle("1003"), idle("1004"), idle("1002")]
    );
    // every member busy: the caller hears busy
    let (mut r, cmds) = FlowRunner::start(f, false, t0, 0);
    let mut id = dialled(&cmds).0;
    let mut last = Vec::new();
    for _ in 0..3 {
        last = ended(&mut r, id, DialOutcome::Busy);
        if let Some(Command::Dial { id: next, .. }) = last.first() {
            id = *next;
        }
    }
    assert_eq!(last, vec![Command::Hangup(HangupCause::UserBusy)]);
}

#[test]
fn time_conditions_pick_by_weekday_and_hour_at_their_offset() {
    let f = flow(
        r#"
        number = "8300"
        name = "Hours"
        start = "open"
        [[nodes]]
        id = "open"
        kind = "time_condition"
        days = ["mon", "tue", "wed", "thu", "fri"]
        from = "09:00"
        to = "17:00"
        utc_offset_minutes = -300
        then = "desk"
        otherwise = "closed"
        [[nodes]]
        id = "desk"
        kind = "extension"
        number = "1001"
        [[nodes]]
        id = "closed"
        kind = "hangup"
        reason = "unavailable"
        "#,
    );
    let t0 = Instant::now();
    // 2026-12-07 is a Monday; 15:00 UTC is 10:00 at UTC-5
    let monday_10 = 1_796_655_600;
    let (_, cmds) = FlowRunner::start(f.clone(), false, t0, monday_10);
    assert_eq!(dialled(&cmds).1, vec![ext("1001")]);
    // 23:00 UTC is 18:00 local: closed
    let (r, cmds) = FlowRunner::start(f.clone(), false, t0, monday_10 + 8 * 3600);
    assert_eq!(cmds, vec![Command::Hangup(HangupCause::UserNotRegistered)]);
    assert!(r.is_done());
    // Saturday 10:00 local
    let (_, cmds) = FlowRunner::start(f, false, t0, monday_10 + 5 * 86_400);
    assert_eq!(cmds, vec![Command::Hangup(HangupCause::UserNotRegistered)]);
}

#[test]
fn office_hours_follow_the_time_zone_and_close_on_holidays() {
    let f = flow(
        r#"
        number = "8300"
        name = "Hours"
        start = "open"
        [[nodes]]
        id = "open"
        kind = "time_condition"
        days = ["mon", "tue", "wed", "thu", "fri"]
        from = "09:00"
        to = "17:00"
        time_zone = "America/New_York"
        holidays = ["2026-12-07"]
        then = "desk"
        otherwise = "closed"
        [[nodes]]
        id = "desk"
        kind = "extension"
        number = "1001"
        [[nodes]]
        id = "closed"
        kind = "hangup"
        reason = "unavailable"
        "#,
    );
    let t0 = Instant::now();
    let closed = vec![Command::Hangup(HangupCause::UserNotRegistered)];
    // Monday 2026-07-06, 13:30 UTC: 09:30 daylight time in New York (08:30 at a fixed -5 h)
    let (_, cmds) = FlowRunner::start(f.clone(), false, t0, 1_783_344_600);
    assert_eq!(dialled(&cmds).1, vec![ext("1001")], "open in summer time");
    // Monday 2026-12-07 10:00 EST, but a holiday
    let (_, cmds) = FlowRunner::start(f.clone(), false, t0, 1_796_655_600);
    assert_eq!(cmds, closed, "closed on the holiday");
    // the next day, same time: open
    let (_, cmds) = FlowRunner::start(f, false, t0, 1_796_655_600 + 86_400);
    assert_eq!(dialled(&cmds).1, vec![ext("1001")]);
}

#[test]
fn a_flow_that_loops_without_waiting_is_hung_up() {
    let f = flow(
        r#"
        number = "8400"
        name = "Loop"
        start = "a"
        [[nodes]]
        id = "a"
        kind = "time_condition"
        days = ["mon"]
        from = "00:00"
        to = "00:00"
        then = "a"
        otherwise = "a"
        "#,
    );
    let (r, cmds) = FlowRunner::start(f, false, Instant::now(), 0);
    assert_eq!(cmds, vec![Command::Hangup(HangupCause::NetworkOutOfOrder)]);
    assert!(r.is_done());
}

#[test]
fn voicemail_records_after_the_greeting_until_pound_or_the_limit() {
    let f = flow(
        r#"
        number = "8600"
        name = "Box"
        start = "vm"
        [[nodes]]
        id = "vm"
        kind = "voicemail"
        box = "1003"
        max_seconds = 30
        "#,
    );
    let greeting = |cmds: &[Command]| {
        cmds.iter()
            .find_map(|c| match c {
                Command::PlayGreeting { r#box, id } if r#box == "1003" => Some(*id),
                _ => None,
            })
            .unwrap_or_else(|| panic!("no greeting in {cmds:?}"))
    };
    let t0 = Instant::now();
    let (mut r, cmds) = FlowRunner::start(f.clone(), false, t0, 0);
    assert_eq!(cmds[0], Command::Answer);
    let g = greeting(&cmds);
    // a key during the greeting does not start or stop anything
    assert!(r.on_event(&Event::Digit('#'), t0, 0).is_empty());
    // the box's greeting, then the tone, then the recording
    let tone = played(&r.on_event(&Event::PlayDone { id: g }, t0, 0));
    let cmds = r.on_event(&Event::PlayDone { id: tone }, t0, 0);
    assert_eq!(
        cmds,
        vec![Command::Record {
            r#box: "1003".into(),
            max: Duration::from_secs(30)
        }]
    );
    assert_eq!(r.deadline(), Some(t0 + Duration::from_secs(30)));
    let cmds = r.on_event(&Event::Digit('#'), t0, 0);
    assert_eq!(cmds[0], Command::StopRecord);
    let bye = played(&cmds);
    assert_eq!(
        r.on_event(&Event::PlayDone { id: bye }, t0, 0),
        vec![Command::Hangup(HangupCause::NormalClearing)]
    );
    // the time limit ends a message the same way
    let (mut r, cmds) = FlowRunner::start(f, false, t0, 0);
    let tone = played(&r.on_event(
        &Event::PlayDone {
            id: greeting(&cmds),
        },
        t0,
        0,
    ));
    r.on_event(&Event::PlayDone { id: tone }, t0, 0);
    let cmds = r.on_timeout(t0 + Duration::from_secs(30), 0);
    assert_eq!(cmds[0], Command::StopRecord);
}

#[test]
fn the_mailbox_asks_for_the_pin_then_replays_deletes_and_keeps_messages_by_key() {
    let f = Callflow::voicemail_check(AccountId::from("demo"), "1003");
    let t0 = Instant::now();
    let (mut r, cmds) = FlowRunner::start(f, false, t0, 0);
    played(&cmds);
    for d in ['1', '2'] {
        r.on_event(&Event::Digit(d), t0, 0);
    }
    let cmds = r.on_event(&Event::Digit('#'), t0, 0);
    let id = match cmds.last() {
        Some(Command::OpenMailbox { r#box, pin, id }) => {
            assert_eq!((r#box.as_str(), pin.as_str()), ("1003", "12"));
            *id
        }
        other => panic!("{other:?}"),
    };
    // wrong: asked again
    played(&r.on_event(&Event::Mailbox { id, messages: None }, t0, 0));
    r.on_event(&Event::Digit('3'), t0, 0);
    let cmds = r.on_event(&Event::Digit('#'), t0, 0);
    let Some(Command::OpenMailbox { id, pin, .. }) = cmds.last().cloned() else {
        panic!("{cmds:?}")
    };
    assert_eq!(pin, "3", "digits start afresh after a wrong PIN");
    let list = vec![
        ("m1".to_string(), "/a.wav".to_string()),
        ("m2".to_string(), "/b.wav".to_string()),
    ];
    let count = played(&r.on_event(
        &Event::Mailbox {
            id,
            messages: Some(list),
        },
        t0,
        0,
    ));
    let cmds = r.on_event(&Event::PlayDone { id: count }, t0, 0);
    let Some(Command::PlayFile { path, id: f1 }) = cmds.first().cloned() else {
        panic!("{cmds:?}")
    };
    assert_eq!(path, "/a.wav");
    // 1 during the message: it plays again from the start
    let cmds = r.on_event(&Event::Digit('1'), t0, 0);
    assert_eq!(cmds[0], Command::StopPlay);
    let Some(Command::PlayFile { path, id: again }) = cmds.get(1).cloned() else {
        panic!("{cmds:?}")
    };
    assert_eq!(path, "/a.wav");
    assert!(
        r.on_event(&Event::PlayDone { id: f1 }, t0, 0).is_empty(),
        "stale"
    );
    // played to its end: the menu, then a wait for its key
    let menu = played(&r.on_event(&Event::PlayDone { id: again }, t0, 0));
    assert!(r.on_event(&Event::PlayDone { id: menu }, t0, 0).is_empty());
    assert_eq!(r.deadline(), Some(t0 + Duration::from_secs(8)));
    // 7: deleted (row and file), said so, the next message plays
    let cmds = r.on_event(&Event::Digit('7'), t0, 0);
    assert!(
        cmds.contains(&Command::DeleteMessage {
            r#box: "1003".into(),
            message: "m1".into(),
            path: "/a.wav".into()
        }),
        "{cmds:?}"
    );
    let deleted = played(&cmds);
    let cmds = r.on_event(&Event::PlayDone { id: deleted }, t0, 0);
    let Some(Command::PlayFile { path, id: f2 }) = cmds.first().cloned() else {
        panic!("{cmds:?}")
    };
    assert_eq!(path, "/b.wav");
    // silence after the menu keeps the message (heard) and goes on: no more
    let menu = played(&r.on_event(&Event::PlayDone { id: f2 }, t0, 0));
    r.on_event(&Event::PlayDone { id: menu }, t0, 0);
    let cmds = r.on_timeout(t0 + Duration::from_secs(8), 0);
    assert_eq!(
        cmds[0],
        Command::MarkHeard {
            message: "m2".into()
        }
    );
    let bye = played(&cmds);
    assert_eq!(
        r.on_event(&Event::PlayDone { id: bye }, t0, 0),
        vec![Command::Hangup(HangupCause::NormalClearing)]
    );
}
