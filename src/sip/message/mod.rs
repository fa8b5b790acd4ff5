//! The edge between raw bytes and rsip messages: parsing with the workarounds rsip
//! needs (compact header names, comma-joined Via/Contact lists, unknown methods,
//! folded header lines, LWS inside Via), validation of the mandatory headers and of
//! what rsip lets through (start line, duplicated single-value headers, malformed
//! name-addr and Via values — the RFC 4475 torture set, see `tests/rfc4475.rs`),
//! and small, allocation-light accessors and builders used by every layer above.
//! No IO here and no protocol state. Split: `edge` (raw-byte checks and rsip
//! workarounds), `access` (header and URI accessors), `build` (responses, bodies).

use rsip::{headers::untyped::UntypedHeader, Header, Headers, SipMessage};

mod access;
mod build;
mod edge;

pub use access::*;
pub use build::*;
use edge::*;
pub use edge::{raw_reject, split_list};

/// Largest SIP message accepted on any transport.
pub const MAX_MESSAGE: usize = 64 * 1024;

/// Methods the switch knows. Anything else gets 405 (Allow lists what we take).
pub const ALLOW: &str = "INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, INFO, UPDATE";

/// Why a message was refused at the edge.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ParseError {
    #[error("message of {len} bytes exceeds {max}")]
    TooLarge { len: usize, max: usize },
    #[error("unparseable message: {0}")]
    Syntax(String),
    #[error("missing {0} header")]
    Missing(&'static str),
    #[error("malformed {0} header")]
    BadHeader(&'static str),
    #[error("CSeq method does not match request method")]
    CSeqMismatch,
    #[error("unknown method {0}")]
    UnknownMethod(String),
    #[error("Content-Length {declared} larger than body {actual}")]
    ShortBody { declared: usize, actual: usize },
    #[error("malformed Request-Line")]
    BadRequestLine,
    #[error("unsupported SIP version {0}")]
    UnsupportedVersion(String),
    #[error("unsupported Request-URI scheme {0}")]
    UnsupportedScheme(String),
    #[error("more than one {0} header")]
    Duplicate(&'static str),
}

impl ParseError {
    /// Status code and reason phrase to answer a request refused for this error.
    pub fn status(&self) -> (u16, String) {
        match self {
            ParseError::TooLarge { .. } => (513, "Message Too Large".into()),
            ParseError::UnknownMethod(_) => (405, "Method Not Allowed".into()),
            ParseError::Missing(h) => (400, format!("Bad Request - Missing {h}")),
            ParseError::BadHeader(h) => (400, format!("Bad Request - Malformed {h}")),
            ParseError::CSeqMismatch => (400, "Bad Request - CSeq Method Mismatch".into()),
            ParseError::ShortBody { .. } => (400, "Bad Request - Content-Length Mismatch".into()),
            ParseError::Syntax(_) => (400, "Bad Request - Unparseable".into()),
            ParseError::BadRequestLine => (400, "Bad Request - Malformed Request-Line".into()),
            ParseError::UnsupportedVersion(_) => (505, "Version Not Supported".into()),
            ParseError::UnsupportedScheme(_) => (416, "Unsupported URI Scheme".into()),
            ParseError::Duplicate(h) => (400, format!("Bad Request - Multiple {h}")),
        }
    }
}

/// Parses and validates one complete SIP message (framing already done).
pub fn parse(bytes: &[u8]) -> Result<SipMessage, ParseError> {
    if bytes.len() > MAX_MESSAGE {
        return Err(ParseError::TooLarge {
            len: bytes.len(),
            max: MAX_MESSAGE,
        });
    }
    check_request_line(bytes)?;
    // rsip rejects folded header lines and `Name :` (RFC 4475 wsinv, longreq, esc01…).
    let unfolded = unfold(bytes);
    let bytes = unfolded.as_deref().unwrap_or(bytes);
    let mut msg = match SipMessage::try_from(bytes) {
        Ok(m) => m,
        Err(e) => {
            if let Some(method) = unknown_method(bytes) {
                // RFC 4475 mismatch02: 400 (or 501) rather than 405 when CSeq disagrees.
                return match raw_cseq_method(bytes) {
                    Some(m) if m != method => Err(ParseError::CSeqMismatch),
                    _ => Err(ParseError::UnknownMethod(method)),
                };
            }
            return Err(ParseError::Syntax(e.to_string()));
        }
    };
    match &mut msg {
        SipMessage::Request(r) => normalise(&mut r.headers),
        SipMessage::Response(r) => normalise(&mut r.headers),
    }
    validate(&mut msg)?;
    Ok(msg)
}

fn validate(msg: &mut SipMessage) -> Result<(), ParseError> {
    let req_method = match &*msg {
        SipMessage::Request(r) => Some(r.method.to_string()),
        SipMessage::Response(_) => None,
    };
    match msg {
        SipMessage::Request(r) => canonicalise_vias(&mut r.headers)?,
        SipMessage::Response(r) => canonicalise_vias(&mut r.headers)?,
    }
    let headers = match &*msg {
        SipMessage::Request(r) => &r.headers,
        SipMessage::Response(r) => &r.headers,
    };
    let via = top_via(headers).ok_or(ParseError::Missing("Via"))?;
    if !via.starts_with("SIP/2.0/") && !via.to_ascii_uppercase().starts_with("SIP/2.0/") {
        return Err(ParseError::BadHeader("Via"));
    }
    let from = from_value(headers).ok_or(ParseError::Missing("From"))?;
    let to = to_value(headers).ok_or(ParseError::Missing("To"))?;
    if !name_addr_ok(from) {
        return Err(ParseError::BadHeader("From"));
    }
    if !name_addr_ok(to) {
        return Err(ParseError::BadHeader("To"));
    }
    if contacts(headers).any(|c| !name_addr_ok(c)) {
        return Err(ParseError::BadHeader("Contact"));
    }
    // RFC 3261 §10.2: the To of a REGISTER is an address-of-record (RFC 4475 unksm2).
    if req_method.as_deref() == Some("REGISTER") {
        let scheme = uri_part(to).split(':').next().unwrap_or("");
        if !scheme.eq_ignore_ascii_case("sip") && !scheme.eq_ignore_ascii_case("sips") {
            return Err(ParseError::BadHeader("To"));
        }
    }
    let cid = call_id(headers).ok_or(ParseError::Missing("Call-ID"))?;
    check_single(headers)?;
    if cid.is_empty() {
        return Err(ParseError::BadHeader("Call-ID"));
    }
    let cseq_raw = header_value(headers, "CSeq").ok_or(ParseError::Missing("CSeq"))?;
    let (_, cseq_method) = parse_cseq(cseq_raw).ok_or(ParseError::BadHeader("CSeq"))?;
    if let Some(m) = req_method {
        if !cseq_method.eq_ignore_ascii_case(&m) {
            return Err(ParseError::CSeqMismatch);
        }
    }
    // Content-Length: a shorter declared length truncates (UDP may pad), longer is an error.
    let declared = match content_length(headers) {
        Some(Ok(n)) => Some(n),
        Some(Err(())) => return Err(ParseError::BadHeader("Content-Length")),
        None => None,
    };
    let body = msg.body_mut();
    if let Some(n) = declared {
        if n > body.len() {
            return Err(ParseError::ShortBody {
                declared: n,
                actual: body.len(),
            });
        }
        body.truncate(n);
    }
    Ok(())
}

fn content_length(headers: &Headers) -> Option<Result<usize, ()>> {
    headers.iter().find_map(|h| match h {
        Header::ContentLength(v) => Some(v.value().trim().parse::<usize>().map_err(|_| ())),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const INVITE: &str = "INVITE sip:1002@example.com SIP/2.0\r\n\
v: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1;rport, SIP/2.0/UDP 10.0.0.2;branch=z9hG4bK2\r\n\
f: \"A, B\" <sip:1001@example.com>;tag=abc\r\n\
t: <sip:1002@example.com>\r\n\
i: call-1\r\n\
CSeq: 1 INVITE\r\n\
m: <sip:1001@10.0.0.1>, <sip:1001@10.0.0.3>\r\n\
l: 4\r\n\r\nabcdEXTRA";

    #[test]
    fn compact_headers_and_lists_are_expanded() {
        let SipMessage::Request(r) = parse(INVITE.as_bytes()).expect("parses") else {
            panic!("not a request")
        };
        assert_eq!(call_id(&r.headers), Some("call-1"));
        assert_eq!(
            r.headers
                .iter()
                .filter(|h| matches!(h, Header::Via(_)))
                .count(),
            2
        );
        assert_eq!(contacts(&r.headers).count(), 2);
        assert_eq!(tag(from_value(&r.headers).unwrap_or_default()), Some("abc"));
        assert_eq!(r.body, b"abcd", "body truncated to Content-Length");
    }

    #[test]
    fn missing_headers_are_named() {
        let m = "OPTIONS sip:x@y SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKx\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:x@y>\r\nCSeq: 1 OPTIONS\r\n\r\n";
        assert_eq!(parse(m.as_bytes()), Err(ParseError::Missing("Call-ID")));
        let resp = raw_reject(m.as_bytes(), 400, "Bad Request - Missing Call-ID").expect("reply");
        let text = String::from_utf8(resp).expect("utf8");
        assert!(text.starts_with("SIP/2.0 400 Bad Request - Missing Call-ID\r\n"));
        assert!(text.contains("Via: SIP/2.0/UDP h;branch=z9hG4bKx\r\n"));
    }

    #[test]
    fn unknown_method_is_recognised() {
        let m = "NEWMETHOD sip:x@y SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKx\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:x@y>\r\nCall-ID: c\r\nCSeq: 1 NEWMETHOD\r\n\r\n";
        assert_eq!(
            parse(m.as_bytes()),
            Err(ParseError::UnknownMethod("NEWMETHOD".into()))
        );
    }

    #[test]
    fn cseq_mismatch_and_short_body_rejected() {
        let m = "BYE sip:x@y SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKx\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:x@y>\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n\r\n";
        assert_eq!(parse(m.as_bytes()), Err(ParseError::CSeqMismatch));
        let m = "BYE sip:x@y SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKx\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:x@y>\r\nCall-ID: c\r\nCSeq: 1 BYE\r\nContent-Length: 50\r\n\r\nabc";
        assert!(matches!(
            parse(m.as_bytes()),
            Err(ParseError::ShortBody { .. })
        ));
    }

    #[test]
    fn uri_helpers() {
        assert_eq!(
            uri_part("\"Bob\" <sip:1002@h:5070;transport=tcp>;tag=x"),
            "sip:1002@h:5070;transport=tcp"
        );
        assert_eq!(uri_user("sip:1002@h:5070"), Some("1002"));
        assert_eq!(uri_host("sip:1002@h:5070;transport=tcp"), Some("h"));
        assert_eq!(uri_host_port("sip:1002@h:5070;x"), Some(("h", Some(5070))));
        assert_eq!(uri_host_port("sip:[::1]:5070"), Some(("::1", Some(5070))));
        assert_eq!(uri_host_port("sip:h"), Some(("h", None)));
        assert_eq!(
            param("<sip:a@b;lr>;expires=60;q=0.5", "expires"),
            Some("60")
        );
        assert_eq!(
            split_list("<sip:a@b>;q=1, \"x,y\" <sip:c@d>"),
            vec!["<sip:a@b>;q=1", "\"x,y\" <sip:c@d>"]
        );
    }

    #[test]
    fn via_is_stamped() {
        let SipMessage::Request(mut r) = parse(INVITE.as_bytes()).expect("parses") else {
            panic!()
        };
        stamp_via(&mut r, "192.0.2.9:7000".parse().expect("addr"));
        let v = top_via(&r.headers).expect("via");
        assert!(v.ends_with(";received=192.0.2.9;rport=7000"), "{v}");
    }

    #[test]
    fn edge_fixes_for_rfc4475() {
        // folding and `Name :` are undone before rsip sees the message
        let m =
            "OPTIONS sip:x@y SIP/2.0\r\nVia  : SIP / 2.0\r\n /UDP h ;\r\n branch = z9hG4bKx\r\n\
From: <sip:a@b>;tag=1\r\nTo: <sip:x@y>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\n\r\n";
        let SipMessage::Request(r) = parse(m.as_bytes()).expect("parses") else {
            panic!("not a request")
        };
        assert_eq!(top_via(&r.headers), Some("SIP/2.0/UDP h;branch=z9hG4bKx"));
        assert_eq!(unfold(INVITE.as_bytes()), None, "nothing to do, no copy");
        assert_eq!(canonical_via("SIP/2.0/UDP 192.0.2.15;;"), None);
        assert_eq!(canonical_via(";"), None);
        // Request-Line
        let line = |l: &str| check_request_line(format!("{l}\r\nVia: x\r\n\r\n").as_bytes());
        assert_eq!(line("INVITE sip:a@b SIP/2.0"), Ok(()));
        assert_eq!(line("INVITE tel:+1555 SIP/2.0"), Ok(()));
        assert_eq!(
            line("INVITE  sip:a@b SIP/2.0"),
            Err(ParseError::BadRequestLine)
        );
        assert_eq!(
            line("INVITE sip:a@b SIP/2.0 "),
            Err(ParseError::BadRequestLine)
        );
        assert_eq!(
            line("INVITE <sip:a@b> SIP/2.0"),
            Err(ParseError::BadRequestLine)
        );
        assert_eq!(
            line("INVITE sip:a@b?Route=x SIP/2.0"),
            Err(ParseError::BadRequestLine)
        );
        assert_eq!(line("INVITE sip:a?b@h SIP/2.0"), Ok(()));
        assert_eq!(
            line("OPTIONS sip:a@b SIP/7.0"),
            Err(ParseError::UnsupportedVersion("SIP/7.0".into()))
        );
        assert_eq!(
            line("OPTIONS soap.beep://h:3002 SIP/2.0"),
            Err(ParseError::UnsupportedScheme("soap.beep".into()))
        );
        assert_eq!(
            line("SIP/2.0 4294967301 x"),
            Ok(()),
            "status lines are rsip's"
        );
        // name-addr
        for ok in [
            "\"A, B\" <sip:a@b>;tag=1",
            "caller<sip:c@h>;tag=3",
            "sip:a@b ;  tag = 1",
            "*",
            "J\u{fc}rgen <sip:j@h>",
        ] {
            assert!(name_addr_ok(ok), "{ok}");
        }
        for bad in [
            "\"Mr. J. User <sip:j@h>",
            "Bell, Alexander <sip:a@b>",
            "< sip:a@b >",
            "sip:a@b?Route=x",
            "\"Joe\" <sip:j@h>;;;;",
        ] {
            assert!(!name_addr_ok(bad), "{bad}");
        }
    }

    #[test]
    fn garbage_never_panics() {
        let mut seed = 7u64;
        for len in 0..400 {
            let mut buf = INVITE.as_bytes()[..len.min(INVITE.len())].to_vec();
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
            if !buf.is_empty() {
                let i = (seed >> 33) as usize % buf.len();
                buf[i] = (seed >> 13) as u8;
            }
            let _ = parse(&buf);
            let _ = raw_reject(&buf, 400, "Bad Request");
        }
    }
}
