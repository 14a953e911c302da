//! `--report FILE.md`: the incident report an engineer would otherwise write by hand — root
//! cause, timeline, evidence, actions taken and verification, all timestamped. Built only from
//! what the chain recorded, so secrets never reach it.

use std::fmt::Write;

use crate::action::Record;
use crate::chain::Diagnosis;
use crate::step::StepResult;
use crate::target::Target;

/// What a report covers: a diagnosis, and for `fix` the actions and the final verification.
pub struct Incident<'a> {
    pub command: &'a str,
    pub target: &'a Target,
    pub diagnosis: &'a Diagnosis,
    pub actions: &'a [Record],
    pub verification: Option<&'a StepResult>,
    pub verified: Option<bool>,
    /// What fixer cannot change and the operator must (DNS records, configs).
    pub manual: &'a [crate::plan::Manual],
    /// Set when the run was stopped by Ctrl-C or SIGTERM.
    pub interrupted: bool,
}

/// Pipes and newlines would break a Markdown table cell.
fn cell(s: &str) -> String {
    crate::sanitize::shown(s).replace('|', "\\|")
}

fn time(rfc3339: &str) -> &str {
    rfc3339.get(11..23).unwrap_or(rfc3339)
}

pub fn render(i: &Incident<'_>) -> String {
    let mut md = String::new();
    let d = i.diagnosis;
    let _ = writeln!(
        md,
        "# Incident report: {} on {}\n",
        cell(&i.target.name),
        crate::state::hostname()
    );
    let _ = writeln!(
        md,
        "- **When:** {}\n- **Playbook:** {} ({})\n- **Run by:** {} with `fixer {}` {}",
        d.started_at,
        cell(&i.target.name),
        cell(&i.target.source),
        crate::state::operator(),
        i.command,
        env!("CARGO_PKG_VERSION")
    );
    let root = d.root_cause();
    let none = if d.healthy() {
        "none — every check passed".to_string()
    } else {
        format!(
            "none found, but not every check ran: {}",
            cell(&d.incomplete_reason())
        )
    };
    let _ = writeln!(
        md,
        "- **Root cause:** {}",
        root.map_or(none, |f| format!("{} (`{}`)", cell(&f.cause), f.code))
    );
    let outcome = match (i.verified, d.outcome()) {
        _ if i.interrupted => {
            "interrupted (Ctrl-C or SIGTERM): see the actions below for what was done and left"
                .to_string()
        }
        (Some(true), _) if !i.manual.is_empty() => format!(
            "fixed locally and verified on this server; still to change by hand: {}",
            i.manual
                .iter()
                .map(|m| format!("{} (`{}`)", cell(&m.change), m.code))
                .collect::<Vec<_>>()
                .join("; ")
        ),
        (Some(true), _) => "fixed and verified".to_string(),
        (_, crate::chain::Outcome::Incomplete) => format!(
            "incomplete — could not run {}",
            cell(&d.incomplete_reason())
        ),
        (Some(false), _) if i.actions.is_empty() => "not fixed: no action was taken".into(),
        (Some(false), _) => "still unhealthy after the actions".into(),
        (None, crate::chain::Outcome::Healthy) => "healthy".into(),
        (None, _) => "diagnosed only (no action taken)".into(),
    };
    let _ = writeln!(md, "- **Outcome:** {outcome}\n");
    timeline(&mut md, i);
    evidence(&mut md, d);
    actions(&mut md, i.actions);
    if let Some(v) = i.verification {
        verification(&mut md, v);
    }
    md
}

fn timeline(md: &mut String, i: &Incident<'_>) {
    let _ = writeln!(md, "## Timeline\n\n| time | event |\n|---|---|");
    for s in &i.diagnosis.steps {
        let _ = writeln!(
            md,
            "| {} | {} {}: {} |",
            time(&s.started_at),
            s.verdict.as_str(),
            s.name.as_str(),
            cell(&s.summary)
        );
    }
    for a in i.actions {
        let _ = writeln!(
            md,
            "| {} | action {} ({:?} consent): {:?} |",
            time(&a.started_at),
            a.code.as_str(),
            a.consent,
            a.result
        );
    }
    if let Some(v) = i.verification {
        let _ = writeln!(
            md,
            "| {} | verification {}: {} |",
            time(&v.started_at),
            v.verdict.as_str(),
            cell(&v.summary)
        );
    }
    md.push('\n');
}

fn evidence(md: &mut String, d: &Diagnosis) {
    let _ = writeln!(md, "## Evidence\n");
    for s in &d.steps {
        let _ = writeln!(md, "### {} — {}\n", s.name.as_str(), s.verdict.as_str());
        let _ = writeln!(md, "{}\n", cell(&s.summary));
        for line in &s.evidence {
            let _ = writeln!(md, "- `{}`", crate::sanitize::shown(line).replace('`', "'"));
        }
        if let Some(f) = &s.finding {
            let _ = writeln!(
                md,
                "\n**{}**: {}",
                f.code,
                cell(f.action.as_deref().unwrap_or(""))
            );
        }
        md.push('\n');
    }
}

fn actions(md: &mut String, actions: &[Record]) {
    if actions.is_empty() {
        return;
    }
    let _ = writeln!(md, "## Actions taken\n");
    for a in actions {
        let _ = writeln!(
            md,
            "### {} — {:?} ({} ms, consent {:?}, at {})\n",
            a.code.as_str(),
            a.result,
            a.elapsed_ms,
            a.consent,
            a.started_at
        );
        for line in &a.plan {
            let _ = writeln!(md, "- plan: {}", cell(line));
        }
        for line in &a.evidence {
            let _ = writeln!(md, "- {}", cell(line));
        }
        md.push('\n');
    }
}

fn verification(md: &mut String, v: &StepResult) {
    let _ = writeln!(md, "## Verification ({})\n\n| url | via | status | expected | ms | ok |\n|---|---|---|---|---|---|", v.started_at);
    for u in v.details.urls() {
        let status = u.status.map_or_else(
            || u.error_kind.as_deref().unwrap_or("-").to_string(),
            |s| s.to_string(),
        );
        let expect: Vec<String> = u.expect.iter().map(|e| e.to_string()).collect();
        let _ = writeln!(
            md,
            "| {} | {} | {} | [{}] | {} | {} |",
            cell(&u.url),
            cell(u.via.as_deref().unwrap_or("-")),
            status,
            expect.join(","),
            u.elapsed_ms,
            if u.healthy { "yes" } else { "**no**" }
        );
    }
}
