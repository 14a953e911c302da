//! fixer: find and fix the cause of an nginx 502 on this server.

pub mod check;
pub mod cli;
pub mod clock;
pub mod exit_code;
pub mod finding;
pub mod lab;
pub mod playbook;
pub mod sanitize;
pub mod step;
pub mod sys;
pub mod target;
