//! Whole-plan validation of a [`Dialplan`]: every rule a plan must meet before import.
//!
//! Pure functions over the parsed structs; collects every [`Issue`] with the path of the
//! offending field. Must not read files or touch the database, and must not "fix" values
//! (lower-casing a domain for storage is the importer's business). The rules for media
//! apps live in `validate/apps.rs`.

mod apps;
mod callflows;
mod queues;

use std::collections::HashMap;

use super::{Dialplan, Issue, Problem};

pub use apps::{is_media_path, step_problems};

/// `1`–`15` ASCII digits: something a phone can dial.
pub fn is_extension_number(s: &str) -> bool {
    (1..=15).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
}

/// `^\+[1-9][0-9]{6,14}$`
pub fn is_e164(s: &str) -> bool {
    let Some(digits) = s.strip_prefix('+') else {
        return false;
    };
    (7..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0')
}

fn is_id(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

fn is_domain(s: &str) -> bool {
    (1..=253).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-'))
        && !s.starts_with(['.', '-'])
        && !s.ends_with(['.', '-'])
}

fn is_host(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'))
}

/// Collects issues with field paths.
struct Checker {
    issues: Vec<Issue>,
}

impl Checker {
    fn push(&mut self, field: String, problem: Problem) {
        self.issues.push(Issue { field, problem });
    }

    /// Records `value` under `key` in `seen`; a repeat is an issue naming the first use.
    fn unique(
        &mut self,
        seen: &mut HashMap<String, String>,
        key: String,
        value: &str,
        field: String,
    ) {
        match seen.get(&key) {
            Some(first) => self.push(
                field,
                Problem::Duplicate {
                    value: value.to_owned(),
                    first: first.clone(),
                },
            ),
            None => {
                seen.insert(key, field);
            }
        }
    }

    fn non_empty(&mut self, value: &str, field: String) -> bool {
        if value.trim().is_empty() {
            self.push(field, Problem::Empty);
            false
        } else {
            true
        }
    }

    fn id(&mut self, value: &str, field: String) {
        if self.non_empty(value, field.clone()) && !is_id(value) {
            self.push(field, Problem::BadId(value.to_owned()));
        }
    }

    /// Optional number that a call can be placed to or presented from.
    fn dialable(&mut self, value: Option<&str>, field: String) {
        if let Some(value) = value {
            if !is_extension_number(value) && !is_e164(value) {
                self.push(field, Problem::NotDialable(value.to_owned()));
            }
        }
    }
}

/// Every problem in `plan`, in file order.
pub(super) fn check(plan: &Dialplan) -> Vec<Issue> {
    let mut c = Checker { issues: Vec::new() };
    let mut account_ids = HashMap::new();
    let mut domains = HashMap::new();
    let mut e164s = HashMap::new();
    let mut trunk_ids = HashMap::new();
    let mut default_account: Option<String> = None;

    for (ai, account) in plan.accounts.iter().enumerate() {
        let at = format!("accounts[{ai}]");
        c.id(&account.id, format!("{at}.id"));
        c.unique(
            &mut account_ids,
            account.id.clone(),
            &account.id,
            format!("{at}.id"),
        );
        c.non_empty(&account.name, format!("{at}.name"));
        if c.non_empty(&account.sip_domain, format!("{at}.sip_domain")) {
            if !is_domain(&account.sip_domain) {
                c.push(
                    format!("{at}.sip_domain"),
                    Problem::BadDomain(account.sip_domain.clone()),
                );
            }
            c.unique(
                &mut domains,
                account.sip_domain.to_ascii_lowercase(),
                &account.sip_domain,
                format!("{at}.sip_domain"),
            );
        }
        if account.default {
            match &default_account {
                Some(first) => c.push(
                    format!("{at}.default"),
                    Problem::SecondDefault {
                        first: first.clone(),
                    },
                ),
                None => default_account = Some(at.clone()),
            }
        }

        let mut ext_numbers = HashMap::new();
        for (ei, ext) in account.extensions.iter().enumerate() {
            let et = format!("{at}.extensions[{ei}]");
            if !is_extension_number(&ext.number) {
                c.push(
                    format!("{et}.number"),
                    Problem::NotExtensionNumber(ext.number.clone()),
                );
            }
            c.unique(
                &mut ext_numbers,
                ext.number.clone(),
                &ext.number,
                format!("{et}.number"),
            );
            c.non_empty(&ext.password, format!("{et}.password"));
            c.dialable(ext.caller_id.as_deref(), format!("{et}.caller_id"));
            c.dialable(
                ext.forward_number.as_deref(),
                format!("{et}.forward_number"),
            );
            if let Some(pin) = &ext.voicemail_pin {
                if !(4..=10).contains(&pin.len()) || !pin.bytes().all(|b| b.is_ascii_digit()) {
                    c.push(
                        format!("{et}.voicemail_pin"),
                        Problem::BadName {
                            value: pin.clone(),
                            allowed: "4 to 10 digits",
                        },
                    );
                }
            }
            for (field, v) in [
                ("first_name", &ext.first_name),
                ("last_name", &ext.last_name),
                ("email", &ext.email),
            ] {
                if let Some(v) = v {
                    let len = v.chars().count();
                    if !(1..=100).contains(&len) {
                        c.push(format!("{et}.{field}"), Problem::Length { len, max: 100 });
                    }
                }
            }
            if let Some(mail) = &ext.email {
                let ok = mail.split_once('@').is_some_and(|(l, d)| {
                    !l.is_empty() && d.contains('.') && !d.starts_with('.') && !d.ends_with('.')
                }) && !mail.chars().any(|ch| ch.is_whitespace() || ch.is_control());
                if !ok {
                    c.push(
                        format!("{et}.email"),
                        Problem::BadName {
                            value: mail.clone(),
                            allowed: "an address like name@example.com",
                        },
                    );
                }
            }
            if let Some(tz) = &ext.time_zone {
                if tz.parse::<chrono_tz::Tz>().is_err() {
                    c.push(
                        format!("{et}.time_zone"),
                        Problem::BadName {
                            value: tz.clone(),
                            allowed: "an IANA time zone such as America/New_York",
                        },
                    );
                }
            }
        }

        for (ni, number) in account.numbers.iter().enumerate() {
            let nt = format!("{at}.numbers[{ni}]");
            if !is_e164(&number.number) {
                c.push(
                    format!("{nt}.number"),
                    Problem::NotE164(number.number.clone()),
                );
            }
            c.unique(
                &mut e164s,
                number.number.clone(),
                &number.number,
                format!("{nt}.number"),
            );
            if let Some(name) = &number.friendly_name {
                let len = name.chars().count();
                if !(1..=100).contains(&len) {
                    c.push(
                        format!("{nt}.friendly_name"),
                        Problem::Length { len, max: 100 },
                    );
                }
            }
            if !ext_numbers.contains_key(&number.extension) {
                c.push(
                    format!("{nt}.extension"),
                    Problem::UnknownExtension {
                        extension: number.extension.clone(),
                        account: account.id.clone(),
                    },
                );
            }
        }

        for (ti, trunk) in account.trunks.iter().enumerate() {
            let tt = format!("{at}.trunks[{ti}]");
            c.id(&trunk.id, format!("{tt}.id"));
            c.unique(
                &mut trunk_ids,
                trunk.id.clone(),
                &trunk.id,
                format!("{tt}.id"),
            );
            if c.non_empty(&trunk.host, format!("{tt}.host")) && !is_host(&trunk.host) {
                c.push(format!("{tt}.host"), Problem::BadHost(trunk.host.clone()));
            }
            if !(1..=65535).contains(&trunk.port) {
                c.push(format!("{tt}.port"), Problem::PortOutOfRange(trunk.port));
            }
            if let Some(password) = &trunk.password {
                c.non_empty(password, format!("{tt}.password"));
            }
            if let Some(username) = &trunk.username {
                if c.non_empty(username, format!("{tt}.username")) && trunk.password.is_none() {
                    c.push(format!("{tt}.username"), Problem::Requires("password"));
                }
            }
            c.dialable(trunk.caller_id.as_deref(), format!("{tt}.caller_id"));
        }

        apps::check(&mut c, &at, account, &ext_numbers);
        callflows::check(&mut c, &at, account, &ext_numbers, &mut e164s);
        queues::check(&mut c, &at, account, &ext_numbers);
    }
    c.issues
}

/// For the rule tests: every issue of a plan's text as `field: problem`.
#[cfg(test)]
pub(super) fn issue_lines(text: &str) -> Vec<String> {
    let plan = super::Dialplan::parse("plan.toml", text).expect("parses");
    match plan.validate() {
        Ok(()) => Vec::new(),
        Err(super::DialplanError::Invalid { issues, .. }) => issues
            .iter()
            .map(|i| format!("{}: {}", i.field, i.problem))
            .collect(),
        Err(other) => panic!("unexpected {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Dialplan, DialplanError};
    use super::*;

    const GOOD: &str = r#"
        [[accounts]]
        id = "a"
        name = "A"
        sip_domain = "a.test"
        default = true

        [[accounts.extensions]]
        number = "1001"
        password = "pw"

        [[accounts.numbers]]
        number = "+15550100100"
        extension = "1001"

        [[accounts.trunks]]
        id = "t"
        host = "127.0.0.1"
        port = 5080
    "#;

    fn issues(text: &str) -> Vec<String> {
        issue_lines(text)
    }

    #[test]
    fn number_shapes() {
        for ok in ["+15550100100", "+4930123", "+123456789012345"] {
            assert!(is_e164(ok), "{ok}");
        }
        for bad in [
            "15550100100",
            "+05550100100",
            "+123456",
            "+1234567890123456",
            "+1555a100100",
            "+",
        ] {
            assert!(!is_e164(bad), "{bad}");
        }
        assert!(is_extension_number("1") && is_extension_number("123456789012345"));
        assert!(!is_extension_number("") && !is_extension_number("10a1"));
        assert!(!is_extension_number("1234567890123456"));
    }

    #[test]
    fn good_plan_has_no_issues() {
        assert_eq!(issues(GOOD), Vec::<String>::new());
    }

    #[test]
    fn each_rule_names_its_field() {
        let cases: &[(&str, &str, &str)] = &[
            ("number = \"1001\"", "number = \"10a1\"", "accounts[0].extensions[0].number: \"10a1\" is not a dial-able extension number"),
            ("password = \"pw\"", "password = \"\"", "accounts[0].extensions[0].password: must not be empty"),
            ("number = \"+15550100100\"", "number = \"+05550100100\"", "accounts[0].numbers[0].number: \"+05550100100\" is not an E.164"),
            ("extension = \"1001\"", "extension = \"1009\"", "accounts[0].numbers[0].extension: extension \"1009\" is not defined in account \"a\""),
            ("port = 5080", "port = 70000", "accounts[0].trunks[0].port: 70000 is not a port"),
            ("port = 5080", "port = 0", "accounts[0].trunks[0].port: 0 is not a port"),
            ("id = \"a\"", "id = \"\"", "accounts[0].id: must not be empty"),
            ("sip_domain = \"a.test\"", "sip_domain = \"a test\"", "accounts[0].sip_domain: \"a test\" is not a valid SIP domain"),
        ];
        for (from, to, expected) in cases {
            let found = issues(&GOOD.replacen(from, to, 1));
            assert!(
                found.iter().any(|i| i.starts_with(expected)),
                "{to}: expected {expected:?} in {found:?}"
            );
        }
    }

    #[test]
    fn duplicates_and_second_default_are_reported_with_the_first_use() {
        let twice = format!("{GOOD}\n{}", GOOD.replace("id = \"t\"", "id = \"t2\""));
        let found = issues(&twice);
        for expected in [
            "accounts[1].id: \"a\" is already used by accounts[0].id",
            "accounts[1].sip_domain: \"a.test\" is already used by accounts[0].sip_domain",
            "accounts[1].default: only one account may be the default, and accounts[0] already is",
            "accounts[1].numbers[0].number: \"+15550100100\" is already used by accounts[0].numbers[0].number",
        ] {
            assert!(found.iter().any(|i| i == expected), "{expected:?} not in {found:?}");
        }
    }

    #[test]
    fn unknown_fields_and_transports_fail_to_parse_with_the_path() {
        for text in [
            GOOD.replace("password = \"pw\"", "password = \"pw\"\npasword = \"x\""),
            GOOD.replace("port = 5080", "port = 5080\ntransport = \"sctp\""),
        ] {
            let err = Dialplan::parse("dialplans/x.toml", &text).expect_err("must not parse");
            let msg = err.to_string();
            assert!(msg.starts_with("dialplans/x.toml: "), "{msg}");
            assert!(matches!(err, DialplanError::Parse { .. }));
        }
    }
}
