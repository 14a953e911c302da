//! fixer: find and fix the cause of an nginx 502 on this server.
//!
//! The library exists for the binary and the integration tests: only what those use is `pub`,
//! everything else is crate-private so the compiler reports what nothing uses.

pub(crate) mod action;
pub(crate) mod aftermath;
pub(crate) mod audit;
pub(crate) mod chain;
pub mod check;
pub mod cli;
pub(crate) mod clock;
pub(crate) mod config;
pub(crate) mod consent;
pub(crate) mod discover;
pub(crate) mod exit_code;
pub(crate) mod finding;
pub(crate) mod fix;
pub(crate) mod format;
pub(crate) mod harden;
#[cfg(test)]
pub(crate) mod hostile;
pub mod lab;
pub mod limits;
pub(crate) mod lock;
pub(crate) mod nginx;
pub(crate) mod notify;
pub(crate) mod pace;
pub(crate) mod plan;
pub mod playbook;
pub mod report;
pub mod run;
pub(crate) mod sanitize;
pub(crate) mod state;
pub mod step;
pub mod sys;
pub mod target;
pub(crate) mod text;
pub(crate) mod users;
pub(crate) mod watch;

/// The version of every JSON document fixer writes (`--json`, the audit log). Bumped when a
/// key is renamed or removed, or its meaning changes; adding keys keeps it.
pub const SCHEMA_VERSION: u32 = 1;
