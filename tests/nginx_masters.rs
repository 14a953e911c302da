//! Several nginx masters on one host: fixer picks the one that serves the playbook (by its
//! ports, then by its config), never another prefix's, and never plans to kill a master, even
//! one started from a copy of the binary under another name.

mod common;

use common::nginx::PlainNginx;
use common::{fixer, lab, step};
use fixer::lab::Fault;
use serde_json::Value;

fn json_run(args: &[String]) -> (i32, Value) {
    let out = fixer().args(args).output().expect("running fixer");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let doc = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}):\n{stdout}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap_or(-1), doc)
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

#[test]
fn another_prefixs_master_is_listed_never_adopted() {
    let (_dir, lab) = lab(Fault::NginxDown);
    let other = PlainNginx::start("nginx-debug", 1, "");
    let backend = format!("127.0.0.1:{}", lab.backend_port);
    let port = lab.http_port.to_string();
    let other_line = format!(
        "other nginx master: PID {} runs from {} and does not serve these ports",
        other.pid,
        other.conf.display()
    );

    // Flags only: the playbook names no config, so the site's nginx is the one on the default
    // config, if this host runs one (not ours to control); never the other prefix's.
    let flags = strings(&[
        "--backend",
        &backend,
        "--nginx-port",
        &port,
        "--timeout",
        "1",
    ]);
    let (code, doc) = json_run(&[strings(&["diagnose", "--json"]), flags.clone()].concat());
    assert_eq!(code, 1, "{doc:#}");
    let nginx = step(&doc, "nginx");
    assert_ne!(nginx["details"]["master_pid"], other.pid, "{nginx:#}");
    let evidence = nginx["evidence"].to_string();
    assert!(evidence.contains(&other_line), "{evidence}");
    let default_master = !nginx["details"]["master_pid"].is_null();
    if !default_master {
        assert_eq!(doc["root_cause_code"], "nginx-not-running", "{doc:#}");
        assert!(
            nginx["summary"]
                .as_str()
                .unwrap()
                .contains("other nginx master"),
            "{nginx:#}"
        );
    }

    let other_dir = other.dir.path().display().to_string();
    let (_, doc) = json_run(&[strings(&["fix", "--dry-run", "--json"]), flags].concat());
    let actions = doc["actions"].as_array().unwrap();
    assert!(!doc["actions"].to_string().contains(&other_dir), "{doc:#}");
    if !default_master {
        assert_eq!(actions.len(), 1, "{doc:#}");
        assert_eq!(actions[0]["code"], "start-nginx", "{doc:#}");
    }

    // The lab's playbook names its config: the start uses it, and the other is still listed.
    let pb = lab.playbook.display().to_string();
    let (_, doc) = json_run(&strings(&[
        "fix",
        "--dry-run",
        "--json",
        "--timeout",
        "1",
        "-p",
        &pb,
    ]));
    assert_eq!(doc["root_cause_code"], "nginx-not-running", "{doc:#}");
    assert!(step(&doc, "nginx")["evidence"]
        .to_string()
        .contains(&other_line));
    let actions = doc["actions"].as_array().unwrap();
    assert_eq!(actions.len(), 1, "{doc:#}");
    assert_eq!(actions[0]["code"], "start-nginx");
    let command = actions[0]["target"]["command"].as_str().unwrap();
    assert!(
        command.contains(&lab.dir.display().to_string()) && !command.contains(&other_dir),
        "{command}"
    );
}

#[test]
fn a_master_from_a_renamed_binary_is_nginx_and_never_killed() {
    let nginx = PlainNginx::start("nginx-debug", 2, "");
    let (site, squatted) = (nginx.ports[0].to_string(), nginx.ports[1]);
    let args = |sub: &str| {
        strings(&[
            sub,
            "--backend",
            &format!("127.0.0.1:{squatted}"),
            "--match",
            "lab-backend",
            "--restart-cmd",
            "true",
            "--nginx-port",
            &site,
            // A status nginx does not give: the site does not work through nginx, so a holder
            // finding would be acted on, and the guard is what keeps nginx's master alive.
            "--health",
            &format!("http://localhost:{site}/"),
            "--expect",
            "204",
            "--timeout",
            "1",
        ])
    };
    let (_, doc) = json_run(&[args("diagnose"), strings(&["--json"])].concat());
    let step_nginx = step(&doc, "nginx");
    assert_eq!(step_nginx["verdict"], "ok", "{step_nginx:#}");
    assert_eq!(step_nginx["details"]["master_pid"], nginx.pid);

    let out = fixer()
        .args(args("fix"))
        .arg("--dry-run")
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!("PID {} is nginx's master", nginx.pid)),
        "{stdout}"
    );
    assert!(!stdout.contains("SIGTERM"), "{stdout}");
}
