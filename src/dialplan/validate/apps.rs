//! Rules for `[[accounts.apps]]`: the app's number and name, and each step's limits.
//!
//! Part of the whole-plan check in `validate.rs`: pure, collects every issue with the
//! field's path (`accounts[0].apps[1].steps[2].seconds`). The step *shapes* (which keys a
//! step has, their types) are enforced when the file is read, in `dialplan/apps.rs`.

use std::collections::HashMap;
use std::path::{Component, Path};

use super::super::{AccountDef, Problem, Step};
use super::{is_extension_number, Checker};

/// Most steps one app may have.
pub const MAX_STEPS: usize = 100;
/// Longest text of a `say` step, in characters.
pub const MAX_SAY_CHARS: usize = 2000;
/// Longest tone, music on hold, pause or echo, in seconds.
pub const MAX_SECONDS: u32 = 3600;

const SECONDS_RANGE: &str = "1 to 3600 seconds";

/// Checks the apps of the account at `at`. `numbers` maps the account's extension numbers
/// to their fields; app numbers must not collide with them or with each other.
pub(super) fn check(
    c: &mut Checker,
    at: &str,
    account: &AccountDef,
    numbers: &HashMap<String, String>,
) {
    let mut numbers = numbers.clone();
    for (pi, app) in account.apps.iter().enumerate() {
        let pt = format!("{at}.apps[{pi}]");
        if !is_extension_number(&app.number) {
            c.push(
                format!("{pt}.number"),
                Problem::NotExtensionNumber(app.number.clone()),
            );
        }
        c.unique(
            &mut numbers,
            app.number.clone(),
            &app.number,
            format!("{pt}.number"),
        );
        c.non_empty(&app.name, format!("{pt}.name"));
        if app.steps.is_empty() {
            c.push(format!("{pt}.steps"), Problem::Empty);
        } else if app.steps.len() > MAX_STEPS {
            c.push(
                format!("{pt}.steps"),
                Problem::TooManySteps {
                    count: app.steps.len(),
                    max: MAX_STEPS,
                },
            );
        }
        for (si, step) in app.steps.iter().enumerate() {
            check_step(c, step, &format!("{pt}.steps[{si}]"));
        }
    }
}

/// What is wrong with steps that come from elsewhere than a dialplan file
/// (an API request), as `field: problem` lines; empty when they are fine.
pub fn step_problems(steps: &[Step]) -> Vec<String> {
    let mut c = Checker { issues: Vec::new() };
    for (i, step) in steps.iter().enumerate() {
        check_step(&mut c, step, &format!("steps[{i}]"));
    }
    c.issues
        .into_iter()
        .map(|i| format!("{}: {}", i.field, i.problem))
        .collect()
}

pub(super) fn check_step(c: &mut Checker, step: &Step, st: &str) {
    match step {
        Step::Play { path, .. } => {
            if c.non_empty(path, format!("{st}.play")) && !is_media_path(path) {
                c.push(format!("{st}.play"), Problem::NotRelativePath(path.clone()));
            }
        }
        Step::Say { text, voice } => {
            let len = text.chars().count();
            if c.non_empty(text, format!("{st}.say")) && len > MAX_SAY_CHARS {
                c.push(
                    format!("{st}.say"),
                    Problem::Length {
                        len,
                        max: MAX_SAY_CHARS,
                    },
                );
            }
            if let Some(voice) = voice {
                if !is_voice(voice) {
                    c.push(
                        format!("{st}.voice"),
                        Problem::BadName {
                            value: voice.clone(),
                            allowed: "1 to 40 letters, digits, '+', '_' or '-'",
                        },
                    );
                }
            }
        }
        Step::Tone { seconds, .. } => whole_seconds(c, *seconds, format!("{st}.seconds")),
        Step::Moh { class, seconds } => {
            if !is_moh_class(class) {
                c.push(
                    format!("{st}.moh"),
                    Problem::BadName {
                        value: class.clone(),
                        allowed: "1 to 40 lower-case letters, digits, '_' or '-'",
                    },
                );
            }
            whole_seconds(c, *seconds, format!("{st}.seconds"));
        }
        Step::Pause { seconds } => {
            // Written so that NaN fails too.
            if !(*seconds > 0.0 && *seconds <= f64::from(MAX_SECONDS)) {
                c.push(
                    format!("{st}.pause"),
                    Problem::OutOfRange {
                        value: seconds.to_string(),
                        range: "more than 0, at most 3600 seconds",
                    },
                );
            }
        }
        Step::Echo { seconds } => whole_seconds(c, *seconds, format!("{st}.echo")),
        Step::Hangup => {}
    }
}

fn whole_seconds(c: &mut Checker, seconds: u32, field: String) {
    if !(1..=MAX_SECONDS).contains(&seconds) {
        c.push(
            field,
            Problem::OutOfRange {
                value: seconds.to_string(),
                range: SECONDS_RANGE,
            },
        );
    }
}

/// A relative path that stays inside the media directory: no root, no drive prefix, no
/// `..` component, no NUL.
pub fn is_media_path(path: &str) -> bool {
    !path.contains('\0')
        && !path.starts_with(['/', '\\'])
        && Path::new(path)
            .components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
        && !path.split(['/', '\\']).any(|part| part == "..")
}

/// `[A-Za-z0-9+_-]{1,40}`
fn is_voice(s: &str) -> bool {
    (1..=40).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'_' | b'-'))
}

/// `[a-z0-9_-]{1,40}`
pub(super) fn is_moh_class(s: &str) -> bool {
    (1..=40).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::super::super::{Dialplan, DialplanError};
    use super::*;

    const PLAN: &str = r#"
        [[accounts]]
        id = "a"
        name = "A"
        sip_domain = "a.test"

        [[accounts.extensions]]
        number = "1001"
        password = "pw"

        [[accounts.apps]]
        number = "7000"
        name = "Welcome"
        record = true
        steps = [
            { play = "prompts/en/welcome", barge_in = true },
            { say = "Hello.", voice = "en-us" },
            { tone = "busy", seconds = 3 },
            { moh = "default", seconds = 30 },
            { pause = 0.5 },
            { echo = 10 },
            { hangup = true },
        ]
    "#;

    fn issues(text: &str) -> Vec<String> {
        let plan = Dialplan::parse("plan.toml", text).expect("parses");
        match plan.validate() {
            Ok(()) => Vec::new(),
            Err(err @ DialplanError::Invalid { .. }) => {
                err.to_string().lines().map(str::to_owned).collect()
            }
            Err(other) => panic!("unexpected {other}"),
        }
    }

    #[test]
    fn good_apps_have_no_issues() {
        assert_eq!(issues(PLAN), Vec::<String>::new());
    }

    #[test]
    fn each_app_rule_names_its_field() {
        let at = "plan.toml: accounts[0].apps[0]";
        let long = "x".repeat(2001);
        let cases: Vec<(&str, String, String)> = vec![
            (
                "number = \"7000\"",
                "number = \"70a0\"".into(),
                format!("{at}.number: \"70a0\" is not a dial-able extension number"),
            ),
            (
                "number = \"7000\"",
                "number = \"1001\"".into(),
                format!(
                    "{at}.number: \"1001\" is already used by accounts[0].extensions[0].number"
                ),
            ),
            (
                "name = \"Welcome\"",
                "name = \" \"".into(),
                format!("{at}.name: must not be empty"),
            ),
            (
                "\"prompts/en/welcome\"",
                "\"/etc/passwd\"".into(),
                format!("{at}.steps[0].play: \"/etc/passwd\" is not a relative path"),
            ),
            (
                "\"prompts/en/welcome\"",
                "\"prompts/../../secret\"".into(),
                format!("{at}.steps[0].play: \"prompts/../../secret\" is not a relative path"),
            ),
            (
                "\"prompts/en/welcome\"",
                "\"\"".into(),
                format!("{at}.steps[0].play: must not be empty"),
            ),
            (
                "say = \"Hello.\"",
                "say = \"\"".into(),
                format!("{at}.steps[1].say: must not be empty"),
            ),
            (
                "say = \"Hello.\"",
                format!("say = \"{long}\""),
                format!("{at}.steps[1].say: is 2001 characters long; it must be 1 to 2000"),
            ),
            (
                "voice = \"en-us\"",
                "voice = \"en us\"".into(),
                format!("{at}.steps[1].voice: \"en us\" is not a valid name"),
            ),
            (
                "seconds = 3 }",
                "seconds = 0 }".into(),
                format!("{at}.steps[2].seconds: 0 is out of range (1 to 3600 seconds)"),
            ),
            (
                "moh = \"default\"",
                "moh = \"Default\"".into(),
                format!("{at}.steps[3].moh: \"Default\" is not a valid name"),
            ),
            (
                "seconds = 30 }",
                "seconds = 3601 }".into(),
                format!("{at}.steps[3].seconds: 3601 is out of range"),
            ),
            (
                "pause = 0.5",
                "pause = 0.0".into(),
                format!("{at}.steps[4].pause: 0 is out of range"),
            ),
            (
                "pause = 0.5",
                "pause = nan".into(),
                format!("{at}.steps[4].pause: NaN is out of range"),
            ),
            (
                "pause = 0.5",
                "pause = 3600.5".into(),
                format!("{at}.steps[4].pause: 3600.5 is out of range"),
            ),
            (
                "echo = 10",
                "echo = 0".into(),
                format!("{at}.steps[5].echo: 0 is out of range"),
            ),
        ];
        for (from, to, expected) in cases {
            let text = PLAN.replacen(from, &to, 1);
            assert_ne!(text, PLAN, "{from} not found");
            let found = issues(&text);
            assert!(
                found.iter().any(|i| i.starts_with(&expected)),
                "{to}: expected {expected:?} in {found:?}"
            );
        }
    }

    #[test]
    fn step_count_and_app_collisions() {
        let start = PLAN.find("steps = [").expect("steps");
        let end = start + PLAN[start..].find("]\n").expect("end of steps") + 1;
        let none = format!("{}steps = []{}", &PLAN[..start], &PLAN[end..]);
        assert!(issues(&none)
            .contains(&"plan.toml: accounts[0].apps[0].steps: must not be empty".to_owned()));
        let many = "{ pause = 1 },".repeat(101);
        let lots = format!("{}steps = [{many}]{}", &PLAN[..start], &PLAN[end..]);
        assert!(issues(&lots).contains(
            &"plan.toml: accounts[0].apps[0].steps: has 101 steps; an app may have at most 100"
                .to_owned()
        ));
        let app = &PLAN[PLAN.find("[[accounts.apps]]").expect("app table")..];
        let twice = format!("{PLAN}\n{app}");
        assert!(issues(&twice).contains(
            &"plan.toml: accounts[0].apps[1].number: \"7000\" is already used by accounts[0].apps[0].number"
                .to_owned()
        ));
        // Another account may use the same number.
        let other = format!(
            "{PLAN}\n[[accounts]]\nid = \"b\"\nname = \"B\"\nsip_domain = \"b.test\"\n{app}"
        );
        assert_eq!(issues(&other), Vec::<String>::new());
    }

    #[test]
    fn media_paths() {
        for ok in ["prompts/en/welcome", "a.wav", "./x/y.wav", "dir/with..dots"] {
            assert!(is_media_path(ok), "{ok}");
        }
        for bad in [
            "/abs", "..", "a/../b", "a/..", "\\share", "a\\..\\b", "a\0b",
        ] {
            assert!(!is_media_path(bad), "{bad:?}");
        }
    }
}
