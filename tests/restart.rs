//! Registrations are persisted: after a SIGTERM and a start on the same data
//! directory and ports, a registered phone still receives its calls.

mod common;

use common::*;
use std::time::Duration;

#[test]
fn registration_survives_a_restart() {
    let mut sw = Switch::start_default();
    let port = free_port();
    register(&sw, "1002", "demo1002", port, 300);
    assert_eq!(sw.metric("switchyard_registrations"), 1.0);

    let status = sw.stop();
    assert!(
        status.success(),
        "switchyard exited with {status} after SIGTERM"
    );
    sw.restart();
    assert_eq!(
        sw.wait_metric("switchyard_registrations", Duration::from_secs(2), |v| v
            == 1.0),
        1.0,
        "the binding of 1002 was not restored"
    );

    // the phone is still where it registered from: the call must reach it (not 480)
    let sink = RtpSink::bind();
    let mut callee = sw
        .sipp("uas_answer.xml")
        .port(port)
        .key("user", "1002")
        .key("rtp_port", sink.port)
        .spawn();
    callee.wait_listening();
    let out = caller(&sw, "uac_call.xml", "1001", "1002").run();
    out.assert_ok();
    assert!(!out.received_statuses().contains(&480), "{}", out.report());
    callee.wait().assert_ok();
    let st = sink.state();
    assert!(
        st.rtp_packets >= 90,
        "callee heard {} RTP packets after the restart",
        st.rtp_packets
    );
}
