//! What each kind of receiver is sent: the generic JSON document, a Slack-compatible incoming
//! webhook's `text`, a DingTalk robot's markdown message, and DingTalk's signature.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

use super::Message;

/// The generic webhook: every field of the message, with the JSON schema version.
pub fn webhook(m: &Message) -> Value {
    let mut v = serde_json::to_value(m).unwrap_or(Value::Null);
    if let Value::Object(o) = &mut v {
        o.insert("schema_version".into(), json!(crate::SCHEMA_VERSION));
    }
    v
}

/// Slack's incoming webhooks (and Mattermost, Rocket.Chat, …) read `text` as mrkdwn.
pub fn slack(m: &Message) -> Value {
    let mut text = format!("*fixer* on `{}`: {}", m.host, m.headline);
    for line in detail_lines(m) {
        text.push_str(&format!("\n• {line}"));
    }
    json!({ "text": text })
}

/// A DingTalk robot's markdown message. In keyword mode the robot drops messages without its
/// keyword, so the keyword leads the title and the text.
pub fn dingtalk(m: &Message, keyword: Option<&str>) -> Value {
    let lead = keyword.map(|k| format!("{k} ")).unwrap_or_default();
    let title = format!("{lead}fixer {}: {}", m.host, m.event);
    let mut text = format!("### {lead}fixer on {}\n\n**{}**\n", m.host, m.headline);
    for line in detail_lines(m) {
        text.push_str(&format!("\n- {line}"));
    }
    json!({ "msgtype": "markdown", "markdown": { "title": title, "text": text } })
}

fn detail_lines(m: &Message) -> Vec<String> {
    let mut lines = vec![format!("playbook: {}", m.playbook)];
    if let Some(c) = &m.root_cause {
        lines.push(format!("root cause ({}): {}", c.code, c.cause));
    }
    if !m.actions.is_empty() {
        lines.push(format!("actions taken: {}", m.actions.join(", ")));
    }
    lines.extend(m.not_fixed.iter().cloned());
    lines.push(format!("time: {}", m.time));
    lines
}

/// DingTalk's signed mode: `sign` = base64(HMAC-SHA256(secret, "timestamp\nsecret")), the
/// timestamp in milliseconds; both go into the URL's query, URL-encoded.
pub fn dingtalk_signed_url(url: &str, secret: &str, timestamp_ms: u128) -> String {
    let sign = dingtalk_sign(secret, timestamp_ms);
    let sep = if url.contains('?') { '&' } else { '?' };
    format!(
        "{url}{sep}timestamp={timestamp_ms}&sign={}",
        url_encode(&sign)
    )
}

pub fn dingtalk_sign(secret: &str, timestamp_ms: u128) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(format!("{timestamp_ms}\n{secret}").as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dingtalk_signature_matches_the_documented_algorithm() {
        // Computed independently: python3 -c 'import hmac,hashlib,base64;
        // print(base64.b64encode(hmac.new(b"SEC000", b"1700000000000\nSEC000",
        // hashlib.sha256).digest()).decode())'
        let sign = dingtalk_sign("SEC000", 1_700_000_000_000);
        assert_eq!(sign, PYTHON_SIGN);
        let url = dingtalk_signed_url(
            "https://x/robot/send?access_token=t",
            "SEC000",
            1_700_000_000_000,
        );
        assert!(
            url.starts_with("https://x/robot/send?access_token=t&timestamp=1700000000000&sign=")
        );
        assert!(
            url.ends_with("&sign=ltBBey5eZrWKh1cPzFIdz3v3xpkc4Tjx4lLsPSHqdtA%3D"),
            "{url}"
        );
    }

    const PYTHON_SIGN: &str = "ltBBey5eZrWKh1cPzFIdz3v3xpkc4Tjx4lLsPSHqdtA=";
}
