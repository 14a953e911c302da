//! Restarting a backend and nginx through their systemd units, against real systemd as PID 1
//! in a throwaway container (see tests/container_support and docs/testing.md).

mod container_support;

use container_support::{AppUnit, Container, APP_UNIT};

/// A backend killed by SIGKILL stays down (no Restart=): fixer restarts it through its unit.
#[test]
fn killed_backend_is_restarted_through_its_unit() {
    let c = Container::boot();
    c.site(AppUnit::default());
    let before = c.main_pid(APP_UNIT);
    c.sh_ok("systemctl kill -s KILL app.service");
    c.wait_for(20, "app.service to fail", |c| {
        c.prop(APP_UNIT, "ActiveState") == "failed"
    });
    assert_eq!(c.http("http://127.0.0.1/api/health"), 502);

    let out = c.fix_yes(&[]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(
        out.stdout
            .contains("Root cause: app.service was killed by SIGKILL at "),
        "{}",
        out.all()
    );
    assert!(
        out.stdout
            .contains("Plan: restart-backend\n  systemctl restart app.service\n"),
        "{}",
        out.all()
    );
    assert!(
        out.stdout
            .contains("· systemctl restart app.service: exit 0"),
        "{}",
        out.all()
    );
    let after = c.main_pid(APP_UNIT);
    assert!(after != 0 && after != before, "MainPID {before} → {after}");
    assert_eq!(c.cgroup_of(after), "/system.slice/app.service");
    assert_eq!(c.http("http://127.0.0.1/api/health"), 200);
    let end = c.audit().last().cloned().unwrap();
    assert_eq!(end["action"], "restart-backend");
    assert_eq!(end["target"]["unit"], "app.service");
    assert_eq!(end["result"], "done");
}

/// StartLimitBurst exhausted by a crash loop, cause removed since: `systemctl restart` is
/// refused until `reset-failed`, which fixer runs (with consent) before restarting again.
#[test]
fn start_limit_hit_is_reset_then_restarted() {
    let c = Container::boot();
    // systemd 252 leaves Result=exit-code here; only the journal names the start limit.
    c.crash_loop(|c| {
        c.prop(APP_UNIT, "ActiveState") == "failed"
            && c.sh("journalctl -u app.service | grep -q 'Start request repeated too quickly'")
                .code
                == 0
    });
    c.sh_ok("rm /etc/app/broken");

    let out = c.fix_yes(&[]);
    assert_eq!(out.code, 0, "{}", out.all());
    let shown: Vec<&str> = out
        .stdout
        .lines()
        .filter_map(|l| l.trim().strip_prefix("· systemctl "))
        .collect();
    assert_eq!(shown[0], "restart app.service: exit 1", "{}", out.all());
    assert!(
        shown.contains(&"reset-failed app.service: exit 0"),
        "{}",
        out.all()
    );
    assert!(
        out.stdout
            .contains("app.service hit systemd's start limit (StartLimitBurst)"),
        "{}",
        out.all()
    );
    assert_eq!(c.prop(APP_UNIT, "ActiveState"), "active");
    assert_eq!(c.http("http://127.0.0.1/api/health"), 200);
}

/// nginx.service stopped: fixer starts it through its unit, so systemd supervises the master.
#[test]
fn stopped_nginx_is_started_through_its_unit() {
    let c = Container::boot();
    c.site(AppUnit::default());
    c.sh_ok("systemctl stop nginx");
    assert_eq!(c.http("http://127.0.0.1/api/health"), 0);

    let out = c.fix_yes(&[]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(
        out.stdout.contains("systemctl start nginx"),
        "{}",
        out.all()
    );
    assert_eq!(c.prop("nginx.service", "ActiveState"), "active");
    let master = c.main_pid("nginx.service");
    assert!(
        c.cmdline(master).starts_with("nginx: master process"),
        "MainPID {master} is {:?}",
        c.cmdline(master)
    );
    assert_eq!(c.cgroup_of(master), "/system.slice/nginx.service");
    let masters = c.sh("pgrep -c -f '^nginx: master'").stdout;
    assert_eq!(masters.trim(), "1", "exactly one nginx master");
    assert_eq!(c.http("http://127.0.0.1/api/health"), 200);
}

/// A backend stuck inside its unit (listens, never accepts) is restarted through the unit:
/// systemd stops the old process and the new one runs in the unit's cgroup. fixer signals
/// nothing itself.
#[test]
fn stuck_backend_in_its_unit_is_restarted_by_systemd_not_killed() {
    let c = Container::boot();
    c.site(AppUnit::default());
    let before = c.main_pid(APP_UNIT);
    c.sh_ok("systemctl kill -s USR1 app.service");
    c.wait_for(20, "the backend to stop answering", |c| {
        c.http("http://127.0.0.1:8080/api/health") == 0
    });

    let out = c.fix_yes(&[]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(out.stdout.contains("[holder-stuck]"), "{}", out.all());
    assert!(
        out.stdout.contains(
            "Plan: restart-backend\n  systemctl restart app.service (the holder runs in this unit"
        ),
        "{}",
        out.all()
    );
    let actions: Vec<String> = c.audit_summary().into_iter().map(|a| a.0).collect();
    assert!(
        actions.iter().all(|a| a == "restart-backend"),
        "only the unit restart, no kill: {actions:?}"
    );
    let after = c.main_pid(APP_UNIT);
    assert!(after != 0 && after != before, "MainPID {before} → {after}");
    assert!(!c.alive(before), "the stuck PID {before} is gone");
    assert_eq!(c.cgroup_of(after), "/system.slice/app.service");
    assert_eq!(c.http("http://127.0.0.1/api/health"), 200);
}

/// Restart=always and systemd is between a crash and its own restart (RestartSec): fixer waits
/// for systemd's restart instead of issuing another one.
#[test]
fn backend_systemd_is_already_restarting_is_waited_for() {
    let c = Container::boot();
    c.site(AppUnit {
        unit: &[],
        service: &["Restart=always", "RestartSec=4"],
    });
    let before = c.main_pid(APP_UNIT);
    c.sh_ok("systemctl kill -s KILL app.service");
    c.wait_for(10, "systemd to schedule the restart", |c| {
        c.prop(APP_UNIT, "SubState") == "auto-restart"
    });

    let out = c.fix_yes(&[]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(
        !out.stdout.contains("systemctl restart app.service: exit"),
        "fixer restarted what systemd was restarting:\n{}",
        out.all()
    );
    assert!(
        out.stdout
            .contains("(systemd is restarting it); nothing listens"),
        "{}",
        out.all()
    );
    assert!(
        out.stdout
            .contains("systemd is already restarting app.service"),
        "{}",
        out.all()
    );
    assert_eq!(c.prop(APP_UNIT, "NRestarts"), "1", "systemd's own restart");
    let after = c.main_pid(APP_UNIT);
    assert!(after != 0 && after != before, "MainPID {before} → {after}");
    assert_eq!(c.http("http://127.0.0.1/api/health"), 200);
}
