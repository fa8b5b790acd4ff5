//! Registrar decisions (RFC 3261 §10.3) without IO: given the current bindings of
//! an address of record and a REGISTER's contacts, expiry and Call-ID/CSeq, decide
//! the new bindings and what changed. Storage and authentication live elsewhere.

use crate::sip::message;
use crate::sip::target::Target;

/// One contact bound to an address of record.
#[derive(Clone, Debug, PartialEq)]
pub struct Binding {
    /// The contact URI (without angle brackets or header parameters).
    pub uri: String,
    pub expires_at_ms: i64,
    pub call_id: String,
    pub cseq: u32,
    /// Where requests for this contact are sent (the REGISTER's source; NAT-safe).
    pub source: Target,
    pub user_agent: Option<String>,
    pub instance: Option<String>,
}

impl Binding {
    pub fn remaining_secs(&self, now_ms: i64) -> i64 {
        ((self.expires_at_ms - now_ms) / 1000).max(0)
    }
}

#[derive(Clone, Copy, Debug)]
pub struct Policy {
    pub min_expires: u32,
    pub max_expires: u32,
    pub default_expires: u32,
    pub max_contacts: usize,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            min_expires: 60,
            max_expires: 3600,
            default_expires: 3600,
            max_contacts: 10,
        }
    }
}

/// The parts of a REGISTER the registrar needs.
pub struct Register<'a> {
    /// Raw Contact header values (already split into one per contact).
    pub contacts: Vec<&'a str>,
    pub expires_header: Option<&'a str>,
    pub call_id: &'a str,
    pub cseq: u32,
    pub source: Target,
    pub user_agent: Option<&'a str>,
    pub now_ms: i64,
}

#[derive(Debug, PartialEq)]
pub enum Change {
    Upsert(Binding),
    Remove(String),
}

#[derive(Debug, PartialEq)]
pub enum Outcome {
    /// Success: the full binding list to report in the 200 and the changes to persist.
    Ok {
        bindings: Vec<Binding>,
        changes: Vec<Change>,
    },
    /// 423 Interval Too Brief with this Min-Expires.
    IntervalTooBrief(u32),
    /// 400 with this reason.
    BadRequest(&'static str),
}

fn parse_expires(v: &str) -> Option<u32> {
    // values above 2^32-1 are treated as the maximum (RFC 3261 §20.19)
    let v = v.trim();
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(
        v.parse::<u64>()
            .map(|x| x.min(u32::MAX as u64) as u32)
            .unwrap_or(u32::MAX),
    )
}

/// Applies a REGISTER to the current bindings of one address of record.
pub fn apply(current: &[Binding], req: &Register<'_>, policy: &Policy) -> Outcome {
    let now = req.now_ms;
    let live: Vec<Binding> = current
        .iter()
        .filter(|b| b.expires_at_ms > now)
        .cloned()
        .collect();
    let header_expires = match req.expires_header {
        Some(v) => match parse_expires(v) {
            Some(x) => Some(x),
            None => return Outcome::BadRequest("Bad Request - Malformed Expires"),
        },
        None => None,
    };
    if req.contacts.is_empty() {
        return Outcome::Ok {
            bindings: live,
            changes: vec![],
        };
    }
    if req.contacts.iter().any(|c| c.trim() == "*") {
        if req.contacts.len() != 1 || header_expires != Some(0) {
            return Outcome::BadRequest("Bad Request - Wildcard Contact Requires Expires 0");
        }
        let mut changes = Vec::new();
        for b in &live {
            if b.call_id == req.call_id && req.cseq <= b.cseq {
                return Outcome::BadRequest("Bad Request - CSeq Out Of Order");
            }
            changes.push(Change::Remove(b.uri.clone()));
        }
        return Outcome::Ok {
            bindings: vec![],
            changes,
        };
    }
    let mut bindings = live;
    let mut changes = Vec::new();
    for raw in &req.contacts {
        let uri = message::uri_part(raw);
        if !(uri.starts_with("sip:") || uri.starts_with("sips:"))
            || message::uri_host(uri).is_none()
        {
            return Outcome::BadRequest("Bad Request - Malformed Contact");
        }
        let expires = match message::param(raw, "expires") {
            Some(v) => match parse_expires(v) {
                Some(x) => x,
                None => return Outcome::BadRequest("Bad Request - Malformed Contact Expires"),
            },
            None => header_expires.unwrap_or(policy.default_expires),
        };
        if expires != 0 && expires < policy.min_expires {
            return Outcome::IntervalTooBrief(policy.min_expires);
        }
        let expires = expires.min(policy.max_expires);
        let existing = bindings.iter().position(|b| b.uri == uri);
        if let Some(i) = existing {
            let b = &bindings[i];
            if b.call_id == req.call_id && req.cseq <= b.cseq {
                return Outcome::BadRequest("Bad Request - CSeq Out Of Order");
            }
        }
        if expires == 0 {
            if let Some(i) = existing {
                bindings.remove(i);
                changes.push(Change::Remove(uri.to_string()));
            }
            continue;
        }
        let binding = Binding {
            uri: uri.to_string(),
            expires_at_ms: now + expires as i64 * 1000,
            call_id: req.call_id.to_string(),
            cseq: req.cseq,
            source: req.source,
            user_agent: req.user_agent.map(str::to_string),
            instance: message::param(raw, "+sip.instance").map(str::to_string),
        };
        match existing {
            Some(i) => bindings[i] = binding.clone(),
            None => bindings.push(binding.clone()),
        }
        changes.push(Change::Upsert(binding));
    }
    if bindings.len() > policy.max_contacts {
        // keep the newest ones: drop those expiring soonest
        bindings.sort_by_key(|b| std::cmp::Reverse(b.expires_at_ms));
        for b in bindings.drain(policy.max_contacts..) {
            changes.push(Change::Remove(b.uri));
        }
    }
    Outcome::Ok { bindings, changes }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reg<'a>(
        contacts: Vec<&'a str>,
        expires: Option<&'a str>,
        call_id: &'a str,
        cseq: u32,
        now: i64,
    ) -> Register<'a> {
        Register {
            contacts,
            expires_header: expires,
            call_id,
            cseq,
            source: Target::udp("127.0.0.1:5070".parse().expect("addr")),
            user_agent: None,
            now_ms: now,
        }
    }

    fn ok(o: Outcome) -> (Vec<Binding>, Vec<Change>) {
        match o {
            Outcome::Ok { bindings, changes } => (bindings, changes),
            other => panic!("expected Ok, got {other:?}"),
        }
    }

    #[test]
    fn add_refresh_list_remove() {
        let p = Policy::default();
        let (b, c) = ok(apply(
            &[],
            &reg(vec!["<sip:1001@10.0.0.1:5060>"], Some("120"), "c1", 1, 0),
            &p,
        ));
        assert_eq!(b.len(), 1);
        assert_eq!(b[0].expires_at_ms, 120_000);
        assert_eq!(c.len(), 1);
        // second contact with its own expires param
        let (b, _) = ok(apply(
            &b,
            &reg(vec!["<sip:1001@10.0.0.2>;expires=300"], None, "c2", 1, 1000),
            &p,
        ));
        assert_eq!(b.len(), 2);
        // listing: no contacts
        let (listed, c) = ok(apply(&b, &reg(vec![], None, "c3", 1, 2000), &p));
        assert_eq!(listed.len(), 2);
        assert!(c.is_empty());
        // remove one with expires=0
        let (b, c) = ok(apply(
            &b,
            &reg(
                vec!["<sip:1001@10.0.0.1:5060>;expires=0"],
                None,
                "c1",
                2,
                3000,
            ),
            &p,
        ));
        assert_eq!(b.len(), 1);
        assert_eq!(c, vec![Change::Remove("sip:1001@10.0.0.1:5060".into())]);
    }

    #[test]
    fn wildcard_removes_all_and_requires_expires_zero() {
        let p = Policy::default();
        let (b, _) = ok(apply(
            &[],
            &reg(vec!["<sip:a@h1>", "<sip:a@h2>"], Some("600"), "c", 1, 0),
            &p,
        ));
        assert_eq!(b.len(), 2);
        assert_eq!(
            apply(&b, &reg(vec!["*"], Some("10"), "x", 1, 0), &p),
            Outcome::BadRequest("Bad Request - Wildcard Contact Requires Expires 0")
        );
        let (b2, c) = ok(apply(&b, &reg(vec!["*"], Some("0"), "x", 1, 0), &p));
        assert!(b2.is_empty());
        assert_eq!(c.len(), 2);
    }

    #[test]
    fn interval_too_brief_and_clamp() {
        let p = Policy::default();
        assert_eq!(
            apply(&[], &reg(vec!["<sip:a@h>"], Some("30"), "c", 1, 0), &p),
            Outcome::IntervalTooBrief(60)
        );
        let (b, _) = ok(apply(
            &[],
            &reg(vec!["<sip:a@h>"], Some("99999"), "c", 1, 0),
            &p,
        ));
        assert_eq!(b[0].expires_at_ms, 3_600_000);
    }

    #[test]
    fn out_of_order_cseq_rejected_and_expired_dropped() {
        let p = Policy::default();
        let (b, _) = ok(apply(
            &[],
            &reg(vec!["<sip:a@h>"], Some("60"), "c", 5, 0),
            &p,
        ));
        assert_eq!(
            apply(&b, &reg(vec!["<sip:a@h>"], Some("60"), "c", 5, 1), &p),
            Outcome::BadRequest("Bad Request - CSeq Out Of Order")
        );
        // after expiry the binding is gone from a listing
        let (listed, _) = ok(apply(&b, &reg(vec![], None, "z", 1, 61_000), &p));
        assert!(listed.is_empty());
    }

    #[test]
    fn malformed_contact_and_expires() {
        let p = Policy::default();
        assert!(matches!(
            apply(&[], &reg(vec!["<mailto:x>"], None, "c", 1, 0), &p),
            Outcome::BadRequest(_)
        ));
        assert!(matches!(
            apply(&[], &reg(vec!["<sip:a@h>"], Some("abc"), "c", 1, 0), &p),
            Outcome::BadRequest(_)
        ));
    }

    #[test]
    fn contact_limit_keeps_newest() {
        let p = Policy {
            max_contacts: 2,
            ..Policy::default()
        };
        let (b, _) = ok(apply(
            &[],
            &reg(
                vec!["<sip:a@h1>;expires=100", "<sip:a@h2>;expires=200"],
                None,
                "c",
                1,
                0,
            ),
            &p,
        ));
        let (b, c) = ok(apply(
            &b,
            &reg(vec!["<sip:a@h3>;expires=300"], None, "d", 1, 0),
            &p,
        ));
        assert_eq!(b.len(), 2);
        assert!(c.contains(&Change::Remove("sip:a@h1".into())));
    }
}
