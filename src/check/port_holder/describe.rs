//! Evidence lines about a holder process: who it is, what state it is in, what it waits on.

type Rec = crate::step::Recorder<crate::step::details::PortHolderDetails>;
use crate::sys::process::ProcessInfo;
use crate::target::BackendSpec;

pub(super) fn process(rec: &mut Rec, p: &ProcessInfo, main: &ProcessInfo, backend: &BackendSpec) {
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
        p.state.word(),
        crate::format::clock_time(p.started_unix),
        crate::format::age(p.age_secs()),
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
        p.stdin.describe()
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

/// "PID 1, 2, 3".
pub(super) fn pid_list(procs: &[ProcessInfo]) -> String {
    procs
        .iter()
        .map(|p| p.pid.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// "1 connection waits" / "3 connections wait".
pub(super) fn waiting(n: u32) -> String {
    if n == 1 {
        "1 connection waits".into()
    } else {
        format!("{n} connections wait")
    }
}
