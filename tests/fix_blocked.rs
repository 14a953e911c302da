//! A backend that never got to listen: `python3 -m streamlit run app.py` waiting at its
//! first-run `Email:` prompt before it opened its port (the lab's `prompt-before-listen`), and
//! a holder waiting in `wait4()` for a program it ran in the foreground.

mod common;
mod fix_support;

use common::{deadline, gone, identity, lab, proc_state, status, step, wait_until};
use fix_support::{audit_of, cmdline, listeners, output, Owned, Run};
use fixer::lab::{Fault, Lab, Role};

/// Live processes running the lab's Streamlit stand-in on the lab's backend port (not the
/// `sh -c` that started one and waits for it).
fn streamlits(lab: &Lab) -> Vec<i32> {
    let port = format!("--server.port {}", lab.backend_port);
    all_pids()
        .into_iter()
        .filter(|&p| {
            let c = cmdline(p);
            c.contains("-m streamlit run app.py")
                && c.contains(&port)
                && !c.starts_with("/bin/sh -c")
        })
        .filter(|&p| proc_state(p).is_some_and(|s| s != 'Z'))
        .collect()
}

fn all_pids() -> Vec<i32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .collect()
}

#[test]
fn diagnose_names_the_process_waiting_at_its_prompt() {
    let (_dir, lab) = lab(Fault::PromptBeforeListen);
    // Another app's Streamlit, blocked the same way on another port: not this backend. Its
    // port is free (nothing ever binds it), so a free-port pick may hand it out twice: a lab
    // that drew the same port is put down and drawn again, a bounded number of times.
    let mut drawn = common::lab(Fault::PromptBeforeListen);
    for _ in 0..5 {
        if drawn.1.backend_port != lab.backend_port {
            break;
        }
        // The Lab puts its processes down, before its directory goes.
        let (dir, same) = drawn;
        drop(same);
        drop(dir);
        drawn = common::lab(Fault::PromptBeforeListen);
    }
    let (_other_dir, other) = drawn;
    assert_ne!(other.backend_port, lab.backend_port, "6 draws, same port");
    let other_pid = other.pid(Role::Backend).unwrap();
    let pid = lab.pid(Role::Backend).unwrap();
    let run = Run::new();
    let mut cmd = run.fixer("diagnose");
    cmd.args(["--json", "--timeout", "1", "-p"])
        .arg(&lab.playbook);
    let out = output(cmd);
    assert_eq!(out.code, 1, "{}", out.all());
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        doc["root_cause_code"], "backend-blocked-before-listen",
        "{doc:#}"
    );
    let cause = doc["root_cause"].as_str().unwrap();
    let want = format!(
        "PID {pid} ({}) is waiting at a prompt on its stdin and never opened 127.0.0.1:{}",
        cmdline(pid),
        lab.backend_port
    );
    assert_eq!(cause, want);
    let port = step(&doc, "backend_port");
    let evidence = port["evidence"].to_string();
    assert!(evidence.contains("in read(fd 0)"), "{evidence}");
    assert!(evidence.contains("stdin is a named pipe"), "{evidence}");
    assert_eq!(port["details"]["blocked"][0]["pid"], pid);
    assert_eq!(port["details"]["blocked"].as_array().unwrap().len(), 1);
    assert!(
        evidence.contains(&format!(
            "PID {other_pid} ({}) matches the pattern but its command line names port {}: another instance, left alone",
            cmdline(other_pid),
            other.backend_port
        )),
        "{evidence}"
    );

    let mut human = run.fixer("diagnose");
    human.args(["--timeout", "1", "-p"]).arg(&lab.playbook);
    let out = output(human);
    assert!(
        out.stdout.contains("[backend-blocked-before-listen]"),
        "{}",
        out.all()
    );
}

#[test]
fn fix_kills_the_waiting_process_before_starting_one_backend() {
    let (_dir, lab) = lab(Fault::PromptBeforeListen);
    let blocked = identity(lab.pid(Role::Backend).unwrap()).unwrap();
    let run = Run::new();
    let mut cmd = run.fix(&lab);
    cmd.arg("--yes");
    let out = output(cmd);
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(
        out.stdout.contains(&format!(
            "Kill PID {}, which waits at a prompt and never opened 127.0.0.1:{}",
            blocked.0, lab.backend_port
        )) || out.stdout.contains(&format!("SIGTERM → PID {}", blocked.0)),
        "{}",
        out.all()
    );
    assert_eq!(
        out.last_line(),
        "Fixed and verified: the site answers as expected.",
        "{}",
        out.all()
    );
    assert!(gone(blocked), "the prompt-blocked process still runs");
    let now = streamlits(&lab);
    assert_eq!(now.len(), 1, "exactly one backend: {now:?}");
    assert!(cmdline(now[0]).contains("--server.headless true"));
    assert_eq!(listeners(lab.backend_port), now);
    assert_eq!(status(lab.http_port, "/api/health").unwrap(), 200);
    let log = run.audit();
    let kill = audit_of(&log, "kill-holder", "end");
    assert_eq!(kill.len(), 1, "{log:?}");
    assert_eq!(kill[0]["target"]["pid"], blocked.0);
    assert_eq!(kill[0]["target"]["reason"], "blocked-before-listen");
    assert_eq!(kill[0]["result"], "done");
}

/// Listens on 127.0.0.1:argv[1], then runs argv[2..] in the foreground and waits for it, as
/// Streamlit does with `www-browser URL` after its prompt.
const WAITS_FOR_BROWSER: &str = r#"import socket, subprocess, sys
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(16)
print("listening", flush=True)
subprocess.call(sys.argv[2:])
"#;

/// Stands in for a browser: lives until its parent is gone (polled, bounded by the parent).
const BROWSER: &str = r#"#!/usr/bin/env python3
import os, sys, time
parent = os.getppid()
while os.getppid() == parent:
    time.sleep(0.1)
"#;

#[test]
fn holder_waiting_for_a_foreground_child_names_it() {
    let run = Run::new();
    let port = common::nginx::free_ports(1)[0];
    let browser = run.script("www-browser", BROWSER);
    let url = format!("http://localhost:{port}");
    let script = run.script("app.py", WAITS_FOR_BROWSER);
    let holder = Owned::python(
        &script,
        &[port.to_string(), browser.display().to_string(), url.clone()],
    );
    let pid = holder.pid();
    let mut child = 0;
    assert!(
        wait_until(deadline(10.0), || {
            child = children(pid).first().copied().unwrap_or(0);
            listeners(port).contains(&pid)
                && child > 0
                && cmdline(child).contains("www-browser")
                && in_syscall(pid, WAIT4)
        }),
        "the holder did not start its browser and wait"
    );
    let mut cmd = run.fixer("diagnose");
    cmd.args(["--json", "--timeout", "1", "--backend"])
        .arg(format!("127.0.0.1:{port}"))
        .args(["--match", "app.py"]);
    let out = output(cmd);
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let evidence = step(&doc, "port_holder")["evidence"].to_string();
    assert!(
        evidence.contains(&format!(
            "waits in wait4() for its child PID {child} ({})",
            cmdline(child)
        )),
        "{evidence}"
    );
    drop(holder);
}

/// System-call numbers of read and wait4 on this machine.
const READ: &str = if cfg!(target_arch = "aarch64") {
    "63"
} else {
    "0"
};
const WAIT4: &str = if cfg!(target_arch = "aarch64") {
    "260"
} else {
    "61"
};

/// Whether the process sleeps in system call `nr` (first field of /proc/PID/syscall).
fn in_syscall(pid: i32, nr: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/syscall"))
        .is_ok_and(|s| s.split_whitespace().next() == Some(nr))
}

fn children(pid: i32) -> Vec<i32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|c| c.parse().ok())
        .collect()
}

/// Asks `Email:` on stdin before it would listen, after starting a helper child (which lives
/// as long as its parent does).
const PROMPT_WITH_CHILD: &str = r#"import subprocess, sys
helper = subprocess.Popen([sys.executable, "-c",
    "import os, time\nparent = os.getppid()\nwhile os.getppid() == parent:\n    time.sleep(0.1)\n"])
print("helper", helper.pid, flush=True)
input("Email: ")
"#;

#[test]
fn the_waiting_process_is_stopped_with_its_children() {
    let (_dir, lab) = lab(Fault::BackendDown);
    let run = Run::new();
    let script = run.script("app.py", PROMPT_WITH_CHILD);
    let log = std::fs::File::create(run.path("app.log")).unwrap();
    let mut blocked = std::process::Command::new("python3")
        .arg(&script)
        .stdin(std::process::Stdio::piped())
        .stdout(log)
        .spawn()
        .unwrap();
    let pid = blocked.id() as i32;
    let mut helper = 0;
    assert!(wait_until(deadline(10.0), || {
        helper = children(pid).first().copied().unwrap_or(0);
        helper > 0
            && in_syscall(pid, READ)
            && std::fs::read_to_string(format!("/proc/{pid}/syscall"))
                .is_ok_and(|s| s.split_whitespace().nth(1) == Some("0x0"))
    }));
    let (parent, child) = (identity(pid).unwrap(), identity(helper).unwrap());
    let mut cmd = run.fix(&lab);
    cmd.args(["--yes", "--match", r"app\.py|lab-backend\.py"]);
    let out = output(cmd);
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(
        out.stdout.contains(&format!("SIGTERM → PID {}", child.0)),
        "{}",
        out.all()
    );
    assert!(gone(parent) && gone(child), "{}", out.all());
    let _ = blocked.kill();
    let _ = blocked.wait();
}

/// The lab's stand-in behaves as Streamlit 1.67 does: `python3 -m streamlit run app.py` in
/// read(0) on its stdin with nothing listening (nginx: 502), and serving once answered.
#[test]
fn the_lab_fault_waits_in_read_before_it_listens() {
    use std::io::Write;
    let (_dir, lab) = lab(Fault::PromptBeforeListen);
    let pid = lab.pid(Role::Backend).unwrap();
    assert!(cmdline(pid).ends_with(&format!(
        "-m streamlit run app.py --server.port {}",
        lab.backend_port
    )));
    assert!(in_syscall(pid, READ));
    assert!(listeners(lab.backend_port).is_empty());
    assert!(common::port_free(lab.backend_port));
    assert_eq!(status(lab.http_port, "/api/health").unwrap(), 502);
    let stdin = std::fs::read_link(format!("/proc/{pid}/fd/0")).unwrap();
    assert_eq!(stdin, lab.dir.join("stdin.fifo"));
    let mut fifo = std::fs::OpenOptions::new()
        .write(true)
        .open(&stdin)
        .unwrap();
    fifo.write_all(b"ops@example.com\n").unwrap();
    let healthy = || status(lab.backend_port, "/api/health").ok() == Some(200);
    assert!(wait_until(deadline(10.0), healthy));
    assert_eq!(listeners(lab.backend_port), [pid]);
}
