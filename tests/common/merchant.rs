//! Helpers of the merchant API's tests (tests/merchant*.rs): a merchant key
//! pair from the CLI, requests with X-API-KEY / X-API-SECRET, waiting on a
//! message's state, the local SMTP server (aiosmtpd) and the providers'
//! wire-format double (sip-tests/providers/fake_providers.py).

use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::voice::{request, Resp};
use super::*;

/// A tenant's credentials.
#[derive(Clone, Debug)]
pub struct Pair {
    pub key: String,
    pub secret: String,
}

/// `switchyard key create --type merchant` with `store` flags: the pair it printed.
pub fn merchant_pair(store: &[&str], account: &str) -> Pair {
    let v = api_key_with(store, account, "merchant", &["--label", "integration"]);
    Pair {
        key: v["key"].as_str().expect("key").to_string(),
        secret: v["secret"].as_str().expect("secret").to_string(),
    }
}

/// A pair on a running switch's embedded store.
pub fn pair(sw: &Switch, account: &str) -> Pair {
    let data = sw.tmp.path().join("data").display().to_string();
    merchant_pair(&["--data-dir", &data], account)
}

pub fn v1(
    sw: &Switch,
    method: &str,
    path: &str,
    p: &Pair,
    body: Option<&Value>,
    idem: Option<&str>,
) -> Resp {
    let mut h = vec![
        ("X-API-KEY", p.key.as_str()),
        ("X-API-SECRET", p.secret.as_str()),
    ];
    if let Some(i) = idem {
        h.push(("Idempotency-Key", i));
    }
    let text = body.map(|b| b.to_string());
    request(sw, method, path, &h, text.as_deref())
}

pub fn v1_post(sw: &Switch, path: &str, p: &Pair, body: &Value, idem: Option<&str>) -> Resp {
    v1(sw, "POST", path, p, Some(body), idem)
}

pub fn v1_get(sw: &Switch, path: &str, p: &Pair) -> Resp {
    v1(sw, "GET", path, p, None, None)
}

/// Asserts `{"error": {code, message, field}}` with `status` and `code`; the field.
pub fn assert_v1_error(r: &Resp, status: u16, code: &str) -> Option<String> {
    assert_eq!(
        (r.status, r.json["error"]["code"].as_str()),
        (status, Some(code)),
        "{}",
        r.json
    );
    assert!(
        r.json["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{}",
        r.json
    );
    r.json["error"]["field"].as_str().map(str::to_string)
}

/// Polls `GET /api/v1/messages/{id}` until its status is one of `want`; the message.
pub fn wait_message(sw: &Switch, p: &Pair, id: &str, want: &[&str], timeout: Duration) -> Value {
    let deadline = Instant::now() + timeout;
    loop {
        let r = v1_get(sw, &format!("/api/v1/messages/{id}"), p);
        assert_eq!(r.status, 200, "{}", r.json);
        if want.contains(&r.json["status"].as_str().unwrap_or("")) {
            return r.json;
        }
        if Instant::now() > deadline {
            sw.dump_log();
            panic!("message {id} never reached {want:?}: {}", r.json);
        }
        thread::sleep(Duration::from_millis(100));
    }
}

/// The states a message went through, from its lifecycle.
pub fn steps(m: &Value) -> Vec<&str> {
    m["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["status"].as_str())
        .collect()
}

/// What the simulator was handed for `account` (the operator route).
pub fn simulator_messages(sw: &Switch, account: &str) -> Value {
    let (st, v) = http_json(
        sw.http,
        "GET",
        &format!("/admin/simulator/messages?account={account}&limit=10000"),
        &[],
        None,
    );
    assert_eq!(st, 200, "{v}");
    v
}

/// Sets an account's delivery mode through the operator route.
pub fn set_delivery(sw: &Switch, account: &str, body: Value) {
    let (st, v) = http_json(
        sw.http,
        "PUT",
        &format!("/admin/accounts/{account}/delivery"),
        &[],
        Some(&body.to_string()),
    );
    assert_eq!(st, 200, "{v}");
}

/// A merchant with generous limits.
pub fn merchant(sw: &Switch, p: &Pair, id: &str) {
    let r = v1_post(
        sw,
        "/api/v1/merchants",
        p,
        &json!({"merchantId": id, "displayName": id, "active": true,
                "smsLimit": 100000, "voiceMinutesLimit": 1000, "emailLimit": 100000}),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.json);
}

/// A process killed when dropped.
pub struct Daemon {
    child: Child,
    pub port: u16,
    pub info: Value,
    pub dir: tempfile::TempDir,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn wait_port(port: u16, child: &mut Child, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect((LOCALHOST, port)).is_err() {
        if let Ok(Some(st)) = child.try_wait() {
            panic!("{what} exited: {st}");
        }
        assert!(Instant::now() < deadline, "{what} did not listen on {port}");
        thread::sleep(Duration::from_millis(50));
    }
}

/// aiosmtpd (PyPI) on loopback, keeping every message it takes in a maildir.
pub fn smtp_server() -> Daemon {
    let dir = tempfile::tempdir().expect("tempdir");
    let maildir = dir.path().join("mail");
    let port = free_port();
    let mut child = Command::new("python3")
        .args([
            "-m",
            "aiosmtpd",
            "-n",
            "-l",
            &format!("{LOCALHOST}:{port}"),
            "-c",
            "aiosmtpd.handlers.Mailbox",
        ])
        .arg(&maildir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start aiosmtpd (pip install aiosmtpd)");
    wait_port(port, &mut child, "aiosmtpd");
    Daemon {
        child,
        port,
        info: Value::Null,
        dir,
    }
}

impl Daemon {
    /// The raw messages an SMTP server's maildir holds.
    pub fn mails(&self) -> Vec<String> {
        let mut out = Vec::new();
        for sub in ["new", "cur"] {
            let d: PathBuf = self.dir.path().join("mail").join(sub);
            for e in fs::read_dir(&d).into_iter().flatten().flatten() {
                out.push(fs::read_to_string(e.path()).unwrap_or_default());
            }
        }
        out
    }

    /// The provider double's control API.
    pub fn control(&self, method: &str, path: &str, body: Option<&Value>) -> Value {
        let addr: SocketAddr = format!("{LOCALHOST}:{}", self.port).parse().expect("addr");
        let text = body.map(|b| b.to_string());
        let (st, v) = http_json(addr, method, path, &[], text.as_deref());
        assert!((200..300).contains(&st), "{path}: {st} {v}");
        v
    }

    /// What the double was sent.
    pub fn messages(&self) -> Vec<Value> {
        self.control("GET", "/_control/messages", None)
            .as_array()
            .cloned()
            .unwrap_or_default()
    }
}

pub const TWILIO_SID: &str = "AC00000000000000000000000000000001";
pub const TWILIO_TOKEN: &str = "twilio-test-token";
pub const TELNYX_KEY: &str = "KEYtest0000000000";

/// The Twilio/Telnyx double, listening; `info` has its port and Telnyx's public key.
pub fn providers() -> Daemon {
    let dir = tempfile::tempdir().expect("tempdir");
    let ready = dir.path().join("ready.json");
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("sip-tests/providers/fake_providers.py");
    let mut child = Command::new("python3")
        .arg(script)
        .args([
            "--port",
            "0",
            "--twilio-sid",
            TWILIO_SID,
            "--twilio-token",
            TWILIO_TOKEN,
            "--telnyx-key",
            TELNYX_KEY,
        ])
        .arg("--ready-file")
        .arg(&ready)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the providers' double");
    let deadline = Instant::now() + Duration::from_secs(20);
    let info: Value = loop {
        if let Ok(text) = fs::read_to_string(&ready) {
            if let Ok(v) = serde_json::from_str(&text) {
                break v;
            }
        }
        if let Ok(Some(st)) = child.try_wait() {
            panic!("the providers' double exited: {st}");
        }
        assert!(
            Instant::now() < deadline,
            "the providers' double never got ready"
        );
        thread::sleep(Duration::from_millis(50));
    };
    let port = info["port"].as_u64().expect("port") as u16;
    Daemon {
        child,
        port,
        info,
        dir,
    }
}

/// The switch flags that point Twilio and Telnyx at the double.
pub fn provider_flags(d: &Daemon) -> Vec<String> {
    let base = format!("http://{LOCALHOST}:{}", d.port);
    [
        "--twilio-account-sid",
        TWILIO_SID,
        "--twilio-auth-token",
        TWILIO_TOKEN,
        "--twilio-from",
        "+15550100199",
        "--twilio-url",
        &base,
        "--telnyx-api-key",
        TELNYX_KEY,
        "--telnyx-from",
        "+15550100198",
        "--telnyx-url",
        &base,
        "--telnyx-public-key",
        d.info["telnyx_public_key"].as_str().expect("key"),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}
