//! Serialising messages to the bytes kept for (re)transmission, and building
//! the ACK a client INVITE transaction sends for a non-2xx final response
//! (RFC 3261 §17.1.1.3).
//!
//! Encoding is done here rather than with rsip's `Into<Bytes>` because rsip
//! renders the body through `String::from_utf8_lossy`, which corrupts binary
//! bodies. This module holds no state and never touches transaction states.

use std::fmt::Write as _;

use bytes::Bytes;
use rsip::headers::UntypedHeader;
use rsip::{Header, Headers, Method, Request, Response, SipMessage};

fn push_headers(out: &mut String, headers: &Headers) {
    for h in headers.iter() {
        // Writing into a String cannot fail.
        let _ = write!(out, "{h}\r\n");
    }
    out.push_str("\r\n");
}

fn finish(head: String, body: &[u8]) -> Bytes {
    let mut buf = head.into_bytes();
    buf.extend_from_slice(body);
    Bytes::from(buf)
}

/// Wire form of a request: start line, headers, blank line, body bytes as-is.
pub(crate) fn encode_request(req: &Request) -> Bytes {
    let mut head = String::with_capacity(512);
    let _ = write!(head, "{} {} {}\r\n", req.method, req.uri, req.version);
    push_headers(&mut head, &req.headers);
    finish(head, &req.body)
}

/// Wire form of a response.
pub(crate) fn encode_response(resp: &Response) -> Bytes {
    let mut head = String::with_capacity(512);
    let _ = write!(head, "{} {}\r\n", resp.version, resp.status_code);
    push_headers(&mut head, &resp.headers);
    finish(head, &resp.body)
}

/// Wire form of any message.
pub(crate) fn encode(msg: &SipMessage) -> Bytes {
    match msg {
        SipMessage::Request(r) => encode_request(r),
        SipMessage::Response(r) => encode_response(r),
    }
}

fn is_named(name: &str, long: &str, compact: &str) -> bool {
    name.eq_ignore_ascii_case(long) || name.eq_ignore_ascii_case(compact)
}

/// The ACK for a non-2xx final response to `invite` (§17.1.1.3): same
/// Request-URI, only the top Via, From, Call-ID and Route copied from the
/// INVITE, To taken from the response (it carries the tag), CSeq with the
/// INVITE's number and method ACK, no body.
pub(crate) fn build_non2xx_ack(
    invite: &Request,
    resp: &Response,
    top_via: &str,
    seq: u32,
) -> Request {
    let mut headers = Headers::default();
    headers.push(Header::Via(rsip::headers::Via::new(top_via)));
    let mut max_forwards = None;
    for h in invite.headers.iter() {
        match h {
            Header::From(_) | Header::CallId(_) | Header::Route(_) => headers.push(h.clone()),
            Header::MaxForwards(_) => max_forwards = Some(h.clone()),
            Header::Other(name, _)
                if is_named(name, "From", "f") || is_named(name, "Call-ID", "i") =>
            {
                headers.push(h.clone())
            }
            _ => {}
        }
    }
    let to = resp.headers.iter().find(|h| match h {
        Header::To(_) => true,
        Header::Other(name, _) => name.eq_ignore_ascii_case("t"),
        _ => false,
    });
    if let Some(to) = to {
        headers.push(to.clone());
    }
    headers.push(Header::CSeq(rsip::headers::CSeq::new(format!(
        "{seq} {}",
        Method::Ack
    ))));
    headers.push(
        max_forwards.unwrap_or_else(|| Header::MaxForwards(rsip::headers::MaxForwards::new("70"))),
    );
    headers.push(Header::ContentLength(rsip::headers::ContentLength::new(
        "0",
    )));
    Request {
        method: Method::Ack,
        uri: invite.uri.clone(),
        version: invite.version.clone(),
        headers,
        body: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_body_survives_encoding() {
        let mut req = Request::try_from(
            "MESSAGE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nCSeq: 1 MESSAGE\r\nContent-Length: 3\r\n\r\n",
        )
        .expect("parse");
        req.body = vec![0xff, 0x00, 0xfe];
        let bytes = encode_request(&req);
        assert!(bytes.ends_with(&[b'\r', b'\n', b'\r', b'\n', 0xff, 0x00, 0xfe]));
        assert!(
            bytes.starts_with(b"MESSAGE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n")
        );
    }

    #[test]
    fn encoded_response_parses_back() {
        let text = "SIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n";
        let resp = Response::try_from(text).expect("parse");
        let bytes = encode_response(&resp);
        assert_eq!(&bytes[..], text.as_bytes());
    }
}
