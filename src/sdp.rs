//! Line-based SDP handling for media anchoring: a summary of the first audio stream (where
//! the peer wants RTP, which codecs, which direction — enough for hold detection) and the
//! rewrite that points a body at our relay. It keeps no full SDP model and must not
//! allocate ports, open sockets or decide codecs: callers pass the relay address and port
//! and get text back. Lines it does not rewrite pass through byte-exact, with CRLF endings.

use std::borrow::Cow;
use std::net::{IpAddr, SocketAddr};

/// Why a body could not be read as SDP.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SdpError {
    #[error("SDP body is not valid UTF-8")]
    NotUtf8,
    #[error("SDP does not start with a v= line")]
    MissingVersion,
    /// `line` is 1-based.
    #[error("m= line {line} has no valid port")]
    BadMediaPort { line: usize },
}

/// Media direction attribute (RFC 4566 §6, RFC 3264 §5.1); `sendrecv` when absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Direction {
    #[default]
    SendRecv,
    SendOnly,
    RecvOnly,
    Inactive,
}

impl Direction {
    fn from_attribute(line: &str) -> Option<Self> {
        match line {
            "a=sendrecv" => Some(Direction::SendRecv),
            "a=sendonly" => Some(Direction::SendOnly),
            "a=recvonly" => Some(Direction::RecvOnly),
            "a=inactive" => Some(Direction::Inactive),
            _ => None,
        }
    }

    /// The attribute name, e.g. `sendonly`.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }

    /// An offer with this direction puts the call on hold.
    pub fn is_hold(self) -> bool {
        matches!(self, Direction::SendOnly | Direction::Inactive)
    }
}

/// The first `m=audio` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaLine {
    /// 0 means the stream is disabled or rejected.
    pub port: u16,
    pub proto: String,
    /// Numeric formats of the m= line, in order (non-numeric ones are skipped).
    pub payloads: Vec<u8>,
    /// Media-level `c=` address.
    pub connection: Option<IpAddr>,
    /// Port from `a=rtcp:` (RFC 3605).
    pub rtcp_port: Option<u16>,
    pub direction: Direction,
    /// `a=rtpmap` entries: payload type and encoding, e.g. `(0, "PCMU/8000")`.
    pub codecs: Vec<(u8, String)>,
}

/// What media anchoring needs to know about an SDP body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SdpSummary {
    /// Session-level `c=` address, else the first audio section's.
    pub connection: Option<IpAddr>,
    pub audio: Option<MediaLine>,
}

impl SdpSummary {
    /// Where the peer wants to receive audio RTP (`None` when there is no audio stream).
    pub fn rtp_destination(&self) -> Option<SocketAddr> {
        let audio = self.audio.as_ref()?;
        Some(SocketAddr::new(
            audio.connection.or(self.connection)?,
            audio.port,
        ))
    }

    /// The offer puts the call on hold: `sendonly`/`inactive`, or a `0.0.0.0` / `::`
    /// connection address (RFC 2543 style).
    pub fn is_hold(&self) -> bool {
        let Some(audio) = &self.audio else {
            return false;
        };
        let addr = audio.connection.or(self.connection);
        audio.direction.is_hold() || addr.is_some_and(|a| a.is_unspecified())
    }
}

/// Check that a body is UTF-8 before handing it to [`parse_media`] or [`rewrite_for_relay`].
pub fn sdp_text(body: &[u8]) -> Result<&str, SdpError> {
    std::str::from_utf8(body).map_err(|_| SdpError::NotUtf8)
}

/// The non-empty lines of `sdp` without line endings, with their 1-based line numbers,
/// after checking that the first one is `v=`.
fn lines(sdp: &str) -> Result<impl Iterator<Item = (usize, &str)>, SdpError> {
    let mut all = sdp
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .enumerate()
        .map(|(i, l)| (i + 1, l))
        .filter(|(_, l)| !l.is_empty())
        .peekable();
    match all.peek() {
        Some((_, first)) if first.starts_with("v=") => Ok(all),
        _ => Err(SdpError::MissingVersion),
    }
}

/// Split the value of an `m=` line into media, port (without `/count`) and the rest
/// (proto and formats, untouched).
fn split_m(value: &str, line: usize) -> Result<(&str, u16, &str), SdpError> {
    let bad = || SdpError::BadMediaPort { line };
    let (media, rest) = value.split_once(' ').ok_or_else(bad)?;
    let rest = rest.trim_start();
    let (port, tail) = rest.split_once(' ').unwrap_or((rest, ""));
    let port = port.split('/').next().unwrap_or(port);
    Ok((media, port.parse().map_err(|_| bad())?, tail.trim_start()))
}

/// The address of a `c=IN IP4 1.2.3.4[/ttl]` value; `None` when it is not an IP literal.
fn connection_addr(value: &str) -> Option<IpAddr> {
    let addr = value.split_whitespace().nth(2)?;
    addr.split('/').next()?.parse().ok()
}

/// Summarise the first audio stream of an SDP body.
pub fn parse_media(sdp: &str) -> Result<SdpSummary, SdpError> {
    let mut session_connection = None;
    let mut session_direction = None;
    let mut audio: Option<MediaLine> = None;
    // Which section the current line belongs to: session, the first audio one, or another.
    let (mut in_media, mut in_audio) = (false, false);
    for (no, line) in lines(sdp)? {
        if let Some(value) = line.strip_prefix("m=") {
            let (media, port, tail) = split_m(value, no)?;
            in_media = true;
            in_audio = media == "audio" && audio.is_none();
            if in_audio {
                let mut words = tail.split_whitespace();
                audio = Some(MediaLine {
                    port,
                    proto: words.next().unwrap_or_default().to_string(),
                    payloads: words.filter_map(|f| f.parse().ok()).collect(),
                    connection: None,
                    rtcp_port: None,
                    direction: session_direction.unwrap_or_default(),
                    codecs: Vec::new(),
                });
            }
            continue;
        }
        let target = audio.as_mut().filter(|_| in_audio);
        if !in_media {
            if let Some(value) = line.strip_prefix("c=") {
                session_connection = connection_addr(value);
            } else if let Some(direction) = Direction::from_attribute(line) {
                session_direction = Some(direction);
            }
        } else if let Some(audio) = target {
            if let Some(value) = line.strip_prefix("c=") {
                audio.connection = connection_addr(value);
            } else if let Some(direction) = Direction::from_attribute(line) {
                audio.direction = direction;
            } else if let Some(value) = line.strip_prefix("a=rtcp:") {
                audio.rtcp_port = value.split_whitespace().next().and_then(|p| p.parse().ok());
            } else if let Some(value) = line.strip_prefix("a=rtpmap:") {
                let (pt, encoding) = value.split_once(' ').unwrap_or((value, ""));
                if let Ok(pt) = pt.parse() {
                    audio.codecs.push((pt, encoding.trim().to_string()));
                }
            }
        }
    }
    let connection = session_connection.or(audio.as_ref().and_then(|a| a.connection));
    Ok(SdpSummary { connection, audio })
}

/// ICE attributes, which stop making sense once media flows through our relay.
fn is_ice(line: &str) -> bool {
    [
        "a=candidate:",
        "a=ice-",
        "a=end-of-candidates",
        "a=remote-candidates:",
    ]
    .iter()
    .any(|prefix| line.starts_with(prefix))
}

/// Rewrite an SDP body so the peer sends its media to our relay at `ip`.
///
/// Every `c=` and the `o=` address become `ip` (a `c=` of `0.0.0.0` or `::` is kept: it
/// signals hold). The first `m=audio` gets `audio_port` (unless its port is 0, which
/// stays rejected), every other `m=` line gets port 0, `a=rtcp:` in the audio section
/// becomes `audio_port + 1` at `ip` (elsewhere it is dropped) and ICE lines are dropped.
/// `session_id_bump` is added to the `o=` session version (RFC 3264 §8 requires a higher
/// version whenever we change what we offer). Without an audio stream only `c=` and `o=`
/// change. Other lines are kept byte-exact and in order; every line ends with CRLF.
pub fn rewrite_for_relay(
    sdp: &str,
    ip: IpAddr,
    audio_port: u16,
    session_id_bump: Option<u64>,
) -> Result<String, SdpError> {
    let addr_type = if ip.is_ipv4() { "IP4" } else { "IP6" };
    let has_audio = lines(sdp)?.any(|(_, l)| l.starts_with("m=audio "));
    let (mut anchored_seen, mut in_anchored) = (false, false);
    let mut out = String::with_capacity(sdp.len() + 64);
    for (no, line) in lines(sdp)? {
        let rewritten: Option<Cow<str>> = if let Some(value) = line.strip_prefix("m=") {
            let (media, port, tail) = split_m(value, no)?;
            in_anchored = has_audio && media == "audio" && !anchored_seen;
            anchored_seen |= in_anchored;
            let new_port = if in_anchored && port != 0 {
                audio_port
            } else {
                0
            };
            if has_audio {
                Some(format!("m={media} {new_port} {tail}").into())
            } else {
                Some(line.into())
            }
        } else if let Some(value) = line.strip_prefix("c=") {
            match connection_addr(value) {
                Some(addr) if addr.is_unspecified() => Some(line.into()),
                _ => Some(format!("c=IN {addr_type} {ip}").into()),
            }
        } else if let Some(value) = line.strip_prefix("o=") {
            Some(
                rewrite_origin(value, addr_type, ip, session_id_bump)
                    .map_or(line.into(), Cow::from),
            )
        } else if has_audio && is_ice(line) {
            None
        } else if has_audio && line.starts_with("a=rtcp:") {
            let rtcp = audio_port.checked_add(1).filter(|_| in_anchored);
            rtcp.map(|port| format!("a=rtcp:{port} IN {addr_type} {ip}").into())
        } else {
            Some(line.into())
        };
        if let Some(text) = rewritten {
            out.push_str(&text);
            out.push_str("\r\n");
        }
    }
    Ok(out)
}

/// `o=<user> <sess-id> <sess-version> IN <addrtype> <addr>` pointed at `ip`; `None` when
/// the line does not have those six fields.
fn rewrite_origin(value: &str, addr_type: &str, ip: IpAddr, bump: Option<u64>) -> Option<String> {
    let fields: Vec<&str> = value.split_whitespace().collect();
    let [user, id, version, net, _, _] = fields.as_slice() else {
        return None;
    };
    let version: Cow<str> = match (bump, version.parse::<u64>()) {
        (Some(bump), Ok(v)) => v.saturating_add(bump).to_string().into(),
        _ => (*version).into(),
    };
    Some(format!("o={user} {id} {version} {net} {addr_type} {ip}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{rngs::StdRng, Rng, SeedableRng};
    use std::net::{Ipv4Addr, Ipv6Addr};

    const RELAY: IpAddr = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 7));

    /// A baresip-style offer with PCMU, PCMA, telephone-event, a=rtcp and a=ptime.
    const OFFER: &str = "v=0\r\n\
        o=- 3917348616 3917348616 IN IP4 192.168.1.10\r\n\
        s=baresip\r\n\
        c=IN IP4 192.168.1.10\r\n\
        t=0 0\r\n\
        m=audio 10000 RTP/AVP 0 8 101\r\n\
        b=AS:64\r\n\
        a=rtpmap:0 PCMU/8000\r\n\
        a=rtpmap:8 PCMA/8000\r\n\
        a=rtpmap:101 telephone-event/8000\r\n\
        a=fmtp:101 0-15\r\n\
        a=rtcp:10001\r\n\
        a=ptime:20\r\n\
        a=sendrecv\r\n";

    #[test]
    fn summarises_a_typical_offer() {
        let s = parse_media(OFFER).expect("valid offer");
        let audio = s.audio.as_ref().expect("audio");
        assert_eq!((audio.port, audio.proto.as_str()), (10000, "RTP/AVP"));
        assert_eq!(audio.payloads, [0, 8, 101]);
        let codecs: Vec<(u8, &str)> = audio.codecs.iter().map(|(p, c)| (*p, c.as_str())).collect();
        let want = [
            (0, "PCMU/8000"),
            (8, "PCMA/8000"),
            (101, "telephone-event/8000"),
        ];
        assert_eq!(codecs, want);
        assert_eq!(
            (audio.rtcp_port, audio.direction),
            (Some(10001), Direction::SendRecv)
        );
        let dest: SocketAddr = "192.168.1.10:10000".parse().expect("addr");
        assert_eq!(s.rtp_destination(), Some(dest));
        assert!(!s.is_hold());
    }

    #[test]
    fn rewrites_a_typical_offer() {
        let out = rewrite_for_relay(OFFER, RELAY, 40000, Some(1)).expect("rewritten");
        let want = OFFER
            .replace(
                "3917348616 IN IP4 192.168.1.10",
                "3917348617 IN IP4 203.0.113.7",
            )
            .replace("c=IN IP4 192.168.1.10", "c=IN IP4 203.0.113.7")
            .replace("m=audio 10000", "m=audio 40000")
            .replace("a=rtcp:10001", "a=rtcp:40001 IN IP4 203.0.113.7");
        assert_eq!(out, want);
        let again = parse_media(&out).expect("our output parses");
        assert_eq!(again.rtp_destination(), Some(SocketAddr::new(RELAY, 40000)));
        // Without a bump the version is kept.
        let out = rewrite_for_relay(OFFER, RELAY, 40000, None).expect("rewritten");
        assert!(
            out.contains("o=- 3917348616 3917348616 IN IP4 203.0.113.7\r\n"),
            "{out}"
        );
    }

    #[test]
    fn ice_offer_with_video_and_lf_endings() {
        let offer = "v=0\no=alice 1 2 IN IP4 10.0.0.1\ns=-\nt=0 0\na=ice-options:trickle\n\
            m=audio 5004/2 RTP/AVP 111 0\nc=IN IP4 10.0.0.1\na=rtpmap:111 opus/48000/2\n\
            a=ice-ufrag:F7gI\na=ice-pwd:x9cml/YzichV2+XlhiMu8g\n\
            a=candidate:1 1 UDP 2130706431 10.0.0.1 5004 typ host\na=end-of-candidates\n\
            a=rtcp:5005 IN IP4 10.0.0.1\na=rtcp-mux\n\
            m=video 5006 RTP/AVP 96\nc=IN IP4 10.0.0.1\na=rtpmap:96 VP8/90000\na=rtcp:5007\n\n";
        let s = parse_media(offer).expect("valid");
        let audio = s.audio.as_ref().expect("audio");
        assert_eq!((audio.port, audio.rtcp_port), (5004, Some(5005)));
        assert_eq!(audio.codecs[0], (111, "opus/48000/2".to_string()));
        assert_eq!(s.connection, Some(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1))));

        let out = rewrite_for_relay(offer, RELAY, 30000, None).expect("rewritten");
        let want = "v=0\r\no=alice 1 2 IN IP4 203.0.113.7\r\ns=-\r\nt=0 0\r\n\
            m=audio 30000 RTP/AVP 111 0\r\nc=IN IP4 203.0.113.7\r\na=rtpmap:111 opus/48000/2\r\n\
            a=rtcp:30001 IN IP4 203.0.113.7\r\na=rtcp-mux\r\n\
            m=video 0 RTP/AVP 96\r\nc=IN IP4 203.0.113.7\r\na=rtpmap:96 VP8/90000\r\n";
        assert_eq!(out, want);
    }

    #[test]
    fn ipv6_both_ways() {
        let offer = "v=0\r\no=- 7 7 IN IP6 2001:db8::1\r\nc=IN IP6 2001:db8::1\r\n\
            s=-\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0\r\n";
        let s = parse_media(offer).expect("valid");
        let dest: SocketAddr = "[2001:db8::1]:6000".parse().expect("addr");
        assert_eq!(s.rtp_destination(), Some(dest));
        let out = rewrite_for_relay(offer, RELAY, 20000, None).expect("to IPv4");
        assert!(
            out.contains("o=- 7 7 IN IP4 203.0.113.7\r\nc=IN IP4 203.0.113.7\r\n"),
            "{out}"
        );
        let relay6 = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x99));
        let out = rewrite_for_relay(offer, relay6, 20000, None).expect("to IPv6");
        assert!(
            out.contains("o=- 7 7 IN IP6 2001:db8::99\r\nc=IN IP6 2001:db8::99\r\n"),
            "{out}"
        );
    }

    #[test]
    fn hold_detection_and_preservation() {
        let sendonly = OFFER.replace("a=sendrecv", "a=sendonly");
        let s = parse_media(&sendonly).expect("valid");
        assert_eq!(
            s.audio.as_ref().map(|a| a.direction),
            Some(Direction::SendOnly)
        );
        assert!(s.is_hold());
        let out = rewrite_for_relay(&sendonly, RELAY, 40000, None).expect("rewritten");
        assert!(out.contains("\r\na=sendonly\r\n"));

        let zeros = OFFER.replace("c=IN IP4 192.168.1.10", "c=IN IP4 0.0.0.0");
        let s = parse_media(&zeros.replace("a=sendrecv\r\n", "")).expect("valid");
        assert_eq!(
            s.audio.as_ref().map(|a| a.direction),
            Some(Direction::SendRecv)
        );
        assert!(s.is_hold());
        let out = rewrite_for_relay(&zeros, RELAY, 40000, None).expect("rewritten");
        assert!(
            out.contains("\r\nc=IN IP4 0.0.0.0\r\n"),
            "hold address kept: {out}"
        );

        // Session-level inactive applies to the audio section; a media-level one wins.
        let session = OFFER.replace("t=0 0\r\n", "t=0 0\r\na=inactive\r\n");
        let s = parse_media(&session).expect("valid");
        assert_eq!(s.audio.map(|a| a.direction), Some(Direction::SendRecv));
        let s = parse_media(&session.replace("a=sendrecv\r\n", "")).expect("valid");
        assert_eq!(s.audio.map(|a| a.direction), Some(Direction::Inactive));
    }

    #[test]
    fn edge_cases() {
        // No audio: only c= and o= change; video port and ICE lines stay.
        let video = "v=0\r\no=- 1 1 IN IP4 10.1.1.1\r\nc=IN IP4 10.1.1.1\r\nt=0 0\r\n\
            m=video 7000 RTP/AVP 96\r\na=ice-ufrag:x\r\n";
        let out = rewrite_for_relay(video, RELAY, 20000, None).expect("rewritten");
        assert_eq!(out, video.replace("10.1.1.1", "203.0.113.7"));
        assert_eq!(parse_media(video).map(|s| s.audio), Ok(None));
        // A rejected audio stream stays rejected; media-level c= wins for the destination.
        let rejected = OFFER.replace("m=audio 10000", "m=audio 0");
        let out = rewrite_for_relay(&rejected, RELAY, 20000, None).expect("rewritten");
        assert!(out.contains("\r\nm=audio 0 RTP/AVP 0 8 101\r\n"), "{out}");
        let media_c = OFFER.replace("b=AS:64", "c=IN IP4 172.16.0.9");
        let dest = parse_media(&media_c).expect("valid").rtp_destination();
        assert_eq!(dest, Some("172.16.0.9:10000".parse().expect("addr")));
        // a=rtcp: cannot point past port 65535.
        let out = rewrite_for_relay(OFFER, RELAY, u16::MAX, None).expect("rewritten");
        assert!(
            out.contains("m=audio 65535 ") && !out.contains("a=rtcp"),
            "{out}"
        );
    }

    #[test]
    fn errors() {
        assert_eq!(sdp_text(b"v=0\r\n\xff"), Err(SdpError::NotUtf8));
        assert_eq!(sdp_text(b"v=0\r\n"), Ok("v=0\r\n"));
        for bad in ["", "\r\n", "o=- 1 1 IN IP4 1.2.3.4\r\nv=0\r\n", "hello"] {
            assert_eq!(parse_media(bad), Err(SdpError::MissingVersion), "{bad:?}");
            assert_eq!(
                rewrite_for_relay(bad, RELAY, 1, None),
                Err(SdpError::MissingVersion)
            );
        }
        for m in [
            "m=audio abc RTP/AVP 0",
            "m=audio",
            "m=audio 70000 RTP/AVP 0",
            "m=audio  ",
        ] {
            let sdp = format!("v=0\r\ns=-\r\n{m}\r\n");
            let want = SdpError::BadMediaPort { line: 3 };
            assert_eq!(parse_media(&sdp).err(), Some(want.clone()), "{m}");
            assert_eq!(rewrite_for_relay(&sdp, RELAY, 1, None).err(), Some(want));
        }
    }

    #[test]
    fn never_panics_on_noise() {
        let mut rng = StdRng::seed_from_u64(11);
        let lines: Vec<&str> = OFFER.split_inclusive('\n').collect();
        let junk = [
            "m=",
            "m=audio ",
            "c=",
            "c=IN IP6 ::",
            "o=",
            "a=rtcp:",
            "a=rtpmap:",
            "é\r",
        ];
        for round in 0..5_000 {
            let mut sdp = String::from("v=0\n");
            for _ in 0..rng.gen_range(0..12) {
                match rng.gen_range(0..3) {
                    0 => sdp.push_str(lines[rng.gen_range(0..lines.len())]),
                    1 => sdp.push_str(junk[rng.gen_range(0..junk.len())]),
                    _ => sdp.push(char::from(rng.gen_range(b' '..=b'~'))),
                }
                if rng.gen_bool(0.5) {
                    sdp.push('\n');
                }
            }
            let cut = sdp
                .char_indices()
                .map(|(i, _)| i)
                .nth(round % 50)
                .unwrap_or(sdp.len());
            for text in [&sdp[..], &sdp[..cut], &OFFER[..round % OFFER.len()]] {
                let _ = parse_media(text);
                let _ = rewrite_for_relay(text, RELAY, rng.gen(), rng.gen());
            }
        }
    }
}
