//! `fixer verify --format prometheus` and `--textfile`: the Prometheus text exposition format
//! that node_exporter's textfile collector reads, so an outside monitor alerts on the same
//! verdict cron acts on.
//!
//! Every series carries the playbook's name (with none, the discovered site's name): several
//! playbooks' files in one collector directory must never produce the same series twice, or
//! node_exporter drops the metric. For the same reason a URL's series also carry `via` and
//! `expect`, and a check that still repeats all of them gets `n="2"`, `n="3"`….

use std::fmt::Write;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::step::details::UrlResult;

/// One site's verification, as the metrics need it.
pub(crate) struct Site<'a> {
    pub name: &'a str,
    pub healthy: bool,
    pub exit_code: i32,
    pub urls: &'a [UrlResult],
}

/// One metric family: name, help text, and its samples (labels, value).
struct Family {
    name: &'static str,
    help: &'static str,
    samples: Vec<(Vec<(&'static str, String)>, String)>,
}

pub(crate) fn render(sites: &[Site<'_>], at: SystemTime) -> String {
    let at = at.duration_since(UNIX_EPOCH).unwrap_or_default();
    let at = format!("{}.{:03}", at.as_secs(), at.subsec_millis());
    let mut healthy = family(
        "fixer_healthy",
        "1 when verify found the site healthy (every URL as expected, certificate and login accepted), else 0.",
    );
    let mut exit = family(
        "fixer_exit_code",
        "Exit code of fixer verify: 0 healthy, 1 a problem, 3 a check could not run.",
    );
    let mut ok = family(
        "fixer_check_ok",
        "1 when this URL answered with an expected status, else 0.",
    );
    let mut duration = family(
        "fixer_check_duration_seconds",
        "How long this URL took to answer (or to fail).",
    );
    let mut last = family(
        "fixer_last_run_timestamp_seconds",
        "When fixer verify ran, in seconds since the epoch; alert when it gets old.",
    );
    for site in sites {
        let playbook = vec![("playbook", site.name.to_string())];
        healthy.push(playbook.clone(), u8::from(site.healthy).to_string());
        exit.push(playbook.clone(), site.exit_code.to_string());
        last.push(playbook, at.clone());
        for (labels, url) in url_labels(site) {
            ok.push(labels.clone(), u8::from(url.healthy).to_string());
            duration.push(labels, seconds(url.elapsed_ms));
        }
    }
    let mut out = String::new();
    for f in [healthy, exit, ok, duration, last] {
        f.write(&mut out);
    }
    out
}

/// Metrics already rendered, on stdout.
pub(crate) fn print(text: &str) {
    out!("{text}");
}

fn family(name: &'static str, help: &'static str) -> Family {
    Family {
        name,
        help,
        samples: Vec::new(),
    }
}

impl Family {
    fn push(&mut self, labels: Vec<(&'static str, String)>, value: String) {
        self.samples.push((labels, value));
    }

    fn write(&self, out: &mut String) {
        let _ = writeln!(out, "# HELP {} {}", self.name, escape_help(self.help));
        let _ = writeln!(out, "# TYPE {} gauge", self.name);
        for (labels, value) in &self.samples {
            let labels: Vec<String> = labels
                .iter()
                .map(|(k, v)| format!("{k}=\"{}\"", escape_label(v)))
                .collect();
            let _ = writeln!(out, "{}{{{}}} {value}", self.name, labels.join(","));
        }
    }
}

/// Each URL's labels, made unique within the site.
fn url_labels<'a>(site: &Site<'a>) -> Vec<(Vec<(&'static str, String)>, &'a UrlResult)> {
    let mut seen: Vec<Vec<(&'static str, String)>> = Vec::new();
    let mut out = Vec::new();
    for url in site.urls {
        let expect: Vec<String> = url.expect.iter().map(u16::to_string).collect();
        let mut labels = vec![
            ("playbook", site.name.to_string()),
            ("url", url.url.clone()),
            ("via", url.via.clone().unwrap_or_default()),
            ("expect", expect.join(",")),
        ];
        let repeats = seen.iter().filter(|s| **s == labels).count();
        seen.push(labels.clone());
        if repeats > 0 {
            labels.push(("n", (repeats + 1).to_string()));
        }
        out.push((labels, url));
    }
    out
}

fn seconds(ms: u64) -> String {
    format!("{:.3}", ms as f64 / 1000.0)
}

/// Label values escape backslash, double quote and line feed (the exposition format's rules).
fn escape_label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// HELP text escapes backslash and line feed only.
fn escape_help(text: &str) -> String {
    text.replace('\\', "\\\\").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(
            escape_label("a\\b\"c\nd"),
            "a\\\\b\\\"c\\nd",
            "backslash, quote and newline"
        );
        assert_eq!(escape_help("x\\y\nz\""), "x\\\\y\\nz\"");
    }

    #[test]
    fn seconds_have_millisecond_precision() {
        assert_eq!(seconds(3), "0.003");
        assert_eq!(seconds(2032), "2.032");
    }
}
