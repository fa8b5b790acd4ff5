//! What a message costs in units: SMS segments (GSM-7 or UCS-2, as carriers
//! split them) and the minutes a spoken text takes.

/// GSM 03.38's basic character set (the extension table's characters count twice).
const GSM7: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
const GSM7_EXT: &str = "^{}\\[~]|€\u{c}";

/// How many segments an SMS of `text` is sent as.
pub fn sms_segments(text: &str) -> i64 {
    let mut septets = 0usize;
    let mut gsm = true;
    for c in text.chars() {
        if GSM7.contains(c) {
            septets += 1;
        } else if GSM7_EXT.contains(c) {
            septets += 2;
        } else {
            gsm = false;
            break;
        }
    }
    let (single, multi, len) = if gsm {
        (160, 153, septets)
    } else {
        // UCS-2: characters outside the BMP take two code units
        (70, 67, text.encode_utf16().count())
    };
    if len <= single {
        1
    } else {
        len.div_ceil(multi) as i64
    }
}

/// Minutes a spoken text takes at about 150 words a minute (at least one), twice with `repeat`.
pub fn speech_minutes(text: &str, repeat: bool) -> i64 {
    let words = text.split_whitespace().count().max(1) * if repeat { 2 } else { 1 };
    words.div_ceil(150).max(1) as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_follow_the_encoding() {
        assert_eq!(sms_segments("Your OTP is 123456"), 1);
        assert_eq!(sms_segments(&"a".repeat(160)), 1);
        assert_eq!(sms_segments(&"a".repeat(161)), 2);
        assert_eq!(sms_segments(&"a".repeat(306)), 2);
        assert_eq!(sms_segments(&"a".repeat(307)), 3);
        assert_eq!(sms_segments(&"€".repeat(80)), 1);
        assert_eq!(sms_segments(&"€".repeat(81)), 2);
        assert_eq!(sms_segments(&"ж".repeat(70)), 1);
        assert_eq!(sms_segments(&"ж".repeat(71)), 2);
        assert_eq!(
            speech_minutes("Your appointment is tomorrow at 10 AM", false),
            1
        );
        assert_eq!(speech_minutes(&"word ".repeat(151), false), 2);
    }
}
