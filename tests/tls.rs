//! SIP over TLS (`--sip-tls`) from outside, with OpenSSL's `s_client` as the
//! phone: it verifies the `switchyard cert dev` certificate against itself
//! and the address, registers with digest auth over the TLS flow (the
//! registrar keeps an RFC 5626 Contact with its quoted `+sip.instance`
//! intact), and garbage on the TLS port closes that connection only.

mod common;

use common::{free_port, Switch, SwitchOpts};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Tls {
    child: Child,
    out: BufReader<std::process::ChildStdout>,
}

impl Tls {
    fn connect(port: u16, ca: &str) -> Tls {
        let mut child = Command::new("openssl")
            .args([
                "s_client",
                "-quiet",
                "-verify_return_error",
                "-verify_ip",
                "127.0.0.1",
            ])
            .args(["-CAfile", ca, "-connect"])
            .arg(format!("127.0.0.1:{port}"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("openssl s_client");
        let out = BufReader::new(child.stdout.take().expect("stdout"));
        Tls { child, out }
    }

    fn send(&mut self, msg: &str) {
        let stdin = self.child.stdin.as_mut().expect("stdin");
        stdin.write_all(msg.as_bytes()).expect("write");
        stdin.flush().expect("flush");
    }

    /// One response: its head lines (no body expected).
    fn response(&mut self) -> Vec<String> {
        let mut lines = Vec::new();
        loop {
            let mut l = String::new();
            let n = self.out.read_line(&mut l).expect("read");
            assert!(n > 0, "the connection closed; got so far: {lines:?}");
            let l = l.trim_end().to_string();
            if l.is_empty() && !lines.is_empty() {
                return lines;
            }
            if !l.is_empty() {
                lines.push(l);
            }
        }
    }
}

impl Drop for Tls {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn register(auth: &str, cseq: u32) -> String {
    format!(
        "REGISTER sip:demo.switchyard.test SIP/2.0\r\n\
         Via: SIP/2.0/TLS phone.invalid;branch=z9hG4bKtls{cseq}\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:1001@demo.switchyard.test>;tag=tls1\r\n\
         To: <sip:1001@demo.switchyard.test>\r\n\
         Call-ID: tls-reg-1\r\n\
         CSeq: {cseq} REGISTER\r\n\
         Contact: <sip:ab12@phone.invalid;transport=tls>;reg-id=1;+sip.instance=\"<urn:uuid:00000000-0000-4000-8000-000000000001>\"\r\n\
         Expires: 300\r\n\
         {auth}Content-Length: 0\r\n\r\n"
    )
}

#[test]
fn a_phone_registers_over_tls_with_a_verified_dev_certificate() {
    let certs = tempfile::tempdir().expect("tempdir");
    let out = Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .args(["cert", "dev", "--data-dir"])
        .arg(certs.path())
        .output()
        .expect("cert dev");
    assert!(out.status.success(), "{out:?}");
    // a second run refuses to overwrite the pair
    let again = Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .args(["cert", "dev", "--data-dir"])
        .arg(certs.path())
        .output()
        .expect("cert dev");
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("--force"));
    let cert = certs.path().join("certs/cert.pem").display().to_string();
    let key = certs.path().join("certs/key.pem").display().to_string();
    let port = free_port();
    let sw = Switch::start(SwitchOpts {
        extra_args: vec![
            "--sip-tls".into(),
            format!("127.0.0.1:{port}"),
            "--tls-cert".into(),
            cert.clone(),
            "--tls-key".into(),
            key,
        ],
        ..Default::default()
    });

    // garbage where a TLS handshake belongs: that connection closes, nothing else
    let mut raw = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    raw.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    raw.write_all(b"REGISTER sip:x SIP/2.0\r\n\r\n")
        .expect("write");
    let mut buf = [0u8; 64];
    let n = raw.read(&mut buf).unwrap_or(0);
    assert!(
        n == 0 || buf[0] == 0x15,
        "a TLS alert or a close, got {:?}",
        &buf[..n]
    );

    let mut tls = Tls::connect(port, &cert);
    tls.send(&register("", 1));
    let challenge = tls.response();
    assert!(challenge[0].starts_with("SIP/2.0 401"), "{challenge:?}");
    assert!(
        challenge
            .iter()
            .any(|l| l.starts_with("Via: SIP/2.0/TLS phone.invalid")),
        "{challenge:?}"
    );
    let www = challenge
        .iter()
        .find_map(|l| l.strip_prefix("WWW-Authenticate: "))
        .expect("a challenge");
    let answer = switchyard::sip::auth::client_authorization(
        www,
        "1001",
        "demo1001",
        "REGISTER",
        "sip:demo.switchyard.test",
    )
    .expect("answerable");
    tls.send(&register(&format!("Authorization: {answer}\r\n"), 2));
    let ok = tls.response();
    assert!(ok[0].starts_with("SIP/2.0 200"), "{ok:?}");
    let contact = ok
        .iter()
        .find(|l| l.starts_with("Contact:"))
        .expect("the binding");
    assert!(
        contact.contains("<sip:ab12@phone.invalid;transport=tls>"),
        "the URI must survive the quoted instance: {contact}"
    );
    let until = Instant::now() + Duration::from_secs(3);
    while sw.metric("switchyard_registrations") < 1.0 {
        assert!(Instant::now() < until, "no binding");
        std::thread::sleep(Duration::from_millis(50));
    }
}
