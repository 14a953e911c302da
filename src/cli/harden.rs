//! `fixer harden`'s command-line definition (clap only), kept beside the command so the
//! main `cli` module needs one line for it.

use std::path::PathBuf;

use clap::Args;

use crate::cli::TargetArgs;

#[derive(Debug, Clone, Args)]
pub struct HardenArgs {
    /// Playbook name or path (same as -p).
    #[arg(value_name = "PLAYBOOK", conflicts_with = "playbook")]
    pub name: Option<String>,

    #[command(flatten)]
    pub target: TargetArgs,

    /// Write the systemd drop-in (or the new unit file), `systemctl daemon-reload` and enable
    /// the unit, after asking. nginx's config and logrotate rules are shown, never written.
    #[arg(long)]
    pub apply: bool,

    /// Answer yes to the --apply prompt.
    #[arg(short, long, env = "FIXER_YES")]
    pub yes: bool,

    /// Show what --apply would do; change nothing.
    #[arg(long, conflicts_with = "yes")]
    pub dry_run: bool,

    /// Audit log file (default /var/log/fixer/audit.jsonl as root, else
    /// $XDG_STATE_HOME/fixer/audit.jsonl).
    #[arg(long, value_name = "PATH")]
    pub audit_log: Option<PathBuf>,
}
