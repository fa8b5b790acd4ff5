//! The legs a call opens: the caller's media leg (the session starts with it),
//! and for each dial round a B leg — channel, media leg with its own ports, the
//! SDP offer its forks carry — and the forks themselves, one per contact.

use super::*;

impl Call {
    /// Every registered device of an extension of the caller's account.
    pub(super) fn extension_contacts(&self, number: &str) -> Vec<Contact> {
        let bindings = self
            .sw
            .registrations
            .lookup(&self.origin.account.id, number, now_ms());
        let to = format!("<sip:{}@{}>", number, self.origin.account.sip_domain);
        bindings
            .into_iter()
            .map(|b| (b.uri, to.clone(), b.source))
            .collect()
    }

    /// The call's media session with the caller's leg, started on first use;
    /// false (and the caller answered 503) when no ports are left.
    pub(super) fn ensure_media(&mut self) -> bool {
        if self.media.is_some() {
            return true;
        }
        let Ok(pa) = self.sw.ports.allocate() else {
            tracing::error!(call = %self.id, "RTP ports exhausted");
            self.reject_no_ports();
            return false;
        };
        let (etx, erx) = mpsc::unbounded_channel();
        let mut media = session::spawn(self.sw.metrics.clone(), etx);
        let a_leg = self.leg(Side::A);
        media.add_leg(a_leg, pa);
        media.send(session::Cmd::SignallingIp {
            leg: a_leg,
            ip: self.a_source.addr.ip(),
        });
        self.media_events = Some(erx);
        self.media = Some(media);
        true
    }

    fn reject_no_ports(&mut self) {
        if self.a_final_sent {
            self.send_bye_a();
        } else {
            let r = message::response(
                &self.a_invite,
                503,
                "Service Unavailable - No Media Ports",
                Some(&self.a_tag),
            );
            self.respond_a(r);
        }
        self.finish(HangupCause::NetworkOutOfOrder);
    }

    /// The facts of a leg the switch places to `callee` in `account`: the
    /// caller's number and name, the callee's name, the way the call came.
    pub(super) fn placed_leg(&self, leg: LegId, account: &str, callee: &str) -> ChannelInfo {
        let mut info = leg_info(
            leg,
            self.id,
            account,
            "",
            Direction::Outbound,
            &self.origin.caller,
            callee,
        );
        info.caller_name = self.a_chan.info.caller_name.clone();
        info.callee_name = extension_name(&self.sw, account, callee);
        info.route = self.route.clone();
        info
    }

    /// Notes a step of the way the call came: the caller's leg carries it from now on.
    pub(super) fn route_changed(&mut self, f: impl FnOnce(&mut crate::events::Route)) {
        f(&mut self.route);
        self.a_chan.info.route = self.route.clone();
    }

    /// A new B leg (channel and media leg with its own ports) for the next
    /// dial; returns the SDP offer its forks carry (`Some(None)`: the caller
    /// made no offer, the callee will). `None`: the call was ended.
    pub(super) fn open_b_leg(&mut self, callee: &str) -> Option<Option<Vec<u8>>> {
        let Ok(pb) = self.sw.ports.allocate() else {
            tracing::error!(call = %self.id, "RTP ports exhausted");
            self.reject_no_ports();
            return None;
        };
        self.b_leg = LegId::new();
        self.browsers.clear_b();
        let (a_leg, b_leg) = (self.leg(Side::A), self.b_leg);
        let endpoint = self.endpoint;
        let port = self.media.as_mut()?.add_leg(b_leg, pb);
        let offer = if endpoint {
            // the switch answered the caller: it offers its own media to the callee
            self.sdp_session += 1;
            Some(negotiate::endpoint_offer(self.public_ip(), port, self.sdp_session).into_bytes())
        } else {
            self.media
                .as_mut()?
                .apply(session::Cmd::Bridge { a: a_leg, b: b_leg });
            if is_sdp(&self.a_invite.headers, &self.a_invite.body) {
                let body = self.a_invite.body.clone();
                match self.anchor_offer(Side::A, &body) {
                    Some(s) => Some(s),
                    None => {
                        let r = message::response(
                            &self.a_invite,
                            488,
                            "Not Acceptable Here - Unreadable SDP",
                            Some(&self.a_tag),
                        );
                        self.respond_a(r);
                        self.finish(HangupCause::CallRejected);
                        return None;
                    }
                }
            } else {
                None
            }
        };
        let b_chan = Channel::create(
            &self.sw.bus,
            &self.sw.metrics,
            self.placed_leg(b_leg, &self.origin.account.id.clone(), callee),
        );
        self.b_chan = Some(b_chan);
        Some(offer)
    }

    /// Sends one INVITE fork to each contact, all carrying `offer`.
    pub(super) fn ring(&mut self, targets: Vec<Contact>, offer: Option<Vec<u8>>) {
        let leg = self.forked_side().1;
        let forks = self.send_forks(targets, offer, Some(leg));
        self.forks.extend(forks);
    }

    /// One INVITE to each contact (routed back to this call), as forks;
    /// contacts registered over WebSocket are offered WebRTC for `leg`, the
    /// media leg the forks ring.
    pub(super) fn send_forks(
        &mut self,
        targets: Vec<Contact>,
        offer: Option<Vec<u8>>,
        leg: Option<LegId>,
    ) -> Vec<Fork> {
        let mut out = Vec::with_capacity(targets.len());
        for (uri, to, target) in targets {
            let token = self.token();
            let call_id = format!("{}@switchyard", message::random_token(20));
            let browser_leg = leg.filter(|_| target.kind.is_websocket());
            let (webrtc, body) = match browser_leg {
                Some(leg) => match self.browser_fork_offer(offer.as_deref(), leg) {
                    Some((rtc, body)) => (Some(rtc), Some(body)),
                    None => (None, offer.clone()),
                },
                None => (None, offer.clone()),
            };
            let invite = self.build_invite(&uri, &to, &call_id, target, body);
            self.sw.calls.insert(
                call_id.clone(),
                CallHandle {
                    id: self.id,
                    tx: self.me.clone(),
                },
            );
            self.sw.to_shard(
                &call_id,
                ShardMsg::Request {
                    req: invite.clone(),
                    target,
                    owner: self.me.clone(),
                    token,
                },
            );
            out.push(Fork {
                token,
                call_id,
                invite,
                target,
                provisional: false,
                cancel_pending: false,
                done: false,
                auth_tried: false,
                webrtc,
            });
        }
        out
    }
}

/// The display name of extension `number` of `account`, if it is one and has one.
pub(super) fn extension_name(sw: &Switch, account: &str, number: &str) -> Option<String> {
    sw.directory()
        .extension(account, number)
        .map(|e| e.display_name.clone())
        .filter(|n| !n.is_empty())
}
