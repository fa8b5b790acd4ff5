//! Dialog state (RFC 3261 §12) without IO: identifiers, sequence numbers, remote
//! target and route set, built from an INVITE and its response on either side,
//! and the construction of in-dialog requests (BYE, re-INVITE, ACK for 2xx).

use rsip::{Header, Headers, Request, Response};

use crate::sip::message;

#[derive(Clone, Debug)]
pub struct Dialog {
    pub call_id: String,
    /// Our name-addr without tag (what goes into From on requests we send).
    pub local_uri: String,
    pub local_tag: String,
    pub remote_uri: String,
    pub remote_tag: String,
    /// Where in-dialog requests are addressed (the peer's Contact).
    pub remote_target: String,
    pub route_set: Vec<String>,
    pub local_seq: u32,
    pub remote_seq: u32,
}

/// A From/To value without its tag parameter.
pub fn strip_tag(v: &str) -> String {
    let (head, tail) = match v.rfind('>') {
        Some(i) => (&v[..=i], &v[i + 1..]),
        None => match v.find(';') {
            Some(i) => (&v[..i], &v[i..]),
            None => (v, ""),
        },
    };
    let mut out = head.to_string();
    for p in tail.split(';').filter(|p| !p.trim().is_empty()) {
        if !p.trim().to_ascii_lowercase().starts_with("tag=") {
            out.push(';');
            out.push_str(p.trim());
        }
    }
    out
}

fn record_routes(headers: &Headers) -> Vec<String> {
    headers
        .iter()
        .filter_map(|h| match h {
            Header::RecordRoute(r) => {
                Some(rsip::headers::untyped::UntypedHeader::value(r).to_string())
            }
            _ => None,
        })
        .flat_map(|v| {
            message::split_list(&v)
                .into_iter()
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect()
}

impl Dialog {
    /// The dialog we hold as caller, from the INVITE we sent and a 1xx/2xx with a To tag.
    pub fn uac(invite: &Request, resp: &Response) -> Option<Dialog> {
        let to = message::to_value(&resp.headers)?;
        let from = message::from_value(&invite.headers)?;
        let mut routes = record_routes(&resp.headers);
        routes.reverse();
        Some(Dialog {
            call_id: message::call_id(&invite.headers)?.to_string(),
            local_uri: strip_tag(from),
            local_tag: message::tag(from)?.to_string(),
            remote_uri: strip_tag(to),
            remote_tag: message::tag(to)?.to_string(),
            remote_target: message::contacts(&resp.headers)
                .next()
                .map(|c| message::uri_part(c).to_string())
                .unwrap_or_else(|| invite.uri.to_string()),
            route_set: routes,
            local_seq: message::cseq(&invite.headers)?.0,
            remote_seq: 0,
        })
    }

    /// The dialog we hold as callee, from the INVITE we received and our To tag.
    pub fn uas(invite: &Request, local_tag: &str) -> Option<Dialog> {
        let from = message::from_value(&invite.headers)?;
        let to = message::to_value(&invite.headers)?;
        Some(Dialog {
            call_id: message::call_id(&invite.headers)?.to_string(),
            local_uri: strip_tag(to),
            local_tag: local_tag.to_string(),
            remote_uri: strip_tag(from),
            remote_tag: message::tag(from).unwrap_or("").to_string(),
            remote_target: message::contacts(&invite.headers)
                .next()
                .map(|c| message::uri_part(c).to_string())
                .unwrap_or_default(),
            route_set: record_routes(&invite.headers),
            local_seq: 0,
            remote_seq: message::cseq(&invite.headers)?.0,
        })
    }

    /// Builds a request within the dialog. `cseq` None takes the next local sequence.
    pub fn request(
        &mut self,
        method: rsip::Method,
        via: String,
        contact: Option<&str>,
        cseq: Option<u32>,
    ) -> Request {
        let seq = match cseq {
            Some(s) => s,
            None => {
                self.local_seq += 1;
                self.local_seq
            }
        };
        let uri = rsip::Uri::try_from(self.remote_target.as_str()).unwrap_or_default();
        let mut headers = Headers::default();
        headers.push(Header::Via(rsip::headers::Via::from(via)));
        headers.push(Header::MaxForwards(rsip::headers::MaxForwards::from("70")));
        headers.push(Header::From(rsip::headers::From::from(format!(
            "{};tag={}",
            self.local_uri, self.local_tag
        ))));
        let to = if self.remote_tag.is_empty() {
            self.remote_uri.clone()
        } else {
            format!("{};tag={}", self.remote_uri, self.remote_tag)
        };
        headers.push(Header::To(rsip::headers::To::from(to)));
        headers.push(Header::CallId(rsip::headers::CallId::from(
            self.call_id.clone(),
        )));
        headers.push(Header::CSeq(rsip::headers::CSeq::from(format!(
            "{seq} {method}"
        ))));
        for r in &self.route_set {
            headers.push(Header::Route(rsip::headers::Route::from(r.clone())));
        }
        if let Some(c) = contact {
            headers.push(Header::Contact(rsip::headers::Contact::from(c.to_string())));
        }
        headers.push(Header::ContentLength(rsip::headers::ContentLength::from(
            "0",
        )));
        Request {
            method,
            uri,
            version: rsip::Version::V2,
            headers,
            body: Vec::new(),
        }
    }

    /// Checks and records the CSeq of a request the peer sent in this dialog;
    /// false when it is out of order (RFC 3261 §12.2.2: answer 500).
    pub fn accept_remote_seq(&mut self, seq: u32) -> bool {
        if self.remote_seq != 0 && seq <= self.remote_seq {
            return false;
        }
        self.remote_seq = seq;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(s: &str) -> Request {
        match message::parse(s.as_bytes()) {
            Ok(rsip::SipMessage::Request(r)) => r,
            other => panic!("{other:?}"),
        }
    }
    fn resp(s: &str) -> Response {
        match message::parse(s.as_bytes()) {
            Ok(rsip::SipMessage::Response(r)) => r,
            other => panic!("{other:?}"),
        }
    }

    const INVITE: &str = "INVITE sip:1002@10.0.0.2:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.9:5060;branch=z9hG4bKa\r\nFrom: \"Alice\" <sip:1001@d>;tag=ft\r\nTo: <sip:1002@d>\r\nCall-ID: cid\r\nCSeq: 7 INVITE\r\nContact: <sip:1001@10.0.0.1:5062>\r\nRecord-Route: <sip:p1;lr>, <sip:p2;lr>\r\nContent-Length: 0\r\n\r\n";

    #[test]
    fn uas_dialog_builds_bye() {
        let inv = req(INVITE);
        let mut d = Dialog::uas(&inv, "ours").expect("dialog");
        assert_eq!(d.remote_target, "sip:1001@10.0.0.1:5062");
        assert_eq!(d.remote_seq, 7);
        let bye = d.request(
            rsip::Method::Bye,
            "SIP/2.0/UDP me;branch=z9hG4bKb".into(),
            None,
            None,
        );
        let text = bye.to_string();
        assert!(
            text.starts_with("BYE sip:1001@10.0.0.1:5062 SIP/2.0\r\n"),
            "{text}"
        );
        assert!(text.contains("From: <sip:1002@d>;tag=ours\r\n"), "{text}");
        assert!(
            text.contains("To: \"Alice\" <sip:1001@d>;tag=ft\r\n"),
            "{text}"
        );
        assert!(text.contains("CSeq: 1 BYE\r\n"), "{text}");
        assert!(
            text.contains("Route: <sip:p1;lr>\r\nRoute: <sip:p2;lr>\r\n"),
            "{text}"
        );
        assert!(!d.accept_remote_seq(7));
        assert!(d.accept_remote_seq(8));
    }

    #[test]
    fn uac_dialog_from_200() {
        let inv = req(INVITE);
        let ok = resp("SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 10.0.0.9:5060;branch=z9hG4bKa\r\nFrom: \"Alice\" <sip:1001@d>;tag=ft\r\nTo: <sip:1002@d>;tag=tt\r\nCall-ID: cid\r\nCSeq: 7 INVITE\r\nContact: <sip:1002@10.0.0.2:5099>\r\nRecord-Route: <sip:p2;lr>, <sip:p1;lr>\r\nContent-Length: 0\r\n\r\n");
        let mut d = Dialog::uac(&inv, &ok).expect("dialog");
        assert_eq!(d.remote_tag, "tt");
        assert_eq!(
            d.route_set,
            vec!["<sip:p1;lr>".to_string(), "<sip:p2;lr>".to_string()]
        );
        let ack = d.request(
            rsip::Method::Ack,
            "SIP/2.0/UDP me;branch=z9hG4bKc".into(),
            None,
            Some(7),
        );
        assert!(ack.to_string().contains("CSeq: 7 ACK\r\n"));
        assert_eq!(d.local_seq, 7, "ACK does not advance the sequence");
        let bye = d.request(
            rsip::Method::Bye,
            "SIP/2.0/UDP me;branch=z9hG4bKd".into(),
            None,
            None,
        );
        assert!(bye.to_string().contains("CSeq: 8 BYE\r\n"));
        assert_eq!(strip_tag("<sip:a@b>;tag=1;x=2"), "<sip:a@b>;x=2");
        assert_eq!(strip_tag("sip:a@b;tag=1"), "sip:a@b");
    }
}
