//! Browser provisioning (`/api/v1/voice/provisioning*`) from an HTTP client:
//! sign-in errors with their machine codes and fields, tokens that cannot be
//! forged or stretched, a short-lived SIP credential that is never the
//! extension's password yet registers with digest (SIPp), presence driving
//! the queue engine, and the agent page served without anything from elsewhere.

mod common;

use common::{http_json, Switch};
use serde_json::{json, Value};

fn session(sw: &Switch, body: &str) -> (u16, Value) {
    http_json(
        sw.http,
        "POST",
        "/api/v1/voice/provisioning/session",
        &[],
        Some(body),
    )
}

fn bearer(sw: &Switch, method: &str, path: &str, token: &str, body: Option<&str>) -> (u16, Value) {
    let auth = format!("Bearer {token}");
    http_json(sw.http, method, path, &[("Authorization", &auth)], body)
}

#[test]
fn provisioning_hands_out_short_lived_credentials_and_sets_agent_state() {
    let sw = Switch::start_default();
    // sign-in errors: the field at fault, then wrong credentials
    let (s, e) = session(&sw, r#"{"password":"x"}"#);
    assert_eq!(
        (s, &e["error"]["code"], &e["error"]["field"]),
        (400, &json!("VALIDATION_ERROR"), &json!("extension")),
        "{e}"
    );
    let (s, e) = session(&sw, "not json");
    assert_eq!(
        (s, &e["error"]["code"]),
        (400, &json!("VALIDATION_ERROR")),
        "{e}"
    );
    let (s, e) = session(&sw, r#"{"extension":"1002","password":"wrong"}"#);
    assert_eq!(
        (s, &e["error"]["code"]),
        (401, &json!("AUTH_INVALID")),
        "{e}"
    );
    let (s, e) = session(&sw, r#"{"extension":"9999","password":"demo1002"}"#);
    assert_eq!(
        (s, &e["error"]["code"]),
        (401, &json!("AUTH_INVALID")),
        "{e}"
    );

    let (s, t) = session(&sw, r#"{"extension":"1002","password":"demo1002"}"#);
    assert_eq!(s, 200, "{t}");
    let token = t["token"].as_str().expect("token").to_string();
    assert!(token.starts_with("sy_prov_"), "{token}");
    assert!(
        t["expires_at"].as_str().is_some_and(|x| x.ends_with('Z')),
        "{t}"
    );

    // no token, a forged one, a stretched one
    let (s, e) = http_json(sw.http, "GET", "/api/v1/voice/provisioning", &[], None);
    assert_eq!(
        (s, &e["error"]["code"]),
        (401, &json!("AUTH_REQUIRED")),
        "{e}"
    );
    let forged = format!("{}0", &token[..token.len() - 1]);
    let (s, e) = bearer(&sw, "GET", "/api/v1/voice/provisioning", &forged, None);
    assert_eq!(
        (s, &e["error"]["code"]),
        (401, &json!("AUTH_INVALID")),
        "{e}"
    );
    let parts: Vec<&str> = token.rsplitn(3, '.').collect();
    let stretched = format!("{}.{}.{}", parts[2], "4102444800", parts[0]);
    let (s, _) = bearer(&sw, "GET", "/api/v1/voice/provisioning", &stretched, None);
    assert_eq!(s, 401, "a token's expiry is signed");

    let (s, p) = bearer(&sw, "GET", "/api/v1/voice/provisioning", &token, None);
    assert_eq!(s, 200, "{p}");
    assert_eq!(p["sip_uri"], json!("sip:1002@demo.switchyard.test"));
    assert_eq!(p["display_name"], json!("Bob"));
    let user = p["authorization_user"].as_str().expect("user").to_string();
    let password = p["password"].as_str().expect("password").to_string();
    let (expiry, ext) = user.split_once(':').expect("<expiry>:<extension>");
    assert_eq!(ext, "1002");
    assert!(expiry.parse::<u64>().is_ok(), "{user}");
    assert_ne!(password, "demo1002", "never the long-term password");
    // the queue engine's figures arrive within a second of start
    let until = std::time::Instant::now() + std::time::Duration::from_secs(3);
    loop {
        let (_, p) = bearer(&sw, "GET", "/api/v1/voice/provisioning", &token, None);
        if p["agent"]["queues"] == json!(["sales"]) {
            break;
        }
        assert!(std::time::Instant::now() < until, "{p}");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }

    // the short-lived credential registers 1002 with digest
    sw.sipp("register_auth.xml")
        .port(common::free_port())
        .key("user", "1002")
        .key("expires", 60)
        .auth(&user, &password)
        .run()
        .assert_ok();
    // and the long-term user name with it is refused
    let refused = sw
        .sipp("register_auth.xml")
        .port(common::free_port())
        .key("user", "1002")
        .key("expires", 60)
        .auth("1002", &password)
        .run();
    assert!(
        !refused.status.success(),
        "the short-lived password works only with its own user name"
    );
    assert!(sw.metric("switchyard_registrations") >= 1.0);

    // presence: paused with a reason, then available; a bad state is refused
    let path = "/api/v1/voice/provisioning/presence";
    let (s, e) = bearer(&sw, "POST", path, &token, Some(r#"{"state":"asleep"}"#));
    assert_eq!((s, &e["error"]["field"]), (400, &json!("state")), "{e}");
    let (s, a) = bearer(
        &sw,
        "POST",
        path,
        &token,
        Some(r#"{"state":"paused","reason":"lunch"}"#),
    );
    assert_eq!(
        (s, &a["state"], &a["reason"]),
        (200, &json!("paused"), &json!("lunch")),
        "{a}"
    );
    let (_, q) = http_json(sw.http, "GET", "/queues", &[], None);
    let agent = q["queues"][0]["agents"]
        .as_array()
        .and_then(|l| l.iter().find(|a| a["extension"] == "1002").cloned())
        .expect("1002 in sales");
    assert_eq!(agent["status"], json!("paused"), "{q}");
    let (s, a) = bearer(&sw, "POST", path, &token, Some(r#"{"state":"available"}"#));
    assert_eq!((s, &a["state"]), (200, &json!("available")), "{a}");

    let (s, calls) = bearer(&sw, "GET", "/api/v1/voice/provisioning/calls", &token, None);
    assert_eq!((s, calls), (200, json!([])));

    // the page itself, with its assets, and nothing it loads from elsewhere
    let (s, html) = common::http_get(sw.http, "/agent/").expect("page");
    assert_eq!(s, 200);
    assert!(
        html.contains("agent.js") && html.contains("agent.css"),
        "{html}"
    );
    for attr in [
        "src=\"http",
        "href=\"http",
        "src='http",
        "href='http",
        "url(http",
    ] {
        assert!(
            !html.contains(attr),
            "the page loads {attr}… from elsewhere"
        );
    }
    let (s, js) = common::http_request(sw.http, "GET", "/agent/agent.js", None).expect("js");
    assert_eq!(s, 200);
    assert!(js.len() > 50_000, "the bundle (JsSIP and the page)");
}
