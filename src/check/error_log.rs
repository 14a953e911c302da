//! `error_log`: what nginx itself logged about the upstream in the last minutes — the line an
//! operator would grep for ("connect() failed (111: Connection refused)"), grouped by cause.

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use chrono::{Duration as Span, Local};

use crate::check::nginx::NginxView;
use crate::finding::{Finding, FindingCode};
use crate::nginx::conf;
use crate::nginx::errlog::{self, Group};
use crate::step::{Recorder, StepName, StepResult};
use crate::target::Target;

/// How far back the log is read: long enough to cover the page that woke the operator.
pub const WINDOW_MINUTES: i64 = 15;
/// Only the end of a large log is read, so a huge file never slows the chain.
const TAIL_BYTES: u64 = 512 * 1024;

pub fn run(target: &Target, nginx: &NginxView) -> StepResult {
    let mut rec = Recorder::start(StepName::ErrorLog);
    let paths = log_paths(nginx);
    let since = (Local::now() - Span::minutes(WINDOW_MINUTES)).naive_local();
    let mut groups: Vec<Group> = Vec::new();
    let mut read_any = false;
    for path in &paths {
        match tail(path) {
            Ok(text) => {
                read_any = true;
                let found = errlog::group(&text, since);
                rec.see(format!(
                    "{}: {} upstream error(s) in the last {WINDOW_MINUTES} min",
                    path.display(),
                    found.iter().map(|g| g.count).sum::<usize>()
                ));
                groups.extend(found);
            }
            Err(e) => rec.see(format!("{}: not readable ({e})", path.display())),
        }
    }
    if !read_any {
        return rec.skip("no nginx error log could be read");
    }
    let backend = target.backend.as_ref().map(|b| b.address.to_string());
    for g in &groups {
        let mentions = backend
            .as_ref()
            .is_some_and(|b| g.upstreams.iter().any(|u| u.contains(b.as_str())));
        rec.see(format!(
            "{}× {} — {}; newest {}{}",
            g.count,
            short(&g.example),
            g.cause.meaning(),
            g.newest.format("%H:%M:%S"),
            if mentions {
                ", upstream is the backend"
            } else {
                ""
            }
        ));
    }
    rec.detail(
        "groups",
        groups
            .iter()
            .map(|g| serde_json::json!({"cause": format!("{:?}", g.cause), "count": g.count, "newest": g.newest.to_string(), "upstreams": g.upstreams, "example": g.example}))
            .collect::<Vec<_>>(),
    );
    rec.detail(
        "files",
        paths
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>(),
    );
    match groups.first() {
        None => rec.ok(format!("no upstream errors in the last {WINDOW_MINUTES} min")),
        Some(g) => rec.warn(
            format!("{}× upstream errors, newest: {}", groups.iter().map(|g| g.count).sum::<usize>(), g.cause.meaning()),
            Some(Finding::new(
                FindingCode::UpstreamErrorsLogged,
                format!("nginx logged {} upstream error(s) in the last {WINDOW_MINUTES} min; newest: {}", g.count, g.cause.meaning()),
            )),
        ),
    }
}

/// The message up to the first `, client:` — the part that names the cause.
fn short(message: &str) -> String {
    let m = message.split(", client:").next().unwrap_or(message);
    let m = m.split_once(": ").map_or(m, |(_, rest)| rest);
    crate::sanitize::clean(
        m.trim_start_matches(|c: char| c == '*' || c.is_ascii_digit() || c == ' '),
    )
}

/// The error logs named in the effective config (and by `-e`), else Debian's default.
fn log_paths(nginx: &NginxView) -> Vec<PathBuf> {
    let prefix = nginx.invocation.as_ref().and_then(|i| i.prefix.clone());
    let mut paths: Vec<PathBuf> = Vec::new();
    if let Some(e) = nginx.invocation.as_ref().and_then(|i| i.error_log.clone()) {
        paths.push(e);
    }
    if let Some(dump) = nginx.dump.as_ref() {
        let tree = conf::parse_dump(&dump.config);
        for d in conf::find_all(&tree, "error_log") {
            if let Some(p) = d.args.first().filter(|p| {
                *p != "stderr" && !p.starts_with("syslog:") && !p.starts_with("memory:")
            }) {
                let p = Path::new(p);
                paths.push(match (&prefix, p.is_relative()) {
                    (Some(pre), true) => pre.join(p),
                    (None, true) => Path::new("/usr/share/nginx").join(p),
                    _ => p.to_path_buf(),
                });
            }
        }
    }
    if paths.is_empty() {
        paths.push(PathBuf::from("/var/log/nginx/error.log"));
    }
    paths.dedup();
    let mut unique = Vec::new();
    for p in paths {
        if !unique.contains(&p) {
            unique.push(p);
        }
    }
    unique
}

fn tail(path: &Path) -> std::io::Result<String> {
    let mut f = std::fs::File::open(path)?;
    let len = f.metadata()?.len();
    f.seek(SeekFrom::Start(len.saturating_sub(TAIL_BYTES)))?;
    let mut buf = Vec::new();
    f.read_to_end(&mut buf)?;
    Ok(String::from_utf8_lossy(&buf).into_owned())
}
