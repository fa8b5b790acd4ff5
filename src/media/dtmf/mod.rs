//! DTMF for the media engine: the [`Digit`] model shared by every way a digit
//! can reach the switch, and one sans-IO receiver per way — RFC 4733
//! telephone-events ([`rfc4733`]), SIP INFO bodies ([`info`]) and in-band tones
//! found with the Goertzel algorithm ([`goertzel`]).
//!
//! Nothing here touches a socket, a timer or the clock: time arrives as an
//! argument (RTP timestamps, sample counts) and results are returned to the
//! caller, who turns them into bus events. Each receiver reports exactly one
//! [`DtmfEvent`] per key press, with its duration.

pub mod goertzel;
pub mod info;
pub mod rfc4733;

use std::fmt;

/// A DTMF key: `0`–`9`, `*`, `#` and the column-4 keys `A`–`D`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Digit {
    D0,
    D1,
    D2,
    D3,
    D4,
    D5,
    D6,
    D7,
    D8,
    D9,
    Star,
    Pound,
    A,
    B,
    C,
    D,
}

/// A digit outside the 16 DTMF keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DigitError {
    #[error("character {0:?} is not a DTMF digit")]
    InvalidChar(char),
    #[error("event code {0} is not a DTMF digit (0-15)")]
    InvalidEventCode(u8),
}

impl Digit {
    /// All 16 digits in event-code order (0–9, `*`, `#`, A–D).
    pub const ALL: [Digit; 16] = [
        Digit::D0,
        Digit::D1,
        Digit::D2,
        Digit::D3,
        Digit::D4,
        Digit::D5,
        Digit::D6,
        Digit::D7,
        Digit::D8,
        Digit::D9,
        Digit::Star,
        Digit::Pound,
        Digit::A,
        Digit::B,
        Digit::C,
        Digit::D,
    ];

    /// The RFC 4733 §3.2 event code: 0–9, `*`=10, `#`=11, A–D=12–15.
    pub fn event_code(self) -> u8 {
        self as u8
    }

    /// The digit for an RFC 4733 event code, if it is one of the 16 DTMF events.
    pub fn from_event_code(code: u8) -> Result<Digit, DigitError> {
        Digit::ALL
            .get(usize::from(code))
            .copied()
            .ok_or(DigitError::InvalidEventCode(code))
    }

    /// The key's character: `'0'`–`'9'`, `'*'`, `'#'`, `'A'`–`'D'`.
    pub fn as_char(self) -> char {
        b"0123456789*#ABCD"[usize::from(self.event_code())] as char
    }

    /// Parses a key character; `a`–`d` are accepted as `A`–`D`.
    pub fn from_char(c: char) -> Result<Digit, DigitError> {
        let upper = c.to_ascii_uppercase();
        b"0123456789*#ABCD"
            .iter()
            .position(|&b| char::from(b) == upper)
            .map(|i| Digit::ALL[i])
            .ok_or(DigitError::InvalidChar(c))
    }
}

impl TryFrom<char> for Digit {
    type Error = DigitError;
    fn try_from(c: char) -> Result<Self, Self::Error> {
        Digit::from_char(c)
    }
}

impl From<Digit> for char {
    fn from(d: Digit) -> char {
        d.as_char()
    }
}

impl fmt::Display for Digit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.as_char())
    }
}

/// One key press, reported once, when it is over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DtmfEvent {
    pub digit: Digit,
    pub duration_ms: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_codes_follow_rfc4733() {
        let expect = "0123456789*#ABCD";
        for (code, c) in expect.chars().enumerate() {
            let d = Digit::from_event_code(code as u8).expect("valid code");
            assert_eq!(d.event_code() as usize, code);
            assert_eq!(d.as_char(), c);
            assert_eq!(Digit::try_from(c), Ok(d));
            assert_eq!(char::from(d), c);
            assert_eq!(d.to_string(), c.to_string());
        }
        assert_eq!(Digit::from_event_code(10), Ok(Digit::Star));
        assert_eq!(Digit::from_event_code(11), Ok(Digit::Pound));
        assert_eq!(Digit::from_event_code(15), Ok(Digit::D));
    }

    #[test]
    fn rejects_non_digits() {
        assert_eq!(
            Digit::from_event_code(16),
            Err(DigitError::InvalidEventCode(16))
        );
        assert_eq!(
            Digit::from_event_code(255),
            Err(DigitError::InvalidEventCode(255))
        );
        for c in ['E', 'x', ' ', '+', 'é'] {
            assert_eq!(Digit::from_char(c), Err(DigitError::InvalidChar(c)));
        }
    }

    #[test]
    fn lowercase_letters_are_accepted() {
        assert_eq!(Digit::from_char('a'), Ok(Digit::A));
        assert_eq!(Digit::from_char('d'), Ok(Digit::D));
    }
}
