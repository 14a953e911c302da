//! `fixer watch`'s command-line definition (clap only), kept beside the command so the main
//! `cli` module needs one line for it.

use std::path::PathBuf;

use clap::{ArgGroup, Args};

use crate::cli::TargetArgs;

#[derive(Debug, Clone, Args)]
#[command(group = ArgGroup::new("service").args(["install", "uninstall"]))]
pub struct WatchArgs {
    /// Playbook name or path (same as -p).
    #[arg(value_name = "PLAYBOOK", conflicts_with = "playbook")]
    pub name: Option<String>,

    #[command(flatten)]
    pub target: TargetArgs,

    /// Time between rounds (90s, 1m, 1h); with --install, how often the timer runs a round.
    #[arg(long, value_name = "DURATION", default_value = "1m")]
    pub interval: String,

    /// Run one round and exit with verify's code (0 healthy, 1 not, 3 could not check): for
    /// cron and the systemd timer. The state between rounds is kept in the state directory.
    #[arg(long)]
    pub once: bool,

    /// Stop after this many rounds (without it: until Ctrl-C or SIGTERM).
    #[arg(long, value_name = "N", conflicts_with = "once")]
    pub rounds: Option<u32>,

    /// Repair unattended what the playbook's [watch] auto_fix allows (never a process that is
    /// not the backend), at most [watch] max_fixes times per window; then stop fixing and alert.
    #[arg(long)]
    pub fix: bool,

    /// Where to send a change of state (repeatable): [webhook=|slack=|dingtalk=]SOURCE, where
    /// SOURCE is env:NAME, file:PATH or the URL itself. Tokens belong in env or a file.
    #[arg(long, value_name = "[KIND=]SOURCE")]
    pub notify: Vec<String>,

    /// DingTalk signing secret (the robot's "sign" security setting), as env:NAME or file:PATH.
    #[arg(long, value_name = "env:NAME|file:PATH")]
    pub dingtalk_secret: Option<String>,

    /// DingTalk keyword (the robot's "custom keywords" security setting): put at the start of every DingTalk message.
    #[arg(long, value_name = "WORD")]
    pub dingtalk_keyword: Option<String>,

    /// Audit log file (default /var/log/fixer/audit.jsonl as root, else
    /// $XDG_STATE_HOME/fixer/audit.jsonl).
    #[arg(long, value_name = "PATH")]
    pub audit_log: Option<PathBuf>,

    /// Write fixer-watch@.service and fixer-watch@.timer for the playbook, then `systemctl
    /// daemon-reload` and `enable --now` its timer, after asking. Without systemd: print a
    /// crontab line instead.
    #[arg(long, conflicts_with_all = ["once", "rounds", "uninstall"])]
    pub install: bool,

    /// Stop and remove the playbook's timer (and the unit templates once no timer is left).
    #[arg(long, conflicts_with_all = ["once", "rounds", "fix"])]
    pub uninstall: bool,

    /// Answer yes to the --install/--uninstall prompt.
    #[arg(short, long, env = "FIXER_YES", value_parser = clap::builder::BoolishValueParser::new())]
    pub yes: bool,

    /// Show what --install/--uninstall would write and run; change nothing.
    #[arg(long, requires = "service")]
    pub dry_run: bool,
}
