//! Raw-byte checks and the rsip workarounds of the edge: compact header names,
//! comma-joined lists, folded lines, Via canonicalisation, request-line and
//! name-addr syntax (RFC 4475), single-value headers, and the best-effort rejection
//! of what cannot be parsed at all.

use rsip::{headers::untyped::UntypedHeader, Header, Headers};

#[allow(unused_imports)]
use super::access::*;
use super::{ParseError, ALLOW, MAX_MESSAGE};

pub(crate) fn expand_compact(name: &str) -> Option<&'static str> {
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

pub(crate) fn typed_header(name: &str, value: String) -> Header {
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
pub(crate) fn normalise(headers: &mut Headers) {
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

/// The Request-Line checks rsip does not make (RFC 4475 §3.1.2.7–3.1.2.11, 3.1.2.16,
/// 3.3.2, 3.3.3): exactly `Method SP Request-URI SP SIP/2.0`, no `<>` around the URI,
/// no escaped headers in a SIP URI, and a scheme we serve (else 416).
pub(crate) fn check_request_line(bytes: &[u8]) -> Result<(), ParseError> {
    let Some(end) = bytes.iter().position(|&b| b == b'\r' || b == b'\n') else {
        return Ok(()); // not a message at all; rsip says why
    };
    let line = &bytes[..end];
    if line.starts_with(b"SIP/") {
        return Ok(()); // a status line
    }
    let Ok(line) = std::str::from_utf8(line) else {
        return Err(ParseError::BadRequestLine);
    };
    let mut parts = line.split(' ');
    let (Some(method), Some(uri), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(ParseError::BadRequestLine); // lwsstart, trws, lwsruri
    };
    if method.is_empty() || uri.is_empty() {
        return Err(ParseError::BadRequestLine);
    }
    if version != "SIP/2.0" {
        return Err(match version.strip_prefix("SIP/") {
            Some(v) if !v.is_empty() => ParseError::UnsupportedVersion(version.to_string()),
            _ => ParseError::BadRequestLine,
        });
    }
    let Some((scheme, rest)) = uri.split_once(':') else {
        return Err(ParseError::BadRequestLine); // ltgtruri lands here too
    };
    let scheme_ok = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    if !scheme_ok {
        return Err(ParseError::BadRequestLine);
    }
    if scheme.eq_ignore_ascii_case("sip") || scheme.eq_ignore_ascii_case("sips") {
        // the user part may hold `?` (RFC 4475 intmeth); after the host it starts headers
        let host_on = rest.split_once('@').map_or(rest, |(_, h)| h);
        if host_on.contains('?') {
            return Err(ParseError::BadRequestLine); // escruri
        }
        Ok(())
    } else if scheme.eq_ignore_ascii_case("tel") {
        Ok(())
    } else {
        Err(ParseError::UnsupportedScheme(scheme.to_string()))
    }
}

/// Joins folded header lines (CRLF followed by SP/HTAB) into one line with a single SP
/// and drops whitespace between a header name and its colon. Only the header section is
/// touched; `None` when there is nothing to do (the common case, no allocation).
pub(crate) fn unfold(bytes: &[u8]) -> Option<Vec<u8>> {
    let head_end = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(bytes.len(), |i| i + 2);
    let head = &bytes[..head_end];
    let folded = head
        .windows(3)
        .any(|w| w[0] == b'\r' && w[1] == b'\n' && (w[2] == b' ' || w[2] == b'\t'));
    let spaced_name = head.split(|&b| b == b'\n').skip(1).any(|line| {
        line.iter()
            .position(|&b| b == b':')
            .is_some_and(|c| c > 0 && matches!(line[c - 1], b' ' | b'\t'))
    });
    if !folded && !spaced_name {
        return None;
    }
    let is_ws = |b: &u8| *b == b' ' || *b == b'\t';
    let mut out: Vec<u8> = Vec::with_capacity(bytes.len());
    let body = head.strip_suffix(b"\r\n").unwrap_or(head);
    for (i, line) in body.split(|&b| b == b'\n').enumerate() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if i > 1 && line.first().is_some_and(is_ws) {
            while out.last().is_some_and(is_ws) {
                out.pop();
            }
            out.push(b' ');
            let start = line.iter().position(|b| !is_ws(b)).unwrap_or(line.len());
            out.extend_from_slice(&line[start..]);
            continue;
        }
        if i > 0 {
            out.extend_from_slice(b"\r\n");
        }
        match line.iter().position(|&b| b == b':') {
            Some(c) if i > 0 => {
                let mut name_end = c;
                while name_end > 0 && is_ws(&line[name_end - 1]) {
                    name_end -= 1;
                }
                out.extend_from_slice(&line[..name_end]);
                out.extend_from_slice(&line[c..]);
            }
            _ => out.extend_from_slice(line),
        }
    }
    if head_end > body.len() {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(&bytes[head_end..]);
    Some(out)
}

/// The method of the CSeq header, read from the raw (unfolded) header lines.
pub(crate) fn raw_cseq_method(bytes: &[u8]) -> Option<String> {
    let head_end = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(bytes.len());
    let head = String::from_utf8_lossy(&bytes[..head_end]);
    head.split("\r\n").skip(1).find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case("CSeq")
            .then(|| value.split_whitespace().nth(1).map(str::to_string))
            .flatten()
    })
}

/// If the request line is well formed but names a method rsip does not know.
pub(crate) fn unknown_method(bytes: &[u8]) -> Option<String> {
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

/// `SIP / 2.0 / UDP  host ; branch = x` → `SIP/2.0/UDP host;branch=x` (RFC 3261 allows
/// LWS around `/`, `;` and `=`; everything above us expects the compact form). `None`
/// when the value is malformed: no transport or sent-by, or an empty parameter
/// (RFC 4475 badinv01: `SIP/2.0/UDP 192.0.2.15;;,;,,`).
pub(crate) fn canonical_via(value: &str) -> Option<String> {
    let mut pieces = value.split(';');
    let head = pieces.next()?.trim();
    let (proto, rest) = head.rsplit_once('/')?;
    let proto: String = proto.chars().filter(|c| !c.is_whitespace()).collect();
    let rest = rest.trim_start();
    let (transport, sent_by) = rest.split_once(|c: char| c.is_whitespace())?;
    let sent_by: String = sent_by.chars().filter(|c| !c.is_whitespace()).collect();
    let proto_ok = proto
        .split_once('/')
        .is_some_and(|(n, v)| !n.is_empty() && !v.is_empty() && !v.contains('/'));
    if !proto_ok || transport.is_empty() || sent_by.is_empty() {
        return None;
    }
    let mut out = String::with_capacity(value.len());
    out.push_str(&proto);
    out.push('/');
    out.push_str(transport);
    out.push(' ');
    out.push_str(&sent_by);
    for p in pieces {
        let (k, v) = match p.split_once('=') {
            Some((k, v)) => (k.trim(), Some(v.trim())),
            None => (p.trim(), None),
        };
        if k.is_empty() || k.contains(char::is_whitespace) {
            return None;
        }
        out.push(';');
        out.push_str(k);
        if let Some(v) = v {
            out.push('=');
            out.push_str(v);
        }
    }
    Some(out)
}

/// Whether a From/To/Contact value is a well-formed name-addr or addr-spec with
/// parameters: balanced quotes (quotbal), a quoted or token-only display name (baddn),
/// no spaces inside `<>` (badaspec), no URI headers outside `<>` (regbadct) and no
/// empty parameters (badinv01). Non-ASCII bytes in an unquoted display name are let
/// through: common in the field and harmless.
pub(crate) fn name_addr_ok(value: &str) -> bool {
    let v = value.trim();
    if v == "*" {
        return true;
    }
    let b = v.as_bytes();
    // find the first '<' outside quotes, checking the quotes balance on the way
    let (mut quoted, mut i, mut lt) = (false, 0, None);
    while i < b.len() {
        match b[i] {
            b'\\' if quoted => i += 1,
            b'"' => quoted = !quoted,
            b'<' if !quoted && lt.is_none() => lt = Some(i),
            _ => {}
        }
        i += 1;
    }
    if quoted {
        return false;
    }
    let tail = match lt {
        Some(lt) => {
            let display = v[..lt].trim();
            let token_ok = |c: char| {
                c.is_ascii_alphanumeric()
                    || c.is_whitespace()
                    || "-.!%*_+`'~".contains(c)
                    || !c.is_ascii()
            };
            if !display.starts_with('"') && !display.chars().all(token_ok) {
                return false;
            }
            let Some(gt) = v[lt..].find('>').map(|g| g + lt) else {
                return false;
            };
            let uri = &v[lt + 1..gt];
            if uri.is_empty() || uri.contains(char::is_whitespace) {
                return false;
            }
            &v[gt + 1..]
        }
        None => {
            let (uri, tail) = v.split_at(v.find(';').unwrap_or(v.len()));
            let uri = uri.trim();
            if uri.is_empty() || uri.contains(char::is_whitespace) || uri.contains('?') {
                return false;
            }
            tail
        }
    };
    let tail = tail.trim_start();
    if tail.is_empty() {
        return true;
    }
    let Some(params) = tail.strip_prefix(';') else {
        return false;
    };
    split_params(params).all(|p| {
        let name = p.split('=').next().unwrap_or("").trim();
        !name.is_empty() && !name.contains(char::is_whitespace)
    })
}

/// Splits header parameters on `;` outside quoted strings.
pub(crate) fn split_params(params: &str) -> impl Iterator<Item = &str> {
    let mut quoted = false;
    let mut escaped = false;
    params.split(move |c: char| {
        if escaped {
            escaped = false;
            return false;
        }
        match c {
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            ';' if !quoted => return true,
            _ => {}
        }
        false
    })
}

/// One of each per message (RFC 4475 multi01, mcl01).
pub(crate) fn check_single(headers: &Headers) -> Result<(), ParseError> {
    let mut seen = [0u8; 7];
    for h in headers.iter() {
        let i = match h {
            Header::From(_) => 0,
            Header::To(_) => 1,
            Header::CallId(_) => 2,
            Header::CSeq(_) => 3,
            Header::ContentLength(_) => 4,
            Header::ContentType(_) => 5,
            Header::MaxForwards(_) => 6,
            _ => continue,
        };
        seen[i] += 1;
        if seen[i] > 1 {
            return Err(ParseError::Duplicate(
                [
                    "From",
                    "To",
                    "Call-ID",
                    "CSeq",
                    "Content-Length",
                    "Content-Type",
                    "Max-Forwards",
                ][i],
            ));
        }
    }
    Ok(())
}

/// `SIP/2.0/UDP host:port;k=v;flag`: one space, three non-empty protocol parts, a
/// sent-by, and parameters with non-empty names — checked without allocating.
fn via_already_compact(v: &str) -> bool {
    let Some((proto, rest)) = v.split_once(' ') else {
        return false;
    };
    if rest.contains(char::is_whitespace) || proto.contains(char::is_whitespace) {
        return false;
    }
    let mut parts = proto.split('/');
    let three =
        (0..3).all(|_| parts.next().is_some_and(|p| !p.is_empty())) && parts.next().is_none();
    let mut params = rest.split(';');
    let sent_by_ok = params.next().is_some_and(|s| !s.is_empty());
    three && sent_by_ok && params.all(|p| !p.is_empty() && !p.starts_with('='))
}

/// Rewrites every Via into its compact form, or refuses a malformed one.
pub(crate) fn canonicalise_vias(headers: &mut Headers) -> Result<(), ParseError> {
    for h in headers.iter_mut() {
        if let Header::Via(v) = h {
            if via_already_compact(v.value()) {
                continue; // the common case: nothing to rewrite, no allocation
            }
            let canon = canonical_via(v.value()).ok_or(ParseError::BadHeader("Via"))?;
            if canon != v.value() {
                *v = rsip::headers::Via::new(canon);
            }
        }
    }
    Ok(())
}

/// A best-effort response to bytes rsip could not parse, built from the raw header
/// lines, so that the peer learns why (400/405/513). None when the input does not even
/// look like a request with the headers a response needs.
pub fn raw_reject(bytes: &[u8], code: u16, reason: &str) -> Option<Vec<u8>> {
    let bytes = &bytes[..bytes.len().min(MAX_MESSAGE)];
    let unfolded = unfold(bytes);
    let bytes = unfolded.as_deref().unwrap_or(bytes);
    // Only the header section must be text: bodies may be binary (RFC 4475 mpart01).
    let head_end = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(bytes.len());
    let head = std::str::from_utf8(&bytes[..head_end]).ok()?;
    let mut lines = head.split("\r\n");
    let first = lines.next()?;
    // a request line (any version, so that SIP/7.0 can get its 505; stray SP tolerated)
    let version = first.split_whitespace().last()?;
    if first.starts_with("SIP/") || !version.starts_with("SIP/") {
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
