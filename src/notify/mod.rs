//! Telling people what `fixer watch` saw: a generic JSON webhook, a Slack-compatible incoming
//! webhook, a DingTalk robot. A delivery has a timeout and a few retries with backoff; one
//! that fails is reported to the caller, never fatal — the watch goes on either way.

mod body;
pub(crate) mod secret;

use std::time::{Duration, Instant};

use serde::Serialize;

use secret::Secret;

/// Each attempt's whole request (connect, send, answer) is bounded by this.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(5);
/// Attempts per message and receiver; the wait before a retry doubles from the first.
const ATTEMPTS: u32 = 3;
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
/// The most of a receiver's answer read (DingTalk's `errcode` is in it).
const ANSWER_MAX_BYTES: u64 = 16 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Webhook,
    Slack,
    DingTalk,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Webhook => "webhook",
            Kind::Slack => "slack",
            Kind::DingTalk => "dingtalk",
        }
    }
}

/// One receiver: its kind and URL (a secret: Slack's and DingTalk's carry the token).
#[derive(Debug, Clone)]
pub struct Notifier {
    pub kind: Kind,
    url: Secret,
}

/// DingTalk's security settings: a keyword the message must contain, a signing secret.
#[derive(Debug, Clone, Default)]
pub struct DingTalk {
    pub keyword: Option<String>,
    pub secret: Option<Secret>,
}

impl Notifier {
    /// `[KIND=]SOURCE`: KIND is webhook (default), slack or dingtalk; SOURCE is `env:NAME`,
    /// `file:PATH` or the URL itself.
    pub fn parse(spec: &str) -> Result<Notifier, String> {
        let (kind, source) = match spec.split_once('=') {
            Some((k, s)) if !k.contains(['/', ':']) => (k, s),
            _ => ("webhook", spec),
        };
        let kind = match kind {
            "webhook" | "json" => Kind::Webhook,
            "slack" => Kind::Slack,
            "dingtalk" => Kind::DingTalk,
            other => {
                return Err(format!(
                    "{:?} is not a notifier kind; use webhook=, slack= or dingtalk=",
                    crate::sanitize::shorten(other, 30)
                ))
            }
        };
        let url = secret::read(source, true)?;
        let v = &url.value;
        if !(v.starts_with("http://") || v.starts_with("https://")) {
            return Err(format!("the URL from {} is not http(s)://", url.origin));
        }
        Ok(Notifier { kind, url })
    }

    /// `dingtalk https://oapi.dingtalk.com/… (from env DT_URL)`: what may be shown.
    pub fn shown(&self) -> String {
        format!(
            "{} {} (from {})",
            self.kind.as_str(),
            secret::shown_url(&self.url.value),
            self.url.origin
        )
    }
}

/// What happened, for every receiver alike.
#[derive(Debug, Clone, Serialize)]
pub struct Message {
    pub host: String,
    pub playbook: String,
    /// `down`, `up`, `fixed`, `still-down`, `reminder`, `gave-up`, `unknown`.
    pub event: &'static str,
    /// `healthy`, `unhealthy` or `unknown` (a check could not run).
    pub state: &'static str,
    pub previous_state: Option<&'static str>,
    /// One sentence: what a person reads first.
    pub headline: String,
    pub root_cause: Option<Cause>,
    /// Actions watch took this round, e.g. `restart-backend (done)`.
    pub actions: Vec<String>,
    /// Why watch did not fix what it found (not allowed, a foreign process, the lock held).
    pub not_fixed: Vec<String>,
    pub unhealthy_rounds: u32,
    pub time: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Cause {
    pub code: String,
    pub cause: String,
}

/// How one delivery went.
#[derive(Debug, Clone, Serialize)]
pub struct Delivery {
    pub notifier: String,
    pub delivered: bool,
    pub attempts: u32,
    pub error: Option<String>,
}

/// Sends `m` to every notifier, one after the other.
pub fn send_all(notifiers: &[Notifier], ding: &DingTalk, m: &Message) -> Vec<Delivery> {
    notifiers.iter().map(|n| send(n, ding, m)).collect()
}

fn send(n: &Notifier, ding: &DingTalk, m: &Message) -> Delivery {
    let payload = match n.kind {
        Kind::Webhook => body::webhook(m),
        Kind::Slack => body::slack(m),
        Kind::DingTalk => body::dingtalk(m, ding.keyword.as_deref()),
    };
    let text = payload.to_string();
    let mut secrets = vec![n.url.value.as_str()];
    secrets.extend(ding.secret.as_ref().map(|s| s.value.as_str()));
    let mut last = None;
    for attempt in 1..=ATTEMPTS {
        if attempt > 1 {
            std::thread::sleep(FIRST_BACKOFF * 2u32.pow(attempt - 2));
        }
        let url = match (n.kind, &ding.secret) {
            (Kind::DingTalk, Some(s)) => {
                body::dingtalk_signed_url(&n.url.value, &s.value, now_ms())
            }
            _ => n.url.value.clone(),
        };
        match post(&url, &text, n.kind) {
            Ok(()) => {
                return Delivery {
                    notifier: n.shown(),
                    delivered: true,
                    attempts: attempt,
                    error: None,
                }
            }
            Err(Failed { why, retry }) => {
                last = Some(secret::redact(&why, &secrets));
                if !retry {
                    return failed(n, attempt, last);
                }
            }
        }
    }
    failed(n, ATTEMPTS, last)
}

fn failed(n: &Notifier, attempts: u32, error: Option<String>) -> Delivery {
    Delivery {
        notifier: n.shown(),
        delivered: false,
        attempts,
        error,
    }
}

fn now_ms() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis())
}

struct Failed {
    why: String,
    /// A timeout, a connection error, a 5xx or 429 may pass; a 4xx or a refusal will not.
    retry: bool,
}

fn post(url: &str, body: &str, kind: Kind) -> Result<(), Failed> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(DELIVERY_TIMEOUT))
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into();
    let t0 = Instant::now();
    let mut answer = agent
        .post(url)
        .header("Content-Type", "application/json; charset=utf-8")
        .header("User-Agent", concat!("fixer/", env!("CARGO_PKG_VERSION")))
        .send(body)
        .map_err(|e| Failed {
            why: format!("{} after {}", said(&e), crate::format::secs(t0.elapsed())),
            retry: true,
        })?;
    let status = answer.status().as_u16();
    let text = answer
        .body_mut()
        .with_config()
        .limit(ANSWER_MAX_BYTES)
        .read_to_string()
        .unwrap_or_default();
    if !(200..300).contains(&status) {
        return Err(Failed {
            why: format!(
                "HTTP {status}: {}",
                crate::sanitize::shorten(text.trim(), 200)
            ),
            retry: status >= 500 || status == 429,
        });
    }
    if kind == Kind::DingTalk {
        return dingtalk_answer(&text);
    }
    Ok(())
}

/// A transport error as an operator says it ("connection refused", "timed out").
fn said(e: &ureq::Error) -> String {
    match e {
        ureq::Error::Io(io) => crate::format::io_message(io),
        ureq::Error::Timeout(_) => "no answer in time".into(),
        other => other.to_string(),
    }
}

/// DingTalk answers 200 even when it drops a message (wrong keyword, bad signature); the
/// verdict is its `errcode`.
fn dingtalk_answer(text: &str) -> Result<(), Failed> {
    let v: serde_json::Value = serde_json::from_str(text).unwrap_or_default();
    match v.get("errcode").and_then(serde_json::Value::as_i64) {
        Some(0) | None => Ok(()),
        Some(code) => Err(Failed {
            why: format!(
                "DingTalk errcode {code}: {}",
                crate::sanitize::shorten(v["errmsg"].as_str().unwrap_or(""), 200)
            ),
            retry: false,
        }),
    }
}
