//! Whom a process waits for. A holder sleeping in `wait4()` is not stuck on its own: it ran a
//! program in the foreground (Streamlit runs `www-browser URL` after its first-run prompt) and
//! waits for it, so the child's command line is the evidence an operator needs.

use super::{read_cmdline, ProcessInfo};

/// A child a process is waiting for, as shown to the operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waited {
    pub pid: i32,
    pub cmdline: String,
}

/// The children `p` waits for when it sleeps in `wait4`/`waitid`/`waitpid`, else nothing.
/// `wait4(-1, …)` waits for any child, so every child is named; `wait4(N, …)` names N.
pub fn waited_children(p: &ProcessInfo) -> Vec<Waited> {
    let Some(sc) = &p.syscall else {
        return Vec::new();
    };
    if !matches!(sc.name.as_str(), "wait4" | "waitid" | "waitpid") {
        return Vec::new();
    }
    let wanted = (sc.name == "wait4")
        .then_some(sc.arg0 as i64)
        .filter(|&w| w > 0);
    children(p.pid)
        .into_iter()
        .filter(|&c| wanted.is_none_or(|w| i64::from(c) == w))
        .map(|pid| Waited {
            pid,
            cmdline: read_cmdline(pid)
                .map(|a| crate::sanitize::argv(&a).trim_end().to_string())
                .unwrap_or_else(|| "?".into()),
        })
        .collect()
}

/// Direct children: the kernel's per-thread `children` list when it has one (cheap), else the
/// whole process table.
fn children(pid: i32) -> Vec<i32> {
    let mut out: Vec<i32> = Vec::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return out;
    };
    let mut listed = false;
    for task in tasks.flatten() {
        if let Ok(text) = std::fs::read_to_string(task.path().join("children")) {
            listed = true;
            out.extend(
                text.split_whitespace()
                    .filter_map(|c| c.parse::<i32>().ok()),
            );
        }
    }
    if !listed {
        out = super::children_map().remove(&pid).unwrap_or_default();
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// "PID 4243 (www-browser http://localhost:8501)" for each waited child, joined.
pub fn describe_waited(p: &ProcessInfo) -> Option<String> {
    let kids = waited_children(p);
    (!kids.is_empty()).then(|| {
        kids.iter()
            .map(|w| format!("PID {} ({})", w.pid, w.cmdline))
            .collect::<Vec<_>>()
            .join(", ")
    })
}
