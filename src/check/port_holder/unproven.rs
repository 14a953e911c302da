//! Findings for readings that do not prove a holder stuck: slower than fixer's timeout (stuck
//! only if nginx gives up too), a direct probe with no reading that counts, and a holder
//! finding contradicted by a site that works through nginx.

use crate::finding::{Finding, FindingCode};
use crate::sanitize::clean;
use crate::step::{StepResult, Verdict};

type Rec = crate::step::Recorder<crate::step::details::PortHolderDetails>;
use crate::format::secs;
use crate::target::{BackendSpec, Target};

use super::describe::pid_list;
use super::nginx_wait::{self, ReadTimeout};
use super::{Context, HolderView};
use crate::sys::http::{Failure, FailureKind, Response};

/// Took the request, no answer within fixer's timeout. Stuck only if nginx gives up too, and
/// not when the holder accepted fixer's connections: then nginx's giving up shows it slower
/// than nginx waits, not stuck, and a restart would not make it faster.
pub(super) fn slow(
    rec: Rec,
    target: &Target,
    backend: &BackendSpec,
    v: &HolderView,
    reading: &Direct<'_>,
    ctx: &Context<'_>,
    accepts: bool,
) -> StepResult {
    let mut rec = rec;
    let timeout = ctx
        .nginx
        .and_then(|n| nginx_wait::read_timeout(n, &backend.address));
    let mut gave_up = nginx_wait::gave_up(
        ctx.error_log,
        ctx.recurl,
        &backend.address,
        &v.all,
        timeout.as_ref().map(|t| t.wait),
    );
    if let Some(t) = timeout.as_ref().filter(|t| target.timeout >= t.wait) {
        gave_up.push(format!(
            "fixer waited {}, at least as long as nginx does ({}, {}), and got no answer",
            secs(target.timeout),
            secs(t.wait),
            t.source
        ));
    }
    let who = format!(
        "PID {} ({}) holds {}",
        v.main.pid,
        v.main.cmdline_str(),
        backend.address
    );
    if !gave_up.is_empty() && accepts {
        for g in &gave_up {
            rec.see(g.clone());
        }
        let finding = Finding::new(
            FindingCode::HolderSlow,
            format!("{who}, accepts connections and took fixer's request, but answers slower than nginx waits: nginx gives up on it ({}), so users get 504; it accepts, so it is slow, not shown stuck", gave_up[0]),
        )
        .with_action("fixer does not kill or restart a holder that accepts; find out why it is slow (its own log, load), or raise proxy_read_timeout");
        return rec.warn(finding.cause.clone(), Some(finding));
    }
    if !gave_up.is_empty() {
        for g in &gave_up {
            rec.see(g.clone());
        }
        let restart = match v.main.restartable_unit() {
            Some(u) => format!("restart its systemd unit {u}"),
            None => format!(
                "kill the holder (PID {}) and start the backend again",
                pid_list(&v.all)
            ),
        };
        return rec.fail(
            Finding::new(
                FindingCode::HolderStuck,
                format!("{who} and accepts connections but does not answer in time: nginx itself gives up on it ({})", gave_up[0]),
            )
            .with_action(restart),
        );
    }
    let waited = match reading {
        Direct::NoAnswer(f) => f.elapsed_ms,
        _ => target.timeout.as_millis() as u64,
    };
    let nginx_waits = match &timeout {
        Some(ReadTimeout { wait, source }) => {
            format!("nginx waits {} for it here ({source})", secs(*wait))
        }
        None => format!(
            "nginx's own wait for it is not known here ({} unless the config says otherwise)",
            secs(nginx_wait::DEFAULT_READ_TIMEOUT)
        ),
    };
    let finding = Finding::new(
        FindingCode::HolderSlow,
        format!(
            "{who} and took fixer's request, but answers slower than {} (no answer after {waited} ms); {nginx_waits}, so users get slow pages, not 502/504",
            secs(target.timeout)
        ),
    )
    .with_action("not stuck: fixer does not kill or restart it; find out why it is slow (its own log, load), or raise --timeout to see its answer");
    rec.warn(finding.cause.clone(), Some(finding))
}

/// The direct probe made no reading that counts, and nothing else shows the holder stuck.
pub(super) fn unconfirmed(
    rec: Rec,
    backend: &BackendSpec,
    v: &HolderView,
    reading: &Direct<'_>,
) -> StepResult {
    let who = format!(
        "PID {} ({}) holds {}",
        v.main.pid,
        v.main.cmdline_str(),
        backend.address
    );
    match reading {
        Direct::NotSent(f) => {
            let err = anyhow::anyhow!(
                "the direct probe of {} could not be made ({}); this says nothing about {who}",
                backend.address,
                clean(&f.message)
            );
            rec.could_not_run(&err)
        }
        Direct::Unreadable(f) => {
            let finding = Finding::new(
                FindingCode::HolderUnconfirmed,
                format!(
                    "{who}; the direct probe got no HTTP answer ({}), which is not evidence that it is stuck (it may speak another protocol, e.g. TLS or FastCGI), and nothing else shows it is stuck",
                    clean(&f.message)
                ),
            )
            .with_action("no action: judge it by the probes through nginx");
            rec.warn(finding.cause.clone(), Some(finding))
        }
        _ => rec.skip("no reading of the holder"),
    }
}

/// When every probe through nginx that defines health passes, a finding against the holder
/// is a disagreement, not a cause: it becomes a warning with both readings.
pub(super) fn reconcile(result: StepResult, ctx: &Context<'_>) -> StepResult {
    if result.verdict != Verdict::Fail
        || crate::check::recurl::nginx_probes_pass(ctx.recurl) != Some(true)
    {
        return result;
    }
    let Some(f) = result.finding.clone() else {
        return result;
    };
    let passed = nginx_wait::urls(ctx.recurl)
        .iter()
        .filter(|u| u.route == crate::check::recurl::Route::Nginx)
        .count();
    let finding = Finding::new(
        FindingCode::ProbesDisagree,
        format!(
            "every probe through nginx passes ({passed} URL(s)), but the holder check read: {} [{}]",
            f.cause, f.code
        ),
    )
    .with_action("no kill or restart while the site works through nginx; look at the direct reading by hand");
    StepResult {
        verdict: Verdict::Warn,
        summary: finding.cause.clone(),
        finding: Some(finding),
        ..result
    }
}

/// What the direct request showed.
pub(super) enum Direct<'a> {
    Answered,
    /// Connected and sent; no answer within fixer's timeout.
    NoAnswer(&'a Failure),
    /// fixer could not make the request: says nothing about the holder.
    NotSent(&'a Failure),
    /// Refused, TLS, not HTTP, closed: no reading of the holder's health.
    Unreadable(&'a Failure),
}

pub(super) fn reading(probe: &Result<Response, Failure>) -> Direct<'_> {
    match probe {
        Ok(_) => Direct::Answered,
        Err(f) if f.kind.is_no_answer() => Direct::NoAnswer(f),
        Err(f) if f.kind == FailureKind::Local => Direct::NotSent(f),
        Err(f) => Direct::Unreadable(f),
    }
}
