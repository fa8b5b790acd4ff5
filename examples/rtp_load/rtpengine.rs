//! The reference relay driven over rtpengine's NG protocol: the same streams
//! through the ports rtpengine puts in the SDPs it returns.

use super::*;

/// The reference relay: each call is an NG `offer` (the caller's SDP) and
/// `answer` (the callee's) to rtpengine, then the same streams as `relay` mode
/// through the ports rtpengine put in the SDPs it returned; `delete` at the end.
pub(crate) async fn rtpengine_main(
    ng: SocketAddr,
    calls: u64,
    secs: u64,
    counters: Arc<Counters>,
    stop_tx: tokio::sync::watch::Sender<bool>,
    stop_rx: tokio::sync::watch::Receiver<bool>,
) -> Res<()> {
    let mut handles = Vec::new();
    for i in 0..calls {
        handles.push(tokio::spawn(rtpengine_call(
            ng,
            i,
            counters.clone(),
            stop_rx.clone(),
        )));
        if i % 25 == 24 {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    measure(&counters, calls, secs, &stop_tx).await;
    finish(handles, &counters, calls).await;
    Ok(())
}

/// One NG request (a bencoded dictionary of strings behind a cookie); returns
/// the SDP of the reply.
pub(crate) async fn ng_request(ng: SocketAddr, fields: &[(&str, &str)]) -> Res<Option<String>> {
    let sock = UdpSocket::bind("127.0.0.1:0").await?;
    let cookie = format!("{:08x}", rand::random::<u32>());
    let mut msg = format!("{cookie} d");
    for (k, v) in fields {
        msg.push_str(&format!("{}:{k}{}:{v}", k.len(), v.len()));
    }
    msg.push('e');
    for _ in 0..3 {
        sock.send_to(msg.as_bytes(), ng).await?;
        let mut buf = vec![0u8; 65535];
        let Ok(Ok((n, _))) =
            tokio::time::timeout(Duration::from_secs(2), sock.recv_from(&mut buf)).await
        else {
            continue;
        };
        let reply = String::from_utf8_lossy(&buf[..n]).into_owned();
        if !reply.contains("6:result2:ok") {
            return Err(format!("rtpengine refused: {reply}").into());
        }
        let Some(at) = reply.find("3:sdp") else {
            return Ok(None);
        };
        let rest = &reply[at + 5..];
        let colon = rest.find(':').ok_or("bad bencode")?;
        let len: usize = rest[..colon].parse()?;
        return Ok(Some(rest[colon + 1..colon + 1 + len].to_string()));
    }
    Err("rtpengine did not answer".into())
}

pub(crate) async fn rtpengine_call(
    ng: SocketAddr,
    i: u64,
    counters: Arc<Counters>,
    stop: tokio::sync::watch::Receiver<bool>,
) -> Res<()> {
    let (caller, callee) = (rtp_socket()?, rtp_socket()?);
    let cid = format!("re-{}-{i}", run_id());
    let (ft, tt) = (format!("f{i}"), format!("t{i}"));
    let offered = offer(caller.local_addr()?.port());
    let to_callee = ng_request(
        ng,
        &[
            ("command", "offer"),
            ("call-id", &cid),
            ("from-tag", &ft),
            ("sdp", &offered),
        ],
    )
    .await?
    .ok_or("offer without SDP")?;
    let answered = offer(callee.local_addr()?.port());
    let to_caller = ng_request(
        ng,
        &[
            ("command", "answer"),
            ("call-id", &cid),
            ("from-tag", &ft),
            ("to-tag", &tt),
            ("sdp", &answered),
        ],
    )
    .await?
    .ok_or("answer without SDP")?;
    let callee_dest = sdp::parse_media(&to_callee)?
        .rtp_destination()
        .ok_or("no media")?;
    let caller_dest = sdp::parse_media(&to_caller)?
        .rtp_destination()
        .ok_or("no media")?;
    counters.calls_up.fetch_add(1, Relaxed);
    let voice = Voice {
        stamp: true,
        ..Voice::pcma()
    };
    stream(
        caller,
        caller_dest,
        counters.clone(),
        stop.clone(),
        voice.clone(),
    );
    stream(callee, callee_dest, counters, stop.clone(), voice);
    let mut stop = stop;
    let _ = stop.changed().await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    ng_request(
        ng,
        &[("command", "delete"), ("call-id", &cid), ("from-tag", &ft)],
    )
    .await?;
    Ok(())
}
