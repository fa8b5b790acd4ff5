//! Commands on a call, on the fake clock of `tests.rs`: a leg dialled by
//! command that nobody answers is cancelled at its own ring time while the call
//! goes on; one that answers is shown, hung up alone, and its ports freed.

use std::time::Duration;

use tokio::sync::oneshot;
use tokio::time::Instant;

use super::tests::*;
use super::*;
use crate::switch::commands::{CallCommand, CallView, Join};
use crate::switch::CallInput;

/// The caller's ACK of the switch's 200.
fn caller_ack() -> rsip::Request {
    parse_request(
        "ACK sip:1002@127.0.0.1 SIP/2.0\n\
         Via: SIP/2.0/UDP 127.0.0.1:7001;branch=z9hG4bK-caller-ack\n\
         Max-Forwards: 70\n\
         From: <sip:1001@demo.switchyard.test>;tag=caller\n\
         To: <sip:1002@demo.switchyard.test>;tag=x\n\
         Call-ID: caller-call-1\n\
         CSeq: 2 ACK\n\
         Content-Length: 0\n\n",
    )
}

async fn show(h: &CallHandle) -> CallView {
    let (reply, rx) = oneshot::channel();
    h.tx.send(CallInput::Command(CallCommand::Show { reply }))
        .expect("send");
    rx.await.expect("answered").expect("shown")
}

#[tokio::test]
async fn a_dialled_leg_rings_its_own_time_and_an_answered_one_is_hung_up_alone() {
    let mut rig = rig().await;
    register(&rig, "1002", 7002);
    register(&rig, "1003", 7003);
    let h = call(&rig, "1002");
    let (token, fork) = request(&mut rig).await;
    h.tx.send(CallInput::Response {
        token,
        resp: answer(&fork, 200, "callee"),
    })
    .expect("send");
    let mut seen = Vec::new();
    for _ in 0..2 {
        seen.push(describe(&next(&mut rig).await));
    }
    seen.sort();
    assert_eq!(seen, ["response 200", "stateless ACK"]);
    h.tx.send(CallInput::Ack { req: caller_ack() })
        .expect("ack");
    assert_eq!(show(&h).await.legs.len(), 2);

    // 1003 is dialled for 10 s and only rings: cancelled then, the call goes on
    let (reply, rx) = oneshot::channel();
    h.tx.send(CallInput::Command(CallCommand::Dial {
        numbers: vec!["1003".into()],
        ring_secs: 10,
        join: Join::Alone,
        reply,
    }))
    .expect("send");
    let leg = rx.await.expect("answered").expect("dialled");
    let t0 = Instant::now();
    let (t3, f3) = request(&mut rig).await;
    assert_eq!(f3.method, rsip::Method::Invite);
    h.tx.send(CallInput::Response {
        token: t3,
        resp: answer(&f3, 180, "ringing"),
    })
    .expect("send");
    let view = show(&h).await;
    let ringing = view.legs.iter().find(|l| l.id == leg).expect("listed");
    assert_eq!((ringing.role, ringing.state), ("dialled", "ringing"));
    assert_eq!(rig.sw.metrics.rtp_port_pairs_in_use.load(Relaxed), 3);
    let (_, cancel) = request(&mut rig).await;
    assert_eq!(cancel.method, rsip::Method::Cancel);
    let waited = t0.elapsed();
    assert!(
        waited >= Duration::from_secs(10) && waited < Duration::from_secs(11),
        "{waited:?}"
    );
    h.tx.send(CallInput::Response {
        token: t3,
        resp: answer(&f3, 487, "ringing"),
    })
    .expect("send");
    let view = show(&h).await;
    assert_eq!(view.legs.len(), 2, "the unanswered leg is gone");
    assert_eq!(rig.sw.metrics.rtp_port_pairs_in_use.load(Relaxed), 2);
    assert_eq!(rig.sw.metrics.active_calls.load(Relaxed), 1);

    // dialled again, it answers; hung up alone, the call keeps its two legs
    let (reply, rx) = oneshot::channel();
    h.tx.send(CallInput::Command(CallCommand::Dial {
        numbers: vec!["1003".into()],
        ring_secs: 10,
        join: Join::Alone,
        reply,
    }))
    .expect("send");
    let leg = rx.await.expect("answered").expect("dialled");
    let (t4, f4) = request(&mut rig).await;
    h.tx.send(CallInput::Response {
        token: t4,
        resp: answer(&f4, 200, "third"),
    })
    .expect("send");
    assert_eq!(describe(&next(&mut rig).await), "stateless ACK");
    let view = show(&h).await;
    let up = view.legs.iter().find(|l| l.id == leg).expect("listed");
    assert_eq!(up.state, "answered");
    let (reply, rx) = oneshot::channel();
    h.tx.send(CallInput::Command(CallCommand::HangupLeg { leg, reply }))
        .expect("send");
    rx.await.expect("answered").expect("hung up");
    let (_, bye) = request(&mut rig).await;
    assert_eq!(bye.method, rsip::Method::Bye);
    assert_eq!(
        message::call_id(&bye.headers),
        message::call_id(&f4.headers)
    );
    assert_eq!(show(&h).await.legs.len(), 2);
    assert_eq!(rig.sw.metrics.rtp_port_pairs_in_use.load(Relaxed), 2);
    assert_eq!(rig.sw.metrics.active_calls.load(Relaxed), 1);

    // an unknown leg is refused; hanging up the call ends it
    let (reply, rx) = oneshot::channel();
    h.tx.send(CallInput::Command(CallCommand::HangupLeg { leg, reply }))
        .expect("send");
    assert_eq!(
        rx.await.expect("answered"),
        Err(crate::switch::commands::CommandError::UnknownLeg)
    );
    h.tx.send(CallInput::Hangup).expect("send");
    settled(&rig).await;
    assert_eq!(rig.sw.metrics.rtp_port_pairs_in_use.load(Relaxed), 0);
}
