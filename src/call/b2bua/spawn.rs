//! A call's construction: its channels, the task's state and its inputs, for
//! a caller's INVITE (`spawn`) or a call the switch places itself
//! (`Start::Originate`, used by `originate`).

use super::legs::extension_name;
use super::*;

/// How a call starts: from a caller's INVITE, or placed by the switch.
#[allow(clippy::large_enum_variant)]
pub(in crate::call) enum Start {
    Inbound {
        tx: TxId,
        invite: Request,
        source: Target,
    },
    /// No inbound leg: the switch rings `dialled` (an extension) as the first
    /// leg and runs `then` for it once it answers.
    Originate {
        then: Arc<crate::routing::Callflow>,
        click: Option<super::originate::ClickToCall>,
        /// How long the first leg may ring (default: the switch's ring timeout).
        ring: Option<std::time::Duration>,
    },
}

/// Starts the task of a call a caller's INVITE placed.
#[allow(clippy::too_many_arguments)]
pub fn spawn(
    sw: Arc<Switch>,
    acd: crate::call::acd::AcdHandle,
    tx: TxId,
    invite: Request,
    source: Target,
    origin: Origin,
    destination: Destination,
    dialled: String,
) -> CallHandle {
    let start = Start::Inbound { tx, invite, source };
    spawn_call(sw, acd, start, origin, destination, dialled)
}

pub(in crate::call) fn spawn_call(
    sw: Arc<Switch>,
    acd: crate::call::acd::AcdHandle,
    start: Start,
    origin: Origin,
    destination: Destination,
    dialled: String,
) -> CallHandle {
    let id = CallId::new();
    let (me, rx) = mpsc::unbounded_channel();
    let (flow_tx, flow_rx) = mpsc::unbounded_channel();
    let (mailbox_tx, mailbox_rx) = mpsc::unbounded_channel();
    let (queue_tx, queue_rx) = mpsc::unbounded_channel();
    let (agent_tx, agent_rx) = mpsc::unbounded_channel();
    let handle = CallHandle { id, tx: me.clone() };
    let mut ring_timeout = sw.settings.ring_timeout;
    let (tx, invite, source, direction, originating, click) = match start {
        Start::Inbound { tx, invite, source } => {
            (tx, invite, source, Direction::Inbound, None, None)
        }
        Start::Originate { then, click, ring } => (
            {
                ring_timeout = ring.unwrap_or(ring_timeout);
                // no server transaction: nothing is ever answered on it
                TxId(u64::MAX)
            },
            placeholder_invite(),
            Target {
                kind: TransportKind::Udp,
                addr: SocketAddr::from(([0, 0, 0, 0], 0)),
                conn: None,
            },
            Direction::Outbound,
            Some(then),
            click,
        ),
    };
    let a_call_id = message::call_id(&invite.headers).unwrap_or("").to_string();
    if !a_call_id.is_empty() {
        sw.calls.insert(a_call_id.clone(), handle.clone());
    }
    sw.calls_by_id.insert(id, handle.clone());
    sw.metrics.active_calls.fetch_add(1, Relaxed);
    sw.metrics.calls_total.fetch_add(1, Relaxed);
    let mut a_info = leg_info(
        LegId::new(),
        id,
        &origin.account.id,
        &a_call_id,
        direction,
        &origin.caller,
        &dialled,
    );
    a_info.caller_name = origin.display_name.clone().filter(|n| !n.is_empty());
    a_info.callee_name = extension_name(&sw, &origin.account.id, &dialled);
    let a_chan = Channel::create(&sw.bus, &sw.metrics, a_info);
    let mut busy_marks = Vec::new();
    if !origin.from_trunk
        && originating.is_none()
        && sw
            .directory()
            .extension(&origin.account.id, &origin.caller)
            .is_some()
    {
        sw.mark_busy(&origin.account.id, &origin.caller);
        busy_marks.push(origin.caller.clone());
    }
    let call = Call {
        sw,
        acd,
        id,
        me,
        origin,
        destination,
        dialled,
        a_tx: tx,
        a_invite: invite,
        a_source: source,
        a_call_id,
        a_tag: message::random_token(12),
        a_dialog: None,
        a_chan,
        b_leg: LegId::new(),
        // an originated call has nobody to answer: its first leg is dialled
        a_final_sent: originating.is_some(),
        a_200: None,
        a_acked: false,
        a_sent_180: false,
        forks: Vec::new(),
        best_failure: None,
        b: None,
        b_chan: None,
        media: None,
        media_events: None,
        last_offer: None,
        offer_holds: false,
        hold_generation: Arc::default(),
        on_hold: None,
        sdp_session: rand::random::<u32>() as u64,
        app: None,
        app_waiting: None,
        endpoint: false,
        a_rate: None,
        flow: None,
        dialing: None,
        prompt: None,
        voicemail: None,
        flow_tx,
        mailbox_tx,
        queued: None,
        route: Default::default(),
        queue_tx,
        agent_tx,
        originating,
        ring_timeout,
        a_forking: false,
        click,
        busy_marks,
        b_mark: None,
        answered_by: None,
        flow_deferred: None,
        extra: Vec::new(),
        collects: Vec::new(),
        cmd_plays: HashMap::new(),
        next_cmd_play: 0,
        pending: HashMap::new(),
        browsers: Default::default(),
        next_token: 1,
        ended: false,
        released: false,
        cause: HangupCause::NormalClearing,
    };
    tokio::spawn(call.run(rx, flow_rx, mailbox_rx, queue_rx, agent_rx));
    handle
}

/// The inbound INVITE an originated call does not have.
fn placeholder_invite() -> Request {
    Request {
        method: rsip::Method::Invite,
        uri: rsip::Uri::default(),
        version: rsip::Version::V2,
        headers: rsip::Headers::default(),
        body: Vec::new(),
    }
}
