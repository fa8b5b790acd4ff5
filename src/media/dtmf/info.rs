//! DTMF carried in SIP INFO bodies: `application/dtmf-relay`
//! (`Signal=5\r\nDuration=160`) and `application/dtmf` (`5`).
//!
//! Pure parsing and formatting of the body; the SIP layer decides which INFO
//! requests reach here and answers them (415 for other types, 400 on an error
//! from this module).

use super::{Digit, DigitError};

/// Largest body accepted; real ones are a few dozen bytes.
const MAX_BODY: usize = 1024;

/// Why an INFO body is not a DTMF digit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InfoError {
    #[error("content type {0:?} does not carry DTMF")]
    UnsupportedContentType(String),
    #[error("body of {len} bytes exceeds {max}")]
    TooLarge { len: usize, max: usize },
    #[error("body has no Signal line")]
    MissingSignal,
    #[error("body has more than one {0} line")]
    Duplicate(&'static str),
    #[error("line {line} is not key=value")]
    MalformedLine { line: usize },
    #[error("signal {0:?} is not a DTMF digit")]
    InvalidSignal(String),
    #[error("duration {0:?} is not a number of milliseconds")]
    InvalidDuration(String),
    #[error(transparent)]
    Digit(#[from] DigitError),
}

/// A digit received in an INFO body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InfoDigit {
    pub digit: Digit,
    /// Milliseconds, when the body says.
    pub duration_ms: Option<u32>,
}

/// Parses an INFO body according to its `Content-Type` header value
/// (case-insensitive; parameters such as `;charset=` are ignored).
pub fn parse_info(content_type: &str, body: &str) -> Result<InfoDigit, InfoError> {
    let media = content_type.split(';').next().unwrap_or("").trim();
    if media.eq_ignore_ascii_case("application/dtmf-relay") {
        parse_dtmf_relay(body)
    } else if media.eq_ignore_ascii_case("application/dtmf") {
        parse_dtmf(body)
    } else {
        Err(InfoError::UnsupportedContentType(media.to_owned()))
    }
}

/// Parses `application/dtmf-relay`: `Signal=` (required) and `Duration=`
/// (optional) lines in any case and order, with free whitespace; other keys
/// are ignored.
pub fn parse_dtmf_relay(body: &str) -> Result<InfoDigit, InfoError> {
    check_size(body)?;
    let mut signal = None;
    let mut duration = None;
    for (i, line) in body.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let (key, value) = line
            .split_once('=')
            .ok_or(InfoError::MalformedLine { line: i + 1 })?;
        let (key, value) = (key.trim(), value.trim());
        if key.eq_ignore_ascii_case("signal") {
            if signal.replace(parse_signal(value)?).is_some() {
                return Err(InfoError::Duplicate("Signal"));
            }
        } else if key.eq_ignore_ascii_case("duration") {
            let ms = value
                .parse::<u32>()
                .map_err(|_| InfoError::InvalidDuration(value.to_owned()))?;
            if duration.replace(ms).is_some() {
                return Err(InfoError::Duplicate("Duration"));
            }
        }
    }
    let digit = signal.ok_or(InfoError::MissingSignal)?;
    Ok(InfoDigit {
        digit,
        duration_ms: duration,
    })
}

/// Parses `application/dtmf`: the body is just the digit.
pub fn parse_dtmf(body: &str) -> Result<InfoDigit, InfoError> {
    check_size(body)?;
    let value = body.trim();
    if value.is_empty() {
        return Err(InfoError::MissingSignal);
    }
    Ok(InfoDigit {
        digit: parse_signal(value)?,
        duration_ms: None,
    })
}

/// Formats an `application/dtmf-relay` body for sending.
pub fn dtmf_relay_body(digit: Digit, duration_ms: u32) -> String {
    format!("Signal={}\r\nDuration={}\r\n", digit.as_char(), duration_ms)
}

fn check_size(body: &str) -> Result<(), InfoError> {
    if body.len() > MAX_BODY {
        return Err(InfoError::TooLarge {
            len: body.len(),
            max: MAX_BODY,
        });
    }
    Ok(())
}

/// A key character, or an RFC 4733 event code 10–15 as some phones send for
/// `*`, `#` and A–D.
fn parse_signal(value: &str) -> Result<Digit, InfoError> {
    let mut chars = value.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) => Ok(Digit::from_char(c)?),
        _ => match value.parse::<u8>() {
            Ok(code) if (10..=15).contains(&code) => Ok(Digit::from_event_code(code)?),
            _ => Err(InfoError::InvalidSignal(value.to_owned())),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(digit: Digit, duration_ms: Option<u32>) -> Result<InfoDigit, InfoError> {
        Ok(InfoDigit { digit, duration_ms })
    }

    #[test]
    fn dtmf_relay_canonical_and_variants() {
        let ct = "application/dtmf-relay";
        assert_eq!(
            parse_info(ct, "Signal=5\r\nDuration=160\r\n"),
            ok(Digit::D5, Some(160))
        );
        assert_eq!(
            parse_info(ct, "Signal=5\r\nDuration=160"),
            ok(Digit::D5, Some(160))
        );
        assert_eq!(
            parse_info(ct, "signal = #\nduration= 250 \n"),
            ok(Digit::Pound, Some(250))
        );
        assert_eq!(parse_info(ct, "SIGNAL=*"), ok(Digit::Star, None));
        assert_eq!(
            parse_info(ct, "\r\n  Duration=100\r\n\r\nSignal=d\r\n"),
            ok(Digit::D, Some(100))
        );
        assert_eq!(
            parse_info(ct, "Signal=11\r\nDuration=80"),
            ok(Digit::Pound, Some(80))
        );
        assert_eq!(parse_info(ct, "Signal=10"), ok(Digit::Star, None));
        assert_eq!(
            parse_info(ct, "Signal=0\r\nVolume=10\r\n"),
            ok(Digit::D0, None)
        );
        assert_eq!(
            parse_info("Application/DTMF-Relay; charset=utf-8", "Signal=9"),
            ok(Digit::D9, None)
        );
    }

    #[test]
    fn dtmf_relay_garbage_is_rejected() {
        assert_eq!(parse_dtmf_relay(""), Err(InfoError::MissingSignal));
        assert_eq!(
            parse_dtmf_relay("Duration=160"),
            Err(InfoError::MissingSignal)
        );
        assert_eq!(
            parse_dtmf_relay("Signal=5\r\nhello"),
            Err(InfoError::MalformedLine { line: 2 })
        );
        assert_eq!(
            parse_dtmf_relay("Signal=E"),
            Err(InfoError::Digit(DigitError::InvalidChar('E')))
        );
        assert_eq!(
            parse_dtmf_relay("Signal=16"),
            Err(InfoError::InvalidSignal("16".into()))
        );
        assert_eq!(
            parse_dtmf_relay("Signal=55"),
            Err(InfoError::InvalidSignal("55".into()))
        );
        assert_eq!(
            parse_dtmf_relay("Signal="),
            Err(InfoError::InvalidSignal(String::new()))
        );
        assert_eq!(
            parse_dtmf_relay("Signal=5\nDuration=-3"),
            Err(InfoError::InvalidDuration("-3".into()))
        );
        assert_eq!(
            parse_dtmf_relay("Signal=5\nDuration=abc"),
            Err(InfoError::InvalidDuration("abc".into()))
        );
        assert_eq!(
            parse_dtmf_relay("Signal=5\nSignal=6"),
            Err(InfoError::Duplicate("Signal"))
        );
        assert_eq!(
            parse_dtmf_relay("Signal=5\nDuration=1\nDuration=2"),
            Err(InfoError::Duplicate("Duration"))
        );
        let big = format!("Signal=5\r\n{}", "X=1\r\n".repeat(400));
        assert!(matches!(
            parse_dtmf_relay(&big),
            Err(InfoError::TooLarge { .. })
        ));
    }

    #[test]
    fn plain_dtmf_body() {
        let ct = "application/dtmf";
        assert_eq!(parse_info(ct, "5"), ok(Digit::D5, None));
        assert_eq!(parse_info(ct, " #\r\n"), ok(Digit::Pound, None));
        assert_eq!(parse_info(ct, "a"), ok(Digit::A, None));
        assert_eq!(parse_info(ct, "12"), ok(Digit::A, None));
        assert_eq!(parse_info(ct, ""), Err(InfoError::MissingSignal));
        assert_eq!(
            parse_info(ct, "55"),
            Err(InfoError::InvalidSignal("55".into()))
        );
        assert_eq!(
            parse_info(ct, "x"),
            Err(InfoError::Digit(DigitError::InvalidChar('x')))
        );
    }

    #[test]
    fn other_content_types_are_refused() {
        assert_eq!(
            parse_info("application/sdp", "Signal=5"),
            Err(InfoError::UnsupportedContentType("application/sdp".into()))
        );
        assert!(parse_info("", "5").is_err());
    }

    #[test]
    fn formatted_body_parses_back() {
        for d in Digit::ALL {
            let body = dtmf_relay_body(d, 160);
            assert_eq!(parse_dtmf_relay(&body), ok(d, Some(160)));
        }
        assert_eq!(
            dtmf_relay_body(Digit::D5, 160),
            "Signal=5\r\nDuration=160\r\n"
        );
    }
}
