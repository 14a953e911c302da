//! `port_holder`: which process owns the backend's listening socket, what state it is in, and
//! whether it answers. Found by socket inode, never by process name: the Streamlit incident's
//! `pgrep streamlit` missed a `python3 -m streamlit` holder.

use serde_json::json;

use crate::check::backend_port::Listening;
use crate::finding::{Finding, FindingCode};
use crate::step::{Recorder, StepName, StepResult};
use crate::sys::holders;
use crate::sys::http;
use crate::sys::process::{FdTarget, ProcessInfo};
use crate::target::{BackendSpec, Target};

/// How the holder behaves, as far as the evidence shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    Answering,
    Stopped,
    BlockedOnStdin,
    Stuck,
}

/// What later actions need: who holds the port and in what condition.
#[derive(Debug, Clone)]
pub struct HolderView {
    /// The pre-fork master, or the only holder.
    pub main: ProcessInfo,
    /// Every living process that holds the socket, main first.
    pub all: Vec<ProcessInfo>,
    pub condition: Condition,
    /// Whether the holder's command line matches the playbook's `match` (None: no regex).
    pub matches: Option<bool>,
}

pub fn run(target: &Target, listening: &Listening) -> (StepResult, Option<HolderView>) {
    let mut rec = Recorder::start(StepName::PortHolder);
    let Some(backend) = &target.backend else {
        return (rec.skip("no backend configured"), None);
    };
    if listening.is_empty() {
        return (
            rec.skip(format!(
                "nothing listens on {}, so there is no holder",
                backend.address
            )),
            None,
        );
    }
    let inodes = listening.inodes();
    let scan = holders::find_holders(&inodes, &holders::likely_pids(backend.matcher.as_ref()));
    let mut pids: Vec<i32> = scan.holders.values().flatten().copied().collect();
    pids.sort_unstable();
    pids.dedup();
    rec.see(format!(
        "/proc/*/fd: socket inode {} held by {} ({} processes read{})",
        inodes
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(", "),
        if pids.is_empty() {
            "no visible process".to_string()
        } else {
            format!(
                "PID {}",
                pids.iter()
                    .map(i32::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        },
        scan.scanned,
        if scan.full_scan { ", full scan" } else { "" }
    ));
    let procs: Vec<ProcessInfo> = pids
        .iter()
        .filter_map(|&p| ProcessInfo::read(p).ok())
        .collect();
    let (zombies, living): (Vec<_>, Vec<_>) = procs.into_iter().partition(|p| p.state == 'Z');
    for z in &zombies {
        rec.see(format!(
            "PID {} is a zombie (state Z) and cannot serve the socket",
            z.pid
        ));
    }
    if living.is_empty() {
        return (
            uninspectable(rec, backend, &scan, !zombies.is_empty()),
            None,
        );
    }
    let all = order_family(living);
    let main = all[0].clone();
    let matches = backend.matches(&main.cmdline.join(" "));
    for p in &all {
        describe_process(&mut rec, p, &main, backend);
    }
    let probe = http::raw_get(&backend.address, &backend.health_path, target.timeout);
    let condition = classify(&all, probe.is_ok());
    match &probe {
        Ok(r) => rec.see(format!(
            "GET {} straight to {} → {} {} in {} ms",
            backend.health_path,
            backend.address,
            r.status,
            crate::sanitize::clean(&r.reason),
            r.elapsed_ms
        )),
        Err(f) => rec.see(format!(
            "GET {} straight to {} → {} ({} ms)",
            backend.health_path,
            backend.address,
            crate::sanitize::clean(&f.message),
            f.elapsed_ms
        )),
    }
    let queue = listening.tcp.first().map(|s| s.rx_queue);
    rec.detail("pid", main.pid);
    rec.detail("pids", all.iter().map(|p| p.pid).collect::<Vec<_>>());
    rec.detail("cmdline", main.cmdline_str());
    rec.detail("state", main.state.to_string());
    rec.detail("user", &main.user);
    rec.detail("unit", &main.unit);
    rec.detail("container", &main.container);
    rec.detail("answering", probe.is_ok());
    rec.detail("matches", matches);
    rec.detail("wchan", &main.wchan);
    rec.detail("stdin", &main.stdin);
    rec.detail("started_unix", main.started_unix);
    rec.detail("age_secs", main.age_secs().round());
    rec.detail("accept_queue", queue);
    rec.detail("processes", all.iter().map(|p| json!({"pid": p.pid, "ppid": p.ppid, "cmdline": p.cmdline_str(), "state": p.state.to_string()})).collect::<Vec<_>>());
    let view = HolderView {
        main: main.clone(),
        all: all.clone(),
        condition,
        matches,
    };
    let result = verdict(rec, backend, &view, queue);
    (result, Some(view))
}

/// Main holder first (the process whose parent does not hold the socket), then its family.
fn order_family(mut procs: Vec<ProcessInfo>) -> Vec<ProcessInfo> {
    let pids: Vec<i32> = procs.iter().map(|p| p.pid).collect();
    procs.sort_by_key(|p| (pids.contains(&p.ppid), p.pid));
    procs
}

fn state_word(state: char) -> &'static str {
    match state {
        'R' => "running",
        'S' => "sleeping",
        'D' => "in uninterruptible I/O",
        'T' => "stopped",
        't' => "stopped by a debugger",
        'Z' => "zombie",
        'I' => "idle",
        _ => "unknown state",
    }
}

fn stdin_word(fd: &FdTarget) -> String {
    match fd {
        FdTarget::Tty(p) => format!("a terminal ({p})"),
        FdTarget::Pipe => "a pipe".into(),
        FdTarget::Fifo(p) => format!("a named pipe ({p})"),
        FdTarget::DevNull => "/dev/null".into(),
        FdTarget::File(p) => format!("file {p}"),
        FdTarget::Socket => "a socket".into(),
        FdTarget::Closed => "closed".into(),
        FdTarget::Unreadable => "not readable".into(),
    }
}

fn describe_process(
    rec: &mut Recorder,
    p: &ProcessInfo,
    main: &ProcessInfo,
    backend: &BackendSpec,
) {
    let role = if p.pid == main.pid {
        String::new()
    } else if p.ppid == main.pid {
        format!(" (child of {})", main.pid)
    } else {
        " (shares the socket)".into()
    };
    rec.see(format!(
        "PID {}{role}: user {}, state {} ({}), started {} (up {}), command line: {}",
        p.pid,
        p.user,
        p.state,
        state_word(p.state),
        crate::report::clock_time(p.started_unix),
        crate::report::age(p.age_secs()),
        p.cmdline_str()
    ));
    let syscall = match &p.syscall {
        Some(s) if s.name.contains("read") || s.name.starts_with("recv") => {
            format!(", in {}(fd {})", s.name, s.arg0)
        }
        Some(s) => format!(", in {}()", s.name),
        None => String::new(),
    };
    rec.see(format!(
        "  blocked on: wchan {}{syscall}; stdin is {}",
        p.wchan.as_deref().unwrap_or("-"),
        stdin_word(&p.stdin)
    ));
    if let Some(kids) = crate::sys::process::describe_waited(p) {
        rec.see(format!(
            "  waits in {}() for its child {kids}",
            p.syscall.as_ref().map_or("wait", |s| s.name.as_str())
        ));
    }
    if p.pid == main.pid {
        let unit = match (&p.unit, &p.container) {
            (_, Some(c)) => format!("runs in container {c}"),
            (Some(u), None) => format!("systemd unit {u}"),
            (None, None) => "no systemd unit".into(),
        };
        let matched = match (backend.matches(&p.cmdline.join(" ")), &backend.matcher) {
            (Some(true), Some(re)) => format!("; command line matches /{re}/"),
            (Some(false), Some(re)) => format!("; command line does NOT match /{re}/"),
            _ => String::new(),
        };
        rec.see(format!("  {unit}{matched}"));
    }
}

fn classify(all: &[ProcessInfo], answered: bool) -> Condition {
    if answered {
        Condition::Answering
    } else if all.iter().any(|p| matches!(p.state, 'T' | 't')) {
        Condition::Stopped
    } else if all.iter().any(ProcessInfo::blocked_reading_stdin) {
        Condition::BlockedOnStdin
    } else {
        Condition::Stuck
    }
}

fn verdict(rec: Recorder, backend: &BackendSpec, v: &HolderView, queue: Option<u32>) -> StepResult {
    let who = format!(
        "{} is held by PID {} ({})",
        backend.address,
        v.main.pid,
        v.main.cmdline_str()
    );
    let restart = match v.main.restartable_unit() {
        Some(u) => format!("restart its systemd unit {u}"),
        None => format!(
            "kill the holder (PID {}) and start the backend again",
            pids_list(v)
        ),
    };
    let queue_note = match queue {
        Some(q) if q > 0 => format!("; {q} connections wait in its accept queue"),
        _ => String::new(),
    };
    let finding = match (v.condition, v.matches) {
        (Condition::Answering, Some(false)) => Finding::new(
            FindingCode::HolderForeign,
            format!("{who}, which answers HTTP but does not match the backend's pattern: another program has the backend's port"),
        )
        .with_action("find out what that program is before touching it; fixer kills it only after an explicit warning"),
        (Condition::Answering, _) => {
            return rec.ok(format!("PID {} ({}) holds {} and answers HTTP", v.main.pid, v.main.cmdline_str(), backend.address))
        }
        (_, Some(false)) => Finding::new(
            FindingCode::HolderForeign,
            format!("{who}, which does not match the backend's pattern and does not answer HTTP{queue_note}"),
        )
        .with_action("find out what that program is before touching it; fixer kills it only after an explicit warning"),
        (Condition::Stopped, _) => Finding::new(
            FindingCode::HolderStopped,
            format!("{who}, which is stopped (state T) and does not answer HTTP{queue_note}"),
        )
        .with_action("resume it with SIGCONT; if it still does not answer, ".to_string() + &restart),
        (Condition::BlockedOnStdin, _) => Finding::new(
            FindingCode::HolderBlockedOnStdin,
            format!("{who}, which is blocked reading its {} and does not answer HTTP{queue_note}", if matches!(v.main.stdin, FdTarget::Tty(_)) { "terminal" } else { "stdin" }),
        )
        .with_action(format!("{restart}, with stdin from /dev/null")),
        (Condition::Stuck, _) => Finding::new(
            FindingCode::HolderStuck,
            format!("{who}, which accepts connections but does not answer HTTP{queue_note}"),
        )
        .with_action(restart),
    };
    rec.fail(finding)
}

fn pids_list(v: &HolderView) -> String {
    v.all
        .iter()
        .map(|p| p.pid.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn uninspectable(
    rec: Recorder,
    backend: &BackendSpec,
    scan: &holders::HolderScan,
    zombie: bool,
) -> StepResult {
    if zombie {
        return rec.fail(
            Finding::new(
                FindingCode::HolderZombie,
                format!(
                    "{} is held only by a zombie process; no living process serves it",
                    backend.address
                ),
            )
            .with_action("restart the backend"),
        );
    }
    let root = rustix::process::geteuid().is_root();
    let cause = if root {
        format!("{} is held by a process fixer cannot see (another PID namespace, or a process whose fds are unreadable)", backend.address)
    } else {
        format!(
            "{} is held by a process fixer cannot inspect ({} processes unreadable); run as root",
            backend.address,
            scan.denied.len()
        )
    };
    rec.fail(
        Finding::new(FindingCode::HolderUninspectable, cause)
            .with_action("run fixer as root (sudo fixer diagnose)"),
    )
}
