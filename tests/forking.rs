//! Parallel forking: an extension registered from two phones rings both at once.
//! The first to answer gets the call and the other is cancelled; when none answers,
//! the caller hears the most telling failure (busy wins over unavailable).

mod common;

use common::*;
use std::time::Duration;

/// The first INVITE a phone received.
fn first_invite(out: &SippOutcome) -> String {
    out.received()
        .into_iter()
        .find(|m| m.starts_with("INVITE "))
        .unwrap_or_else(|| panic!("{} received no INVITE\n{}", out.scenario, out.report()))
}

#[test]
fn both_contacts_ring_and_the_loser_is_cancelled() {
    let sw = Switch::start_default();
    let events = sw.events();
    let sink = RtpSink::bind();
    let (desk_port, mobile_port) = (free_port(), free_port());
    // the mobile rings (180) and is still ringing when the desk phone answers
    let mobile = phone_at(&sw, "1002", "uas_ring.xml", mobile_port, None);
    let desk = phone_at(&sw, "1002", "uas_answer.xml", desk_port, Some(sink.port));
    assert_eq!(
        sw.metric("switchyard_registrations"),
        2.0,
        "two contacts for 1002"
    );

    let out = caller(&sw, "uac_call.xml", "1001", "1002").run();
    out.assert_ok();
    assert_received(&out, &[180, 200]);
    assert!(
        !out.received_statuses().contains(&487),
        "the caller must not see the loser's 487\n{}",
        out.report()
    );

    let desk = desk.wait();
    desk.assert_ok();
    assert_eq!(desk.received_methods(), vec!["INVITE", "ACK", "BYE"]);
    let mobile = mobile.wait();
    mobile.assert_ok();
    assert_eq!(
        mobile.received_methods(),
        vec!["INVITE", "CANCEL", "ACK"],
        "the ringing contact is cancelled once the other answers\n{}",
        mobile.report()
    );
    let mut sent: Vec<String> = mobile
        .sent()
        .iter()
        .filter_map(|m| m.lines().next().map(str::to_string))
        .collect();
    sent.dedup(); // a retransmitted 487
    assert_eq!(
        sent,
        vec![
            "SIP/2.0 180 Ringing",
            "SIP/2.0 200 OK",
            "SIP/2.0 487 Request Terminated"
        ],
        "mobile's responses"
    );

    // two forks, two dialogs: each contact got its own Call-ID, and the CANCEL
    // names the INVITE it cancels
    let (desk_inv, mobile_inv) = (first_invite(&desk), first_invite(&mobile));
    assert!(
        desk_inv.starts_with(&format!("INVITE sip:1002@{LOCALHOST}:{desk_port}")),
        "{desk_inv}"
    );
    assert!(
        mobile_inv.starts_with(&format!("INVITE sip:1002@{LOCALHOST}:{mobile_port}")),
        "{mobile_inv}"
    );
    assert_ne!(header(&desk_inv, "Call-ID"), header(&mobile_inv, "Call-ID"));
    let cancel = mobile
        .received()
        .into_iter()
        .find(|m| m.starts_with("CANCEL "))
        .expect("CANCEL");
    assert_eq!(header(&cancel, "Call-ID"), header(&mobile_inv, "Call-ID"));
    assert_eq!(
        header(&cancel, "CSeq").map(|c| c.split_whitespace().next()),
        header(&mobile_inv, "CSeq").map(|c| c.split_whitespace().next()),
        "CANCEL carries the INVITE's CSeq number"
    );

    // the audio went to the phone that answered
    let st = sink.state();
    assert!(
        st.rtp_packets >= 90,
        "desk phone heard {} RTP packets: {st:?}",
        st.rtp_packets
    );

    let evs = events.wait_for(Duration::from_secs(5), two_destroys);
    assert_eq!(
        destroy_causes(&evs),
        vec!["NORMAL_CLEARING", "NORMAL_CLEARING"],
        "{}",
        describe(&evs)
    );
    assert_eq!(count(&evs, "channel_answer"), 2, "{}", describe(&evs));
    assert_eq!(
        sw.wait_metric("switchyard_active_calls", Duration::from_secs(3), |v| v
            == 0.0),
        0.0
    );
}

#[test]
fn busy_wins_over_unavailable_when_no_contact_answers() {
    let sw = Switch::start_default();
    let events = sw.events();
    let busy = phone_at(&sw, "1002", "uas_busy.xml", free_port(), None);
    let dnd = phone_at(&sw, "1002", "uas_unavailable.xml", free_port(), None);
    assert_eq!(sw.metric("switchyard_registrations"), 2.0);

    let out = caller(&sw, "uac_busy.xml", "1001", "1002").run();
    out.assert_ok();
    assert_received(&out, &[407, 486]);
    let mut finals: Vec<u16> = out
        .received_statuses()
        .into_iter()
        .filter(|&c| c >= 200 && c != 407)
        .collect();
    finals.dedup(); // a retransmission of the same final response
    assert_eq!(
        finals,
        vec![486],
        "one final answer, busy\n{}",
        out.report()
    );

    for phone in [busy.wait(), dnd.wait()] {
        phone.assert_ok();
        assert_eq!(phone.received_methods(), vec!["INVITE", "ACK"]);
    }

    let evs = events.wait_for(Duration::from_secs(5), two_destroys);
    assert_eq!(
        destroy_causes(&evs),
        vec!["USER_BUSY", "USER_BUSY"],
        "{}",
        describe(&evs)
    );
    assert_eq!(count(&evs, "channel_answer"), 0, "{}", describe(&evs));
}
