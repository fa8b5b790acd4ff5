//! Allocation-light accessors over rsip headers and SIP URI strings: header values,
//! tags, branches, CSeq, URI user/host/port. Read-only.

use rsip::{headers::untyped::UntypedHeader, Header, Headers};

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
    // parameters follow the URI's closing '>' when there is one, else the whole value
    let tail = match angle_span(value) {
        Some((_, e)) => &value[e + 1..],
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
    if let Some((s, e)) = angle_span(value) {
        return value[s + 1..e].trim();
    }
    value.split(';').next().unwrap_or(value).trim()
}

/// Where the `<…>` around a name-addr's URI opens and closes: the first `<`
/// outside a quoted display name, and the first `>` after it (a parameter's
/// quoted value may hold brackets too: `+sip.instance="<urn:uuid:…>"`).
fn angle_span(value: &str) -> Option<(usize, usize)> {
    let mut quoted = false;
    let mut escaped = false;
    for (i, c) in value.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            '<' if !quoted => {
                let e = value[i + 1..].find('>')? + i + 1;
                return Some((i, e));
            }
            _ => {}
        }
    }
    None
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

/// The `sent-by` host:port of a Via value and its transport token.
pub fn via_sent_by(via: &str) -> Option<(&str, &str)> {
    let mut it = via.split_whitespace();
    let proto = it.next()?;
    let transport = proto.rsplit('/').next()?;
    let sent_by = it.next()?.split(';').next()?;
    Some((transport, sent_by))
}

#[cfg(test)]
mod angle_tests {
    use super::*;

    #[test]
    fn a_quoted_parameter_with_brackets_is_not_the_uri_end() {
        let v = "<sip:a@b.invalid;transport=ws>;+sip.ice;reg-id=1;+sip.instance=\"<urn:uuid:1-2>\";expires=300";
        assert_eq!(uri_part(v), "sip:a@b.invalid;transport=ws");
        assert_eq!(param(v, "+sip.instance"), Some("<urn:uuid:1-2>"));
        assert_eq!(param(v, "expires"), Some("300"));
        assert_eq!(uri_part("\"x<y\" <sip:1@h>;tag=1"), "sip:1@h");
        assert_eq!(uri_part("sip:1@h;tag=1"), "sip:1@h");
    }
}
