//! Server-side HTTP Digest authentication for SIP (RFC 2617, RFC 7616, RFC 3261 §22):
//! parsing `Authorization` / `Proxy-Authorization` values, computing responses, issuing
//! stateless HMAC-signed nonces, nonce-count replay protection and the final verdict the
//! registrar and INVITE handling act on. It must not do IO, read a clock or look up
//! credentials: callers pass the current Unix time and the password (or stored HA1), and
//! turn the returned [`Verdict`] into a SIP response themselves.

use dashmap::DashMap;
use hmac::{Hmac, Mac};
use md5::Md5;
use sha2::{Digest, Sha256};

/// Default nonce lifetime in seconds (remembered nonce counts default to 1,000,000).
pub const DEFAULT_NONCE_LIFETIME_SECS: u64 = 300;
const BODY_LEN: usize = 16;
const TAG_LEN: usize = 16;
const MAX_PARAMS: usize = 32;

/// Why a header value could not be turned into [`DigestCredentials`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("malformed Digest credentials: {reason}")]
    Malformed { reason: &'static str },
    #[error("unsupported digest algorithm {token:?}")]
    UnsupportedAlgorithm { token: String },
    #[error("unsupported qop {token:?}")]
    UnsupportedQop { token: String },
}

fn malformed(reason: &'static str) -> AuthError {
    AuthError::Malformed { reason }
}

fn clip(token: &str) -> String {
    token.chars().take(32).collect()
}

/// Hash algorithm of the digest. The `-sess` variants are not supported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    Md5,
    Sha256,
}

impl Algorithm {
    /// Parse an `algorithm=` token, case-insensitively.
    pub fn parse(token: &str) -> Result<Self, AuthError> {
        match token.to_ascii_uppercase().as_str() {
            "MD5" => Ok(Algorithm::Md5),
            "SHA-256" => Ok(Algorithm::Sha256),
            _ => Err(AuthError::UnsupportedAlgorithm { token: clip(token) }),
        }
    }

    /// The token used in challenges.
    pub fn token(self) -> &'static str {
        match self {
            Algorithm::Md5 => "MD5",
            Algorithm::Sha256 => "SHA-256",
        }
    }

    fn hash_hex(self, data: &str) -> String {
        match self {
            Algorithm::Md5 => hex::encode(Md5::digest(data)),
            Algorithm::Sha256 => hex::encode(Sha256::digest(data)),
        }
    }
}

/// Quality of protection. Only `auth` is supported; `auth-int` is rejected at parse time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Qop {
    Auth,
}

/// The parameters of a `Digest` credentials header value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestCredentials {
    pub username: String,
    pub realm: String,
    pub nonce: String,
    pub uri: String,
    pub response: String,
    pub algorithm: Algorithm,
    pub qop: Option<Qop>,
    pub nc: Option<u32>,
    pub cnonce: Option<String>,
    pub opaque: Option<String>,
}

/// Split `name=value, name="quoted \" value", ...` into (lowercased name, value) pairs.
fn split_params(input: &str) -> Result<Vec<(String, String)>, AuthError> {
    let is_sep = |c: char| c == ',' || c.is_ascii_whitespace();
    let mut params: Vec<(String, String)> = Vec::new();
    let mut rest = input;
    loop {
        rest = rest.trim_start_matches(is_sep);
        if rest.is_empty() {
            return Ok(params);
        }
        let (name, after) = rest
            .split_once('=')
            .ok_or(malformed("expected name=value"))?;
        let name = name.trim_end();
        let after = after.trim_start();
        let (value, tail) = match after.strip_prefix('"') {
            Some(quoted) => unquote(quoted)?,
            None => {
                let (token, tail) = after.split_at(after.find(is_sep).unwrap_or(after.len()));
                (token.to_string(), tail)
            }
        };
        if params.len() >= MAX_PARAMS {
            return Err(malformed("header too large"));
        }
        rest = tail.trim_start();
        if !rest.is_empty() && !rest.starts_with(',') {
            return Err(malformed("expected comma between parameters"));
        }
        let name = name.to_ascii_lowercase();
        if params.iter().any(|(n, _)| *n == name) {
            return Err(malformed("duplicate parameter"));
        }
        params.push((name, value));
    }
}

/// Read a quoted-string body (after the opening quote); returns it and what follows.
fn unquote(s: &str) -> Result<(String, &str), AuthError> {
    let mut value = String::new();
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Ok((value, &s[i + 1..])),
            '\\' => value.push(chars.next().ok_or(malformed("dangling escape"))?.1),
            c => value.push(c),
        }
    }
    Err(malformed("unterminated quoted string"))
}

impl DigestCredentials {
    /// Parse the value of an `Authorization` or `Proxy-Authorization` header.
    pub fn parse(value: &str) -> Result<Self, AuthError> {
        let value = value.trim();
        let (scheme, rest) = value.split_once(char::is_whitespace).unwrap_or((value, ""));
        if !scheme.eq_ignore_ascii_case("Digest") {
            return Err(malformed("scheme is not Digest"));
        }
        let params = split_params(rest)?;
        let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        let algorithm = Algorithm::parse(get("algorithm").as_deref().unwrap_or("MD5"))?;
        let qop = match get("qop") {
            None => None,
            Some(t) if t.eq_ignore_ascii_case("auth") => Some(Qop::Auth),
            Some(t) => return Err(AuthError::UnsupportedQop { token: clip(&t) }),
        };
        let nc = match get("nc") {
            None => None,
            Some(t) if t.len() == 8 && t.bytes().all(|b| b.is_ascii_hexdigit()) => {
                u32::from_str_radix(&t, 16).ok()
            }
            Some(_) => return Err(malformed("nc is not 8 hex digits")),
        };
        let cnonce = get("cnonce");
        if qop.is_some() && (nc.is_none() || cnonce.is_none()) {
            return Err(malformed("qop without nc and cnonce"));
        }
        let response = get("response").ok_or(malformed("missing response"))?;
        if response.is_empty() || !response.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(malformed("response is not hex"));
        }
        Ok(DigestCredentials {
            username: get("username").ok_or(malformed("missing username"))?,
            realm: get("realm").ok_or(malformed("missing realm"))?,
            nonce: get("nonce").ok_or(malformed("missing nonce"))?,
            uri: get("uri").ok_or(malformed("missing uri"))?,
            response,
            algorithm,
            qop,
            nc,
            cnonce,
            opaque: get("opaque"),
        })
    }
}

/// H(A1) = H(username:realm:password), lowercase hex. Store this instead of the password.
pub fn ha1(alg: Algorithm, username: &str, realm: &str, password: &str) -> String {
    alg.hash_hex(&format!("{username}:{realm}:{password}"))
}

/// The request digest from a precomputed H(A1). `qop` is `(nc, cnonce)` as sent on the
/// wire (`qop=auth`); `None` selects the RFC 2069 form.
pub fn response_from_ha1(
    alg: Algorithm,
    ha1: &str,
    method: &str,
    uri: &str,
    nonce: &str,
    qop: Option<(&str, &str)>,
) -> String {
    let ha2 = alg.hash_hex(&format!("{method}:{uri}"));
    alg.hash_hex(&match qop {
        Some((nc, cnonce)) => format!("{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}"),
        None => format!("{ha1}:{nonce}:{ha2}"),
    })
}

/// The request digest a client knowing `password` sends (lowercase hex).
#[allow(clippy::too_many_arguments)]
pub fn compute_response(
    alg: Algorithm,
    username: &str,
    realm: &str,
    password: &str,
    method: &str,
    uri: &str,
    nonce: &str,
    qop: Option<(&str, &str)>,
) -> String {
    let ha1 = ha1(alg, username, realm, password);
    response_from_ha1(alg, &ha1, method, uri, nonce, qop)
}

/// Answer a `WWW-Authenticate` / `Proxy-Authenticate` challenge as a client (a trunk
/// challenging us): the `Authorization` value, or `None` when it is not a Digest challenge
/// we can answer. With `qop=auth` offered it uses nc=00000001 and a random cnonce.
pub fn client_authorization(
    challenge: &str,
    user: &str,
    password: &str,
    method: &str,
    uri: &str,
) -> Option<String> {
    let (scheme, rest) = challenge.trim().split_once(char::is_whitespace)?;
    scheme.eq_ignore_ascii_case("Digest").then_some(())?;
    let params = split_params(rest).ok()?;
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let (realm, nonce) = (get("realm")?, get("nonce")?);
    let alg = Algorithm::parse(get("algorithm").unwrap_or("MD5")).ok()?;
    let auth = |q: &str| q.trim().eq_ignore_ascii_case("auth");
    let cnonce = match get("qop") {
        None => None,
        Some(qops) if qops.split(',').any(auth) => Some(hex::encode(rand::random::<[u8; 8]>())),
        Some(_) => return None,
    };
    let qop = cnonce.as_deref().map(|c| ("00000001", c));
    let response = compute_response(alg, user, realm, password, method, uri, nonce, qop);
    let (user, realm, nonce, uri) = (quote(user), quote(realm), quote(nonce), quote(uri));
    let value = format!("Digest username=\"{user}\", realm=\"{realm}\", nonce=\"{nonce}\"");
    let token = alg.token();
    let rest = format!(", uri=\"{uri}\", response=\"{response}\", algorithm={token}");
    let qop = cnonce.map(|c| format!(", qop=auth, nc=00000001, cnonce=\"{c}\""));
    let opaque = get("opaque").map(|o| format!(", opaque=\"{}\"", quote(o)));
    Some(value + &rest + &qop.unwrap_or_default() + &opaque.unwrap_or_default())
}

/// `s` with `\` and `"` escaped, for a quoted-string.
fn quote(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// Compare hex digests case-insensitively, without early exit.
fn hex_eq(a: &str, b: &str) -> bool {
    let lower = |x: u8| x.to_ascii_lowercase();
    let pairs = a.bytes().zip(b.bytes());
    a.len() == b.len() && pairs.fold(0, |acc, (x, y)| acc | (lower(x) ^ lower(y))) == 0
}

/// What [`NonceManager::check`] thinks of a nonce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonceStatus {
    Valid,
    /// Ours, but older than the lifetime.
    Stale,
    /// Not issued under our secret.
    Invalid,
}

/// The outcome of [`NonceManager::verify`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Ok,
    /// Right password, expired nonce: re-challenge with `stale=true`.
    Stale,
    WrongPassword,
    BadNonce,
    /// The nonce count did not increase.
    Replay,
    RealmMismatch,
}

/// Issues and validates stateless nonces and tracks nonce counts. A nonce is hex(issue
/// time u64 BE ‖ 8 random bytes ‖ HMAC-SHA256 tag truncated to 16 bytes), so any manager
/// built with the same secret accepts it, including after a restart. Only the nonce-count
/// table is state; it is bounded and entries die with their nonce. `now` is Unix seconds.
#[derive(Debug)]
pub struct NonceManager {
    /// HMAC-SHA256 keyed with the secret (its `Debug` does not show the key).
    keyed: Hmac<Sha256>,
    lifetime_secs: u64,
    max_entries: usize,
    /// Tag of the nonce → (issue time, highest nc seen).
    nc_seen: DashMap<[u8; TAG_LEN], (u64, u32)>,
}

impl NonceManager {
    /// A manager with a fresh random secret (its nonces die with the process).
    pub fn new(lifetime_secs: u64) -> Self {
        Self::with_secret(&rand::random::<[u8; 32]>(), lifetime_secs)
    }

    /// A manager whose nonces every holder of `secret` (32 random bytes) accepts.
    pub fn with_secret(secret: &[u8], lifetime_secs: u64) -> Self {
        NonceManager {
            keyed: Hmac::new_from_slice(secret).expect("HMAC takes any key length"),
            lifetime_secs,
            max_entries: 1_000_000,
            nc_seen: DashMap::new(),
        }
    }

    /// Cap the number of remembered nonce counts (at least 1).
    pub fn with_max_entries(mut self, max_entries: usize) -> Self {
        self.max_entries = max_entries.max(1);
        self
    }

    fn mac(&self, body: &[u8]) -> Hmac<Sha256> {
        self.keyed.clone().chain_update(body)
    }

    /// A new nonce stamped with `now`.
    pub fn issue(&self, now: u64) -> String {
        let mut raw = [0u8; BODY_LEN + TAG_LEN];
        raw[..8].copy_from_slice(&now.to_be_bytes());
        raw[8..BODY_LEN].copy_from_slice(&rand::random::<[u8; 8]>());
        let tag = self.mac(&raw[..BODY_LEN]).finalize().into_bytes();
        raw[BODY_LEN..].copy_from_slice(&tag[..TAG_LEN]);
        hex::encode(raw)
    }

    /// Authenticate the nonce; when it is ours, return its issue time and tag.
    fn decode(&self, nonce: &str) -> Option<(u64, [u8; TAG_LEN])> {
        let mut raw = [0u8; BODY_LEN + TAG_LEN];
        hex::decode_to_slice(nonce, &mut raw).ok()?;
        let (body, tag) = raw.split_at(BODY_LEN);
        self.mac(body).verify_truncated_left(tag).ok()?;
        let issued = u64::from_be_bytes(body[..8].try_into().ok()?);
        Some((issued, tag.try_into().ok()?))
    }

    /// Is `nonce` one of ours, and still fresh at `now`?
    pub fn check(&self, nonce: &str, now: u64) -> NonceStatus {
        let age = self
            .decode(nonce)
            .map(|(issued, _)| now.saturating_sub(issued));
        match age {
            None => NonceStatus::Invalid,
            Some(age) if age > self.lifetime_secs => NonceStatus::Stale,
            Some(_) => NonceStatus::Valid,
        }
    }

    /// Record count `nc` for a valid `nonce`. False when the nonce is not valid or `nc` is
    /// not higher than the highest count already seen for it.
    pub fn check_nc(&self, nonce: &str, nc: u32, now: u64) -> bool {
        let Some((issued, tag)) = self.decode(nonce) else {
            return false;
        };
        if nc == 0 || now.saturating_sub(issued) > self.lifetime_secs {
            return false;
        }
        if self.nc_seen.len() >= self.max_entries && !self.nc_seen.contains_key(&tag) {
            // Full of live nonces (a flood): forgetting them only weakens replay checks.
            self.purge(now);
            if self.nc_seen.len() >= self.max_entries {
                self.nc_seen.clear();
            }
        }
        let mut seen = self.nc_seen.entry(tag).or_insert((issued, 0));
        let fresh = nc > seen.1;
        if fresh {
            seen.1 = nc;
        }
        fresh
    }

    /// Forget the counts of nonces that have expired at `now`.
    pub fn purge(&self, now: u64) {
        let cutoff = now.saturating_sub(self.lifetime_secs);
        self.nc_seen.retain(|_, (issued, _)| *issued >= cutoff);
    }

    /// Decide on credentials, checked against a plaintext password.
    pub fn verify(
        &self,
        creds: &DigestCredentials,
        method: &str,
        password: &str,
        expected_realm: &str,
        now: u64,
    ) -> Verdict {
        let ha1 = ha1(creds.algorithm, &creds.username, &creds.realm, password);
        self.verify_ha1(creds, method, &ha1, expected_realm, now)
    }

    /// Decide on credentials, checked against a stored H(A1) for `creds.algorithm`. The
    /// caller still checks that `creds.uri` names the request and the user is known.
    pub fn verify_ha1(
        &self,
        creds: &DigestCredentials,
        method: &str,
        ha1: &str,
        expected_realm: &str,
        now: u64,
    ) -> Verdict {
        let status = self.check(&creds.nonce, now);
        let nc = creds.nc.map(|nc| format!("{nc:08x}"));
        let qop = creds.qop.and(nc.as_deref().zip(creds.cnonce.as_deref()));
        let expected =
            response_from_ha1(creds.algorithm, ha1, method, &creds.uri, &creds.nonce, qop);
        if creds.realm != expected_realm {
            Verdict::RealmMismatch
        } else if status == NonceStatus::Invalid {
            Verdict::BadNonce
        } else if !hex_eq(&expected, &creds.response) {
            Verdict::WrongPassword
        } else if status == NonceStatus::Stale {
            Verdict::Stale
        } else if creds.qop.is_some() && !self.check_nc(&creds.nonce, creds.nc.unwrap_or(0), now) {
            Verdict::Replay
        } else {
            Verdict::Ok
        }
    }

    /// A `WWW-Authenticate` / `Proxy-Authenticate` value carrying a fresh nonce.
    pub fn challenge(&self, realm: &str, alg: Algorithm, stale: bool, now: u64) -> String {
        let (realm, nonce, alg) = (quote(realm), self.issue(now), alg.token());
        let stale = if stale { ", stale=true" } else { "" };
        format!("Digest realm=\"{realm}\", nonce=\"{nonce}\", algorithm={alg}, qop=\"auth\"{stale}")
    }
}

#[cfg(test)]
#[rustfmt::skip]
mod tests {
    use super::*;
    use rand::{rngs::StdRng, Rng, SeedableRng};

    const T0: u64 = 1_700_000_000;
    const MUFASA: &str = "Digest username=\"Mufasa\",\n realm=\"http-auth@example.org\", \
        uri=\"/dir/index.html\", algorithm=SHA-256, nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\", \
        nc=00000001, cnonce=\"f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ\", qop=auth, \
        response=\"753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1\", opaque=\"FQhe\"";

    #[test]
    fn rfc_vectors() {
        let (n7616, c7616) = ("7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ");
        let cases = [
            (Algorithm::Md5, "testrealm@host.com", "Circle Of Life", "dcd98b7102dd2f0e8b11d0f600bfb0c093", "0a4f113b", "6629fae49393a05397450978507c4ef1"),
            (Algorithm::Md5, "http-auth@example.org", "Circle of Life", n7616, c7616, "8ca523f5e9506fed4657c9700eebdbec"),
            (Algorithm::Sha256, "http-auth@example.org", "Circle of Life", n7616, c7616, "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"),
        ];
        for (alg, realm, pw, nonce, cnonce, want) in cases {
            let got = compute_response(alg, "Mufasa", realm, pw, "GET", "/dir/index.html", nonce, Some(("00000001", cnonce)));
            assert_eq!(got, want, "{alg:?} {realm}");
        }
    }

    #[test]
    fn parses_real_and_sloppy_and_rejects_garbage() {
        let c = DigestCredentials::parse(MUFASA).expect("RFC 7616 example");
        assert_eq!((c.algorithm, c.qop, c.nc), (Algorithm::Sha256, Some(Qop::Auth), Some(1)));
        assert_eq!([c.username, c.uri, c.opaque.unwrap_or_default()], ["Mufasa", "/dir/index.html", "FQhe"]);
        let sloppy = "  dIgEsT   NONCE=abc ,Realm = \"x\"  , foo=\"bar, baz\", \
            username=\"a\\\"b\",uri=\"sip:x\",response=\"6629FAE49393A05397450978507C4EF1\",, ";
        let c = DigestCredentials::parse(sloppy).expect("tolerated");
        assert_eq!([c.username, c.realm, c.nonce], ["a\"b", "x", "abc"]);
        assert_eq!((c.algorithm, c.qop, c.nc, c.cnonce), (Algorithm::Md5, None, None, None));
        let ok = "username=u, realm=r, nonce=n, uri=u, response=6629fae49393a05397450978507c4ef1";
        let cases = [
            (format!("Basic {ok}"), "scheme is not Digest"),
            ("Digest".into(), "missing response"),
            (format!("Digest {ok}, REALM=again"), "duplicate parameter"),
            (format!("Digest {ok}, qop=auth"), "qop without nc and cnonce"),
            (format!("Digest {ok}, qop=auth, nc=+0000001, cnonce=x"), "nc is not 8 hex digits"),
            (format!("Digest {ok}, x=\"open"), "unterminated quoted string"),
            (format!("Digest {ok} junk"), "expected comma between parameters"),
            (format!("Digest {ok}, junk"), "expected name=value"),
            ("Digest username=u, response=zz".into(), "response is not hex"),
        ];
        for (input, reason) in cases {
            assert_eq!(DigestCredentials::parse(&input), Err(malformed(reason)), "{input}");
        }
        let e = [format!("Digest {ok}, algorithm=MD5-sess"), format!("Digest {ok}, qop=auth-int, nc=00000001, cnonce=x")];
        let e = e.map(|v| DigestCredentials::parse(&v).err());
        assert_eq!(e, [AuthError::UnsupportedAlgorithm { token: "MD5-sess".into() }, AuthError::UnsupportedQop { token: "auth-int".into() }].map(Some));
    }

    #[test]
    fn parse_never_panics_on_noise() {
        let alphabet: Vec<char> = "Digest =,\"\\ \t\r\nabcAZ019-é€😀".chars().collect();
        let mut rng = StdRng::seed_from_u64(7);
        for round in 0..20_000 {
            let len = rng.gen_range(0..80);
            let bytes: Vec<u8> = (0..len).map(|_| rng.gen()).collect();
            let mut pick = || alphabet[rng.gen_range(0..alphabet.len())];
            let s: String = (0..len).map(|_| pick()).collect();
            let s = if round % 2 == 0 { s } else { String::from_utf8_lossy(&bytes).into() };
            let cut = MUFASA.char_indices().nth(round % 200).map_or(MUFASA, |(i, _)| &MUFASA[..i]);
            for input in [s.as_str(), &format!("Digest {s}"), cut, &format!("{cut}{s}")] {
                let _ = DigestCredentials::parse(input);
                let _ = client_authorization(input, "u", "p", "INVITE", "sip:x");
            }
        }
    }

    /// What a UAC does with a challenge, for user 1001; without `qop` it answers RFC 2069 style.
    fn answer(challenge: &str, password: &str, qop: bool) -> DigestCredentials {
        let challenge = if qop { challenge.to_string() } else { challenge.replace(", qop=\"auth\"", "") };
        let value = client_authorization(&challenge, "1001", password, "REGISTER", "sip:sw");
        DigestCredentials::parse(&value.expect("answerable")).expect("our own answer parses")
    }

    #[test]
    fn challenge_and_client_round_trip() {
        let m = NonceManager::new(DEFAULT_NONCE_LIFETIME_SECS);
        let c = m.challenge("s\"x", Algorithm::Md5, true, T0);
        assert!(c.starts_with("Digest realm=\"s\\\"x\", nonce=\"") && c.ends_with("\", algorithm=MD5, qop=\"auth\", stale=true"), "{c}");
        for alg in [Algorithm::Md5, Algorithm::Sha256] {
            let ch = m.challenge("sw", alg, false, T0);
            let first = answer(&ch, "s3cret", true);
            assert_eq!(m.verify(&first, "REGISTER", "s3cret", "sw", T0), Verdict::Ok);
            // The UA's next request reuses the nonce with the next count.
            let (mut next, h) = (first.clone(), ha1(alg, "1001", "sw", "s3cret"));
            next.nc = Some(2);
            next.response = response_from_ha1(alg, &h, "REGISTER", "sip:sw", &next.nonce, Some(("00000002", next.cnonce.as_deref().unwrap_or_default())));
            let v = [20, 21].map(|t| m.verify_ha1(&next, "REGISTER", &h, "sw", T0 + t));
            assert_eq!(v, [Verdict::Ok, Verdict::Replay]);
        }
        // A carrier's challenge: qop list, opaque echoed, SHA-256.
        let ch = "Digest realm=\"carrier\", nonce=\"abc\", qop=\"auth-int,auth\", opaque=\"o1\", algorithm=SHA-256";
        let c = DigestCredentials::parse(&client_authorization(ch, "trunk", "pw", "INVITE", "sip:1@x").expect("answered")).expect("parses");
        assert_eq!((c.opaque.as_deref(), c.nc, c.algorithm, c.uri.as_str()), (Some("o1"), Some(1), Algorithm::Sha256, "sip:1@x"));
        let qop = Some(("00000001", c.cnonce.as_deref().unwrap_or_default()));
        assert_eq!(compute_response(Algorithm::Sha256, "trunk", "carrier", "pw", "INVITE", "sip:1@x", "abc", qop), c.response);
        for bad in ["Basic realm=\"x\"", "Digest realm=x, nonce=y, qop=auth-int", "Digest realm=x, nonce=y, algorithm=MD5-sess", "Digest nonce=y"] {
            assert_eq!(client_authorization(bad, "u", "p", "INVITE", "sip:x"), None, "{bad}");
        }
    }

    #[test]
    fn verdicts_and_nonces() {
        let m = NonceManager::with_secret(&[9; 32], 300);
        let ch = m.challenge("sw", Algorithm::Md5, false, T0);
        let creds = answer(&ch, "right", true);
        let table = [
            ("REGISTER", "wrong", "sw", T0, Verdict::WrongPassword),
            ("REGISTER", "right", "other", T0, Verdict::RealmMismatch),
            ("INVITE", "right", "sw", T0, Verdict::WrongPassword),
            ("REGISTER", "right", "sw", T0 + 301, Verdict::Stale),
            ("REGISTER", "wrong", "sw", T0 + 301, Verdict::WrongPassword),
            ("REGISTER", "right", "sw", T0 + 5, Verdict::Ok),
            ("REGISTER", "right", "sw", T0 + 6, Verdict::Replay),
        ];
        for (method, pw, realm, now, want) in table {
            assert_eq!(m.verify(&creds, method, pw, realm, now), want, "{method} {pw} {realm} {now}");
        }
        let register = |m: &NonceManager, c, pw| m.verify(c, "REGISTER", pw, "sw", T0 + 1);
        // A client correctly answering a nonce with one digit flipped gets BadNonce.
        let forged = format!("{}{}", &creds.nonce[..63], if creds.nonce.ends_with('0') { 1 } else { 0 });
        let tampered = answer(&ch.replacen(&creds.nonce, &forged, 1), "right", true);
        assert_eq!(register(&m, &tampered, "right"), Verdict::BadNonce);
        assert_eq!(NonceManager::with_secret(&[9; 32], 300).check(&creds.nonce, T0), NonceStatus::Valid, "restart");
        // RFC 2069 style, without qop: no nonce count to track.
        let old = answer(&m.challenge("sw", Algorithm::Md5, false, T0), "right", false);
        assert_eq!((old.qop, register(&m, &old, "right")), (None, Verdict::Ok));
        assert_eq!(register(&m, &old, "wrong"), Verdict::WrongPassword);
        // Nonce lifetime, counts and memory.
        let m = NonceManager::with_secret(b"k", 30);
        let n = m.issue(T0);
        let status = [30, 31].map(|t| m.check(&n, T0 + t));
        assert_eq!((n.len(), status), (64, [NonceStatus::Valid, NonceStatus::Stale]));
        let bad = ["", "zz", &n[..63], &format!("{n}00"), &"g".repeat(64)].map(|b| m.check(b, T0));
        assert_eq!(bad, [NonceStatus::Invalid; 5]);
        let accepted = [0, 1, 5, 5, 3, 6].map(|nc| m.check_nc(&n, nc, T0));
        assert_eq!(accepted, [false, true, true, false, false, true]);
        assert!(!m.check_nc(&n, 7, T0 + 31), "expired nonce");
        let m = NonceManager::with_secret(b"k", 100).with_max_entries(10);
        assert!((T0..T0 + 10).all(|t| m.check_nc(&m.issue(t), 1, t)));
        m.purge(T0 + 104);
        assert_eq!(m.nc_seen.len(), 6, "nonces issued at T0..=T0+3 expired");
        assert!((T0 + 50..T0 + 80).all(|t| m.check_nc(&m.issue(t), 1, t) && m.nc_seen.len() <= 10));
    }
}
