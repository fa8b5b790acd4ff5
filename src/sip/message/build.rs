//! Builders: responses to a request, bodies with a correct Content-Length, Via
//! stamping (received/rport), random tokens and serialisation.

use rsip::{headers::untyped::UntypedHeader, Header, Headers, Request, Response, SipMessage};
use std::net::SocketAddr;

use super::access::*;

/// Builds a response to `req`, copying Via, From, To, Call-ID and CSeq, adding a To
/// tag for non-100 responses when the request had none.
pub fn response(req: &Request, code: u16, reason: &str, to_tag: Option<&str>) -> Response {
    let mut headers = Headers::default();
    for h in req.headers.iter() {
        match h {
            Header::Via(_) | Header::From(_) | Header::CallId(_) | Header::CSeq(_) => {
                headers.push(h.clone())
            }
            Header::To(t) => {
                let v = t.value();
                if code > 100 && tag(v).is_none() {
                    if let Some(tt) = to_tag {
                        headers.push(Header::To(rsip::headers::To::new(format!("{v};tag={tt}"))));
                        continue;
                    }
                }
                headers.push(h.clone());
            }
            _ => {}
        }
    }
    headers.push(Header::Server(rsip::headers::Server::new("Switchyard")));
    headers.push(Header::ContentLength(rsip::headers::ContentLength::new(
        "0",
    )));
    Response {
        status_code: rsip::StatusCode::Other(code, reason.to_string()),
        version: rsip::Version::V2,
        headers,
        body: Vec::new(),
    }
}

/// Sets the body and the Content-Length header (and Content-Type when given).
pub fn set_body(headers: &mut Headers, body: &mut Vec<u8>, new_body: Vec<u8>, ctype: Option<&str>) {
    headers.retain(|h| !matches!(h, Header::ContentLength(_)));
    if let Some(ct) = ctype {
        headers.retain(|h| !matches!(h, Header::ContentType(_)));
        headers.push(Header::ContentType(rsip::headers::ContentType::new(ct)));
    }
    headers.push(Header::ContentLength(rsip::headers::ContentLength::new(
        new_body.len().to_string(),
    )));
    *body = new_body;
}

/// Adds `received`/`rport` to the top Via of a request (RFC 3261 §18.2.1, RFC 3581).
pub fn stamp_via(req: &mut Request, source: SocketAddr) {
    let Some(h) = req.headers.iter_mut().find(|h| matches!(h, Header::Via(_))) else {
        return;
    };
    let Header::Via(via) = h else { return };
    let v = via.value();
    let has_rport = param(v, "rport").is_some();
    let ip = source.ip().to_string();
    let sent_by_host = v
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.split([';', ':']).next())
        .unwrap_or("");
    let mut out = String::with_capacity(v.len() + 40);
    for (i, p) in v.split(';').enumerate() {
        if i > 0 {
            let key = p.split('=').next().unwrap_or("").trim();
            if key.eq_ignore_ascii_case("rport") || key.eq_ignore_ascii_case("received") {
                continue;
            }
            out.push(';');
        }
        out.push_str(p);
    }
    if has_rport || sent_by_host != ip {
        out.push_str(";received=");
        out.push_str(&ip);
    }
    if has_rport {
        out.push_str(";rport=");
        out.push_str(&source.port().to_string());
    }
    *via = rsip::headers::Via::new(out);
}

/// A fresh random token for tags and Call-IDs.
pub fn random_token(len: usize) -> String {
    use rand::Rng;
    const ALPHA: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::thread_rng();
    (0..len)
        .map(|_| ALPHA[rng.gen_range(0..ALPHA.len())] as char)
        .collect()
}

pub fn serialize(msg: &SipMessage) -> bytes::Bytes {
    bytes::Bytes::from(msg.to_string())
}
