//! The OpenAPI document of the voice API and the merchant API against the
//! running binary: it is served at `/openapi.json` (3.1) with Swagger UI at
//! `/docs` from the switch itself, and schemathesis (PyPI) fuzzes every
//! operation from it — the voice API with a developer key, a user key on
//! `/user/*`, the demo account and its queue; the merchant API with a merchant
//! key pair, a merchant and a message — finding no 5xx and no answer that
//! breaks the document's schemas.

mod common;

use common::*;
use std::process::Command;

#[test]
fn the_document_is_served_and_schemathesis_finds_no_fault() {
    let sw = Switch::start(SwitchOpts {
        // schemathesis sends hundreds of requests: the limits are not under test here
        extra_args: [
            "--api-rate-limit",
            "1000000",
            "--api-public-rate-limit",
            "1000000",
        ]
        .map(String::from)
        .to_vec(),
        ..SwitchOpts::default()
    });
    let (status, doc) = http_get(sw.http, "/openapi.json").expect("GET /openapi.json");
    assert_eq!(status, 200);
    let doc: serde_json::Value = serde_json::from_str(&doc).expect("JSON");
    assert!(doc["openapi"]
        .as_str()
        .is_some_and(|v| v.starts_with("3.1")));
    assert!(doc["paths"]["/v3/voice/{account_id}/availability/queues"]["get"].is_object());
    let (status, page) = http_get(sw.http, "/docs/").expect("GET /docs/");
    assert_eq!(status, 200);
    assert!(page.contains("swagger-ui"), "{page}");
    let (status, _) = http_get(sw.http, "/docs/swagger-ui-bundle.js").expect("GET the bundle");
    assert_eq!(status, 200, "Swagger UI's files come from the switch");

    let store = sw.tmp.path().join("data").display().to_string();
    let dev = api_key(&["--data-dir", &store], "demo", "developer");
    let user = api_key_with(
        &["--data-dir", &store],
        "demo",
        "user",
        &["--extension", "1001"],
    );
    let user = user["key"].as_str().expect("key").to_string();
    let (_, queues) = http_get(sw.http, "/v3/voice/demo/queues").expect("queues");
    let queues: serde_json::Value = serde_json::from_str(&queues).expect("JSON");
    let pk = queues["result"][0]["pk"]
        .as_i64()
        .expect("the sales queue's pk");
    // the merchant API: a pair, a merchant to name, a message of it
    let pair = common::merchant::merchant_pair(&["--data-dir", &store], "demo");
    common::merchant::merchant(&sw, &pair, "gym-a");
    let sent = common::merchant::v1_post(
        &sw,
        "/api/v1/messages/sms",
        &pair,
        &serde_json::json!({"merchantId": "gym-a", "to": "+18135551234", "message": "hi", "type": "OTP"}),
        None,
    );
    let message_id = sent.json["messageId"]
        .as_str()
        .expect("messageId")
        .to_string();
    // X-API-Key (voice) and X-API-KEY (merchant) are one header name to
    // schemathesis: each API is fuzzed in a run of its own with its own keys
    let voice = format!(
        r#"[parameters]
"path.account_id" = "demo"
"path.queue_id" = {pk}

# /user/* takes user keys
[[operations]]
include-path-regex = "/user/"
headers = {{ "X-API-Key" = "{user}" }}

# a valid-looking call or SMS is refused when the extension has no device or
# the number is not the account's: state the schema cannot express
[[operations]]
include-method = "POST"
checks.positive_data_acceptance.enabled = false
"#
    );
    let merchant = format!(
        r#"[parameters]
"path.merchantId" = "gym-a"
"path.messageId" = "{message_id}"
"query.merchantId" = "gym-a"

[[operations]]
include-path-regex = "^/api/v1/"
headers = {{ "X-API-KEY" = "{mkey}", "X-API-SECRET" = "{msecret}" }}

# a schema-valid send is refused for consent, limits or a date range the
# schema cannot express
[[operations]]
include-method = "POST"
checks.positive_data_acceptance.enabled = false

[[operations]]
include-path-regex = "/(reports/usage|messages)$"
checks.positive_data_acceptance.enabled = false
"#,
        mkey = pair.key,
        msecret = pair.secret,
    );
    let dev_header = format!("X-API-Key: {dev}");
    for (name, text, only, selected, header) in [
        (
            "voice",
            voice,
            "^/v3/",
            "12 selected",
            Some(dev_header.as_str()),
        ),
        ("merchant", merchant, "^/api/v1/", "23 selected", None),
    ] {
        let config = sw.tmp.path().join(format!("schemathesis-{name}.toml"));
        std::fs::write(&config, text).expect("write the config");
        let run = |mut cmd: Command| {
            // its cache (.schemathesis/) goes in the test's directory, not the checkout
            cmd.current_dir(sw.tmp.path())
                .arg("--config-file")
                .arg(&config)
                .args(["run", &format!("http://{}/openapi.json", sw.http)])
                .args(["--include-path-regex", only])
                .args(header.map(|h| ["-H", h]).into_iter().flatten())
                .args(["--max-examples", "40", "--seed", "20261207", "--no-color"])
                .output()
        };
        // the console script, else the module (a pip install whose scripts are not on PATH)
        let out = run(Command::new("schemathesis"))
            .or_else(|_| {
                let mut py = Command::new("python3");
                py.args(["-m", "schemathesis.cli"]);
                run(py)
            })
            .expect("run schemathesis");
        assert!(
            !String::from_utf8_lossy(&out.stderr).contains("No module named"),
            "schemathesis is not installed: pip install schemathesis (.ci/run does)"
        );
        let report = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.status.success(),
            "schemathesis found faults in the {name} API:\n{report}"
        );
        assert!(
            report.contains(selected),
            "every operation was tested:\n{report}"
        );
        assert!(!report.contains("Authentication failed"), "{report}");
        assert!(!report.contains("Server error"), "{report}");
    }
}
