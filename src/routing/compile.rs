//! From a stored callflow definition to runnable nodes: node ids become
//! indexes, times and seconds become durations and minutes. The validator has
//! refused bad plans before they were stored; what still fails here (a row
//! written by hand) is reported, never a panic.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;
use std::time::Duration;

use super::nodes;
use super::{Callflow, Node, NodeId};
use crate::dialplan::{parse_hhmm, CallflowDef, HangupReason, NodeDef};
use crate::events::HangupCause;
use crate::ids::AccountId;

#[derive(Debug, thiserror::Error)]
pub enum CompileError {
    #[error("node {0:?} is not defined")]
    UnknownNode(String),
    #[error("{0:?} is not a time of day")]
    BadTime(String),
    #[error("{0:?} is not a phone key")]
    BadKey(String),
    #[error("{0:?} is not an IANA time zone")]
    BadZone(String),
    #[error("{0:?} is not a date (YYYY-MM-DD)")]
    BadDate(String),
}

/// `extensions`: the account's extension numbers (what a menu's direct dial may reach).
pub fn callflow(
    account: AccountId,
    def: &CallflowDef,
    extensions: &Arc<HashSet<String>>,
) -> Result<Callflow, CompileError> {
    let ids: HashMap<&str, NodeId> = def
        .nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.id(), NodeId(i)))
        .collect();
    let at = |id: &str| {
        ids.get(id)
            .copied()
            .ok_or_else(|| CompileError::UnknownNode(id.to_string()))
    };
    let opt = |id: &Option<String>| id.as_deref().map(at).transpose();
    let secs = |s: u32| Duration::from_secs(u64::from(s));
    let mut nodes: Vec<Box<dyn Node>> = Vec::with_capacity(def.nodes.len());
    for n in &def.nodes {
        let node: Box<dyn Node> = match n {
            NodeDef::Extension {
                id,
                number,
                ring_seconds,
                next,
            } => Box::new(nodes::Extension {
                id: id.clone(),
                number: number.clone(),
                ring: secs(*ring_seconds),
                next: opt(next)?,
            }),
            NodeDef::RingGroup {
                id,
                name,
                members,
                strategy,
                ring_seconds,
                group_seconds,
                ring_busy,
                next,
            } => Box::new(nodes::RingGroup {
                id: id.clone(),
                name: name.clone(),
                members: members.clone(),
                strategy: *strategy,
                ring: secs(*ring_seconds),
                group: group_seconds.map(secs),
                ring_busy: *ring_busy,
                next: opt(next)?,
                rotation: AtomicUsize::new(0),
            }),
            NodeDef::IvrMenu {
                id,
                prompt,
                options,
                timeout_seconds,
                retries,
                invalid,
                on_timeout,
                direct_dial,
            } => {
                let mut keys = HashMap::new();
                for (k, target) in options {
                    let mut chars = k.chars();
                    let (Some(c), None) = (chars.next(), chars.next()) else {
                        return Err(CompileError::BadKey(k.clone()));
                    };
                    keys.insert(c, (at(target)?, target.clone()));
                }
                Box::new(nodes::IvrMenu {
                    id: id.clone(),
                    prompt: prompt.clone(),
                    options: keys,
                    timeout: secs(*timeout_seconds),
                    retries: *retries,
                    invalid: invalid.clone(),
                    on_timeout: opt(on_timeout)?,
                    direct: if *direct_dial {
                        extensions.clone()
                    } else {
                        Arc::default()
                    },
                })
            }
            NodeDef::Play { id, steps, next } => Box::new(nodes::Play {
                id: id.clone(),
                steps: steps.clone(),
                next: opt(next)?,
            }),
            NodeDef::TimeCondition {
                id,
                days,
                from,
                to,
                utc_offset_minutes,
                time_zone,
                holidays,
                then,
                otherwise,
            } => Box::new(nodes::TimeCondition {
                id: id.clone(),
                days: days.clone(),
                from: parse_hhmm(from).ok_or_else(|| CompileError::BadTime(from.clone()))?,
                to: parse_hhmm(to).ok_or_else(|| CompileError::BadTime(to.clone()))?,
                utc_offset_minutes: *utc_offset_minutes,
                zone: match time_zone {
                    Some(z) => Some(
                        z.parse::<chrono_tz::Tz>()
                            .map_err(|_| CompileError::BadZone(z.clone()))?,
                    ),
                    None => None,
                },
                holidays: holidays
                    .iter()
                    .map(|d| {
                        chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d")
                            .map_err(|_| CompileError::BadDate(d.clone()))
                    })
                    .collect::<Result<_, _>>()?,
                then: at(then)?,
                otherwise: at(otherwise)?,
            }),
            NodeDef::Transfer { id, number } => Box::new(nodes::Transfer {
                id: id.clone(),
                number: number.clone(),
            }),
            NodeDef::External {
                id,
                number,
                ring_seconds,
                next,
            } => Box::new(nodes::External {
                id: id.clone(),
                number: number.clone(),
                ring: secs(*ring_seconds),
                next: opt(next)?,
            }),
            NodeDef::Voicemail {
                id,
                r#box,
                max_seconds,
            } => Box::new(nodes::Voicemail {
                id: id.clone(),
                r#box: r#box.clone(),
                max: secs(*max_seconds),
            }),
            NodeDef::Queue {
                id,
                queue,
                next,
                exit,
            } => Box::new(nodes::Queue {
                id: id.clone(),
                queue: crate::ids::QueueId::from(queue.as_str()),
                next: opt(next)?,
                exit: opt(exit)?,
            }),
            NodeDef::Hangup { id, reason } => Box::new(nodes::Hangup {
                id: id.clone(),
                cause: match reason {
                    HangupReason::Normal => HangupCause::NormalClearing,
                    HangupReason::Busy => HangupCause::UserBusy,
                    HangupReason::Rejected => HangupCause::CallRejected,
                    HangupReason::Unavailable => HangupCause::UserNotRegistered,
                },
            }),
        };
        nodes.push(node);
    }
    Ok(Callflow {
        account,
        number: def.number.clone(),
        name: def.name.clone(),
        start: at(&def.start)?,
        nodes,
    })
}
