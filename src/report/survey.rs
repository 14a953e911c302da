//! The zero-config report: which nginx configs were read, one table row per location of every
//! server block with the backend it reaches and that backend's verdict (broken first), and,
//! for each broken backend, its root cause with the evidence that shows it.

use super::document::{
    SurveyBackend, SurveyDoc, SurveyNginx, SurveyRow, SurveyUnread, SCHEMA_VERSION,
};
use comfy_table::{presets, ContentArrangement};
use console::Style as Paint;

use super::Style;
use crate::discover::survey::{Checked, Survey};
use crate::discover::verdict::RowVerdict;
use crate::sanitize::clean;
use crate::step::Verdict;

/// Evidence lines shown per broken backend; the rest are in `--json`.
const EVIDENCE_SHOWN: usize = 8;

pub fn human(style: Style, command: &str, survey: &Survey) {
    let paint = |p: Paint| p.force_styling(style.color);
    outln!(
        "{} — no playbook: every server block of the nginx found on this host — {}",
        paint(Paint::new().bold()).apply_to(format!("fixer {command}")),
        crate::clock::now_rfc3339()
    );
    outln!();
    if survey.no_nginx() {
        outln!(
            "No nginx on this host: no master process runs and there is no /etc/nginx/nginx.conf."
        );
        return;
    }
    for s in &survey.sources {
        outln!("nginx: {}", clean(&s.describe()));
    }
    for (s, why) in &survey.unread {
        outln!(
            "{} {}: config not read: {}",
            paint(Paint::new().yellow()).apply_to("!"),
            clean(s),
            clean(why)
        );
    }
    outln!();
    let mut table = super::table();
    table
        .load_style(presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(["server", "port", "location", "backend", "verdict"]);
    for (row, verdict) in survey.sorted_rows() {
        let ports: Vec<String> = row.ports.iter().map(u16::to_string).collect();
        table.add_row([
            clean(&row.server),
            ports.join(", "),
            clean(&row.location),
            clean(&row.backend),
            verdict.text(),
        ]);
    }
    outln!("{table}");
    for b in survey.broken() {
        broken_backend(style, b);
    }
    outln!();
    outln!("{}", closing(survey));
}

fn broken_backend(style: Style, b: &Checked) {
    let Some(f) = b.root_cause() else { return };
    let red = Paint::new().red().bold().force_styling(style.color);
    outln!();
    outln!(
        "{} {}: {} [{}]",
        red.apply_to("✗"),
        clean(&b.target.name),
        clean(&f.cause),
        f.code.as_str()
    );
    if let Some(step) = b.steps.iter().find(|s| s.verdict == Verdict::Fail) {
        for line in step.evidence.iter().take(EVIDENCE_SHOWN) {
            outln!("    {}", clean(line));
        }
    }
    if let Some(a) = &f.action {
        outln!("    → {}", clean(a));
    }
}

fn closing(survey: &Survey) -> String {
    let total = survey.backends.len();
    let broken = survey.broken().len();
    let servers = survey.rows.len();
    match broken {
        0 => format!(
            "{total} backend{} behind {servers} location{} checked: none broken ({} ms).",
            plural(total),
            plural(servers),
            survey.elapsed_ms
        ),
        n => format!(
            "{n} of {total} backend{} broken ({} ms). `fixer fix` repairs them after asking; `fixer init --backend ADDR` writes a playbook for one.",
            plural(total),
            survey.elapsed_ms
        ),
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

pub fn json(command: &str, survey: &Survey) -> SurveyDoc {
    let rows = survey
        .sorted_rows()
        .into_iter()
        .map(|(row, verdict)| SurveyRow {
            row: row.clone(),
            verdict: verdict.text(),
            broken: matches!(verdict, RowVerdict::Broken(_)),
        })
        .collect();
    let backends = survey
        .backends
        .iter()
        .map(|b| {
            let root = b.root_cause();
            SurveyBackend {
                name: b.target.name.clone(),
                address: b.target.backend.as_ref().map(|x| x.address.to_string()),
                nginx_ports: b.target.nginx.ports.clone(),
                healthy: !b.broken() && b.could_not_run().is_none(),
                root_cause: root.map(|f| f.cause.clone()),
                root_cause_code: root.map(|f| f.code),
                steps: b.steps.clone(),
            }
        })
        .collect();
    SurveyDoc {
        schema_version: SCHEMA_VERSION,
        fixer_version: env!("CARGO_PKG_VERSION").to_string(),
        command: command.to_string(),
        playbook: None,
        discovered: true,
        nginx: survey
            .sources
            .iter()
            .map(|s| SurveyNginx {
                master_pid: s.master.as_ref().map(|m| m.info.pid),
                config: s.config_path.display().to_string(),
            })
            .collect(),
        unread: survey
            .unread
            .iter()
            .map(|(s, why)| SurveyUnread {
                nginx: s.clone(),
                error: why.clone(),
            })
            .collect(),
        elapsed_ms: survey.elapsed_ms,
        healthy: survey.exit_code() == crate::exit_code::ExitCode::Healthy,
        exit_code: survey.exit_code().code(),
        rows,
        backends,
        fixes: None,
    }
}

/// `fixer init` could not tell which backend is meant: the choices, and how to pick one.
pub fn choices(choices: &[crate::discover::init::Choice], none_found: bool) {
    if none_found {
        eprintln!("fixer: no server block in nginx's config proxies to a backend fixer can check");
        return;
    }
    eprintln!("fixer: choose one backend with --backend ADDR or --server NAME:");
    for c in choices {
        eprintln!(
            "  --backend {}   (server {})",
            clean(&c.backend),
            clean(&c.servers.join(", "))
        );
    }
}

pub fn playbook_text(text: &str) {
    out!("{text}");
}

pub fn written(path: &std::path::Path, server: &str) {
    outln!(
        "wrote {} (server {}); next: fixer diagnose -p {}",
        path.display(),
        clean(server),
        path.display()
    );
}

/// A broken backend the discovery run does not act on, and what to do instead.
pub fn not_fixed(name: &str, how: &str) {
    outln!();
    outln!(
        "{}: not fixed from a discovery run — nginx reaches it with `{}`, which fixer does not probe over plain HTTP; `fixer init` writes a playbook for it",
        clean(name),
        clean(how)
    );
}
