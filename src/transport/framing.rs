//! Sans-IO framing of SIP messages on a byte stream (TCP): messages are delimited
//! by the blank line after the headers plus `Content-Length` bytes of body
//! (RFC 3261 §18.3). Also recognises RFC 5626 CRLF keep-alive pings.

use bytes::{Buf, BytesMut};

use crate::sip::message::MAX_MESSAGE;

#[derive(Debug, PartialEq, Eq)]
pub enum Frame {
    /// One complete message, headers and body.
    Message(bytes::Bytes),
    /// A double-CRLF keep-alive ping: answer with a single CRLF.
    Ping,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FramingError {
    #[error("message head larger than {0} bytes")]
    TooLarge(usize),
    #[error("invalid Content-Length")]
    BadLength,
}

/// Accumulates stream bytes and yields frames.
#[derive(Default)]
pub struct Framer {
    buf: BytesMut,
}

impl Framer {
    pub fn buffer_mut(&mut self) -> &mut BytesMut {
        &mut self.buf
    }

    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// Next complete frame, `Ok(None)` when more bytes are needed.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, FramingError> {
        // keep-alives and stray line ends between messages
        if self.buf.starts_with(b"\r\n\r\n") {
            self.buf.advance(4);
            return Ok(Some(Frame::Ping));
        }
        while self.buf.starts_with(b"\r\n") && self.buf.len() >= 4 {
            self.buf.advance(2);
        }
        if self.buf.first() == Some(&b'\r') || self.buf.first() == Some(&b'\n') {
            if self.buf.len() < 4 {
                return Ok(None);
            }
            self.buf.advance(1);
        }
        let Some(head_end) = find(&self.buf, b"\r\n\r\n") else {
            if self.buf.len() > MAX_MESSAGE {
                return Err(FramingError::TooLarge(MAX_MESSAGE));
            }
            return Ok(None);
        };
        let body_len = content_length(&self.buf[..head_end])?;
        let total = head_end + 4 + body_len;
        if total > MAX_MESSAGE {
            return Err(FramingError::TooLarge(MAX_MESSAGE));
        }
        if self.buf.len() < total {
            return Ok(None);
        }
        Ok(Some(Frame::Message(self.buf.split_to(total).freeze())))
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn content_length(head: &[u8]) -> Result<usize, FramingError> {
    for line in head.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let name = std::str::from_utf8(&line[..colon]).unwrap_or("").trim();
        if name.eq_ignore_ascii_case("content-length") || name.eq_ignore_ascii_case("l") {
            let v = std::str::from_utf8(&line[colon + 1..]).map_err(|_| FramingError::BadLength)?;
            return v
                .trim()
                .parse::<usize>()
                .map_err(|_| FramingError::BadLength);
        }
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_split_across_reads_and_pipelined() {
        let m1 = b"OPTIONS sip:a SIP/2.0\r\nContent-Length: 3\r\n\r\nabc";
        let m2 = b"OPTIONS sip:b SIP/2.0\r\nl: 0\r\n\r\n";
        let mut all = Vec::new();
        all.extend_from_slice(m1);
        all.extend_from_slice(b"\r\n\r\n");
        all.extend_from_slice(m2);
        let mut f = Framer::default();
        let mut frames = Vec::new();
        for chunk in all.chunks(7) {
            f.push(chunk);
            while let Some(fr) = f.next_frame().expect("ok") {
                frames.push(fr);
            }
        }
        assert_eq!(
            frames,
            vec![
                Frame::Message(bytes::Bytes::from_static(m1)),
                Frame::Ping,
                Frame::Message(bytes::Bytes::from_static(m2))
            ]
        );
    }

    #[test]
    fn oversized_and_bad_length_rejected() {
        let mut f = Framer::default();
        f.push(&vec![b'a'; MAX_MESSAGE + 10]);
        assert_eq!(f.next_frame(), Err(FramingError::TooLarge(MAX_MESSAGE)));
        let mut f = Framer::default();
        f.push(b"X sip:a SIP/2.0\r\nContent-Length: -5\r\n\r\n");
        assert_eq!(f.next_frame(), Err(FramingError::BadLength));
        let mut f = Framer::default();
        f.push(b"X sip:a SIP/2.0\r\nContent-Length: 99999999\r\n\r\n");
        assert_eq!(f.next_frame(), Err(FramingError::TooLarge(MAX_MESSAGE)));
    }
}
