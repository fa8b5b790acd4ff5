//! `time_condition`: office hours. On the listed weekdays between `from`
//! (inclusive) and `to` (exclusive), local time in the account's IANA time
//! zone (daylight saving followed) or at a fixed UTC offset, the call goes to
//! `then`, otherwise to `otherwise`; `from` after `to` spans midnight
//! (22:00–06:00). A holiday (a local date) is closed all day, including the
//! early hours of a span that started on it. Decided from the wall time the
//! runner is given.

use chrono::{NaiveDate, Offset, TimeZone};

use crate::dialplan::Weekday;
use crate::routing::{Cx, Flow, Node, NodeId};

#[derive(Debug)]
pub struct TimeCondition {
    pub id: String,
    pub days: Vec<Weekday>,
    /// Minutes after midnight.
    pub from: u32,
    pub to: u32,
    pub utc_offset_minutes: i32,
    /// When set, local time is this zone's (the fixed offset is ignored).
    pub zone: Option<chrono_tz::Tz>,
    pub holidays: Vec<NaiveDate>,
    pub then: NodeId,
    pub otherwise: NodeId,
}

const WEEK: [Weekday; 7] = [
    Weekday::Mon,
    Weekday::Tue,
    Weekday::Wed,
    Weekday::Thu,
    Weekday::Fri,
    Weekday::Sat,
    Weekday::Sun,
];

impl TimeCondition {
    /// Whether the Unix time `secs` (UTC) falls inside the condition.
    pub fn matches(&self, secs: i64) -> bool {
        let offset = match self.zone {
            Some(tz) => chrono::DateTime::from_timestamp(secs, 0)
                .map(|utc| {
                    tz.offset_from_utc_datetime(&utc.naive_utc())
                        .fix()
                        .local_minus_utc()
                })
                .unwrap_or(0) as i64,
            None => i64::from(self.utc_offset_minutes) * 60,
        };
        let local = secs + offset;
        let day = local.div_euclid(86_400);
        // 1970-01-01 was a Thursday
        let weekday = |d: i64| WEEK[(d + 3).rem_euclid(7) as usize];
        let holiday = |d: i64| {
            let date = NaiveDate::from_num_days_from_ce_opt((d + 719_163) as i32);
            date.is_some_and(|date| self.holidays.contains(&date))
        };
        let minute = (local.rem_euclid(86_400) / 60) as u32;
        // the day a span belongs to: today, or (its early hours) yesterday
        let owner = if self.from <= self.to {
            (self.from <= minute && minute < self.to).then_some(day)
        } else if minute >= self.from {
            Some(day)
        } else {
            (minute < self.to).then_some(day - 1)
        };
        owner.is_some_and(|d| self.days.contains(&weekday(d)) && !holiday(d))
    }
}

impl Node for TimeCondition {
    fn id(&self) -> &str {
        &self.id
    }
    fn kind(&self) -> &'static str {
        "time_condition"
    }
    fn enter(&self, cx: &mut Cx) -> Flow {
        Flow::Goto(if self.matches(cx.wall_secs()) {
            self.then
        } else {
            self.otherwise
        })
    }
}
