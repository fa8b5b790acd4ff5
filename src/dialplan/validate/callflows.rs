//! Rules for `[[accounts.callflows]]`: the flow's number (not an extension's or
//! an app's) and DIDs (E.164, not routed elsewhere), node ids unique, every node
//! a flow names defined, ring group members and extension nodes real
//! extensions of the account, IVR keys real phone keys, times `HH:MM`, ring and
//! timeout seconds in range, prompts checked like app steps.

use std::collections::{HashMap, HashSet};

use super::super::{is_e164, parse_hhmm, AccountDef, NodeDef, Problem, Step};
use super::apps::check_step;
use super::{is_extension_number, Checker};

/// Longest ring, in seconds.
const MAX_RING: u32 = 600;
const RING_RANGE: &str = "1 to 600 seconds";

pub(super) fn check(
    c: &mut Checker,
    at: &str,
    account: &AccountDef,
    extensions: &HashMap<String, String>,
    e164s: &mut HashMap<String, String>,
) {
    let mut numbers = extensions.clone();
    for (pi, app) in account.apps.iter().enumerate() {
        numbers
            .entry(app.number.clone())
            .or_insert_with(|| format!("{at}.apps[{pi}].number"));
    }
    for (fi, flow) in account.callflows.iter().enumerate() {
        let ft = format!("{at}.callflows[{fi}]");
        if !is_extension_number(&flow.number) {
            c.push(
                format!("{ft}.number"),
                Problem::NotExtensionNumber(flow.number.clone()),
            );
        }
        c.unique(
            &mut numbers,
            flow.number.clone(),
            &flow.number,
            format!("{ft}.number"),
        );
        c.non_empty(&flow.name, format!("{ft}.name"));
        for (ni, did) in flow.numbers.iter().enumerate() {
            let field = format!("{ft}.numbers[{ni}]");
            if !is_e164(did) {
                c.push(field.clone(), Problem::NotE164(did.clone()));
            }
            c.unique(e164s, did.clone(), did, field);
        }
        let mut ids = HashMap::new();
        for (ni, node) in flow.nodes.iter().enumerate() {
            let field = format!("{ft}.nodes[{ni}].id");
            c.id(node.id(), field.clone());
            c.unique(&mut ids, node.id().to_string(), node.id(), field);
        }
        if flow.nodes.is_empty() {
            c.push(format!("{ft}.nodes"), Problem::Empty);
        }
        let known: HashSet<&str> = flow.nodes.iter().map(NodeDef::id).collect();
        if !known.contains(flow.start.as_str()) {
            c.push(
                format!("{ft}.start"),
                Problem::UnknownNode(flow.start.clone()),
            );
        }
        for (ni, node) in flow.nodes.iter().enumerate() {
            let nt = format!("{ft}.nodes[{ni}]");
            for (field, target) in node.exits() {
                if !known.contains(target) {
                    c.push(
                        format!("{nt}.{field}"),
                        Problem::UnknownNode(target.to_string()),
                    );
                }
            }
            check_node(c, &nt, node, account, extensions);
        }
    }
    cycles(c, at, account);
}

/// A loop the call could go round forever without waiting for anything: time
/// conditions and transfers (to a callflow of the account) leading back to
/// where they started, no prompt, menu or dial on the way.
fn cycles(c: &mut Checker, at: &str, account: &AccountDef) {
    // nodes by (flow index, node index); an edge only from a node that does not wait
    let flows = &account.callflows;
    let start_of = |number: &str| {
        flows.iter().enumerate().find_map(|(fi, f)| {
            (f.number == number)
                .then(|| f.nodes.iter().position(|n| n.id() == f.start))
                .flatten()
                .map(|ni| (fi, ni))
        })
    };
    let edges = |fi: usize, ni: usize| -> Vec<(usize, usize)> {
        let flow = &flows[fi];
        let local = |id: &str| {
            flow.nodes
                .iter()
                .position(|n| n.id() == id)
                .map(|n| (fi, n))
        };
        match &flow.nodes[ni] {
            NodeDef::TimeCondition {
                then, otherwise, ..
            } => [local(then), local(otherwise)]
                .into_iter()
                .flatten()
                .collect(),
            NodeDef::Transfer { number, .. } => start_of(number).into_iter().collect(),
            _ => Vec::new(),
        }
    };
    // depth-first search with colours: 1 on the path, 2 done
    let mut colour: HashMap<(usize, usize), u8> = HashMap::new();
    let mut reported = false;
    for fi in 0..flows.len() {
        for ni in 0..flows[fi].nodes.len() {
            if reported || colour.contains_key(&(fi, ni)) {
                continue;
            }
            let mut stack = vec![((fi, ni), edges(fi, ni), 0usize)];
            colour.insert((fi, ni), 1);
            while let Some((node, next, i)) = stack.last_mut() {
                let node = *node;
                if *i >= next.len() {
                    colour.insert(node, 2);
                    stack.pop();
                    continue;
                }
                let to = next[*i];
                *i += 1;
                match colour.get(&to) {
                    Some(1) => {
                        let path: Vec<String> = stack
                            .iter()
                            .skip_while(|(n, _, _)| *n != to)
                            .map(|((f, n), _, _)| {
                                format!("{}/{}", flows[*f].number, flows[*f].nodes[*n].id())
                            })
                            .collect();
                        let (f, n) = to;
                        c.push(
                            format!("{at}.callflows[{f}].nodes[{n}]"),
                            Problem::CycleWithoutPrompt(path.join(" -> ")),
                        );
                        reported = true;
                        break;
                    }
                    Some(_) => {}
                    None => {
                        colour.insert(to, 1);
                        let e = edges(to.0, to.1);
                        stack.push((to, e, 0));
                    }
                }
            }
        }
    }
}

/// One key of a phone: `0`-`9`, `*` or `#`.
pub(super) fn is_phone_key(key: &str) -> bool {
    key.len() == 1
        && key
            .bytes()
            .all(|b| b.is_ascii_digit() || b == b'*' || b == b'#')
}

fn ring(c: &mut Checker, seconds: u32, field: String) {
    if !(1..=MAX_RING).contains(&seconds) {
        c.push(
            field,
            Problem::OutOfRange {
                value: seconds.to_string(),
                range: RING_RANGE,
            },
        );
    }
}

fn extension(
    c: &mut Checker,
    number: &str,
    field: String,
    account: &AccountDef,
    extensions: &HashMap<String, String>,
) {
    if !extensions.contains_key(number) {
        c.push(
            field,
            Problem::UnknownExtension {
                extension: number.to_string(),
                account: account.id.clone(),
            },
        );
    }
}

fn steps(c: &mut Checker, steps: &[Step], field: &str, required: bool) {
    if required && steps.is_empty() {
        c.push(field.to_string(), Problem::Empty);
    }
    for (si, step) in steps.iter().enumerate() {
        check_step(c, step, &format!("{field}[{si}]"));
    }
}

fn check_node(
    c: &mut Checker,
    nt: &str,
    node: &NodeDef,
    account: &AccountDef,
    extensions: &HashMap<String, String>,
) {
    match node {
        NodeDef::Extension {
            number,
            ring_seconds,
            ..
        } => {
            extension(c, number, format!("{nt}.number"), account, extensions);
            ring(c, *ring_seconds, format!("{nt}.ring_seconds"));
        }
        NodeDef::RingGroup {
            name,
            members,
            ring_seconds,
            group_seconds,
            ..
        } => {
            c.non_empty(name, format!("{nt}.name"));
            if members.is_empty() {
                c.push(format!("{nt}.members"), Problem::Empty);
            }
            let mut seen = HashMap::new();
            for (mi, m) in members.iter().enumerate() {
                let field = format!("{nt}.members[{mi}]");
                // an outside number rings through the trunk; anything else is an extension
                if !is_e164(m) {
                    extension(c, m, field.clone(), account, extensions);
                }
                c.unique(&mut seen, m.clone(), m, field);
            }
            ring(c, *ring_seconds, format!("{nt}.ring_seconds"));
            if let Some(g) = group_seconds {
                ring(c, *g, format!("{nt}.group_seconds"));
            }
        }
        NodeDef::IvrMenu {
            prompt,
            options,
            timeout_seconds,
            retries,
            invalid,
            ..
        } => {
            steps(c, prompt, &format!("{nt}.prompt"), true);
            steps(c, invalid, &format!("{nt}.invalid"), false);
            if options.is_empty() {
                c.push(format!("{nt}.options"), Problem::Empty);
            }
            for key in options.keys() {
                if !is_phone_key(key) {
                    c.push(format!("{nt}.options"), Problem::BadKey(key.clone()));
                }
            }
            if !(1..=60).contains(timeout_seconds) {
                c.push(
                    format!("{nt}.timeout_seconds"),
                    Problem::OutOfRange {
                        value: timeout_seconds.to_string(),
                        range: "1 to 60 seconds",
                    },
                );
            }
            if *retries > 10 {
                c.push(
                    format!("{nt}.retries"),
                    Problem::OutOfRange {
                        value: retries.to_string(),
                        range: "0 to 10",
                    },
                );
            }
        }
        NodeDef::Play { steps: s, .. } => steps(c, s, &format!("{nt}.steps"), true),
        NodeDef::TimeCondition {
            days,
            from,
            to,
            utc_offset_minutes,
            time_zone,
            holidays,
            ..
        } => {
            if days.is_empty() {
                c.push(format!("{nt}.days"), Problem::Empty);
            }
            if let Some(z) = time_zone {
                if z.parse::<chrono_tz::Tz>().is_err() {
                    c.push(format!("{nt}.time_zone"), Problem::BadTimeZone(z.clone()));
                }
                if *utc_offset_minutes != 0 {
                    c.push(
                        format!("{nt}.utc_offset_minutes"),
                        Problem::Conflicts("time_zone"),
                    );
                }
            }
            for (hi, d) in holidays.iter().enumerate() {
                if chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").is_err() || d.len() != 10 {
                    c.push(format!("{nt}.holidays[{hi}]"), Problem::BadDate(d.clone()));
                }
            }
            for (field, v) in [("from", from), ("to", to)] {
                if parse_hhmm(v).is_none() {
                    c.push(format!("{nt}.{field}"), Problem::BadTime(v.clone()));
                }
            }
            if !(-14 * 60..=14 * 60).contains(utc_offset_minutes) {
                c.push(
                    format!("{nt}.utc_offset_minutes"),
                    Problem::OutOfRange {
                        value: utc_offset_minutes.to_string(),
                        range: "-840 to 840 minutes",
                    },
                );
            }
        }
        NodeDef::Transfer { number, .. } => {
            c.dialable(Some(number), format!("{nt}.number"));
        }
        NodeDef::External {
            number,
            ring_seconds,
            ..
        } => {
            if !is_e164(number) {
                c.push(format!("{nt}.number"), Problem::NotE164(number.clone()));
            }
            ring(c, *ring_seconds, format!("{nt}.ring_seconds"));
        }
        NodeDef::Voicemail {
            r#box, max_seconds, ..
        } => {
            extension(c, r#box, format!("{nt}.box"), account, extensions);
            if !(5..=600).contains(max_seconds) {
                c.push(
                    format!("{nt}.max_seconds"),
                    Problem::OutOfRange {
                        value: max_seconds.to_string(),
                        range: "5 to 600 seconds",
                    },
                );
            }
        }
        NodeDef::Queue { queue, .. } => {
            if !account.queues.iter().any(|q| &q.id == queue) {
                c.push(format!("{nt}.queue"), Problem::UnknownQueue(queue.clone()));
            }
        }
        NodeDef::Hangup { .. } => {}
    }
}

#[cfg(test)]
mod tests {

    const ACCOUNT: &str = r#"
        [[accounts]]
        id = "a"
        name = "A"
        sip_domain = "a.test"
        [[accounts.extensions]]
        number = "1001"
        password = "pw"
        voicemail_pin = "12a4"
        [[accounts.numbers]]
        number = "+15550100100"
        extension = "1001"
        [[accounts.apps]]
        number = "7000"
        name = "App"
        steps = [{ pause = 1 }]
    "#;

    fn issues(flows: &str) -> Vec<String> {
        super::super::issue_lines(&format!("{ACCOUNT}{flows}"))
    }

    #[test]
    fn every_callflow_rule_names_its_field() {
        let got = issues(
            r#"
            [[accounts.callflows]]
            number = "7000"
            name = ""
            numbers = ["+15550100100", "5550100"]
            start = "nowhere"
            [[accounts.callflows.nodes]]
            id = "m"
            kind = "ivr_menu"
            prompt = []
            options = { "11" = "g", "2" = "ghost" }
            timeout_seconds = 0
            [[accounts.callflows.nodes]]
            id = "g"
            kind = "ring_group"
            name = "G"
            members = ["1001", "1001", "1999"]
            ring_seconds = 0
            [[accounts.callflows.nodes]]
            id = "t"
            kind = "time_condition"
            days = []
            from = "9:00"
            to = "25:00"
            then = "g"
            otherwise = "m"
            [[accounts.callflows.nodes]]
            id = "m"
            kind = "voicemail"
            box = "1999"
            max_seconds = 1
            "#,
        );
        let expect = [
            "accounts[0].extensions[0].voicemail_pin: \"12a4\" is not a valid name (4 to 10 digits)",
            "accounts[0].callflows[0].number: \"7000\" is already used by accounts[0].apps[0].number",
            "accounts[0].callflows[0].name: must not be empty",
            "accounts[0].callflows[0].numbers[0]: \"+15550100100\" is already used by accounts[0].numbers[0].number",
            "accounts[0].callflows[0].numbers[1]: \"5550100\" is not an E.164 number",
            "accounts[0].callflows[0].nodes[3].id: \"m\" is already used by accounts[0].callflows[0].nodes[0].id",
            "accounts[0].callflows[0].start: no node of this callflow has the id \"nowhere\"",
            "accounts[0].callflows[0].nodes[0].options.\"2\": no node of this callflow has the id \"ghost\"",
            "accounts[0].callflows[0].nodes[0].prompt: must not be empty",
            "accounts[0].callflows[0].nodes[0].options: \"11\" is not a key of a phone",
            "accounts[0].callflows[0].nodes[0].timeout_seconds: 0 is out of range (1 to 60 seconds)",
            "accounts[0].callflows[0].nodes[1].members[1]: \"1001\" is already used by accounts[0].callflows[0].nodes[1].members[0]",
            "accounts[0].callflows[0].nodes[1].members[2]: extension \"1999\" is not defined in account \"a\"",
            "accounts[0].callflows[0].nodes[1].ring_seconds: 0 is out of range (1 to 600 seconds)",
            "accounts[0].callflows[0].nodes[2].days: must not be empty",
            "accounts[0].callflows[0].nodes[2].from: \"9:00\" is not a time of day",
            "accounts[0].callflows[0].nodes[2].to: \"25:00\" is not a time of day",
            "accounts[0].callflows[0].nodes[3].box: extension \"1999\" is not defined in account \"a\"",
            "accounts[0].callflows[0].nodes[3].max_seconds: 1 is out of range (5 to 600 seconds)",
        ];
        for e in expect {
            assert!(
                got.iter().any(|g| g.starts_with(e)),
                "missing {e:?} in\n{}",
                got.join("\n")
            );
        }
        assert_eq!(got.len(), expect.len(), "{}", got.join("\n"));
    }

    #[test]
    fn the_demo_callflows_are_valid() {
        let plan =
            crate::dialplan::load_file(concat!(env!("CARGO_MANIFEST_DIR"), "/dialplans/demo.toml"))
                .expect("demo is valid");
        assert_eq!(plan.accounts[0].callflows.len(), 2);
        assert_eq!(plan.accounts[0].queues.len(), 1);
    }

    #[test]
    fn loops_without_a_prompt_are_refused_with_their_path() {
        // within one flow: two time conditions sending the call to each other
        let got = issues(
            r#"
            [[accounts.callflows]]
            number = "8000"
            name = "Main"
            start = "a"
            [[accounts.callflows.nodes]]
            id = "a"
            kind = "time_condition"
            days = ["mon"]
            from = "09:00"
            to = "17:00"
            then = "b"
            otherwise = "open"
            [[accounts.callflows.nodes]]
            id = "b"
            kind = "time_condition"
            days = ["tue"]
            from = "09:00"
            to = "17:00"
            then = "open"
            otherwise = "a"
            [[accounts.callflows.nodes]]
            id = "open"
            kind = "play"
            steps = [{ pause = 1 }]
            "#,
        );
        assert!(
            got.iter().any(|l| l.contains("8000/a -> 8000/b forever")),
            "{got:#?}"
        );
        // across flows: 8000 transfers to 8001 which transfers back
        let got = issues(
            r#"
            [[accounts.callflows]]
            number = "8000"
            name = "A"
            start = "t"
            [[accounts.callflows.nodes]]
            id = "t"
            kind = "transfer"
            number = "8001"
            [[accounts.callflows]]
            number = "8001"
            name = "B"
            start = "t"
            [[accounts.callflows.nodes]]
            id = "t"
            kind = "transfer"
            number = "8000"
            "#,
        );
        assert!(
            got.iter().any(|l| l.contains("8000/t -> 8001/t forever")),
            "{got:#?}"
        );
        // a loop through a menu waits for the caller: fine
        let got = issues(
            r#"
            [[accounts.callflows]]
            number = "8000"
            name = "A"
            start = "m"
            [[accounts.callflows.nodes]]
            id = "m"
            kind = "ivr_menu"
            prompt = [{ pause = 1 }]
            options = { "1" = "again" }
            [[accounts.callflows.nodes]]
            id = "again"
            kind = "transfer"
            number = "8000"
            "#,
        );
        let flows: Vec<&String> = got.iter().filter(|l| l.contains(".callflows[")).collect();
        assert!(flows.is_empty(), "{flows:#?}");
    }

    #[test]
    fn time_zones_and_holidays_are_checked() {
        let got = issues(
            r#"
            [[accounts.callflows]]
            number = "8000"
            name = "Hours"
            start = "t"
            [[accounts.callflows.nodes]]
            id = "t"
            kind = "time_condition"
            days = ["mon"]
            from = "09:00"
            to = "17:00"
            time_zone = "Mars/Olympus"
            utc_offset_minutes = 60
            holidays = ["2026-12-25", "25.12.2026"]
            then = "p"
            otherwise = "p"
            [[accounts.callflows.nodes]]
            id = "p"
            kind = "play"
            steps = [{ pause = 1 }]
            "#,
        );
        let want = [
            "accounts[0].callflows[0].nodes[0].time_zone: \"Mars/Olympus\" is not an IANA time zone",
            "accounts[0].callflows[0].nodes[0].utc_offset_minutes: cannot be set together with `time_zone`",
            "accounts[0].callflows[0].nodes[0].holidays[1]: \"25.12.2026\" is not a date (YYYY-MM-DD)",
        ];
        for w in want {
            assert!(
                got.iter().any(|g| g.starts_with(w)),
                "missing {w:?} in {got:#?}"
            );
        }
        let flows = got.iter().filter(|l| l.contains(".callflows[")).count();
        assert_eq!(flows, 3, "{got:#?}");
    }
}
