//! The calling window: voice messages reach people only between 08:00 and
//! 21:00 their local time — the zone a request names, else the one the
//! number's country or area code implies (`tz`), else UTC. `next_open` says
//! when a closed window opens next (None while it is open).

use chrono::{Duration, LocalResult, NaiveTime, TimeZone, Timelike};
use chrono_tz::Tz;

/// The window, in local hours: [OPEN, CLOSE).
pub const OPEN_HOUR: u32 = 8;
pub const CLOSE_HOUR: u32 = 21;

/// The recipient's zone: `given` (an IANA name) if it is one, else the number's.
pub fn zone(number: &str, given: Option<&str>) -> Tz {
    given
        .and_then(|z| z.parse::<Tz>().ok())
        .or_else(|| super::tz::zone_for(number))
        .unwrap_or(Tz::UTC)
}

/// When the window next opens for `zone` after `now_ms`, or None while it is open.
pub fn next_open(now_ms: i64, zone: Tz) -> Option<i64> {
    let utc = chrono::DateTime::from_timestamp_millis(now_ms)?;
    let local = utc.with_timezone(&zone);
    let hour = local.hour();
    if (OPEN_HOUR..CLOSE_HOUR).contains(&hour) {
        return None;
    }
    let day = if hour >= CLOSE_HOUR {
        local.date_naive() + Duration::days(1)
    } else {
        local.date_naive()
    };
    let open = day.and_time(NaiveTime::from_hms_opt(OPEN_HOUR, 0, 0)?);
    let at = match zone.from_local_datetime(&open) {
        LocalResult::Single(t) => t,
        LocalResult::Ambiguous(t, _) => t,
        // 08:00 skipped by a clock change: an hour later is inside the window
        LocalResult::None => zone
            .from_local_datetime(&(open + Duration::hours(1)))
            .earliest()?,
    };
    Some(at.timestamp_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(s: &str) -> i64 {
        chrono::DateTime::parse_from_rfc3339(s)
            .expect("time")
            .timestamp_millis()
    }

    #[test]
    fn the_window_is_local_time() {
        let ny: Tz = "America/New_York".parse().expect("zone");
        // 14:00 UTC is 09:00 in New York (EST): open
        assert_eq!(next_open(ms("2026-12-07T14:00:00Z"), ny), None);
        // 03:00 UTC is 22:00 the day before in New York: next 08:00 local = 13:00 UTC
        assert_eq!(
            next_open(ms("2026-12-08T03:00:00Z"), ny),
            Some(ms("2026-12-08T13:00:00Z"))
        );
        // 06:00 local (11:00 UTC): opens at 08:00 the same day
        assert_eq!(
            next_open(ms("2026-12-07T11:00:00Z"), ny),
            Some(ms("2026-12-07T13:00:00Z"))
        );
        // 21:00 sharp is closed
        assert!(next_open(ms("2026-12-08T02:00:00Z"), ny).is_some());
    }

    #[test]
    fn zones_come_from_the_request_then_the_number() {
        assert_eq!(zone("+12125550123", None).name(), "America/New_York");
        assert_eq!(
            zone("+12125550123", Some("Asia/Tokyo")).name(),
            "Asia/Tokyo"
        );
        assert_eq!(
            zone("+12125550123", Some("Mars/Base")).name(),
            "America/New_York"
        );
        assert_eq!(zone("+18005550123", None).name(), "UTC");
    }
}
