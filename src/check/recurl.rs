//! `recurl`: the HTTP requests that prove health, straight to the backend and through nginx.

use crate::step::StepResult;
use crate::target::Target;

pub fn run(_target: &Target) -> StepResult {
    todo!()
}
