//! `dns`: do the playbook's domains point at this host?

use crate::step::StepResult;
use crate::target::Target;

pub fn run(_target: &Target) -> StepResult {
    todo!()
}
