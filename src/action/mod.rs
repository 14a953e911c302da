//! Actions change the system; they never decide. Each one is first a `Plan` (no side effects:
//! what `--dry-run` prints and what the operator approves), then applied after consent.

pub mod guard;
pub mod harden;
pub mod kill_holder;
pub mod nginx;
pub mod restart;
pub mod resume_holder;
pub mod start_command;
pub mod target;

use std::time::Duration;

use serde::Serialize;

use crate::consent::{Approval, Consent};
use crate::nginx::Invocation;
use crate::sys::signal::Identity;
use crate::sys::spawn::Detached;
use crate::target::{BackendAddr, Protocol};
use target::ActionTarget;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ActionCode {
    ResumeHolder,
    KillHolder,
    RestartBackend,
    StartNginx,
    ReloadNginx,
    HardenUnit,
}

impl ActionCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ActionCode::ResumeHolder => "resume-holder",
            ActionCode::KillHolder => "kill-holder",
            ActionCode::RestartBackend => "restart-backend",
            ActionCode::StartNginx => "start-nginx",
            ActionCode::ReloadNginx => "reload-nginx",
            ActionCode::HardenUnit => "harden-unit",
        }
    }
}

/// What an action will touch, shown before consent and recorded in the audit log.
#[derive(Debug, Clone)]
pub struct Plan {
    pub code: ActionCode,
    pub question: String,
    pub lines: Vec<String>,
    pub target: ActionTarget,
    /// Touches a process that is not recognised as the backend: needs an explicit yes.
    pub foreign: bool,
    pub work: Work,
}

#[derive(Debug, Clone)]
pub enum Work {
    Resume {
        procs: Vec<Identity>,
    },
    Kill {
        procs: Vec<Identity>,
        address: BackendAddr,
        /// Other listening sockets on the address serve (SO_REUSEPORT) and are to stay: the
        /// address is then not expected to become free.
        others_serve: bool,
    },
    RestartUnit {
        unit: String,
        address: Option<BackendAddr>,
        health_path: String,
        protocol: Protocol,
    },
    RestartCommand {
        spawn: Detached,
        address: BackendAddr,
        health_path: String,
        protocol: Protocol,
    },
    StartNginx {
        inv: Option<Invocation>,
        unit: Option<String>,
        ports: Vec<u16>,
    },
    ReloadNginx {
        inv: Invocation,
        unit: Option<String>,
        ports: Vec<u16>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Done,
    Declined,
    Aborted,
    Failed,
    Planned,
    /// Stopped at a safe point by Ctrl-C or SIGTERM.
    Interrupted,
}

/// One action as it appears in `fix --json` and the report.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Record {
    pub code: ActionCode,
    pub target: ActionTarget,
    pub plan: Vec<String>,
    pub consent: Approval,
    pub result: Outcome,
    pub evidence: Vec<String>,
    pub started_at: String,
    pub elapsed_ms: u64,
    /// The processes this action signalled, for the closing summary of a fix cut short.
    #[serde(skip)]
    pub signalled: Vec<Signalled>,
}

/// A signal an action delivered, and to which exact process.
#[derive(Debug, Clone)]
pub struct Signalled {
    pub id: Identity,
    pub signal: &'static str,
}

/// What applying an action may use: timings, a way to ask again (SIGKILL after SIGTERM), and a
/// sink for progress lines so the operator sees each step as it happens.
pub struct Ctx<'a> {
    pub consent: &'a Consent,
    pub grace: Duration,
    pub timeout: Duration,
    /// How long a started or restarted backend may take to listen before the action fails.
    /// It is the operator's `--wait`: the bound they gave for the site to come back.
    pub listen_wait: Duration,
    pub say: &'a mut dyn FnMut(&str),
    /// Where core files of a holder go before it is killed (`fix --core DIR`).
    pub core: Option<&'a std::path::Path>,
    /// Backends started by this run, watched during verification (restart-loop protection).
    pub started: Vec<Started>,
}

/// A backend this run started by its command: the `sh -c` fixer spawned (its child, reaped
/// when fixer exits) and the process that then held the port, which is what is watched.
pub struct Started {
    pub child: std::process::Child,
    pub backend: Option<Identity>,
}

impl Started {
    /// Why the backend is gone, or None while it runs.
    pub fn died(&mut self) -> Option<String> {
        match &self.backend {
            Some(id) => match crate::sys::signal::Handle::open(id) {
                Ok(h) if !h.exited() => None,
                _ => Some(format!(
                    "the backend started by this run (PID {}) died",
                    id.pid
                )),
            },
            None => match self.child.try_wait() {
                Ok(Some(status)) => Some(format!(
                    "the backend started by this run (PID {}) died ({status})",
                    self.child.id()
                )),
                _ => None,
            },
        }
    }
}

/// Result of applying: outcome and the evidence gathered on the way.
pub struct Applied {
    pub outcome: Outcome,
    pub evidence: Vec<String>,
    pub signalled: Vec<Signalled>,
}

impl Applied {
    pub fn new() -> Applied {
        Applied {
            outcome: Outcome::Done,
            evidence: Vec::new(),
            signalled: Vec::new(),
        }
    }

    pub fn note(&mut self, ctx: &mut Ctx<'_>, line: impl Into<String>) {
        let line = line.into();
        (ctx.say)(&line);
        self.evidence.push(line);
    }

    pub fn end(mut self, outcome: Outcome) -> Applied {
        self.outcome = outcome;
        self
    }
}

impl Default for Applied {
    fn default() -> Self {
        Applied::new()
    }
}

pub fn interrupted() -> bool {
    crate::sys::interrupt::caught().is_some()
}

pub fn apply(plan: &Plan, ctx: &mut Ctx<'_>) -> Applied {
    match &plan.work {
        Work::Resume { procs } => resume_holder::apply(procs, ctx),
        Work::Kill {
            procs,
            address,
            others_serve,
        } => kill_holder::apply(procs, address, *others_serve, ctx),
        Work::RestartUnit {
            unit,
            address,
            health_path,
            protocol,
        } => restart::apply_unit(
            unit,
            address.as_ref(),
            &restart::Health::new(health_path, *protocol),
            ctx,
        ),
        Work::RestartCommand {
            spawn,
            address,
            health_path,
            protocol,
        } => start_command::apply(
            spawn,
            address,
            &restart::Health::new(health_path, *protocol),
            ctx,
        ),
        Work::StartNginx { inv, unit, ports } => {
            nginx::apply_start(inv.as_ref(), unit.as_deref(), ports, ctx)
        }
        Work::ReloadNginx { inv, unit, ports } => {
            nginx::apply_reload(inv, unit.as_deref(), ports, ctx)
        }
    }
}

/// Polls `done` until it holds or `within` passes; every wait in an action is bounded, and
/// ends early when fixer is interrupted (the caller then reports what it left).
pub fn poll_until(within: Duration, done: impl FnMut() -> bool) -> bool {
    crate::pace::until(Duration::from_millis(50), within, interrupted, done)
}
