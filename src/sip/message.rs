//! The edge between raw bytes and rsip messages: parsing with the workarounds rsip
//! needs (compact header names, comma-joined Via/Contact lists, unknown methods),
//! validation of the mandatory headers, and small, allocation-light accessors and
//! builders used by every layer above. No IO here and no protocol state.

use rsip::{headers::untyped::UntypedHeader, Header, Headers, Request, Response, SipMessage};
use std::net::SocketAddr;

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
        }
    }
}

fn expand_compact(name: &str) -> Option<&'static str> {
    if name.len() != 1 {
        return None;
    }
    Some(match name.as_bytes()[0].to_ascii_lowercase() {
        b'v' => "Via",
        b'f' => "From",
        b't' => "To",
        b'i' => "Call-ID",
        b'm' => "Contact",
        b'l' => "Content-Length",
        b'c' => "Content-Type",
        b'k' => "Supported",
        b's' => "Subject",
        b'e' => "Content-Encoding",
        _ => return None,
    })
}

fn typed_header(name: &str, value: String) -> Header {
    use rsip::headers::*;
    match name {
        "Via" => Header::Via(Via::new(value)),
        "From" => Header::From(From::new(value)),
        "To" => Header::To(To::new(value)),
        "Call-ID" => Header::CallId(CallId::new(value)),
        "Contact" => Header::Contact(Contact::new(value)),
        "Content-Length" => Header::ContentLength(ContentLength::new(value)),
        "Content-Type" => Header::ContentType(ContentType::new(value)),
        "Supported" => Header::Supported(Supported::new(value)),
        "Subject" => Header::Subject(Subject::new(value)),
        "Content-Encoding" => Header::ContentEncoding(ContentEncoding::new(value)),
        other => Header::Other(other.to_string(), value),
    }
}

/// Splits a header value on commas that are outside quotes and angle brackets.
pub fn split_list(value: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut quoted, mut angle, mut start) = (false, false, 0);
    let bytes = value.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if quoted => i += 1,
            b'"' => quoted = !quoted,
            b'<' if !quoted => angle = true,
            b'>' if !quoted => angle = false,
            b',' if !quoted && !angle => {
                let part = value[start..i].trim();
                if !part.is_empty() {
                    out.push(part);
                }
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    if start <= value.len() {
        let part = value[start..].trim();
        if !part.is_empty() {
            out.push(part);
        }
    }
    out
}

/// Rewrites rsip's header list: compact names expanded, Via and Contact lists split.
fn normalise(headers: &mut Headers) {
    let needs = headers.iter().any(|h| match h {
        Header::Other(name, _) => expand_compact(name).is_some(),
        Header::Via(v) => v.value().contains(','),
        Header::Contact(c) => c.value().contains(','),
        _ => false,
    });
    if !needs {
        return;
    }
    let old = std::mem::take(headers);
    for h in old {
        match h {
            Header::Other(name, value) => match expand_compact(&name) {
                Some(full) if full == "Via" || full == "Contact" => {
                    for part in split_list(&value) {
                        headers.push(typed_header(full, part.to_string()));
                    }
                }
                Some(full) => headers.push(typed_header(full, value)),
                None => headers.push(Header::Other(name, value)),
            },
            Header::Via(v) if v.value().contains(',') => {
                for part in split_list(v.value()) {
                    headers.push(typed_header("Via", part.to_string()));
                }
            }
            Header::Contact(c) if c.value().contains(',') => {
                for part in split_list(c.value()) {
                    headers.push(typed_header("Contact", part.to_string()));
                }
            }
            other => headers.push(other),
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
    let mut msg = match SipMessage::try_from(bytes) {
        Ok(m) => m,
        Err(e) => {
            if let Some(method) = unknown_method(bytes) {
                return Err(ParseError::UnknownMethod(method));
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

/// If the request line is well formed but names a method rsip does not know.
fn unknown_method(bytes: &[u8]) -> Option<String> {
    let line_end = bytes.iter().position(|&b| b == b'\r' || b == b'\n')?;
    let line = std::str::from_utf8(&bytes[..line_end]).ok()?;
    let mut parts = line.split(' ');
    let method = parts.next()?;
    let _uri = parts.next()?;
    let version = parts.next()?;
    if version != "SIP/2.0" || method.is_empty() {
        return None;
    }
    let token = |c: char| c.is_ascii_alphanumeric() || "-.!%*_+`'~".contains(c);
    if method.chars().all(token) && method.parse::<rsip::Method>().is_err() {
        Some(method.to_string())
    } else {
        None
    }
}

fn validate(msg: &mut SipMessage) -> Result<(), ParseError> {
    let req_method = match &*msg {
        SipMessage::Request(r) => Some(r.method.to_string()),
        SipMessage::Response(_) => None,
    };
    let headers = match &*msg {
        SipMessage::Request(r) => &r.headers,
        SipMessage::Response(r) => &r.headers,
    };
    let via = top_via(headers).ok_or(ParseError::Missing("Via"))?;
    if !via.starts_with("SIP/2.0/") && !via.to_ascii_uppercase().starts_with("SIP/2.0/") {
        return Err(ParseError::BadHeader("Via"));
    }
    from_value(headers).ok_or(ParseError::Missing("From"))?;
    to_value(headers).ok_or(ParseError::Missing("To"))?;
    let cid = call_id(headers).ok_or(ParseError::Missing("Call-ID"))?;
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

/// Value of the first header with this name (case-insensitive), any variant.
pub fn header_value<'a>(headers: &'a Headers, name: &str) -> Option<&'a str> {
    headers.iter().find_map(|h| match (h, name) {
        (Header::CSeq(v), n) if n.eq_ignore_ascii_case("CSeq") => Some(v.value()),
        (Header::Require(v), n) if n.eq_ignore_ascii_case("Require") => Some(v.value()),
        (Header::ProxyRequire(v), n) if n.eq_ignore_ascii_case("Proxy-Require") => Some(v.value()),
        (Header::MaxForwards(v), n) if n.eq_ignore_ascii_case("Max-Forwards") => Some(v.value()),
        (Header::Expires(v), n) if n.eq_ignore_ascii_case("Expires") => Some(v.value()),
        (Header::ContentType(v), n) if n.eq_ignore_ascii_case("Content-Type") => Some(v.value()),
        (Header::UserAgent(v), n) if n.eq_ignore_ascii_case("User-Agent") => Some(v.value()),
        (Header::Authorization(v), n) if n.eq_ignore_ascii_case("Authorization") => Some(v.value()),
        (Header::ProxyAuthorization(v), n) if n.eq_ignore_ascii_case("Proxy-Authorization") => {
            Some(v.value())
        }
        (Header::WwwAuthenticate(v), n) if n.eq_ignore_ascii_case("WWW-Authenticate") => {
            Some(v.value())
        }
        (Header::ProxyAuthenticate(v), n) if n.eq_ignore_ascii_case("Proxy-Authenticate") => {
            Some(v.value())
        }
        (Header::Other(k, v), n) if k.eq_ignore_ascii_case(n) => Some(v.as_str()),
        _ => None,
    })
}

pub fn top_via(headers: &Headers) -> Option<&str> {
    headers.iter().find_map(|h| match h {
        Header::Via(v) => Some(v.value()),
        _ => None,
    })
}

pub fn call_id(headers: &Headers) -> Option<&str> {
    headers.iter().find_map(|h| match h {
        Header::CallId(v) => Some(v.value().trim()),
        _ => None,
    })
}

pub fn from_value(headers: &Headers) -> Option<&str> {
    headers.iter().find_map(|h| match h {
        Header::From(v) => Some(v.value()),
        _ => None,
    })
}

pub fn to_value(headers: &Headers) -> Option<&str> {
    headers.iter().find_map(|h| match h {
        Header::To(v) => Some(v.value()),
        _ => None,
    })
}

pub fn contacts(headers: &Headers) -> impl Iterator<Item = &str> {
    headers.iter().filter_map(|h| match h {
        Header::Contact(v) => Some(v.value()),
        _ => None,
    })
}

/// `CSeq: 42 INVITE` → (42, "INVITE").
pub fn parse_cseq(v: &str) -> Option<(u32, &str)> {
    let mut it = v.split_whitespace();
    let n = it.next()?.parse::<u32>().ok()?;
    let m = it.next()?;
    if it.next().is_some() {
        return None;
    }
    Some((n, m))
}

pub fn cseq(headers: &Headers) -> Option<(u32, &str)> {
    parse_cseq(header_value(headers, "CSeq")?)
}

/// A header parameter (after the URI part of a name-addr), e.g. `tag` or `expires`.
pub fn param<'a>(value: &'a str, name: &str) -> Option<&'a str> {
    // parameters follow the closing '>' when there is one, else the whole value
    let tail = match value.rfind('>') {
        Some(i) => &value[i + 1..],
        None => value,
    };
    for p in tail.split(';').skip(1) {
        let (k, v) = match p.split_once('=') {
            Some((k, v)) => (k.trim(), v.trim()),
            None => (p.trim(), ""),
        };
        if k.eq_ignore_ascii_case(name) {
            return Some(v.trim_matches('"'));
        }
    }
    None
}

pub fn tag(value: &str) -> Option<&str> {
    param(value, "tag").filter(|t| !t.is_empty())
}

/// The branch parameter of a Via value.
pub fn branch(via: &str) -> Option<&str> {
    param(via, "branch").filter(|b| !b.is_empty())
}

/// The URI of a name-addr or addr-spec (`"Bob" <sip:b@h>;tag=1` → `sip:b@h`).
pub fn uri_part(value: &str) -> &str {
    if let (Some(s), Some(e)) = (value.find('<'), value.rfind('>')) {
        if s < e {
            return value[s + 1..e].trim();
        }
    }
    value.split(';').next().unwrap_or(value).trim()
}

/// The user part of a SIP URI string (`sip:1001@host;x` → `1001`).
pub fn uri_user(uri: &str) -> Option<&str> {
    let rest = uri.split_once(':')?.1;
    let (user, _) = rest.split_once('@')?;
    let user = user.split(':').next()?;
    let user = user.split(';').next()?;
    (!user.is_empty()).then_some(user)
}

/// The host (without port or params) of a SIP URI string.
pub fn uri_host(uri: &str) -> Option<&str> {
    let rest = uri.split_once(':')?.1;
    let hostport = match rest.split_once('@') {
        Some((_, h)) => h,
        None => rest,
    };
    let hostport = hostport.split([';', '?', '>']).next()?;
    if let Some(v6) = hostport.strip_prefix('[') {
        return v6.split(']').next();
    }
    hostport.split(':').next().filter(|h| !h.is_empty())
}

/// Host and optional port of a SIP URI string.
pub fn uri_host_port(uri: &str) -> Option<(&str, Option<u16>)> {
    let host = uri_host(uri)?;
    let rest = uri.split_once(':')?.1;
    let hostport = match rest.split_once('@') {
        Some((_, h)) => h,
        None => rest,
    };
    let hostport = hostport.split([';', '?', '>']).next()?;
    let after = if hostport.starts_with('[') {
        hostport.split_once(']').map(|x| x.1).unwrap_or("")
    } else {
        hostport
            .split_once(':')
            .map(|x| x.1)
            .map(|p| &hostport[hostport.len() - p.len() - 1..])
            .unwrap_or("")
    };
    let port = after.strip_prefix(':').and_then(|p| p.parse::<u16>().ok());
    Some((host, port))
}

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

/// A best-effort response to bytes rsip could not parse, built from the raw header
/// lines, so that the peer learns why (400/405/513). None when the input does not even
/// look like a request with the headers a response needs.
pub fn raw_reject(bytes: &[u8], code: u16, reason: &str) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(&bytes[..bytes.len().min(MAX_MESSAGE)]).ok()?;
    let head = text.split("\r\n\r\n").next()?;
    let mut lines = head.split("\r\n");
    let first = lines.next()?;
    if first.starts_with("SIP/") || !first.ends_with("SIP/2.0") {
        return None;
    }
    let mut out = format!("SIP/2.0 {code} {reason}\r\n");
    let mut have = [false; 5];
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let name = name.trim();
        let full = expand_compact(name).unwrap_or(name);
        let idx = ["Via", "From", "To", "Call-ID", "CSeq"]
            .iter()
            .position(|n| n.eq_ignore_ascii_case(full));
        if let Some(i) = idx {
            have[i] = true;
            out.push_str(&format!(
                "{}: {}\r\n",
                ["Via", "From", "To", "Call-ID", "CSeq"][i],
                value.trim()
            ));
        }
    }
    if !have[0] {
        return None;
    }
    if code == 405 {
        out.push_str(&format!("Allow: {ALLOW}\r\n"));
    }
    out.push_str("Server: Switchyard\r\nContent-Length: 0\r\n\r\n");
    Some(out.into_bytes())
}

/// The `sent-by` host:port of a Via value and its transport token.
pub fn via_sent_by(via: &str) -> Option<(&str, &str)> {
    let mut it = via.split_whitespace();
    let proto = it.next()?;
    let transport = proto.rsplit('/').next()?;
    let sent_by = it.next()?.split(';').next()?;
    Some((transport, sent_by))
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
