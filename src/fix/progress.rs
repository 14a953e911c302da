//! How the fix loop tells the operator what it does, beside the chain's [`Progress`]: the
//! loop calls these and never prints; `report::fix` implements them.

use std::time::Duration;

use crate::action::Plan;
use crate::chain::{Diagnosis, Progress};
use crate::plan::Manual;
use crate::step::StepResult;

/// The fix loop reports through this, so the loop itself never prints.
pub trait FixReport {
    /// A diagnosis round begins (round 0 is the first; later ones re-check after actions).
    fn round(&mut self, round: usize);
    /// Where the chain reports its steps; a plain getter.
    fn progress(&mut self) -> &mut dyn Progress;
    fn diagnosis_done(&mut self, d: &Diagnosis);
    fn message(&mut self, msg: &str);
    fn plan(&mut self, p: &Plan);
    fn action_line(&mut self, line: &str);
    fn verifying(&mut self, wait: Duration);
    fn verify_attempt(&mut self, attempt: usize, step: &StepResult, nginx_lagging: bool);
    fn verifying_done(&mut self);
    fn verified(&mut self, step: &StepResult, healthy: bool);
    /// Verified on this server while a failure fixer cannot change (DNS) remains.
    fn verified_locally(&mut self, step: &StepResult);
    /// The failures fixer does not change, with what the operator should change; said last.
    fn manual(&mut self, items: &[Manual]);
}
