//! Part of `backend_port`: when nothing listens, is the backend running anyway, stuck before
//! it opened its port? Streamlit asks its first-run `Email:` question before it binds, so the
//! seed outage showed no listener at all while `python3 -m streamlit run app.py` sat in
//! `read(0)`. Starting a second instance beside it would leave two backends.
//!
//! Only processes that are evidently waiting for input on their stdin are reported as blocked;
//! other processes that match the pattern (an editor with `app.py` open, a log tail) are listed
//! as evidence and left alone. A process whose command line names another port
//! (`--server.port 8502`, `--bind 0.0.0.0:9000`) is another instance of the same program, not
//! this backend: it is listed and never touched.

use crate::finding::{Finding, FindingCode};

use crate::step::details::BlockedProcess;
type Rec = crate::step::Recorder<crate::step::details::BackendPortDetails>;
use crate::sys::holders::likely_pids;
use crate::sys::process::{self, ProcessInfo};
use crate::target::{BackendSpec, RestartSpec};

/// The blocked processes (finding and pids), or None when no candidate is blocked.
pub fn blocked(rec: &mut Rec, backend: &BackendSpec) -> Option<(Finding, Vec<i32>)> {
    let candidates = candidates(backend);
    let mut blocked: Vec<ProcessInfo> = Vec::new();
    let port = backend.address.port();
    for p in candidates {
        if let Some(other) = port.and_then(|want| other_port(&p.cmdline, want)) {
            rec.see(format!(
                "PID {} ({}) matches the pattern but its command line names port {other}: another instance, left alone",
                p.pid,
                p.cmdline_str()
            ));
            continue;
        }
        let waiting = p.blocked_reading_stdin();
        rec.see(describe(&p, backend, waiting));
        if let Some(kids) = process::describe_waited(&p) {
            rec.see(format!("  PID {} waits for its child {kids}", p.pid));
        }
        if waiting {
            blocked.push(p);
        }
    }
    if blocked.is_empty() {
        return None;
    }
    rec.details.blocked = Some(
        blocked
            .iter()
            .map(|p| BlockedProcess {
                pid: p.pid,
                cmdline: p.cmdline_str(),
                state: p.state.to_string(),
                wchan: p.wchan.clone(),
                syscall: p.syscall.clone(),
                stdin: p.stdin.clone(),
                age_secs: p.age_secs().round(),
            })
            .collect(),
    );
    let cause = blocked
        .iter()
        .map(|p| {
            format!(
                "PID {} ({}) is waiting at a prompt on its {} and never opened {}",
                p.pid,
                p.cmdline_str(),
                if matches!(p.stdin, process::FdTarget::Tty(_)) {
                    "terminal"
                } else {
                    "stdin"
                },
                backend.address
            )
        })
        .collect::<Vec<_>>()
        .join("; ");
    let pids: Vec<i32> = blocked.iter().map(|p| p.pid).collect();
    let list = pids
        .iter()
        .map(i32::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    let finding = Finding::new(FindingCode::BackendBlockedBeforeListen, cause).with_action(format!(
        "stop PID {list} (nobody answers its prompt), then start the backend with stdin from /dev/null"
    ));
    Some((finding, pids))
}

/// Living processes matching the backend's pattern, or in the unit that starts it; never
/// fixer itself or its parents (a shell whose command line mentions the app).
fn candidates(backend: &BackendSpec) -> Vec<ProcessInfo> {
    let mut pids = likely_pids(backend.matcher.as_ref());
    if let Some(RestartSpec::Systemd { unit }) = &backend.restart {
        pids.extend(process::pids_in_unit(unit));
    }
    pids.sort_unstable();
    pids.dedup();
    let me = std::process::id() as i32;
    let lineage = process::ancestors(me);
    pids.into_iter()
        .filter(|p| *p != me && !lineage.contains(p))
        .filter_map(|p| ProcessInfo::read(p).ok())
        .filter(|p| !p.state.is_gone() && !p.kernel_thread)
        .collect()
}

fn describe(p: &ProcessInfo, backend: &BackendSpec, waiting: bool) -> String {
    let syscall = p
        .syscall
        .as_ref()
        .map_or(String::new(), |s| match s.name.as_str() {
            n if n.contains("read") => format!(", in {n}(fd {})", s.arg0),
            n => format!(", in {n}()"),
        });
    let why = match backend.matches(&p.cmdline.join(" ")) {
        Some(true) => "matches the backend's pattern",
        _ => "runs in the backend's unit",
    };
    let verdict = if waiting {
        "waits for input on its stdin"
    } else {
        "is not waiting on its stdin: left alone"
    };
    format!(
        "PID {} ({}) {why}: state {}, wchan {}{syscall}, stdin is {}, up {}; it {verdict}",
        p.pid,
        p.cmdline_str(),
        p.state,
        p.wchan.as_deref().unwrap_or("-"),
        p.stdin.describe(),
        crate::format::age(p.age_secs()),
    )
}

/// The port a command line names when it is not `want` (None: names `want`, or no port).
/// Ports are read from `--*port N`, `--*port=N`, `-p N`, and `HOST:N` arguments.
fn other_port(argv: &[String], want: u16) -> Option<u16> {
    let mut named = Vec::new();
    for (i, a) in argv.iter().enumerate() {
        let next = argv.get(i + 1).map(String::as_str);
        let flag = a.split('=').next().unwrap_or(a);
        let is_port_flag = flag.starts_with('-') && (flag.ends_with("port") || flag == "-p");
        let value = match (is_port_flag, a.split_once('=')) {
            (true, Some((_, v))) => Some(v),
            (true, None) => next,
            (false, Some((_, v))) => host_port(v),
            (false, None) if !a.starts_with('-') => host_port(a),
            _ => None,
        };
        if let Some(p) = value.and_then(|v| v.parse::<u16>().ok()) {
            named.push(p);
        }
    }
    (!named.is_empty() && !named.contains(&want)).then(|| named[0])
}

/// The port of `HOST:PORT` when HOST is an address or a host name (`0.0.0.0:8000`,
/// `[::1]:8000`, `localhost:8000`), not a module path (`app:app`) or a URL.
fn host_port(v: &str) -> Option<&str> {
    let (host, port) = v.rsplit_once(':')?;
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let is_host = bare.parse::<std::net::IpAddr>().is_ok()
        || !bare.is_empty()
            && bare
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
    is_host.then_some(port)
}

#[cfg(test)]
mod tests {
    use super::other_port;

    fn argv(s: &str) -> Vec<String> {
        s.split(' ').map(String::from).collect()
    }

    #[test]
    fn names_another_port() {
        let st = "python3 -m streamlit run app.py --server.port 8502";
        assert_eq!(other_port(&argv(st), 8501), Some(8502));
        assert_eq!(other_port(&argv(st), 8502), None);
        assert_eq!(
            other_port(&argv("streamlit run app.py --server.port=9"), 8501),
            Some(9)
        );
        assert_eq!(
            other_port(&argv("gunicorn -b 127.0.0.1:9000 app:app"), 8000),
            Some(9000)
        );
        assert_eq!(
            other_port(&argv("gunicorn --bind=0.0.0.0:8000 app:app"), 8000),
            None
        );
        assert_eq!(other_port(&argv("python3 app.py -p 81"), 80), Some(81));
        assert_eq!(
            other_port(&argv("uvicorn --bind=[::1]:8001 m:app"), 8000),
            Some(8001)
        );
    }

    #[test]
    fn no_port_named_is_not_another_instance() {
        assert_eq!(
            other_port(&argv("python3 -m streamlit run app.py"), 8501),
            None
        );
        assert_eq!(other_port(&argv("gunicorn app:app"), 8000), None);
        assert_eq!(other_port(&argv("python3 /srv/a:b/app.py"), 8000), None);
        assert_eq!(
            other_port(&argv("streamlit run a.py --server.address=::1"), 8501),
            None
        );
        assert_eq!(
            other_port(&argv("gunicorn -p /run/app.pid app:app"), 8000),
            None
        );
        assert_eq!(
            other_port(&argv("app --db=postgres://db:5432/x"), 8000),
            None
        );
    }
}
