//! Codec negotiation for legs the switch terminates or transcodes: which codec
//! of an offer we take (first one we can decode, in the offerer's order), the
//! SDP answer the switch sends as an endpoint, and the offer to a B leg with
//! our transcodable codecs added after the caller's own.
//!
//! Pure functions over SDP text; must not allocate ports or touch sockets.

use std::fmt::Write as _;
use std::net::IpAddr;

use crate::media::codec::CodecKind;
use crate::sdp::{self, Direction, MediaLine, SdpError};

/// What one leg agreed to speak.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Negotiated {
    pub codec: CodecKind,
    pub pt: u8,
    /// Payload type of telephone-event, when the leg offered or accepted it.
    pub te_pt: Option<u8>,
    /// Clock of that telephone-event (8000 usually; 48000 next to Opus).
    pub te_rate: u32,
}

/// Codecs the switch can decode and encode, in its order of preference.
pub const SUPPORTED: [CodecKind; 4] = [
    CodecKind::Opus,
    CodecKind::Pcmu,
    CodecKind::Pcma,
    CodecKind::L16 { rate: 16000 },
];

/// Every (payload type, codec) of the audio line we can speak, in the line's
/// order; static payload types without rtpmap count (RFC 3551).
pub fn offered_codecs(audio: &MediaLine) -> Vec<(u8, CodecKind)> {
    audio
        .payloads
        .iter()
        .filter_map(|&pt| {
            let mapped = audio
                .codecs
                .iter()
                .find(|(p, _)| *p == pt)
                .and_then(|(_, enc)| CodecKind::parse_rtpmap(enc));
            let kind = mapped.or(match pt {
                0 => Some(CodecKind::Pcmu),
                8 => Some(CodecKind::Pcma),
                _ => None,
            })?;
            Some((pt, kind))
        })
        .collect()
}

/// The telephone-event payload type of the line at `rate` (any rate if none matches).
pub fn telephone_event(audio: &MediaLine, rate: u32) -> Option<(u8, u32)> {
    let events: Vec<(u8, u32)> = audio
        .codecs
        .iter()
        .filter(|(pt, _)| audio.payloads.contains(pt))
        .filter_map(|(pt, enc)| {
            let (name, rest) = enc.split_once('/')?;
            let clock = rest.split('/').next()?.parse().ok()?;
            name.eq_ignore_ascii_case("telephone-event")
                .then_some((*pt, clock))
        })
        .collect();
    events
        .iter()
        .find(|(_, r)| *r == rate)
        .or(events.first())
        .copied()
}

/// The first codec of `audio` we can speak, with its telephone-event.
pub fn choose(audio: &MediaLine) -> Option<Negotiated> {
    let (pt, codec) = offered_codecs(audio).into_iter().next()?;
    let te = telephone_event(audio, codec.clock_rate());
    Some(Negotiated {
        codec,
        pt,
        te_pt: te.map(|t| t.0),
        te_rate: te.map(|t| t.1).unwrap_or(8000),
    })
}

/// The PCM rate a leg runs at: the other leg's when the codec can (no
/// resampling at all for Opus bridged to G.711), 16 kHz for an Opus leg the
/// switch plays to itself (prompts are wideband), else the codec's clock.
/// Playback sources for a leg are best made at this rate.
pub fn pcm_rate(neg: &Negotiated, other: Option<u32>) -> u32 {
    let rates = neg.codec.pcm_rates();
    match other {
        Some(r) if rates.contains(&r) => r,
        None if rates.contains(&16_000) => 16_000,
        _ => rates.first().copied().unwrap_or(neg.codec.clock_rate()),
    }
}

/// Reads an offer or answer body: its audio line, if it has one we could use.
pub fn audio_line(body: &[u8]) -> Result<Option<MediaLine>, SdpError> {
    let text = sdp::sdp_text(body)?;
    Ok(sdp::parse_media(text)?.audio)
}

/// The rtpmap text of `codec` (`PCMU/8000`, `opus/48000/2`).
pub fn rtpmap(codec: CodecKind) -> String {
    match codec {
        CodecKind::Opus => "opus/48000/2".to_string(),
        c => format!("{}/{}", c.encoding_name(), c.clock_rate()),
    }
}

/// SDP the switch sends when it is the media endpoint (or the transcoding side):
/// one audio stream at `ip:port` speaking `neg`, sendrecv, RTCP on port + 1.
pub fn endpoint_sdp(
    ip: IpAddr,
    port: u16,
    proto: &str,
    neg: &Negotiated,
    session: u64,
    direction: Direction,
) -> String {
    let fam = if ip.is_ipv4() { "IP4" } else { "IP6" };
    let mut pts = neg.pt.to_string();
    if let Some(te) = neg.te_pt {
        let _ = write!(pts, " {te}");
    }
    let mut s = format!(
        "v=0\r\no=switchyard {session} {session} IN {fam} {ip}\r\ns=switchyard\r\nc=IN {fam} {ip}\r\nt=0 0\r\nm=audio {port} {proto} {pts}\r\na=rtpmap:{} {}\r\n",
        neg.pt,
        rtpmap(neg.codec)
    );
    if neg.codec == CodecKind::Opus {
        let _ = write!(s, "a=fmtp:{} useinbandfec=1\r\n", neg.pt);
    }
    if let Some(te) = neg.te_pt {
        let _ = write!(
            s,
            "a=rtpmap:{te} telephone-event/{}\r\na=fmtp:{te} 0-15\r\n",
            neg.te_rate
        );
    }
    let _ = write!(s, "a=ptime:20\r\na={}\r\n", direction.as_str());
    s
}

/// The offer the switch makes when it must offer first (an INVITE without
/// SDP to a number it answers itself): every codec it speaks plus telephone-event.
pub fn endpoint_offer(ip: IpAddr, port: u16, session: u64) -> String {
    let fam = if ip.is_ipv4() { "IP4" } else { "IP6" };
    format!(
        "v=0\r\no=switchyard {session} {session} IN {fam} {ip}\r\ns=switchyard\r\nc=IN {fam} {ip}\r\nt=0 0\r\n\
         m=audio {port} RTP/AVP 0 8 111 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n\
         a=rtpmap:111 opus/48000/2\r\na=fmtp:111 useinbandfec=1\r\n\
         a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=ptime:20\r\na=sendrecv\r\n"
    )
}

/// Whether a side may be sent media after we answered it with `answered`.
pub fn we_send(answered: Direction) -> bool {
    matches!(answered, Direction::SendRecv | Direction::SendOnly)
}

/// The direction an answer takes to an offer with `offered` (RFC 3264 §6.1).
pub fn answer_direction(offered: Direction) -> Direction {
    match offered {
        Direction::SendOnly => Direction::RecvOnly,
        Direction::RecvOnly => Direction::SendOnly,
        d => d,
    }
}

/// Adds the codecs of [`SUPPORTED`] that the caller did not offer to an
/// (already anchored) offer, after the caller's own, so a callee that speaks
/// none of the caller's codecs can still answer and the switch transcodes.
/// Offers on a secure profile (SAVP, DTLS) are returned unchanged.
pub fn widen_offer(offer: &str) -> String {
    let Ok(summary) = sdp::parse_media(offer) else {
        return offer.to_string();
    };
    let Some(audio) = summary.audio else {
        return offer.to_string();
    };
    if audio.proto != "RTP/AVP" || audio.port == 0 {
        return offer.to_string();
    }
    let have = offered_codecs(&audio);
    if have.is_empty() {
        return offer.to_string();
    }
    let mut used: Vec<u8> = audio.payloads.clone();
    let mut extra: Vec<(u8, CodecKind)> = Vec::new();
    for kind in SUPPORTED {
        if have.iter().any(|(_, k)| *k == kind) {
            continue;
        }
        let pt = match kind.payload_type_default() {
            Some(p) if !used.contains(&p) => p,
            _ => match (96u8..=127).find(|p| !used.contains(p)) {
                Some(p) => p,
                None => continue,
            },
        };
        used.push(pt);
        extra.push((pt, kind));
    }
    if extra.is_empty() {
        return offer.to_string();
    }
    let mut out = String::with_capacity(offer.len() + 128);
    let mut in_audio = false;
    let mut audio_done = false;
    for line in offer.split("\r\n").flat_map(|l| l.split('\n')) {
        if line.is_empty() {
            continue;
        }
        if line.starts_with("m=") {
            if in_audio && !audio_done {
                push_rtpmaps(&mut out, &extra);
                audio_done = true;
            }
            in_audio = line.starts_with("m=audio ") && !audio_done;
            if in_audio {
                out.push_str(line);
                for (pt, _) in &extra {
                    let _ = write!(out, " {pt}");
                }
                out.push_str("\r\n");
                continue;
            }
        }
        out.push_str(line);
        out.push_str("\r\n");
    }
    if in_audio && !audio_done {
        push_rtpmaps(&mut out, &extra);
    }
    out
}

fn push_rtpmaps(out: &mut String, extra: &[(u8, CodecKind)]) {
    for (pt, kind) in extra {
        let _ = write!(out, "a=rtpmap:{pt} {}\r\n", rtpmap(*kind));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PCMU_ONLY: &str = "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=sendrecv\r\n";

    #[test]
    fn chooses_the_first_supported_codec_and_its_events() {
        let audio = sdp::parse_media(PCMU_ONLY)
            .expect("sdp")
            .audio
            .expect("audio");
        let n = choose(&audio).expect("codec");
        assert_eq!(
            n,
            Negotiated {
                codec: CodecKind::Pcmu,
                pt: 0,
                te_pt: Some(101),
                te_rate: 8000
            }
        );
        let opus = "v=0\r\nc=IN IP4 1.2.3.4\r\nm=audio 5 RTP/AVP 9 111 110\r\na=rtpmap:9 G722/8000\r\na=rtpmap:111 opus/48000/2\r\na=rtpmap:110 telephone-event/48000\r\n";
        let audio = sdp::parse_media(opus).expect("sdp").audio.expect("audio");
        let n = choose(&audio).expect("codec");
        assert_eq!(
            (n.codec, n.pt, n.te_pt, n.te_rate),
            (CodecKind::Opus, 111, Some(110), 48000)
        );
        let none = "v=0\r\nc=IN IP4 1.2.3.4\r\nm=audio 5 RTP/AVP 9 18\r\n";
        let audio = sdp::parse_media(none).expect("sdp").audio.expect("audio");
        assert!(choose(&audio).is_none());
    }

    #[test]
    fn endpoint_answer_parses_back() {
        let n = Negotiated {
            codec: CodecKind::Opus,
            pt: 111,
            te_pt: Some(101),
            te_rate: 48000,
        };
        let s = endpoint_sdp(
            "192.0.2.1".parse().expect("ip"),
            30000,
            "RTP/AVP",
            &n,
            7,
            Direction::RecvOnly,
        );
        assert!(s.contains("a=recvonly\r\n"));
        let sum = sdp::parse_media(&s).expect("parses");
        let audio = sum.audio.expect("audio");
        assert_eq!(audio.port, 30000);
        assert_eq!(choose(&audio), Some(n));
    }

    #[test]
    fn our_own_offer_lists_every_codec_we_speak() {
        let s = endpoint_offer("192.0.2.1".parse().expect("ip"), 30000, 1);
        let audio = sdp::parse_media(&s).expect("sdp").audio.expect("audio");
        let kinds: Vec<CodecKind> = offered_codecs(&audio).into_iter().map(|c| c.1).collect();
        assert_eq!(kinds, [CodecKind::Pcmu, CodecKind::Pcma, CodecKind::Opus]);
        assert_eq!(telephone_event(&audio, 8000), Some((101, 8000)));
    }

    #[test]
    fn widened_offer_keeps_the_callers_codecs_first() {
        let w = widen_offer(PCMU_ONLY);
        let audio = sdp::parse_media(&w).expect("sdp").audio.expect("audio");
        let kinds: Vec<CodecKind> = offered_codecs(&audio).into_iter().map(|c| c.1).collect();
        assert_eq!(kinds[0], CodecKind::Pcmu);
        assert!(kinds.contains(&CodecKind::Opus));
        assert!(kinds.contains(&CodecKind::Pcma));
        assert_eq!(telephone_event(&audio, 8000), Some((101, 8000)));
        // no payload type used twice
        let mut pts = audio.payloads.clone();
        pts.sort_unstable();
        pts.dedup();
        assert_eq!(pts.len(), audio.payloads.len());
        // secure profiles are left alone
        let savp = PCMU_ONLY.replace("RTP/AVP", "RTP/SAVP");
        assert_eq!(widen_offer(&savp), savp);
    }
}
