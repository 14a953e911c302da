//! fixer: find and fix the cause of an nginx 502 on this server.

pub mod action;
pub mod aftermath;
pub mod audit;
pub mod chain;
pub mod check;
pub mod cli;
pub mod clock;
pub mod config;
pub mod consent;
pub mod discover;
pub mod exit_code;
pub mod finding;
pub mod fix;
pub mod format;
pub mod lab;
pub mod limits;
pub mod lock;
pub mod nginx;
pub mod plan;
pub mod playbook;
pub mod report;
pub mod run;
pub mod sanitize;
pub mod state;
pub mod step;
pub mod sys;
pub mod target;
pub mod text;

/// The version of every JSON document fixer writes (`--json`, the audit log). Bumped when a
/// key is renamed or removed, or its meaning changes; adding keys keeps it.
pub const SCHEMA_VERSION: u32 = 1;
