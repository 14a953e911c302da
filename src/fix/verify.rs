//! Verification after the actions: the verify URLs polled until they pass, the wait ends, a
//! backend this run started dies, or fixer is interrupted.

use std::time::Duration;

use super::FixReport;
use crate::action;
use crate::check::recurl::{self, Route};
use crate::pace::Pace;
use crate::step::StepResult;
use crate::target::Target;

/// Re-runs the verification URLs until all pass or `wait` ends. Returns the last result, whether
/// healthy, and — if a backend started by this run died meanwhile — why, so fixer stops instead
/// of restarting it again and again.
pub(super) fn verify_poll(
    target: &Target,
    wait: Duration,
    started: &mut [action::Started],
    out: &mut dyn FixReport,
) -> (StepResult, bool, Option<String>) {
    let mut pace = Pace::every(Duration::from_millis(500), wait);
    out.verifying(wait);
    let mut attempts = 0;
    loop {
        attempts += 1;
        let step = recurl::run(target);
        let healthy = step.verdict != crate::step::Verdict::Fail && step.error.is_none();
        if healthy {
            out.verifying_done();
            return (step, true, None);
        }
        if let Some(why) = died(started) {
            out.verifying_done();
            return (step, false, Some(why));
        }
        if pace.passed() || action::interrupted() {
            out.verifying_done();
            return (step, false, None);
        }
        out.verify_attempt(attempts, &step, backend_ok_nginx_not(&step));
        // The last look comes at the deadline; the check above then ends the loop.
        pace.wait();
    }
}

fn died(started: &mut [action::Started]) -> Option<String> {
    started.iter_mut().find_map(|s| {
        let why = s.died()?;
        let mut why = why.replacen("the backend", "The backend", 1);
        why.push_str(" again; not restarting it again — read its log.");
        Some(why)
    })
}

/// The backend answers directly but nginx still fails: nginx's fail_timeout, most likely.
fn backend_ok_nginx_not(step: &StepResult) -> bool {
    let urls = step.details.urls();
    urls.iter().any(|u| u.route == Route::Backend && u.healthy)
        && urls.iter().any(|u| u.route == Route::Nginx && !u.healthy)
}
