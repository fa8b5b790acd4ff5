//! The event log behind `GET /events`: every event has an id (SSE `id:`), ids
//! follow on without gaps and across restarts, and a client reconnecting with
//! `Last-Event-ID` gets exactly what followed — from memory, or from the store
//! after the switch restarted; after a kill -9 no id is given out again. A bad
//! `Last-Event-ID` is a 400 with a JSON code.

mod common;

use common::*;
use std::io::{Read, Write};
use std::time::Duration;

/// One call to the tone app (create, answer, destroy); its events from `events`.
fn app_call(sw: &Switch, events: &Events) -> Vec<Event> {
    caller(sw, "uac_app_listen.xml", "1001", "7001")
        .key("rtp_port", free_port())
        .run()
        .assert_ok();
    events.wait_for(Duration::from_secs(5), |e| count(e, "CALL_ENDED") >= 1)
}

fn ids(evs: &[Event]) -> Vec<u64> {
    evs.iter()
        .map(|e| {
            e.id.unwrap_or_else(|| panic!("an event without an id: {e:?}"))
        })
        .collect()
}

#[test]
fn events_have_ids_and_a_reconnect_resumes_without_a_gap_even_after_a_restart() {
    let mut sw = Switch::start_default();
    let live = sw.events();
    let first = app_call(&sw, &live);
    let first_ids = ids(&first);
    assert_eq!(
        first.iter().map(|e| e.name.as_str()).collect::<Vec<_>>(),
        [
            "channel_create",
            "channel_answer",
            "channel_destroy",
            "CALL_ENDED"
        ],
        "{}",
        describe(&first)
    );
    assert!(
        first_ids.windows(2).all(|w| w[1] == w[0] + 1),
        "ids follow on: {first_ids:?}"
    );

    // resuming after the first event gives exactly the rest, same ids, same data
    let resumed = Events::connect_after(sw.http, Some(first_ids[0]));
    let again = resumed.wait_for(Duration::from_secs(5), |e| e.len() >= 3);
    assert_eq!(ids(&again), first_ids[1..].to_vec());
    assert_eq!(again[1].data, first[2].data);
    let ended = &first[3].data;
    assert_eq!(
        (
            ended["metadata"]["call_direction"].as_str(),
            ended["metadata"]["dnis"].as_str(),
            ended["metadata"]["uniqueid"].as_str()
        ),
        (
            Some("internal"),
            Some("7001"),
            Some(first[0].str("call_id"))
        )
    );

    // a restart: ids go on after the stored ones, and an old id still resumes
    // (from the store now: the new process never held those events in memory)
    sw.restart();
    let live = sw.events();
    let second = app_call(&sw, &live);
    let second_ids = ids(&second);
    assert!(
        second_ids[0] > *first_ids.last().expect("ids"),
        "no id reused: {first_ids:?} then {second_ids:?}"
    );
    let resumed = Events::connect_after(sw.http, Some(first_ids[0]));
    let all = resumed.wait_for(Duration::from_secs(5), |e| e.len() >= 7);
    let want: Vec<u64> = first_ids[1..].iter().chain(&second_ids).copied().collect();
    assert_eq!(ids(&all), want, "{}", describe(&all));
    assert_eq!(all[0].name, "channel_answer");
    assert_eq!(all[0].str("call_id"), first[1].str("call_id"));
}

#[test]
fn after_a_kill_9_no_event_id_is_handed_out_again() {
    let mut sw = Switch::start_default();
    let live = sw.events();
    let before = ids(&app_call(&sw, &live));
    // no shutdown at all: whatever the writer had not stored yet is gone, but the
    // restarted switch starts above every id the crashed one could have given out
    sw.crash_and_restart();
    let live = sw.events();
    let after = ids(&app_call(&sw, &live));
    let newest = *before.iter().max().expect("ids");
    assert!(
        after.iter().all(|&id| id > newest),
        "before {before:?}, after {after:?}"
    );
    assert!(after.windows(2).all(|w| w[1] == w[0] + 1), "{after:?}");
}

#[test]
fn a_bad_last_event_id_is_refused_with_a_json_error() {
    let sw = Switch::start_default();
    let mut s = std::net::TcpStream::connect(sw.http).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    write!(
        s,
        "GET /events HTTP/1.0\r\nHost: x\r\nLast-Event-ID: yesterday\r\n\r\n"
    )
    .expect("send");
    let mut raw = String::new();
    let _ = s.read_to_string(&mut raw);
    assert!(raw.starts_with("HTTP/1.0 400"), "{raw}");
    assert!(raw.contains("\"invalid_last_event_id\""), "{raw}");

    // an id beyond any this switch gave out (another switch's, or the largest
    // there is) is no crash: the stream waits for ids to reach it
    let far = Events::connect_after(sw.http, Some(u64::MAX));
    let live = sw.events();
    caller(&sw, "uac_app_listen.xml", "1001", "7001")
        .key("rtp_port", free_port())
        .run()
        .assert_ok();
    live.wait_for(Duration::from_secs(5), |e| count(e, "CALL_ENDED") >= 1);
    assert!(far.snapshot().is_empty(), "nothing is after the largest id");
    assert_eq!(
        sw.settled("switchyard_active_calls"),
        0.0,
        "the switch lives on"
    );
}
