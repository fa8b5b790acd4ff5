//! Transaction keys and the few header fields the transaction layer reads.
//!
//! This module owns the matching rules of RFC 3261 §17.1.3 (client: top Via
//! branch + CSeq method) and §17.2.3 (server: branch + sent-by + method, ACK
//! mapped to INVITE), plus `new_branch()`. It reads the raw header text
//! with small hand-written scanners instead of rsip's typed headers, because
//! typed parsing clones and fully parses URIs on every call. It must not keep
//! state or decide anything about transaction states.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use rsip::{Header, Headers, Method};

/// The RFC 3261 magic cookie every compliant branch starts with.
pub const MAGIC_COOKIE: &str = "z9hG4bK";

/// A fresh, process-unique branch parameter value: `z9hG4bK` + a per-process
/// random seed + a counter.
pub fn new_branch() -> String {
    static SEED: OnceLock<u64> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(1);
    let seed = *SEED.get_or_init(|| {
        let mut hasher = RandomState::new().build_hasher();
        let since_epoch = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        hasher.write_u128(since_epoch);
        hasher.write_u32(std::process::id());
        hasher.finish()
    });
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{MAGIC_COOKIE}{seed:016x}{n:x}")
}

/// Identifies a transaction inside one of the layer's two key maps.
///
/// Client keys leave `sent_by` empty (§17.1.3 matches on branch and CSeq
/// method only). `method` is the rsip `Method` discriminant; `Method` itself
/// does not implement `Hash`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct TxKey {
    pub branch: String,
    pub sent_by: String,
    pub method: u8,
}

impl TxKey {
    pub fn client(branch: &str, method: Method) -> Self {
        TxKey {
            branch: branch.to_owned(),
            sent_by: String::new(),
            method: method as u8,
        }
    }

    pub fn server(branch: &str, sent_by: &str, method: Method) -> Self {
        let method = if method == Method::Ack {
            Method::Invite
        } else {
            method
        };
        TxKey {
            branch: branch.to_owned(),
            sent_by: sent_by.to_ascii_lowercase(),
            method: method as u8,
        }
    }

    /// The same key with another method (CANCEL → its INVITE).
    pub fn with_method(&self, method: Method) -> Self {
        TxKey {
            branch: self.branch.clone(),
            sent_by: self.sent_by.clone(),
            method: method as u8,
        }
    }
}

/// The parts of the topmost Via value the layer needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TopVia<'a> {
    /// The whole topmost via-parm, without any following comma-joined values.
    pub value: &'a str,
    pub sent_by: &'a str,
    pub branch: Option<&'a str>,
}

/// The raw text of the first Via header (long or compact `v:` form).
fn first_via_header(headers: &Headers) -> Option<&str> {
    use rsip::headers::UntypedHeader;
    headers.iter().find_map(|h| match h {
        Header::Via(v) => Some(v.value()),
        Header::Other(name, value) if name.eq_ignore_ascii_case("v") => Some(value.as_str()),
        _ => None,
    })
}

/// Cut a header value at its first comma that is outside a quoted string.
fn first_list_element(value: &str) -> &str {
    let mut quoted = false;
    for (i, b) in value.bytes().enumerate() {
        match b {
            b'"' => quoted = !quoted,
            b',' if !quoted => return &value[..i],
            _ => {}
        }
    }
    value
}

/// Parse one via-parm: `SIP / 2.0 / UDP host[:port] *(;param[=value])`.
pub(crate) fn parse_via(value: &str) -> Option<TopVia<'_>> {
    let value = first_list_element(value).trim();
    // Skip the sent-protocol: two '/' separators, then the transport token.
    let mut rest = value;
    for _ in 0..2 {
        let slash = rest.find('/')?;
        rest = &rest[slash + 1..];
    }
    let rest = rest.trim_start();
    let transport_end = rest.find(|c: char| c.is_ascii_whitespace())?;
    let rest = rest[transport_end..].trim_start();
    let sent_by_end = rest
        .find(|c: char| c == ';' || c.is_ascii_whitespace())
        .unwrap_or(rest.len());
    let sent_by = &rest[..sent_by_end];
    if sent_by.is_empty() {
        return None;
    }
    let branch = rest[sent_by_end..].split(';').find_map(|param| {
        let (name, val) = param.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("branch")
            .then(|| val.trim())
            .filter(|v| !v.is_empty())
    });
    Some(TopVia {
        value,
        sent_by,
        branch,
    })
}

/// The topmost Via of a message, if present and well formed.
pub(crate) fn top_via(headers: &Headers) -> Option<TopVia<'_>> {
    parse_via(first_via_header(headers)?)
}

/// `(sequence number, method)` of the CSeq header.
pub(crate) fn cseq(headers: &Headers) -> Option<(u32, Method)> {
    use rsip::headers::UntypedHeader;
    let value = headers.iter().find_map(|h| match h {
        Header::CSeq(c) => Some(c.value()),
        _ => None,
    })?;
    let mut parts = value.split_ascii_whitespace();
    let seq = parts.next()?.parse::<u32>().ok()?;
    let method = parts.next()?.parse::<Method>().ok()?;
    Some((seq, method))
}

/// Server key of a request (§17.2.3); `None` when Via or branch is missing.
pub(crate) fn server_key(req: &rsip::Request) -> Option<TxKey> {
    let via = top_via(&req.headers)?;
    match via.branch {
        Some(b) => Some(TxKey::server(b, via.sent_by, req.method)),
        None => {
            // RFC 2543 peers send no branch (RFC 3261 §17.2.3): identify the
            // transaction by Call-ID, CSeq number and From tag instead. An ACK or a
            // CANCEL carries the same three as its INVITE, so they still match.
            let cid = crate::sip::message::call_id(&req.headers)?;
            let (seq, _) = cseq(&req.headers)?;
            let from = crate::sip::message::from_value(&req.headers)
                .and_then(crate::sip::message::tag)
                .unwrap_or("");
            let synthetic = format!("rfc2543;{cid};{seq};{from}");
            Some(TxKey::server(&synthetic, via.sent_by, req.method))
        }
    }
}

/// Client key of a response (§17.1.3); `None` when Via, branch or CSeq is missing.
pub(crate) fn response_key(resp: &rsip::Response) -> Option<TxKey> {
    let via = top_via(&resp.headers)?;
    let (_, method) = cseq(&resp.headers)?;
    Some(TxKey::client(via.branch?, method))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_plain_via() {
        let v = parse_via("SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKabc;rport").expect("via");
        assert_eq!(v.sent_by, "10.0.0.1:5060");
        assert_eq!(v.branch, Some("z9hG4bKabc"));
    }

    #[test]
    fn parses_spaced_via_and_first_of_list() {
        let v = parse_via("SIP / 2.0 / TCP  Host.Example.com ; BRANCH = z9hG4bKx , SIP/2.0/UDP other;branch=z9hG4bKy")
            .expect("via");
        assert_eq!(v.sent_by, "Host.Example.com");
        assert_eq!(v.branch, Some("z9hG4bKx"));
        assert!(!v.value.contains("other"));
    }

    #[test]
    fn parses_ipv6_sent_by() {
        let v = parse_via("SIP/2.0/UDP [2001:db8::1]:5070;branch=z9hG4bK1").expect("via");
        assert_eq!(v.sent_by, "[2001:db8::1]:5070");
    }

    #[test]
    fn via_without_branch_or_garbage() {
        assert_eq!(parse_via("SIP/2.0/UDP host").expect("via").branch, None);
        assert_eq!(
            parse_via("SIP/2.0/UDP host;branch=").expect("via").branch,
            None
        );
        assert!(parse_via("garbage").is_none());
        assert!(parse_via("SIP/2.0/UDP").is_none());
        assert!(parse_via("").is_none());
    }

    #[test]
    fn ack_maps_to_invite_and_sent_by_is_case_insensitive() {
        assert_eq!(
            TxKey::server("b", "HOST", Method::Ack),
            TxKey::server("b", "host", Method::Invite)
        );
        assert_ne!(
            TxKey::server("b", "host", Method::Cancel),
            TxKey::server("b", "host", Method::Invite)
        );
        assert_ne!(
            TxKey::server("B", "host", Method::Invite),
            TxKey::server("b", "host", Method::Invite)
        );
    }

    #[test]
    fn new_branch_is_unique_and_cookied() {
        let a = new_branch();
        let b = new_branch();
        assert!(a.starts_with(MAGIC_COOKIE));
        assert_ne!(a, b);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric()));
    }
}
