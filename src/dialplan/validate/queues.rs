//! Rules for `[[accounts.queues]]`: ids unique in the account, the number (if
//! any) dialable and not taken by an extension, app or callflow, members real
//! extensions listed once, the exit key one phone key, the music-on-hold class
//! a valid name, and every timer in range.

use std::collections::HashMap;

use super::super::{AccountDef, Problem};
use super::apps::is_moh_class;
use super::callflows::is_phone_key;
use super::{is_extension_number, Checker};

pub(super) fn check(
    c: &mut Checker,
    at: &str,
    account: &AccountDef,
    extensions: &HashMap<String, String>,
) {
    let mut numbers = extensions.clone();
    for (i, app) in account.apps.iter().enumerate() {
        numbers
            .entry(app.number.clone())
            .or_insert_with(|| format!("{at}.apps[{i}].number"));
    }
    for (i, flow) in account.callflows.iter().enumerate() {
        numbers
            .entry(flow.number.clone())
            .or_insert_with(|| format!("{at}.callflows[{i}].number"));
    }
    let mut ids = HashMap::new();
    for (qi, q) in account.queues.iter().enumerate() {
        let qt = format!("{at}.queues[{qi}]");
        c.id(&q.id, format!("{qt}.id"));
        c.unique(&mut ids, q.id.clone(), &q.id, format!("{qt}.id"));
        c.non_empty(&q.name, format!("{qt}.name"));
        if let Some(n) = &q.number {
            if !is_extension_number(n) {
                c.push(
                    format!("{qt}.number"),
                    Problem::NotExtensionNumber(n.clone()),
                );
            }
            c.unique(&mut numbers, n.clone(), n, format!("{qt}.number"));
        }
        let mut seen = HashMap::new();
        for (mi, m) in q.members.iter().enumerate() {
            let field = format!("{qt}.members[{mi}]");
            if !extensions.contains_key(m.extension()) {
                c.push(
                    field.clone(),
                    Problem::UnknownExtension {
                        extension: m.extension().to_string(),
                        account: account.id.clone(),
                    },
                );
            }
            c.unique(&mut seen, m.extension().to_string(), m.extension(), field);
            if m.penalty() > 100 {
                c.push(
                    format!("{qt}.members[{mi}].penalty"),
                    Problem::OutOfRange {
                        value: m.penalty().to_string(),
                        range: "0 to 100",
                    },
                );
            }
        }
        if !is_moh_class(&q.musiconhold) {
            c.push(
                format!("{qt}.musiconhold"),
                Problem::BadName {
                    value: q.musiconhold.clone(),
                    allowed: "1 to 40 lower-case letters, digits, '_' or '-'",
                },
            );
        }
        if let Some(k) = &q.exit_key {
            if !is_phone_key(k) {
                c.push(format!("{qt}.exit_key"), Problem::BadKey(k.clone()));
            }
        }
        let ranges: [(&str, u32, u32, u32, &'static str); 6] = [
            ("timeout", q.timeout, 1, 600, "1 to 600 seconds"),
            ("retry", q.retry, 0, 600, "0 to 600 seconds"),
            ("wrapuptime", q.wrapuptime, 0, 3600, "0 to 3600 seconds"),
            ("max_wait", q.max_wait, 0, 86_400, "0 to 86400 seconds"),
            (
                "service_level",
                q.service_level,
                1,
                3600,
                "1 to 3600 seconds",
            ),
            ("maxlen", q.maxlen, 0, 100_000, "0 to 100000"),
        ];
        for (field, value, lo, hi, range) in ranges {
            if !(lo..=hi).contains(&value) {
                c.push(
                    format!("{qt}.{field}"),
                    Problem::OutOfRange {
                        value: value.to_string(),
                        range,
                    },
                );
            }
        }
        let f = q.announce_frequency;
        if f != 0 && !(10..=3600).contains(&f) {
            c.push(
                format!("{qt}.announce_frequency"),
                Problem::OutOfRange {
                    value: f.to_string(),
                    range: "0 (none) or 10 to 3600 seconds",
                },
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::issue_lines;

    const ACCOUNT: &str = r#"
        [[accounts]]
        id = "a"
        name = "A"
        sip_domain = "a.example"
        [[accounts.extensions]]
        number = "1002"
        password = "secret-1002"
        [[accounts.extensions]]
        number = "1003"
        password = "secret-1003"
    "#;

    #[test]
    fn a_good_queue_and_its_node_pass() {
        let text = format!(
            "{ACCOUNT}
            [[accounts.queues]]
            id = \"sales\"
            name = \"Sales\"
            number = \"8100\"
            strategy = \"fewestcalls\"
            members = [\"1002\", {{ extension = \"1003\", penalty = 1 }}]
            exit_key = \"*\"
            announce_frequency = 30
            [[accounts.callflows]]
            number = \"8000\"
            name = \"Main\"
            start = \"q\"
            [[accounts.callflows.nodes]]
            id = \"q\"
            kind = \"queue\"
            queue = \"sales\"
            next = \"bye\"
            [[accounts.callflows.nodes]]
            id = \"bye\"
            kind = \"hangup\"
            "
        );
        assert_eq!(issue_lines(&text), Vec::<String>::new());
    }

    #[test]
    fn bad_queues_name_the_field_and_the_fault() {
        let text = format!(
            "{ACCOUNT}
            [[accounts.queues]]
            id = \"sales\"
            name = \"Sales\"
            number = \"1002\"
            members = [\"1002\", \"1009\", \"1002\"]
            musiconhold = \"Jazz!\"
            exit_key = \"12\"
            timeout = 0
            announce_frequency = 5
            [[accounts.queues]]
            id = \"sales\"
            name = \"\"
            [[accounts.callflows]]
            number = \"8000\"
            name = \"Main\"
            start = \"q\"
            [[accounts.callflows.nodes]]
            id = \"q\"
            kind = \"queue\"
            queue = \"support\"
            "
        );
        let got = issue_lines(&text);
        let want = [
            "accounts[0].callflows[0].nodes[0].queue: queue \"support\" is not defined in this account",
            "accounts[0].queues[0].number: \"1002\" is already used by accounts[0].extensions[0].number",
            "accounts[0].queues[0].members[1]: extension \"1009\"",
            "accounts[0].queues[0].members[2]: \"1002\" is already used by accounts[0].queues[0].members[0]",
            "accounts[0].queues[0].musiconhold: \"Jazz!\" is not a valid name",
            "accounts[0].queues[0].exit_key: \"12\"",
            "accounts[0].queues[0].timeout: 0",
            "accounts[0].queues[0].announce_frequency: 5",
            "accounts[0].queues[1].id: \"sales\" is already used by accounts[0].queues[0].id",
            "accounts[0].queues[1].name: must not be empty",
        ];
        for w in want {
            assert!(
                got.iter().any(|g| g.starts_with(w)),
                "missing {w:?} in {got:#?}"
            );
        }
        assert_eq!(got.len(), want.len(), "{got:#?}");
    }
}
