//! Graceful shutdown: SIGTERM while a call is up hangs the call up properly (BYE to
//! both parties, channel_destroy events) before the process exits cleanly.

mod common;

use common::*;
use std::time::Duration;

#[test]
fn sigterm_hangs_up_live_calls_then_exits_cleanly() {
    let mut sw = Switch::start_default();
    let events = sw.events();
    let port = free_port();
    register(&sw, "1002", &password_of("1002"), port, 300);
    let sink = RtpSink::bind();
    let mut callee = sw
        .sipp("uas_answer.xml")
        .port(port)
        .key("user", "1002")
        .key("rtp_port", sink.port)
        .spawn();
    callee.wait_listening();
    let caller_run = caller(&sw, "uac_wait_bye.xml", "1001", "1002").spawn();
    sw.wait_metric("switchyard_active_calls", Duration::from_secs(10), |v| {
        v == 1.0
    });
    events.wait_for(Duration::from_secs(5), |e| count(e, "channel_bridge") >= 2);

    let status = sw.stop();
    assert!(
        status.success(),
        "switch exit status after SIGTERM: {status}"
    );

    // both parties were sent a BYE by the switch and answered it
    let caller_out = caller_run.wait();
    caller_out.assert_ok();
    assert_eq!(
        caller_out.received_methods(),
        vec!["BYE"],
        "caller hung up by the switch"
    );
    let callee_out = callee.wait();
    callee_out.assert_ok();
    assert!(
        callee_out.received_methods().contains(&"BYE".to_string()),
        "callee hung up by the switch"
    );
    let evs = events.snapshot();
    assert_eq!(count(&evs, "channel_destroy"), 2, "{}", describe(&evs));
}
