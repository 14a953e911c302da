//! Processes fixer never signals, whatever the operator answers.

use crate::sys::process::ProcessInfo;

/// Why `p` must not be signalled, or None when it may be.
pub fn refuse_reason(p: &ProcessInfo) -> Option<String> {
    if p.pid <= 1 {
        return Some(format!("PID {} is init; fixer never signals it", p.pid));
    }
    if own_lineage().contains(&p.pid) {
        return Some(format!(
            "PID {} is fixer itself or one of its parents (your shell, sudo, sshd)",
            p.pid
        ));
    }
    if p.kernel_thread {
        return Some(format!("PID {} is a kernel thread", p.pid));
    }
    if crate::nginx::master::is_master(p) {
        return Some(format!(
            "PID {} is nginx's master; fixer reloads or restarts nginx instead of killing it",
            p.pid
        ));
    }
    if p.comm == "docker-proxy" {
        return Some(format!(
            "PID {} is docker-proxy, which forwards the port to a container; restart the container instead",
            p.pid
        ));
    }
    if let Some(c) = &p.container {
        return Some(format!(
            "PID {} runs in container {c}; restart the container instead (docker restart {c})",
            p.pid
        ));
    }
    None
}

/// fixer's own PID and every ancestor up to init.
fn own_lineage() -> Vec<i32> {
    let me = std::process::id() as i32;
    std::iter::once(me)
        .chain(crate::sys::process::ancestors(me))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixer_and_its_parents_are_never_signalled() {
        let me = ProcessInfo::read(std::process::id() as i32).unwrap();
        let parent = ProcessInfo::read(me.ppid).unwrap();
        for p in [&me, &parent] {
            let why = refuse_reason(p).unwrap_or_default();
            assert!(
                why.contains("fixer itself or one of its parents") || why.contains("init"),
                "PID {}: {why:?}",
                p.pid
            );
        }
    }
}
