//! Email over SMTP (lettre): multipart/alternative with the HTML body as
//! given and a plain-text rendering of it, a Message-ID of the switch's own
//! (`<msg-<id>@switchyard>`), sent through `--smtp-url`. The relay's 250 is
//! the final word (delivered to the mail system); a permanent 5xx refuses
//! it, a transient 4xx or no connection retries, and a timeout once the
//! message was on its way is ambiguous. SMTP cannot be asked afterwards:
//! an ambiguous email is never sent again (reconciliation gives up on it).

use lettre::message::{header::ContentType, Mailbox, MultiPart, SinglePart};
use lettre::{AsyncTransport, Message};
use serde_json::Value;

use super::Outcome;
use crate::merchant::service::Service;
use crate::store::MessageRow;

/// A readable plain-text version of an HTML body: tags dropped, block ends as
/// line breaks, the common entities decoded.
pub fn html_to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut tag = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match (in_tag, c) {
            (false, '<') => {
                in_tag = true;
                tag.clear();
            }
            (true, '>') => {
                in_tag = false;
                let name = tag
                    .trim_start_matches('/')
                    .split(|c: char| c.is_whitespace() || c == '/')
                    .next()
                    .unwrap_or("")
                    .to_ascii_lowercase();
                if matches!(
                    name.as_str(),
                    "br" | "p" | "div" | "li" | "tr" | "h1" | "h2" | "h3"
                ) && !out.ends_with('\n')
                {
                    out.push('\n');
                }
            }
            (true, c) => tag.push(c),
            (false, c) => out.push(c),
        }
    }
    out.replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
        .trim()
        .to_string()
}

pub async fn send(svc: &Service, m: &MessageRow, payload: &Value) -> Outcome {
    let Some(smtp) = &svc.smtp else {
        return Outcome::Rejected("no SMTP server configured (--smtp-url)".into());
    };
    let from: Mailbox = match payload["from"]
        .as_str()
        .unwrap_or(&svc.args.email_from)
        .parse()
    {
        Ok(f) => f,
        Err(e) => return Outcome::Rejected(format!("from: {e}")),
    };
    let to: Mailbox = match m.recipient.parse() {
        Ok(t) => t,
        Err(e) => return Outcome::Rejected(format!("to: {e}")),
    };
    let html = payload["body"].as_str().unwrap_or("").to_string();
    let text = payload["text"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| html_to_text(&html));
    let mut builder = Message::builder()
        .from(from)
        .to(to)
        .subject(payload["subject"].as_str().unwrap_or(""))
        .message_id(Some(format!("<msg-{}@switchyard>", m.id)));
    if let Some(reply) = payload["replyTo"].as_str().and_then(|r| r.parse().ok()) {
        builder = builder.reply_to(reply);
    }
    let email = match builder.multipart(
        MultiPart::alternative()
            .singlepart(
                SinglePart::builder()
                    .header(ContentType::TEXT_PLAIN)
                    .body(text),
            )
            .singlepart(
                SinglePart::builder()
                    .header(ContentType::TEXT_HTML)
                    .body(html),
            ),
    ) {
        Ok(e) => e,
        Err(e) => return Outcome::Rejected(format!("cannot build the email: {e}")),
    };
    match smtp.send(email).await {
        Ok(resp) => Outcome::Accepted {
            reference: format!("msg-{}@switchyard", m.id),
            cost_micros: None,
            delivered: resp.is_positive(),
        },
        Err(e) if e.is_permanent() => Outcome::Rejected(format!("the SMTP server refused it: {e}")),
        Err(e) if e.is_transient() => Outcome::Retry {
            reason: format!("the SMTP server deferred it: {e}"),
            after: None,
            unreachable: false,
        },
        Err(e) if e.is_timeout() => {
            Outcome::Ambiguous(format!("the SMTP server stopped answering: {e}"))
        }
        Err(e) => Outcome::Retry {
            reason: format!("cannot reach the SMTP server: {e}"),
            after: None,
            unreachable: true,
        },
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn html_becomes_readable_text() {
        assert_eq!(
            super::html_to_text(
                "<p>Your membership <b>renews</b> tomorrow.</p><p>Tom &amp; Jerry&nbsp;Gym</p>"
            ),
            "Your membership renews tomorrow.\nTom & Jerry Gym"
        );
    }
}
