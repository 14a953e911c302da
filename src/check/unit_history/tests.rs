//! On `systemctl show` and journal output captured from systemd 252 (tests/fixtures/systemd);
//! the OOM lines are written in the kernel's format, as no OOM kill was provoked.

use super::*;

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/fixtures/systemd/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn case(name: &str) -> (UnitProps, Vec<String>) {
    (
        UnitProps::parse(&fixture(&format!("show-{name}.txt"))),
        systemd::journal_lines(&fixture(&format!("journal-{name}.txt")), 20),
    )
}

fn death(name: &str) -> Option<Death> {
    let (p, j) = case(name);
    classify(&p, &j, None)
}

const NOT_LISTENING: &str = "nothing listens on 127.0.0.1:8080";

#[test]
fn sigkill_is_killed() {
    assert_eq!(
        death("killed"),
        Some(Death::Killed {
            signal: "SIGKILL".into()
        })
    );
    let (p, _) = case("killed");
    let f = death("killed")
        .unwrap()
        .finding("kl.service", &p, NOT_LISTENING);
    assert_eq!(f.code, FindingCode::BackendKilled);
    assert_eq!(
        f.cause,
        "kl.service was killed by SIGKILL at 2026-11-26 03:16:29 UTC; nothing listens on 127.0.0.1:8080"
    );
}

#[test]
fn exit_status_is_exited() {
    assert_eq!(death("exited"), Some(Death::Exited { status: "3".into() }));
}

#[test]
fn crash_loop_into_the_limit_is_start_limit_despite_result_exit_code() {
    assert_eq!(death("start-limit"), Some(Death::StartLimit));
    let (p, _) = case("start-limit");
    let f = Death::StartLimit.finding("lp.service", &p, NOT_LISTENING);
    assert_eq!(f.code, FindingCode::BackendStartLimit);
    assert!(f.cause.contains("(3 restarts)"), "{}", f.cause);
}

#[test]
fn killed_while_systemd_restarts_says_so() {
    let (p, j) = case("auto-restart");
    let d = classify(&p, &j, None).unwrap();
    assert_eq!(
        d,
        Death::Killed {
            signal: "SIGKILL".into()
        }
    );
    assert!(d
        .finding("ra.service", &p, NOT_LISTENING)
        .cause
        .contains("(systemd is restarting it)"));
}

#[test]
fn stopped_by_an_operator_is_no_death() {
    let p = UnitProps::parse(
        "Result=success\nExecMainCode=2\nExecMainStatus=15\nActiveState=inactive\nSubState=dead\n",
    );
    assert_eq!(classify(&p, &[], None), None);
}

#[test]
fn oom_kill_from_systemd_or_the_kernel() {
    let p = UnitProps::parse("Result=oom-kill\nExecMainCode=2\nExecMainStatus=9\n");
    assert_eq!(
        classify(&p, &[], None),
        Some(Death::OomKilled { rss: None })
    );
    let kernel: Vec<String> = [
        "2026-11-26T03:12:40+0000 vm kernel: python3 invoked oom-killer: gfp_mask=0x140cca(GFP_HIGHUSER_MOVABLE|__GFP_COMP), order=0, oom_score_adj=0",
        "2026-11-26T03:12:40+0000 vm kernel: Out of memory: Killed process 4242 (python3) total-vm:2100000kB, anon-rss:1992294kB, file-rss:4kB, shmem-rss:0kB, UID:0 pgtables:4000kB oom_score_adj:0",
        "2026-11-26T03:12:41+0000 vm kernel: Out of memory: Killed process 999 (other) total-vm:10kB, anon-rss:10kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:4kB oom_score_adj:0",
    ]
    .map(String::from)
    .to_vec();
    let line = oom_line(&kernel, "4242").unwrap();
    assert!(line.contains("Killed process 4242"));
    assert_eq!(oom_line(&kernel, "424"), None);
    let killed = UnitProps::parse(&fixture("show-killed.txt"));
    assert_eq!(
        classify(&killed, &[], Some(&line)),
        Some(Death::OomKilled {
            rss: Some("1.9 GB".into())
        })
    );
}

#[test]
fn weekday_is_dropped_from_times() {
    assert_eq!(
        short_time("Thu 2026-11-26 03:16:29 UTC"),
        "2026-11-26 03:16:29 UTC"
    );
    assert_eq!(short_time("2026-11-26"), "2026-11-26");
    assert_eq!(signal_name("9"), "SIGKILL");
    assert_eq!(signal_name("42"), "signal 42");
}
