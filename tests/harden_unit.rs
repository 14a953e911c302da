//! `fixer harden` against real systemd as PID 1 in a throwaway container (see
//! tests/container_support and docs/testing.md): the drop-in it writes takes effect, and the
//! unit file it prints for a backend started by command runs that backend and brings it back
//! after a SIGKILL.

mod common;
mod container_support;
mod fix_support;

use container_support::{AppUnit, Container, Out, APP_PY, APP_UNIT};
use fix_support::Pty;
use serde_json::Value;

fn harden(c: &Container, playbook: &str, extra: &[&str]) -> Out {
    let mut args = vec!["harden", "-p", playbook, "--audit-log", "/root/audit.jsonl"];
    args.extend_from_slice(extra);
    c.fixer(&args)
}

fn codes(doc: &Value, key: &str) -> Vec<String> {
    doc[key]["items"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|i| i["finding"]["code"].as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default()
}

fn json(out: &Out) -> Value {
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", out.all()))
}

/// The site's app.service has no Restart= and is not enabled: `--apply --yes` writes the
/// drop-in, reloads systemd and enables the unit; systemd then says Restart=always, a second
/// run finds nothing, and a SIGKILLed backend comes back by itself.
#[test]
fn a_unit_without_restart_gets_a_drop_in_that_works() {
    let c = Container::boot();
    c.site(AppUnit::default());

    let out = harden(&c, "app", &[]);
    assert_eq!(out.code, 1, "{}", out.all());
    for code in [
        "✗ harden-no-restart: app.service has no Restart=",
        "✗ harden-no-restart-sec: ",
        "✗ harden-not-enabled: app.service is disabled",
        "    /etc/systemd/system/app.service.d/fixer-harden.conf:\n      [Service]\n      Restart=always\n",
    ] {
        assert!(out.stdout.contains(code), "{code:?} in\n{}", out.all());
    }
    assert!(
        !out.stdout.contains("harden-proxy-timeouts"),
        "{}",
        out.all()
    );
    assert_eq!(c.prop(APP_UNIT, "Restart"), "no", "nothing changed yet");

    let out = harden(&c, "app", &["--apply", "--yes"]);
    assert_eq!(out.code, 0, "{}", out.all());
    for line in [
        "Plan: harden-unit\n  write the drop-in /etc/systemd/system/app.service.d/fixer-harden.conf\n",
        "  · wrote /etc/systemd/system/app.service.d/fixer-harden.conf\n",
        "  · systemctl daemon-reload: exit 0\n",
        "  · systemctl enable app.service: exit 0\n",
        "  · systemctl show app.service: Restart=always RestartUSec=5s",
        "Hardened: nothing left to harden.",
    ] {
        assert!(out.stdout.contains(line), "{line:?} in\n{}", out.all());
    }
    assert_eq!(c.prop(APP_UNIT, "Restart"), "always");
    assert_eq!(
        c.sh("systemctl is-enabled app.service").stdout.trim(),
        "enabled"
    );
    let summary = c.audit_summary();
    assert_eq!(
        summary,
        [
            ("harden-unit".into(), "start".into(), "-".into()),
            ("harden-unit".into(), "end".into(), "done".into())
        ]
    );

    let again = harden(&c, "app", &[]);
    assert_eq!(again.code, 0, "{}", again.all());
    assert!(
        again.stdout.contains("Nothing to harden"),
        "{}",
        again.all()
    );

    // The drop-in is in force: systemd restarts the killed backend on its own.
    let before = c.main_pid(APP_UNIT);
    c.sh_ok(&format!("kill -KILL {before}"));
    c.wait_for(30, "systemd to restart app.service", |c| {
        let now = c.main_pid(APP_UNIT);
        now != 0 && now != before && c.http("http://127.0.0.1:8080/api/health") == 200
    });
}

/// Declined at the prompt's stand-in (no terminal, no --yes): refused, exit 4, nothing
/// written; --dry-run shows the plan and changes nothing either.
#[test]
fn apply_without_consent_changes_nothing() {
    let c = Container::boot();
    c.site(AppUnit::default());
    let out = harden(&c, "app", &["--apply"]);
    assert_eq!(out.code, 4, "{}", out.all());
    assert!(
        out.stdout.contains("Refused: --apply needs consent"),
        "{}",
        out.all()
    );
    let out = harden(&c, "app", &["--apply", "--dry-run"]);
    assert_eq!(out.code, 1, "{}", out.all());
    assert!(
        out.stdout.contains("Dry run: nothing was changed."),
        "{}",
        out.all()
    );
    assert_eq!(c.prop(APP_UNIT, "Restart"), "no");
    assert_ne!(c.sh("test -e /etc/systemd/system/app.service.d").code, 0);
}

/// At a terminal (a pseudo-terminal through nsenter, as over SSH): the plan, then the
/// question; `n` declines (exit 4, audited, nothing written), `y` applies. Each answer ends
/// with Enter, as an operator types it.
#[test]
fn the_prompt_decides() {
    let c = Container::boot();
    c.site(AppUnit::default());
    let pty = |c: &Container| {
        let mut cmd = std::process::Command::new("nsenter");
        cmd.args(["-t", &c.pid.to_string(), "-a", "--", "env", "-i"])
            .args([
                "PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "TERM=dumb",
                "NO_COLOR=1",
            ])
            .args([
                "fixer",
                "harden",
                "app",
                "--apply",
                "--audit-log",
                "/root/audit.jsonl",
            ]);
        Pty::spawn(&cmd)
    };
    let mut t = pty(&c);
    t.expect("Plan: harden-unit");
    t.expect("Harden app.service? [y/N]");
    t.key("n\n");
    let (rest, code) = t.finish();
    assert_eq!(code, 4, "{rest}");
    assert!(rest.contains("Declined: nothing was changed."), "{rest}");
    assert_eq!(c.prop(APP_UNIT, "Restart"), "no");
    assert_eq!(
        c.audit_summary(),
        [("harden-unit".into(), "end".into(), "declined".into())]
    );

    let mut t = pty(&c);
    t.expect("Harden app.service? [y/N]");
    t.key("y\n");
    t.expect("· systemctl daemon-reload: exit 0");
    let (rest, code) = t.finish();
    assert_eq!(code, 0, "{rest}");
    assert_eq!(c.prop(APP_UNIT, "Restart"), "always");
}

const CMD_PLAYBOOK: &str = r#"name = "cmd"
[nginx]
ports = [80]
[backend]
address = "127.0.0.1:8080"
match = "app\\.py"
health_path = "/api/health"
restart = { command = "PYTHONUNBUFFERED=1 python3 app.py --name \"$HOSTNAME\"", cwd = "/opt/app", log = "/var/log/app/app.log" }
"#;

/// nginx proxying to the backend with its timeouts left at their defaults.
const NGINX_DEFAULTS: &str = "server {
    listen 80 default_server;
    location / {
        proxy_pass http://127.0.0.1:8080;
    }
}
";

fn command_site(c: &Container) {
    c.write("/opt/app/app.py", APP_PY);
    c.write("/etc/fixer/playbooks/cmd.toml", CMD_PLAYBOOK);
    c.write("/etc/nginx/sites-enabled/default", NGINX_DEFAULTS);
    c.sh_ok("mkdir -p /var/log/app && systemctl reload nginx");
}

/// A backend the playbook starts by command: harden prints a whole unit file; written to
/// /etc/systemd/system and started, it runs the backend (through /bin/sh, in its cwd, logging
/// to the playbook's log) and systemd brings it back after a SIGKILL.
#[test]
fn the_printed_unit_runs_the_backend_and_survives_sigkill() {
    let c = Container::boot();
    command_site(&c);

    let out = harden(&c, "cmd", &["--json"]);
    assert_eq!(out.code, 1, "{}", out.all());
    let doc = json(&out);
    assert_eq!(
        codes(&doc, "harden"),
        [
            "harden-no-unit",
            "harden-proxy-timeouts",
            "harden-no-log-rotation"
        ]
    );
    let unit = doc["harden"]["change"]["text"].as_str().unwrap();
    for line in [
        "Environment=\"PYTHONUNBUFFERED=1\"\n",
        "ExecStart=/bin/sh -c \"exec python3 app.py --name \\\"$$HOSTNAME\\\"\"\n",
        "WorkingDirectory=/opt/app\n",
        "StandardInput=null\n",
        "StandardOutput=append:/var/log/app/app.log\n",
        "Restart=always\n",
    ] {
        assert!(unit.contains(line), "{line:?} in\n{unit}");
    }
    let timeouts = &doc["harden"]["items"][1];
    assert_eq!(
        timeouts["place"],
        "location / (/etc/nginx/sites-enabled/default:3)"
    );
    assert_eq!(
        timeouts["snippet"],
        "proxy_connect_timeout 5s;\nproxy_read_timeout 30s;\n"
    );

    c.write("/etc/systemd/system/cmd-backend.service", unit);
    c.sh_ok("systemctl daemon-reload && systemctl start cmd-backend.service");
    c.wait_for(30, "the unit's backend answering through nginx", |c| {
        c.http("http://127.0.0.1/api/health") == 200
    });
    let first = c.main_pid("cmd-backend.service");
    assert!(
        c.cmdline(first).contains("python3 app.py"),
        "{}",
        c.cmdline(first)
    );
    c.sh_ok(&format!("kill -KILL {first}"));
    c.wait_for(30, "systemd to restart the killed backend", |c| {
        let now = c.main_pid("cmd-backend.service");
        now != 0 && now != first && c.http("http://127.0.0.1:8080/api/health") == 200
    });
    assert_eq!(c.prop("cmd-backend.service", "NRestarts"), "1");
    let log = c.sh_ok("cat /var/log/app/app.log").stdout;
    assert_eq!(log.matches("listening on 8080").count(), 2, "{log}");
}

/// `--apply` writes and enables the unit (without starting it: a hand-started backend may
/// hold the port); what is left is nginx's and logrotate's, done by hand from the snippets,
/// after which harden exits 0.
#[test]
fn apply_writes_the_unit_and_the_rest_is_by_hand() {
    let c = Container::boot();
    command_site(&c);

    let out = harden(&c, "cmd", &["--apply", "--yes"]);
    assert_eq!(out.code, 1, "{}", out.all());
    assert!(
        out.stdout
            .contains("  · wrote /etc/systemd/system/cmd-backend.service\n"),
        "{}",
        out.all()
    );
    assert!(
        out.stdout
            .contains("Still to do (by hand):\n  harden-proxy-timeouts: "),
        "{}",
        out.all()
    );
    assert_eq!(
        c.sh("systemctl is-enabled cmd-backend.service")
            .stdout
            .trim(),
        "enabled"
    );
    assert_eq!(c.prop("cmd-backend.service", "ActiveState"), "inactive");
    assert_eq!(c.prop("cmd-backend.service", "Restart"), "always");

    let doc = json(&harden(&c, "cmd", &["--json"]));
    let items = doc["harden"]["items"].as_array().unwrap().clone();
    assert_eq!(
        codes(&doc, "harden"),
        ["harden-proxy-timeouts", "harden-no-log-rotation"]
    );
    let snippet = |i: usize| items[i]["snippet"].as_str().unwrap().to_string();
    let site = NGINX_DEFAULTS.replace(
        "        proxy_pass",
        &format!(
            "        {}        proxy_pass",
            snippet(0).replace('\n', "\n        ")
        ),
    );
    c.write("/etc/nginx/sites-enabled/default", &site);
    c.write("/etc/logrotate.d/cmd-backend", &snippet(1));
    c.sh_ok("nginx -t && systemctl reload nginx");

    let out = harden(&c, "cmd", &[]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(
        out.stdout.contains(
            "cmd-backend.service exists, but the playbook still starts the backend by command"
        ),
        "{}",
        out.all()
    );
}

/// No start command and no unit in the playbook, and a backend started by hand (as nobody,
/// in /opt/app, output to a file): the unit is built from the running process, and runs it
/// the same way once written and started in its place.
#[test]
fn a_backend_started_by_hand_gets_a_unit_from_the_running_process() {
    let c = Container::boot();
    c.write("/opt/app/app.py", APP_PY);
    c.write(
        "/etc/fixer/playbooks/hand.toml",
        "name = \"hand\"\n[backend]\naddress = \"127.0.0.1:8080\"\nmatch = \"app\\\\.py\"\n",
    );
    c.sh_ok(
        "cd /opt/app && setsid -f runuser -u nobody -- python3 app.py \
         >> /var/log/app-hand.log 2>&1 < /dev/null",
    );
    c.wait_for(20, "the hand-started backend", |c| {
        c.http("http://127.0.0.1:8080/api/health") == 200
    });

    let out = harden(&c, "hand", &["--json"]);
    assert_eq!(out.code, 1, "{}", out.all());
    let doc = json(&out);
    assert_eq!(codes(&doc, "harden")[0], "harden-no-unit");
    let cause = doc["harden"]["items"][0]["finding"]["cause"]
        .as_str()
        .unwrap();
    assert!(
        cause.contains("`python3 app.py`, user nobody, started by hand"),
        "{cause}"
    );
    let unit = doc["harden"]["change"]["text"].as_str().unwrap();
    for line in [
        "User=nobody\n",
        "WorkingDirectory=/opt/app\n",
        "ExecStart=/usr/bin/python3 app.py\n",
        "StandardOutput=append:/var/log/app-hand.log\n",
        "Restart=always\n",
    ] {
        assert!(unit.contains(line), "{line:?} in\n{unit}");
    }

    c.write("/etc/systemd/system/hand-backend.service", unit);
    c.sh_ok("pkill -f '^python3 app.py' && systemctl daemon-reload");
    c.wait_for(20, "the hand-started backend to exit", |c| {
        c.http("http://127.0.0.1:8080/api/health") == 0
    });
    c.sh_ok("systemctl start hand-backend.service");
    c.wait_for(30, "the unit's backend", |c| {
        c.http("http://127.0.0.1:8080/api/health") == 200
    });
    let pid = c.main_pid("hand-backend.service");
    let user = c.sh_ok(&format!("ps -o user= -p {pid}")).stdout;
    assert_eq!(user.trim(), "nobody");
}

/// The playbook starts the backend by command, but it runs in app.service: that unit is what
/// gets checked, and the playbook is told to say so.
#[test]
fn a_command_playbook_whose_backend_runs_in_a_unit_checks_that_unit() {
    let c = Container::boot();
    c.site(AppUnit::default());
    c.write("/etc/fixer/playbooks/cmd.toml", CMD_PLAYBOOK);
    let out = harden(&c, "cmd", &[]);
    assert_eq!(out.code, 1, "{}", out.all());
    assert!(
        out.stdout.contains(
            "the backend runs in app.service, but the playbook does not say so: set restart = { systemd = \"app.service\" }"
        ),
        "{}",
        out.all()
    );
    assert!(
        out.stdout
            .contains("✗ harden-no-restart: app.service has no Restart="),
        "{}",
        out.all()
    );
    assert!(!out.stdout.contains("harden-no-unit"), "{}", out.all());
}
