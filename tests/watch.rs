//! `fixer watch` against real labs (nginx + python backend on loopback), sending to a real
//! HTTP receiver on loopback that the test starts: the bodies it gets, DingTalk's signature,
//! a retry after a 500, no message for an unchanged round, `--fix` within `[watch] auto_fix`
//! and the flap limit, and `--install` where systemd is not PID 1.

mod common;
mod fix_support;
mod http_support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use base64::Engine as _;
use common::{deadline, lab, wait_until};
use fix_support::{lab_backends, output, signal_exact, Output, Run};
use fixer::lab::{Fault, Lab};
use http_support::{header, response, HttpServer};
use serde_json::Value;

/// `fixer watch --once -p LAB --timeout 1` with this run's state dir and audit log.
fn watch(run: &Run, lab: &Lab, extra: &[&str]) -> Output {
    let mut cmd = run.fixer("watch");
    cmd.arg("--once")
        .arg("-p")
        .arg(&lab.playbook)
        .arg("--audit-log")
        .arg(&run.audit)
        .args(["--timeout", "1"])
        .args(extra);
    output(cmd)
}

fn ok_receiver() -> HttpServer {
    HttpServer::fixed("200 OK", &[("Content-Type", "application/json")])
}

fn bodies(server: &HttpServer) -> Vec<Value> {
    server
        .bodies
        .lock()
        .unwrap()
        .iter()
        .map(|b| serde_json::from_str(b).unwrap_or_else(|e| panic!("not JSON ({e}): {b}")))
        .collect()
}

fn with_watch_table(lab: &Lab, table: &str) {
    let mut text = std::fs::read_to_string(&lab.playbook).unwrap();
    text.push_str("\n[watch]\n");
    text.push_str(table);
    std::fs::write(&lab.playbook, text).unwrap();
}

#[test]
fn a_change_is_sent_once_and_an_unchanged_round_sends_nothing() {
    let (_dir, lab) = lab(Fault::BackendDown);
    let run = Run::new();
    let hook = ok_receiver();
    let slack = ok_receiver();
    let url = hook.url("/hook?token=HOOKTOKEN123");
    let slack_url = slack.url("/services/T0/B0/SLACKTOKEN456");
    let notify = [
        "--notify",
        &url,
        "--notify",
        "slack=env:FIXER_TEST_SLACK_URL",
    ];
    let mut cmd = run.fixer("watch");
    cmd.arg("--once")
        .arg("-p")
        .arg(&lab.playbook)
        .args(["--timeout", "1"])
        .args(notify)
        .env("FIXER_TEST_SLACK_URL", &slack_url);
    let first = output(cmd);
    assert_eq!(
        first.code,
        1,
        "verify's code for an unhealthy site: {}",
        first.all()
    );
    assert!(
        first.stdout.contains("down: sent to 2/2"),
        "{}",
        first.all()
    );
    let got = bodies(&hook);
    assert_eq!(got.len(), 1, "{got:?}");
    let m = &got[0];
    assert_eq!(m["event"], "down");
    assert_eq!(m["state"], "unhealthy");
    assert_eq!(m["previous_state"], Value::Null);
    assert_eq!(m["playbook"], "lab-backend-down");
    assert_eq!(m["root_cause"]["code"], "backend-not-listening");
    assert!(m["host"].as_str().is_some_and(|h| !h.is_empty()));
    assert!(m["time"].as_str().is_some_and(|t| t.contains('T')));
    assert_eq!(m["actions"], serde_json::json!([]));
    let head = &hook.requests.lock().unwrap()[0];
    assert!(head.starts_with("POST /hook?token=HOOKTOKEN123 "), "{head}");
    assert!(header(head, "content-type")
        .unwrap()
        .starts_with("application/json"));
    let s = bodies(&slack);
    assert_eq!(s.len(), 1);
    let text = s[0]["text"].as_str().unwrap();
    assert!(text.contains("lab-backend-down is down"), "{text}");
    assert!(text.contains("backend-not-listening"), "{text}");
    for secret in ["HOOKTOKEN123", "SLACKTOKEN456"] {
        assert!(
            !first.all().contains(secret),
            "{secret} shown: {}",
            first.all()
        );
    }

    let mut again = run.fixer("watch");
    again
        .arg("--once")
        .arg("-p")
        .arg(&lab.playbook)
        .args(["--timeout", "1"])
        .args(notify)
        .env("FIXER_TEST_SLACK_URL", &slack_url);
    let second = output(again);
    assert_eq!(second.code, 1, "{}", second.all());
    assert_eq!(bodies(&hook).len(), 1, "an unchanged round sends nothing");
    assert_eq!(bodies(&slack).len(), 1, "an unchanged round sends nothing");
    assert!(second.stdout.contains("unhealthy"), "{}", second.all());
}

#[test]
fn dingtalk_messages_are_markdown_signed_and_carry_the_keyword() {
    let (_dir, lab) = lab(Fault::BackendDown);
    let run = Run::new();
    let robot = HttpServer::fixed("200 OK", &[("Content-Type", "application/json")]);
    let secret = "SECa1b2c3d4e5f6";
    std::fs::write(run.path("dt.secret"), format!("{secret}\n")).unwrap();
    let url = robot.url("/robot/send?access_token=DTTOKEN789");
    let secret_src = format!("file:{}", run.path("dt.secret").display());
    let before_ms = now_ms();
    let out = watch(
        &run,
        &lab,
        &[
            "--notify",
            &format!("dingtalk={url}"),
            "--dingtalk-secret",
            &secret_src,
            "--dingtalk-keyword",
            "告警",
        ],
    );
    assert_eq!(out.code, 1, "{}", out.all());
    let got = bodies(&robot);
    assert_eq!(got.len(), 1, "{}", out.all());
    let m = &got[0];
    assert_eq!(m["msgtype"], "markdown");
    let title = m["markdown"]["title"].as_str().unwrap();
    let text = m["markdown"]["text"].as_str().unwrap();
    assert!(title.starts_with("告警 "), "{title}");
    assert!(text.contains("告警"), "{text}");
    assert!(text.contains("backend-not-listening"), "{text}");

    let head = robot.requests.lock().unwrap()[0].clone();
    let target = head.split(' ').nth(1).unwrap();
    let query = target.split_once('?').unwrap().1;
    let param = |k: &str| {
        query
            .split('&')
            .find_map(|p| p.strip_prefix(&format!("{k}=")))
            .unwrap_or_else(|| panic!("no {k} in {target}"))
            .to_string()
    };
    assert_eq!(param("access_token"), "DTTOKEN789");
    let timestamp = param("timestamp");
    let ts: u128 = timestamp.parse().unwrap();
    assert!(ts >= before_ms && ts <= now_ms(), "{ts}");
    // The signature recomputed here: base64(HMAC-SHA256(secret, "timestamp\nsecret")).
    use hmac::Mac;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{timestamp}\n{secret}").as_bytes());
    let expected = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    let expected = expected
        .replace('+', "%2B")
        .replace('/', "%2F")
        .replace('=', "%3D");
    assert_eq!(param("sign"), expected);
    for shown in [secret, "DTTOKEN789"] {
        assert!(!out.all().contains(shown), "{shown} shown: {}", out.all());
    }
}

fn now_ms() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
}

#[test]
fn a_500_is_retried_and_a_dead_receiver_is_shown_but_not_fatal() {
    let (_dir, lab) = lab(Fault::BackendDown);
    let run = Run::new();
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let flaky = HttpServer::start(move |_| {
        if c.fetch_add(1, Ordering::SeqCst) == 0 {
            response("500 Internal Server Error", &[])
        } else {
            response("200 OK", &[])
        }
    });
    // A port nothing listens on: bound, then closed.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_url = format!("http://{}/x?key=DEADKEY", dead.local_addr().unwrap());
    drop(dead);
    let out = watch(
        &run,
        &lab,
        &["--notify", &flaky.url("/w"), "--notify", &dead_url],
    );
    assert_eq!(
        out.code,
        1,
        "the site's code, not the delivery's: {}",
        out.all()
    );
    let got = bodies(&flaky);
    assert_eq!(got.len(), 2, "one 500, one retry: {}", out.all());
    assert_eq!(got[0], got[1], "the retry sends the same message");
    assert!(out.stdout.contains("down: sent to 1/2"), "{}", out.all());
    assert!(
        out.stderr
            .contains("could not notify webhook http://127.0.0.1:")
            && out
                .stderr
                .contains("after 3 attempt(s): connection refused"),
        "{}",
        out.all()
    );
    assert!(!out.all().contains("DEADKEY"), "{}", out.all());
}

#[test]
fn fix_repairs_what_auto_fix_allows_then_gives_up_at_the_flap_limit() {
    let (_dir, lab) = lab(Fault::BackendDown);
    with_watch_table(
        &lab,
        "auto_fix = [\"restart-backend\"]\nmax_fixes = 1\nwindow = \"15m\"\n",
    );
    let run = Run::new();
    let hook = ok_receiver();
    let url = hook.url("/w");
    let first = watch(&run, &lab, &["--fix", "--notify", &url]);
    assert_eq!(first.code, 0, "fixed and verified: {}", first.all());
    assert!(
        first.stdout.contains("fixed: restart-backend (done)"),
        "{}",
        first.all()
    );
    let got = bodies(&hook);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["event"], "fixed");
    assert_eq!(got[0]["state"], "healthy");
    assert_eq!(
        got[0]["actions"],
        serde_json::json!(["restart-backend (done)"])
    );
    let audit = run.audit();
    let consent: Vec<&Value> = audit
        .iter()
        .filter(|e| e["action"] == "restart-backend")
        .map(|e| &e["consent"])
        .collect();
    assert_eq!(consent.len(), 2, "a start and an end line: {audit:?}");
    assert!(consent.iter().all(|c| *c == "auto-fix"), "{audit:?}");

    // The backend dies again: one fix in the window is the limit, so watch stops fixing.
    let backends = lab_backends(&lab);
    assert_eq!(backends.len(), 1, "{backends:?}");
    signal_exact(backends[0], rustix::process::Signal::KILL);
    assert!(wait_until(deadline(5.0), || lab_backends(&lab).is_empty()));
    let second = watch(&run, &lab, &["--fix", "--notify", &url]);
    assert_eq!(second.code, 1, "{}", second.all());
    assert!(lab_backends(&lab).is_empty(), "no second restart");
    let got = bodies(&hook);
    assert_eq!(got.len(), 2, "{}", second.all());
    assert_eq!(got[1]["event"], "gave-up");
    let headline = got[1]["headline"].as_str().unwrap();
    assert!(
        headline.starts_with("GAVE UP after 1 automatic fixes in 15m"),
        "{headline}"
    );
    assert!(second.stdout.contains("GAVE UP"), "{}", second.all());
    let third = watch(&run, &lab, &["--fix", "--notify", &url]);
    assert_eq!(third.code, 1);
    assert_eq!(bodies(&hook).len(), 2, "giving up is said once");
    assert_eq!(run.audit().len(), 2, "no action after giving up");
}

#[test]
fn fix_never_touches_a_foreign_holder_even_when_kill_holder_is_allowed() {
    let (_dir, lab) = lab(Fault::ForeignHolder);
    with_watch_table(&lab, "auto_fix = [\"kill-holder\", \"restart-backend\"]\n");
    let run = Run::new();
    let holders_before = fix_support::listeners(lab.backend_port);
    assert!(!holders_before.is_empty());
    let hook = ok_receiver();
    let out = watch(&run, &lab, &["--fix", "--notify", &hook.url("/w")]);
    assert_eq!(out.code, 1, "{}", out.all());
    assert!(
        out.stderr.contains("not the backend; that needs a person"),
        "{}",
        out.all()
    );
    assert_eq!(fix_support::listeners(lab.backend_port), holders_before);
    let results: Vec<String> = run
        .audit_summary()
        .into_iter()
        .map(|(a, p, r)| format!("{a} {p} {r}"))
        .collect();
    assert_eq!(results, ["kill-holder end not-allowed"], "{results:?}");
    let got = bodies(&hook);
    assert_eq!(got.len(), 1, "{}", out.all());
    let why = got[0]["not_fixed"][0].as_str().unwrap_or_default();
    assert!(
        why.starts_with(
            "Not fixing unattended: kill-holder touches a process that is not the backend"
        ),
        "{got:?}"
    );
}

#[test]
fn bad_watch_settings_name_the_file_line_and_key() {
    let (_dir, lab) = lab(Fault::None);
    with_watch_table(&lab, "max_fixes = 3\nauto_fix = [\"kill-everything\"]\n");
    let run = Run::new();
    let out = watch(&run, &lab, &[]);
    assert_eq!(out.code, 2, "{}", out.all());
    let line = lab_line(&lab, "auto_fix");
    let want = format!("{}:{line}: watch.auto_fix:", lab.playbook.display());
    assert!(out.stderr.contains(&want), "want {want}: {}", out.all());
    assert!(out.stderr.contains("restart-backend"), "{}", out.all());

    let (_dir2, lab2) = common::lab(Fault::None);
    with_watch_table(&lab2, "window = \"soon\"\n");
    let out = watch(&run, &lab2, &[]);
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(
        out.stderr.contains(":watch.window:") || out.stderr.contains(": watch.window:"),
        "{}",
        out.all()
    );

    let out = watch(&run, &lab2, &["--dingtalk-secret", "SECliteral"]);
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(
        out.stderr.contains("env:NAME or file:PATH"),
        "{}",
        out.all()
    );
    assert!(!out.stderr.contains("SECliteral"), "{}", out.all());
}

fn lab_line(lab: &Lab, key: &str) -> usize {
    let text = std::fs::read_to_string(&lab.playbook).unwrap();
    text.lines().position(|l| l.starts_with(key)).unwrap() + 1
}

#[test]
fn install_without_systemd_prints_a_crontab_line_and_writes_nothing() {
    if std::path::Path::new("/run/systemd/system").is_dir() {
        // systemd is PID 1 here: --install would plan a timer (the container test covers it).
        return;
    }
    let (_dir, lab) = lab(Fault::None);
    let run = Run::new();
    let mut cmd = run.fixer("watch");
    cmd.args([
        "--install",
        "--interval",
        "5m",
        "--fix",
        "--notify",
        "slack=env:SLACK_URL",
    ])
    .arg(&lab.playbook);
    let out = output(cmd);
    assert_eq!(out.code, 0, "{}", out.all());
    let line = out
        .stdout
        .lines()
        .find(|l| l.starts_with("*/5 * * * * root "))
        .unwrap_or_else(|| panic!("no crontab line: {}", out.all()));
    assert!(
        line.contains(&format!(
            " watch --once {} --fix --notify=slack=env:SLACK_URL",
            lab.playbook.display()
        )),
        "{line}"
    );
    assert!(!run.audit.exists(), "nothing done, nothing audited");

    // A token in a unit's (or crontab's) command line is visible to everyone: refused.
    let mut cmd = run.fixer("watch");
    cmd.args([
        "--install",
        "--notify",
        "http://127.0.0.1:9/h?token=TOKEN77",
    ])
    .arg(&lab.playbook);
    let out = output(cmd);
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(
        out.stderr.contains("env:NAME or file:PATH"),
        "{}",
        out.all()
    );
    assert!(!out.all().contains("TOKEN77"), "{}", out.all());
}

#[test]
fn without_once_it_runs_rounds_on_the_interval() {
    let (_dir, lab) = lab(Fault::None);
    let run = Run::new();
    let hook = ok_receiver();
    let mut cmd = run.fixer("watch");
    cmd.arg("-p")
        .arg(&lab.playbook)
        .args(["--timeout", "1", "--interval", "1s", "--rounds", "2"])
        .args(["--notify", &hook.url("/w")]);
    let out = output(cmd);
    assert_eq!(out.code, 0, "{}", out.all());
    let rounds: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| l.ends_with(" healthy"))
        .collect();
    assert_eq!(rounds.len(), 2, "{}", out.all());
    assert!(
        out.stderr.starts_with(
            "Watching lab-none every 1s · fix: off\n  notify webhook http://127.0.0.1:"
        ),
        "{}",
        out.all()
    );
    assert!(
        bodies(&hook).is_empty(),
        "healthy throughout: nothing to say"
    );
}
