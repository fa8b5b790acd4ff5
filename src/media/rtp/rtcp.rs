//! RTCP sender and receiver reports (RFC 3550 §6.4.1–6.4.2): build our SR/RR
//! and read the SR/RR blocks in a peer's compound packet, skipping other
//! RTCP types. Wire format only; the statistics live in `stats`.

use bytes::{BufMut, BytesMut};

/// Why an RTCP datagram could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RtcpError {
    #[error("RTCP too short: {len} bytes, need {need}")]
    Truncated { len: usize, need: usize },
    #[error("unsupported RTCP version {0}")]
    BadVersion(u8),
    #[error("too many report blocks: {0} (max 31)")]
    TooManyBlocks(usize),
}

/// One reception report block (RFC 3550 §6.4.1), 24 bytes on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportBlock {
    pub ssrc: u32,
    pub fraction_lost: u8,
    /// 24-bit signed on the wire.
    pub cumulative_lost: i32,
    pub ext_highest_seq: u32,
    pub jitter: u32,
    pub lsr: u32,
    pub dlsr: u32,
}

/// Sender info of an SR.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SenderInfo {
    pub ntp_timestamp: u64,
    pub rtp_timestamp: u32,
    pub packet_count: u32,
    pub octet_count: u32,
}

impl SenderInfo {
    /// The "last SR" value a receiver echoes: middle 32 bits of the NTP time.
    pub fn lsr(&self) -> u32 {
        (self.ntp_timestamp >> 16) as u32
    }
}

/// DLSR field value (units of 1/65536 s) for a delay since the last SR.
pub fn dlsr(since_last_sr: std::time::Duration) -> u32 {
    let units = since_last_sr.as_nanos() * 65_536 / 1_000_000_000;
    u32::try_from(units).unwrap_or(u32::MAX)
}

/// An SR or RR; other RTCP packets in a compound datagram are skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RtcpReport {
    Sender {
        ssrc: u32,
        info: SenderInfo,
        blocks: Vec<ReportBlock>,
    },
    Receiver {
        ssrc: u32,
        blocks: Vec<ReportBlock>,
    },
}

impl RtcpReport {
    /// Append the wire form to `out`.
    pub fn write_to(&self, out: &mut BytesMut) -> Result<(), RtcpError> {
        let (pt, ssrc, blocks, info) = match self {
            RtcpReport::Sender { ssrc, info, blocks } => (200u8, *ssrc, blocks, Some(info)),
            RtcpReport::Receiver { ssrc, blocks } => (201u8, *ssrc, blocks, None),
        };
        if blocks.len() > 31 {
            return Err(RtcpError::TooManyBlocks(blocks.len()));
        }
        let words = 1 + info.map_or(0, |_| 5) + 6 * blocks.len();
        out.reserve(4 + 4 * words);
        out.put_u8(0x80 | blocks.len() as u8);
        out.put_u8(pt);
        out.put_u16(words as u16);
        out.put_u32(ssrc);
        if let Some(i) = info {
            out.put_u64(i.ntp_timestamp);
            out.put_u32(i.rtp_timestamp);
            out.put_u32(i.packet_count);
            out.put_u32(i.octet_count);
        }
        for b in blocks {
            out.put_u32(b.ssrc);
            out.put_u8(b.fraction_lost);
            let lost = b.cumulative_lost.clamp(-0x80_0000, 0x7f_ffff) as u32 & 0x00ff_ffff;
            out.put_slice(&lost.to_be_bytes()[1..]);
            out.put_u32(b.ext_highest_seq);
            out.put_u32(b.jitter);
            out.put_u32(b.lsr);
            out.put_u32(b.dlsr);
        }
        Ok(())
    }

    /// Read every SR/RR in a (compound) RTCP datagram.
    pub fn parse_compound(mut buf: &[u8]) -> Result<Vec<RtcpReport>, RtcpError> {
        let mut out = Vec::new();
        while !buf.is_empty() {
            if buf.len() < 4 {
                return Err(RtcpError::Truncated {
                    len: buf.len(),
                    need: 4,
                });
            }
            let version = buf[0] >> 6;
            if version != 2 {
                return Err(RtcpError::BadVersion(version));
            }
            let count = usize::from(buf[0] & 0x1f);
            let len = 4 * (usize::from(u16::from_be_bytes([buf[2], buf[3]])) + 1);
            if buf.len() < len {
                return Err(RtcpError::Truncated {
                    len: buf.len(),
                    need: len,
                });
            }
            let body = &buf[4..len];
            match buf[1] {
                200 => {
                    need(body, 24 + 24 * count)?;
                    let info = SenderInfo {
                        ntp_timestamp: (u64::from(be32(&body[4..])) << 32)
                            | u64::from(be32(&body[8..])),
                        rtp_timestamp: be32(&body[12..]),
                        packet_count: be32(&body[16..]),
                        octet_count: be32(&body[20..]),
                    };
                    let blocks = read_blocks(&body[24..], count);
                    out.push(RtcpReport::Sender {
                        ssrc: be32(body),
                        info,
                        blocks,
                    });
                }
                201 => {
                    need(body, 4 + 24 * count)?;
                    let blocks = read_blocks(&body[4..], count);
                    out.push(RtcpReport::Receiver {
                        ssrc: be32(body),
                        blocks,
                    });
                }
                _ => {}
            }
            buf = &buf[len..];
        }
        Ok(out)
    }
}

fn need(body: &[u8], n: usize) -> Result<(), RtcpError> {
    if body.len() < n {
        return Err(RtcpError::Truncated {
            len: body.len() + 4,
            need: n + 4,
        });
    }
    Ok(())
}

/// Callers checked that `b` holds `count` blocks.
fn read_blocks(b: &[u8], count: usize) -> Vec<ReportBlock> {
    (0..count)
        .map(|i| {
            let r = &b[24 * i..];
            // Sign-extend the 24-bit cumulative loss.
            let lost = (i32::from_be_bytes([r[5], r[6], r[7], 0])) >> 8;
            ReportBlock {
                ssrc: be32(r),
                fraction_lost: r[4],
                cumulative_lost: lost,
                ext_highest_seq: be32(&r[8..]),
                jitter: be32(&r[12..]),
                lsr: be32(&r[16..]),
                dlsr: be32(&r[20..]),
            }
        })
        .collect()
}

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dlsr_units() {
        assert_eq!(dlsr(std::time::Duration::from_millis(500)), 32_768);
        assert_eq!(dlsr(std::time::Duration::from_secs(1 << 20)), u32::MAX);
    }

    #[test]
    fn rtcp_sr_rr_round_trip() {
        let block = ReportBlock {
            ssrc: 0x0102_0304,
            fraction_lost: 25,
            cumulative_lost: -5,
            ext_highest_seq: 0x0001_0010,
            jitter: 33,
            lsr: 0xaabb_ccdd,
            dlsr: 65_536,
        };
        let sr = RtcpReport::Sender {
            ssrc: 9,
            info: SenderInfo {
                ntp_timestamp: 0x1122_3344_5566_7788,
                rtp_timestamp: 160,
                packet_count: 50,
                octet_count: 8000,
            },
            blocks: vec![block],
        };
        let rr = RtcpReport::Receiver {
            ssrc: 10,
            blocks: vec![
                block,
                ReportBlock {
                    ssrc: 2,
                    cumulative_lost: 0x7f_ffff,
                    ..block
                },
            ],
        };
        let mut buf = BytesMut::new();
        sr.write_to(&mut buf).expect("fits");
        assert_eq!(buf.len(), 4 * (1 + 1 + 5 + 6));
        // An SDES-like packet in between is skipped.
        buf.extend_from_slice(&[0x81, 202, 0, 1, 0, 0, 0, 9]);
        rr.write_to(&mut buf).expect("fits");
        let parsed = RtcpReport::parse_compound(&buf).expect("valid");
        assert_eq!(parsed, vec![sr.clone(), rr]);
        if let RtcpReport::Sender { info, .. } = sr {
            assert_eq!(info.lsr(), 0x3344_5566);
        }
        for n in 1..buf.len() {
            let _ = RtcpReport::parse_compound(&buf[..n]);
        }
        assert!(RtcpReport::parse_compound(&buf[..buf.len() - 4]).is_err());
    }
}
