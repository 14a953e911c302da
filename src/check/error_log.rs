//! `error_log`: what nginx logged about this backend in the last minutes — the line an operator
//! would grep for ("connect() failed (111: Connection refused)"), grouped by cause, and split at
//! the last time fixer verified the site healthy. Lines about other upstreams and lines caused by
//! fixer's own probes (they carry `Referer: fixer:probe`, which nginx writes into the line) are
//! left out and counted.

use chrono::{Duration as Span, Local, NaiveDateTime};

use crate::check::nginx::NginxView;
use crate::finding::Finding;
use crate::nginx::errlog::{self, Entry, Group};
use crate::step::details::{ErrorGroup, ErrorLogCounts, ErrorLogDetails};
use crate::step::{Recorder, StepName, StepResult};

type Rec = Recorder<ErrorLogDetails>;
use crate::sys::net::TcpSocket;
use crate::target::Target;

mod fallback;
mod files;
mod limits;
mod root;
mod whose;

pub use root::explain_root;

use fallback::{fallback_finding, fell_back, Now};
use files::log_paths;
use whose::{Owner, Whose};

/// How far back the log is read: long enough to cover the page that woke the operator.
pub const WINDOW_MINUTES: i64 = 15;
/// Other upstreams named in the evidence; the rest are only counted.
const OTHERS_SHOWN: usize = 5;

/// This backend's lines, sorted: before and since the last verified-healthy time, and the
/// refused tries of an address nginx then left for another address of the same name.
#[derive(Default)]
pub(super) struct Sorted {
    before: Vec<Entry>,
    since: Vec<Entry>,
    fell_back: Vec<Entry>,
    own_probes: usize,
    others: Vec<String>,
    other_lines: usize,
}

pub fn run(target: &Target, nginx: &NginxView, tcp: &[TcpSocket]) -> StepResult {
    let mut rec = Rec::start(StepName::ErrorLog);
    let paths = log_paths(nginx);
    let window_start = (Local::now() - Span::minutes(WINDOW_MINUTES)).naive_local();
    rec.details.files = Some(paths.iter().map(|p| p.display().to_string()).collect());
    let Some(entries) = files::read_all(&mut rec, &paths, window_start) else {
        return rec.skip("no nginx error log could be read");
    };
    let verified = crate::state::last_verified(&target.site_key());
    let cut = verified.and_then(local_second);
    let tree = nginx.dump.as_ref().map(|d| d.tree());
    let servers = nginx.dump.as_ref().map(|d| d.servers());
    let mut owner = Owner::new(target, tree.unwrap_or(&[]), servers.unwrap_or(&[]));
    let sorted = sort(entries, &mut owner, cut, target, tcp);
    let label = target
        .backend
        .as_ref()
        .map_or_else(|| "any upstream".to_string(), |b| b.address.to_string());
    explain_left_out(&mut rec, &sorted);
    let when = match (verified, cut) {
        (Some(at), Some(cut)) => {
            rec.see(format!(
                "fixer last verified this site healthy at {}",
                crate::format::clock_time(at)
            ));
            rec.details.verified_at = Some(cut.to_string());
            format!(
                "since fixer verified the site healthy at {}",
                cut.format("%H:%M:%S")
            )
        }
        _ => {
            rec.see("fixer has not verified this site healthy yet (`fixer verify` or a verified `fixer fix` records the time)");
            format!("in the last {WINDOW_MINUTES} min")
        }
    };
    report_groups(&mut rec, &sorted);
    let limits = sorted
        .since
        .iter()
        .any(|e| e.cause.nginx_wide())
        .then(|| limits::read(nginx))
        .flatten();
    if let Some(l) = &limits {
        rec.see(limits::sentence(l));
    }
    rec.details.nginx_limits = limits;
    verdict(rec, &sorted, &label, &when, target, tcp)
}

/// Sorts each line by whose it is and when it was logged.
fn sort(
    entries: Vec<Entry>,
    owner: &mut Owner<'_>,
    cut: Option<NaiveDateTime>,
    target: &Target,
    tcp: &[TcpSocket],
) -> Sorted {
    let mut sorted = Sorted::default();
    let now = Now::new(target, tcp);
    for e in entries {
        match owner.whose(&e) {
            Whose::OwnProbe => sorted.own_probes += 1,
            Whose::Other(name) => {
                sorted.other_lines += 1;
                if !sorted.others.contains(&name) {
                    sorted.others.push(name);
                }
            }
            Whose::Backend if cut.is_some_and(|c| e.time <= c) => sorted.before.push(e),
            Whose::Backend if fell_back(&e, &now) => sorted.fell_back.push(e),
            Whose::Backend => sorted.since.push(e),
        }
    }
    sorted
}

fn explain_left_out(rec: &mut Rec, sorted: &Sorted) {
    if sorted.own_probes > 0 {
        rec.see(format!(
            "left out: {} line(s) caused by fixer's own probes (Referer: {})",
            sorted.own_probes,
            crate::sys::http::PROBE_REFERER
        ));
    }
    if sorted.other_lines > 0 {
        let mut names = sorted.others[..sorted.others.len().min(OTHERS_SHOWN)].join(", ");
        if sorted.others.len() > OTHERS_SHOWN {
            names += &format!(" and {} more", sorted.others.len() - OTHERS_SHOWN);
        }
        rec.see(format!(
            "left out: {} line(s) about other upstreams ({})",
            sorted.other_lines,
            crate::sanitize::clean(&names)
        ));
    }
    rec.details.counts = Some(ErrorLogCounts {
        since: sorted.since.len(),
        before: sorted.before.len(),
        fell_back: sorted.fell_back.len(),
        own_probes: sorted.own_probes,
        other_upstreams: sorted.other_lines,
    });
}

fn report_groups(rec: &mut Rec, sorted: &Sorted) {
    let since = errlog::group(&sorted.since);
    for g in &since {
        rec.see(group_line("", g));
    }
    for g in errlog::group(&sorted.fell_back) {
        rec.see(format!(
            "{}× {} — refused on {}, an address nginx also uses for this backend, where nothing listens now; nginx then tried the next address, which listens; newest {}",
            g.count,
            short(&g.example),
            g.upstreams
                .iter()
                .filter_map(|u| errlog::Peer::parse(u))
                .filter_map(|p| match p {
                    errlog::Peer::Addr(a) => Some(a.to_string()),
                    _ => None,
                })
                .fold(Vec::<String>::new(), |mut v, a| {
                    if !v.contains(&a) {
                        v.push(a);
                    }
                    v
                })
                .join(", "),
            g.newest.format("%H:%M:%S")
        ));
    }
    let before = errlog::group(&sorted.before);
    for g in &before {
        rec.see(group_line("before the last verified-healthy time: ", g));
    }
    rec.details.groups = Some(groups_details(&since));
    rec.details.before = Some(groups_details(&before));
}

fn group_line(prefix: &str, g: &Group) -> String {
    format!(
        "{prefix}{}× {} — {}; newest {}",
        g.count,
        short(&g.example),
        g.cause.meaning(),
        g.newest.format("%H:%M:%S")
    )
}

fn groups_details(groups: &[Group]) -> Vec<ErrorGroup> {
    groups
        .iter()
        .map(|g| ErrorGroup {
            code: g.code(),
            cause: format!("{:?}", g.cause),
            oldest: g.oldest.to_string(),
            count: g.count,
            newest: g.newest.to_string(),
            upstreams: g.upstreams.clone(),
            example: g.example.clone(),
        })
        .collect()
}

fn verdict(
    rec: Rec,
    sorted: &Sorted,
    label: &str,
    when: &str,
    target: &Target,
    tcp: &[TcpSocket],
) -> StepResult {
    let before = match sorted.before.len() {
        0 => String::new(),
        n => format!("; {n} before it"),
    };
    let groups = errlog::group(&sorted.since);
    if let Some(g) = errlog::explaining(&groups) {
        let n = sorted.since.len();
        // nginx's own limits are about every site it serves, not this backend alone.
        let what = match g.cause.nginx_wide() {
            true => format!("error(s) about nginx itself or {label}"),
            false => format!("upstream error(s) about {label}"),
        };
        let finding = Finding::new(
            g.code(),
            format!(
                "nginx logged {n} {what} {when}{before}; the newest explaining them: {}× '{}' — {}",
                g.count,
                g.cause.words(),
                g.cause.meaning()
            ),
        )
        .with_action(root::action(g.cause));
        let finding = match &rec.details.nginx_limits {
            Some(l) if g.cause.nginx_wide() => Finding {
                cause: format!("{}; {}", finding.cause, limits::sentence(l)),
                ..finding
            },
            _ => finding,
        };
        return rec.warn(
            format!(
                "{n}× {what} {when}; {}× '{}': {}",
                g.count,
                g.cause.words(),
                g.cause.meaning()
            ),
            Some(finding),
        );
    }
    if !sorted.fell_back.is_empty() {
        return rec.warn(
            format!(
                "{}× refused tries of another address nginx uses for {label} {when}; it fell back to one that listens",
                sorted.fell_back.len()
            ),
            Some(fallback_finding(sorted, when, target, tcp)),
        );
    }
    rec.ok(format!("no upstream errors about {label} {when}{before}"))
}

/// The verified-healthy time as nginx writes times (local, whole seconds). A line stamped in
/// the same second counts as before it: nginx's clock does not say which came first.
fn local_second(unix: f64) -> Option<NaiveDateTime> {
    let t = chrono::DateTime::from_timestamp(unix.floor() as i64, 0)?;
    Some(t.with_timezone(&Local).naive_local())
}

/// The message up to the first `, client:` — the part that names the cause.
fn short(message: &str) -> String {
    let m = message.split(", client:").next().unwrap_or(message);
    let m = m.split_once(": ").map_or(m, |(_, rest)| rest);
    crate::sanitize::clean(
        m.trim_start_matches(|c: char| c == '*' || c.is_ascii_digit() || c == ' '),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const ATTRIBUTION: &str = include_str!("../../tests/fixtures/nginx/error-attribution.log");

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y/%m/%d %H:%M:%S").unwrap()
    }

    fn sorted(cut: Option<NaiveDateTime>) -> Sorted {
        let toml = "[site]\ndomains = [\"site.test\"]\n[backend]\naddress = \"127.0.0.1:53673\"\n";
        let target = crate::playbook::validate::parse(toml, "t.toml", "t").unwrap();
        let tree = crate::nginx::conf::parse_dump(
            "# configuration file /etc/nginx/nginx.conf:\n\
             http { upstream app_one { server 127.0.0.1:53673; } }\n",
        );
        let mut owner = Owner::new(&target, &tree, &crate::nginx::conf::servers(&tree));
        let entries = errlog::parse(ATTRIBUTION, at("2026/11/26 00:00:00"));
        sort(entries, &mut owner, cut, &target, &[])
    }

    #[test]
    fn a_line_in_the_second_of_the_verification_counts_as_before_it() {
        let s = sorted(Some(at("2026/11/26 03:16:31")));
        assert_eq!((s.before.len(), s.since.len()), (1, 1));
        assert_eq!(s.since[0].time, at("2026/11/26 03:16:33"));
        assert_eq!((s.own_probes, s.other_lines), (3, 1));
    }

    #[test]
    fn without_a_verification_every_line_of_the_backend_counts() {
        let s = sorted(None);
        assert_eq!(
            (s.before.len(), s.since.len(), s.fell_back.len()),
            (0, 2, 0)
        );
    }

    #[test]
    fn the_verified_time_is_cut_to_nginx_seconds() {
        let cut = local_second(1_764_126_991.75).unwrap();
        assert_eq!(cut.and_utc().timestamp_subsec_nanos(), 0);
    }
}
