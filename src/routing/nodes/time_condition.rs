//! `time_condition`: office hours. On the listed weekdays between `from`
//! (inclusive) and `to` (exclusive), local time at a fixed UTC offset, the
//! call goes to `then`, otherwise to `otherwise`; `from` after `to` spans
//! midnight (22:00–06:00). Decided from the wall time the runner is given.

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
        let local = secs + i64::from(self.utc_offset_minutes) * 60;
        let day = local.div_euclid(86_400);
        // 1970-01-01 was a Thursday
        let weekday = WEEK[(day + 3).rem_euclid(7) as usize];
        let minute = (local.rem_euclid(86_400) / 60) as u32;
        if self.from <= self.to {
            self.days.contains(&weekday) && self.from <= minute && minute < self.to
        } else if minute >= self.from {
            self.days.contains(&weekday)
        } else {
            // the early hours belong to the day the span started on
            let yesterday = WEEK[(day + 2).rem_euclid(7) as usize];
            self.days.contains(&yesterday) && minute < self.to
        }
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
