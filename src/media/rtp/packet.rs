//! RTP fixed header parse/build (RFC 3550 §5.1) and RTP/RTCP demultiplexing
//! on a muxed port (RFC 5761 §4).
//!
//! Parsing is zero-copy over [`Bytes`]: the payload and extension data are
//! slices of the received datagram. Every malformed input is an error value,
//! never a panic. This module knows nothing about streams or timing.

use bytes::{BufMut, Bytes, BytesMut};

/// Fixed RTP header length without CSRCs.
pub const HEADER_LEN: usize = 12;

/// Why a datagram is not a valid RTP packet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PacketError {
    #[error("datagram too short: {len} bytes, need at least {need}")]
    Truncated { len: usize, need: usize },
    #[error("unsupported RTP version {0}")]
    BadVersion(u8),
    #[error("padding count {pad} does not fit a {len}-byte packet")]
    BadPadding { pad: usize, len: usize },
    #[error("too many CSRCs: {0} (max 15)")]
    TooManyCsrcs(usize),
    #[error("extension data length {0} is not a multiple of 4")]
    BadExtensionLength(usize),
}

/// What a datagram on an RTP/RTCP-muxed port is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MuxKind {
    Rtp,
    Rtcp,
}

/// Classify a datagram on a muxed port. RTCP is recognised by version 2 and a
/// second byte in 192..=223 (RFC 5761 §4), which covers SR/RR/SDES/BYE/APP
/// (200–204) and the feedback/XR types.
pub fn classify(buf: &[u8]) -> Result<MuxKind, PacketError> {
    if buf.len() < 2 {
        return Err(PacketError::Truncated {
            len: buf.len(),
            need: 2,
        });
    }
    let version = buf[0] >> 6;
    if version != 2 {
        return Err(PacketError::BadVersion(version));
    }
    if (192..=223).contains(&buf[1]) {
        Ok(MuxKind::Rtcp)
    } else {
        Ok(MuxKind::Rtp)
    }
}

/// RFC 3550 §5.3.1 header extension: profile-defined id and 32-bit-aligned data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extension {
    pub profile: u16,
    pub data: Bytes,
}

/// One RTP packet. `padding` is the number of padding bytes (0 = no P bit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtpPacket {
    pub marker: bool,
    pub payload_type: u8,
    pub sequence: u16,
    pub timestamp: u32,
    pub ssrc: u32,
    csrc: [u32; 15],
    csrc_count: u8,
    pub extension: Option<Extension>,
    pub padding: u8,
    pub payload: Bytes,
}

impl RtpPacket {
    /// A packet with no CSRC, extension or padding.
    pub fn new(payload_type: u8, sequence: u16, timestamp: u32, ssrc: u32, payload: Bytes) -> Self {
        Self {
            marker: false,
            payload_type: payload_type & 0x7f,
            sequence,
            timestamp,
            ssrc,
            csrc: [0; 15],
            csrc_count: 0,
            extension: None,
            padding: 0,
            payload,
        }
    }

    /// Contributing sources.
    pub fn csrcs(&self) -> &[u32] {
        &self.csrc[..usize::from(self.csrc_count)]
    }

    /// Replace the contributing sources (at most 15).
    pub fn set_csrcs(&mut self, csrcs: &[u32]) -> Result<(), PacketError> {
        if csrcs.len() > 15 {
            return Err(PacketError::TooManyCsrcs(csrcs.len()));
        }
        self.csrc[..csrcs.len()].copy_from_slice(csrcs);
        self.csrc_count = csrcs.len() as u8;
        Ok(())
    }

    /// Parse a datagram. The payload excludes padding.
    pub fn parse(buf: Bytes) -> Result<Self, PacketError> {
        let len = buf.len();
        if len < HEADER_LEN {
            return Err(PacketError::Truncated {
                len,
                need: HEADER_LEN,
            });
        }
        let b0 = buf[0];
        let version = b0 >> 6;
        if version != 2 {
            return Err(PacketError::BadVersion(version));
        }
        let has_padding = b0 & 0x20 != 0;
        let has_ext = b0 & 0x10 != 0;
        let cc = usize::from(b0 & 0x0f);
        let mut pos = HEADER_LEN + 4 * cc;
        if len < pos {
            return Err(PacketError::Truncated { len, need: pos });
        }
        let mut csrc = [0u32; 15];
        for (i, slot) in csrc.iter_mut().take(cc).enumerate() {
            *slot = be32(&buf[HEADER_LEN + 4 * i..]);
        }
        let extension = if has_ext {
            if len < pos + 4 {
                return Err(PacketError::Truncated { len, need: pos + 4 });
            }
            let profile = u16::from_be_bytes([buf[pos], buf[pos + 1]]);
            let words = usize::from(u16::from_be_bytes([buf[pos + 2], buf[pos + 3]]));
            let start = pos + 4;
            pos = start + 4 * words;
            if len < pos {
                return Err(PacketError::Truncated { len, need: pos });
            }
            Some(Extension {
                profile,
                data: buf.slice(start..pos),
            })
        } else {
            None
        };
        let mut end = len;
        let mut padding = 0u8;
        if has_padding {
            let pad = usize::from(buf[len - 1]);
            if pad == 0 || pos + pad > len {
                return Err(PacketError::BadPadding { pad, len });
            }
            end = len - pad;
            padding = buf[len - 1];
        }
        Ok(Self {
            marker: buf[1] & 0x80 != 0,
            payload_type: buf[1] & 0x7f,
            sequence: u16::from_be_bytes([buf[2], buf[3]]),
            timestamp: be32(&buf[4..]),
            ssrc: be32(&buf[8..]),
            csrc,
            csrc_count: cc as u8,
            extension,
            padding,
            payload: buf.slice(pos..end),
        })
    }

    /// Serialised length in bytes.
    pub fn wire_len(&self) -> usize {
        HEADER_LEN
            + 4 * usize::from(self.csrc_count)
            + self.extension.as_ref().map_or(0, |e| 4 + e.data.len())
            + self.payload.len()
            + usize::from(self.padding)
    }

    /// Append the wire form to `out` (reuse one buffer per sender).
    pub fn write_to(&self, out: &mut BytesMut) -> Result<(), PacketError> {
        if let Some(ext) = &self.extension {
            if ext.data.len() % 4 != 0 || ext.data.len() / 4 > usize::from(u16::MAX) {
                return Err(PacketError::BadExtensionLength(ext.data.len()));
            }
        }
        out.reserve(self.wire_len());
        let b0 = 0x80
            | if self.padding > 0 { 0x20 } else { 0 }
            | if self.extension.is_some() { 0x10 } else { 0 }
            | self.csrc_count;
        out.put_u8(b0);
        out.put_u8(if self.marker { 0x80 } else { 0 } | (self.payload_type & 0x7f));
        out.put_u16(self.sequence);
        out.put_u32(self.timestamp);
        out.put_u32(self.ssrc);
        for c in self.csrcs() {
            out.put_u32(*c);
        }
        if let Some(ext) = &self.extension {
            out.put_u16(ext.profile);
            out.put_u16((ext.data.len() / 4) as u16);
            out.put_slice(&ext.data);
        }
        out.put_slice(&self.payload);
        if self.padding > 0 {
            out.put_bytes(0, usize::from(self.padding) - 1);
            out.put_u8(self.padding);
        }
        Ok(())
    }

    /// Serialise into a fresh buffer.
    pub fn to_bytes(&self) -> Result<Bytes, PacketError> {
        let mut out = BytesMut::with_capacity(self.wire_len());
        self.write_to(&mut out)?;
        Ok(out.freeze())
    }
}

/// Big-endian u32 from the first four bytes; callers check the length first.
fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full() -> RtpPacket {
        let mut p = RtpPacket::new(
            0,
            65535,
            0xfffe_0000,
            0xdead_beef,
            Bytes::from_static(&[1, 2, 3, 4, 5]),
        );
        p.marker = true;
        p.set_csrcs(&[7, 8]).expect("two csrcs fit");
        p.extension = Some(Extension {
            profile: 0xbede,
            data: Bytes::from_static(&[9, 9, 9, 9]),
        });
        p.padding = 3;
        p
    }

    #[test]
    fn round_trip_all_fields() {
        let p = full();
        let wire = p.to_bytes().expect("valid");
        assert_eq!(wire.len(), p.wire_len());
        assert_eq!(wire.len() % 4, 0, "12+8+8+5+3");
        let q = RtpPacket::parse(wire).expect("parses");
        assert_eq!(q, p);
        assert_eq!(q.csrcs(), &[7, 8]);
        assert_eq!(&q.payload[..], &[1, 2, 3, 4, 5]);
    }

    #[test]
    fn known_bytes() {
        let wire = [
            0x80, 0x88, 0x00, 0x01, 0, 0, 0x01, 0x40, 0x12, 0x34, 0x56, 0x78, 0xd5, 0xd5,
        ];
        let p = RtpPacket::parse(Bytes::copy_from_slice(&wire)).expect("valid");
        assert!(p.marker);
        assert_eq!(
            (p.payload_type, p.sequence, p.timestamp, p.ssrc),
            (8, 1, 320, 0x1234_5678)
        );
        assert_eq!(p.to_bytes().expect("valid"), Bytes::copy_from_slice(&wire));
    }

    #[test]
    fn every_truncation_is_an_error() {
        let wire = full().to_bytes().expect("valid");
        // Up to the end of the extension every prefix is invalid; past it a
        // prefix may happen to look like a padded packet, but must not panic.
        for n in 0..28 {
            assert!(
                RtpPacket::parse(wire.slice(..n)).is_err(),
                "prefix {n} must fail"
            );
        }
        for n in 28..wire.len() {
            let _ = RtpPacket::parse(wire.slice(..n));
        }
    }

    #[test]
    fn garbage_never_panics() {
        let mut x: u32 = 12345;
        for _ in 0..20_000 {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            let len = (x >> 8) as usize % 64;
            let bytes: Vec<u8> = (0..len).map(|i| (x >> (i % 24)) as u8 ^ i as u8).collect();
            let _ = RtpPacket::parse(Bytes::from(bytes.clone()));
            let _ = classify(&bytes);
        }
    }

    #[test]
    fn bad_version_and_padding() {
        let mut wire = full().to_bytes().expect("valid").to_vec();
        wire[0] &= 0x3f;
        assert_eq!(
            RtpPacket::parse(Bytes::from(wire.clone())),
            Err(PacketError::BadVersion(0))
        );
        wire[0] |= 0x80;
        let last = wire.len() - 1;
        wire[last] = 200;
        assert!(matches!(
            RtpPacket::parse(Bytes::from(wire)),
            Err(PacketError::BadPadding { .. })
        ));
    }

    #[test]
    fn classify_muxed_port() {
        for pt in 200u8..=204 {
            assert_eq!(classify(&[0x81, pt, 0, 1]), Ok(MuxKind::Rtcp));
        }
        assert_eq!(classify(&[0x80, 0x00]), Ok(MuxKind::Rtp));
        assert_eq!(
            classify(&[0x80, 0x80 | 8]),
            Ok(MuxKind::Rtp),
            "PCMA with marker"
        );
        assert_eq!(classify(&[0x80, 96]), Ok(MuxKind::Rtp));
        assert!(classify(&[0x80]).is_err());
        assert!(classify(&[0x00, 0]).is_err());
    }
}
