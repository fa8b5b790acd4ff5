//! One shard: a task that owns a sans-IO transaction layer and drives it — feeds
//! it inbound messages and commands from call tasks, fires its timers, sends what
//! it emits, and routes new requests and transaction events to their owners.

use rsip::{Header, Request, Response, SipMessage};
use std::collections::HashMap;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::mpsc;

use super::calls::{self, CallInput, CallSender};
use super::{register, Switch};
use crate::sip::message::{self, ALLOW};
use crate::sip::target::Target;
use crate::sip::transaction::{Incoming, Timers, TransactionLayer, TxEvent, TxId};

/// Work for a shard.
pub enum ShardMsg {
    /// A parsed message from a transport.
    Inbound(SipMessage, Target),
    /// Start a client transaction; its responses and timeout go to `owner` with `token`.
    Request {
        req: Request,
        target: Target,
        owner: CallSender,
        token: u64,
    },
    /// Answer a server transaction.
    Respond { tx: TxId, resp: Response },
    /// Send outside any transaction (ACK for 2xx, 2xx retransmissions).
    Stateless { msg: SipMessage, target: Target },
    /// A request we sent bounced (ICMP unreachable): fail its transaction.
    Undeliverable(Request),
}

struct Shard {
    sw: Arc<Switch>,
    layer: TransactionLayer,
    owners: HashMap<TxId, (CallSender, u64)>,
    last_len: i64,
}

/// A shard's two input queues: commands from call tasks (never dropped) and
/// messages from the network (bounded).
pub struct Queues {
    pub commands: mpsc::UnboundedReceiver<ShardMsg>,
    pub inbound: mpsc::Receiver<(SipMessage, Target)>,
}

pub async fn run(sw: Arc<Switch>, queues: Queues) {
    let Queues {
        commands: mut rx,
        inbound: mut net,
    } = queues;
    let mut net_batch = Vec::with_capacity(64);
    let mut shard = Shard {
        sw,
        layer: TransactionLayer::new(Timers::default()),
        owners: HashMap::new(),
        last_len: 0,
    };
    let mut batch = Vec::with_capacity(64);
    loop {
        let deadline = shard.layer.poll_timeout();
        tokio::select! {
            n = rx.recv_many(&mut batch, 64) => {
                if n == 0 { break; }
                let now = Instant::now();
                for m in batch.drain(..) {
                    shard.handle(now, m);
                }
            }
            n = net.recv_many(&mut net_batch, 64) => {
                if n == 0 { break; }
                let now = Instant::now();
                for (m, source) in net_batch.drain(..) {
                    shard.handle(now, ShardMsg::Inbound(m, source));
                }
            }
            _ = sleep_until(deadline) => {
                shard.layer.handle_timeout(Instant::now());
            }
        }
        shard.flush().await;
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(tokio::time::Instant::from_std(d)).await,
        None => std::future::pending().await,
    }
}

fn has_to_tag(req: &Request) -> bool {
    message::to_value(&req.headers)
        .and_then(message::tag)
        .is_some()
}

impl Shard {
    fn handle(&mut self, now: Instant, msg: ShardMsg) {
        match msg {
            ShardMsg::Inbound(SipMessage::Request(req), source) => {
                self.on_request(now, req, source)
            }
            ShardMsg::Inbound(SipMessage::Response(resp), source) => {
                if let Some((tx, resp)) = self.layer.on_response(now, resp, source) {
                    if let Some((owner, token)) = self.owners.get(&tx) {
                        let _ = owner.send(CallInput::Response {
                            token: *token,
                            resp,
                        });
                    }
                }
            }
            ShardMsg::Request {
                req,
                target,
                owner,
                token,
            } => {
                self.sw.metrics.sip_out.request(&req.method.to_string());
                let tx = self.layer.send_request(now, req, target);
                self.owners.insert(tx, (owner, token));
            }
            ShardMsg::Respond { tx, resp } => self.respond(now, tx, resp),
            ShardMsg::Undeliverable(req) => {
                self.layer.on_undeliverable(now, &req);
            }
            ShardMsg::Stateless { msg, target } => {
                match &msg {
                    SipMessage::Request(r) => {
                        self.sw.metrics.sip_out.request(&r.method.to_string())
                    }
                    SipMessage::Response(r) => {
                        self.sw.metrics.sip_out.response(r.status_code.code())
                    }
                }
                self.layer.send_stateless(msg, target);
            }
        }
    }

    fn respond(&mut self, now: Instant, tx: TxId, resp: Response) {
        let code = resp.status_code.code();
        if self.layer.send_response(now, tx, resp).is_ok() {
            self.sw.metrics.sip_out.response(code);
        }
    }

    fn reply(&mut self, now: Instant, tx: TxId, req: &Request, code: u16, reason: &str) {
        let resp = message::response(req, code, reason, Some(&message::random_token(10)));
        self.respond(now, tx, resp);
    }

    fn on_request(&mut self, now: Instant, req: Request, source: Target) {
        match self.layer.on_request(now, req, source) {
            Incoming::Absorbed => {}
            Incoming::Ack { request } => {
                let cid = message::call_id(&request.headers).unwrap_or("");
                let call = self.sw.calls.get(cid).map(|c| c.tx.clone());
                if let Some(call) = call {
                    let _ = call.send(CallInput::Ack { req: request });
                }
            }
            Incoming::Cancel {
                tx,
                invite_tx,
                request,
            } => {
                let owner = invite_tx.and_then(|i| self.owners.get(&i));
                match owner {
                    Some((owner, _)) => {
                        // the call answers the CANCEL itself, with its own To tag (§9.2)
                        let _ = owner.send(CallInput::Cancel { tx, req: request });
                    }
                    None => self.reply(now, tx, &request, 481, "Call/Transaction Does Not Exist"),
                }
            }
            Incoming::New { tx, request } => self.on_new(now, tx, request, source),
        }
    }

    fn on_new(&mut self, now: Instant, tx: TxId, req: Request, source: Target) {
        // Require/Proxy-Require: we support no extensions that must be required.
        let required: Vec<String> = req
            .headers
            .iter()
            .filter_map(|h| match h {
                Header::Require(v) => {
                    Some(rsip::headers::untyped::UntypedHeader::value(v).to_string())
                }
                Header::ProxyRequire(v) => {
                    Some(rsip::headers::untyped::UntypedHeader::value(v).to_string())
                }
                _ => None,
            })
            .flat_map(|v| {
                v.split(',')
                    .map(|s| s.trim().to_string())
                    .collect::<Vec<_>>()
            })
            .filter(|s| !s.is_empty())
            .collect();
        if !required.is_empty() {
            let mut r =
                message::response(&req, 420, "Bad Extension", Some(&message::random_token(10)));
            r.headers
                .push(Header::Unsupported(rsip::headers::Unsupported::from(
                    required.join(", "),
                )));
            return self.respond(now, tx, r);
        }
        let method = req.method;
        let in_dialog = has_to_tag(&req);
        if !matches!(method, rsip::Method::Register | rsip::Method::Options) {
            if let Some(mf) = message::header_value(&req.headers, "Max-Forwards") {
                match mf.trim().parse::<u32>() {
                    Ok(0) => return self.reply(now, tx, &req, 483, "Too Many Hops"),
                    Ok(_) => {}
                    Err(_) => {
                        return self.reply(
                            now,
                            tx,
                            &req,
                            400,
                            "Bad Request - Malformed Max-Forwards",
                        )
                    }
                }
            }
        }
        match method {
            rsip::Method::Register => {
                let resp = register::handle(&self.sw, &req, &source);
                self.respond(now, tx, resp);
            }
            rsip::Method::Options if !in_dialog => {
                let mut r = message::response(&req, 200, "OK", Some(&message::random_token(10)));
                r.headers
                    .push(Header::Allow(rsip::headers::Allow::from(ALLOW)));
                r.headers.push(Header::Accept(rsip::headers::Accept::from(
                    "application/sdp",
                )));
                self.respond(now, tx, r);
            }
            rsip::Method::Invite if !in_dialog => {
                if self.is_loop(&req) {
                    return self.reply(now, tx, &req, 482, "Loop Detected");
                }
                let Some(admission) = self.sw.admission().cloned() else {
                    return self.reply(now, tx, &req, 503, "Service Unavailable - Starting");
                };
                match admission.admit(&self.sw, tx, req, source) {
                    Ok(call) => {
                        self.owners.insert(tx, (call, calls::A_LEG_TOKEN));
                    }
                    Err(resp) => self.respond(now, tx, resp),
                }
            }
            _ if in_dialog => {
                let cid = message::call_id(&req.headers).unwrap_or("").to_string();
                let call = self.sw.calls.get(&cid).map(|c| c.tx.clone());
                match call {
                    Some(call) => {
                        let _ = call.send(CallInput::Request { tx, req, source });
                    }
                    None => self.reply(now, tx, &req, 481, "Call/Transaction Does Not Exist"),
                }
            }
            rsip::Method::Bye | rsip::Method::Info | rsip::Method::Update | rsip::Method::PRack => {
                self.reply(now, tx, &req, 481, "Call/Transaction Does Not Exist")
            }
            _ => {
                let mut r = message::response(
                    &req,
                    405,
                    "Method Not Allowed",
                    Some(&message::random_token(10)),
                );
                r.headers
                    .push(Header::Allow(rsip::headers::Allow::from(ALLOW)));
                self.respond(now, tx, r);
            }
        }
    }

    /// An INVITE that already passed through this switch (our Via sent-by with our
    /// branch prefix) is a loop.
    fn is_loop(&self, req: &Request) -> bool {
        let ours = [
            self.sw
                .local_host_port(crate::sip::target::TransportKind::Udp),
            self.sw
                .local_host_port(crate::sip::target::TransportKind::Tcp),
        ];
        req.headers.iter().any(|h| match h {
            Header::Via(v) => {
                let v = rsip::headers::untyped::UntypedHeader::value(v);
                message::via_sent_by(v).is_some_and(|(_, sb)| ours.iter().any(|o| o == sb))
                    && message::branch(v).is_some_and(|b| b.starts_with(calls::BRANCH_PREFIX))
            }
            _ => false,
        })
    }

    async fn flush(&mut self) {
        while let Some(ev) = self.layer.poll_event() {
            match ev {
                TxEvent::Timeout { tx } => {
                    if let Some((owner, token)) = self.owners.get(&tx) {
                        let _ = owner.send(CallInput::Timeout { token: *token });
                    }
                }
                TxEvent::TransportError { tx } => {
                    if let Some((owner, token)) = self.owners.get(&tx) {
                        let _ = owner.send(CallInput::TransportError { token: *token });
                    }
                }
                TxEvent::Terminated { tx } => {
                    self.owners.remove(&tx);
                }
            }
        }
        while let Some(t) = self.layer.poll_transmit() {
            if let Err(e) = self.sw.transports.send(&t.target, t.bytes).await {
                tracing::debug!(target = %t.target.addr, "send failed: {e}");
            }
        }
        let len = self.layer.len() as i64;
        self.sw
            .metrics
            .transactions
            .fetch_add(len - self.last_len, Relaxed);
        self.last_len = len;
    }
}
