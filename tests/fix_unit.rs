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
            .contains("Plan: restart-backend\n  systemctl restart app.service\n"),
        "{}",
        out.all()
    );
    assert!(
        out.stdout.contains("· systemctl restart app.service: exit 0"),
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
