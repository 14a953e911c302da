//! Command-line definitions only; `config` turns them into a resolved target.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

mod harden;
mod watch;

pub use harden::HardenArgs;
pub use watch::WatchArgs;

#[derive(Debug, Parser)]
#[command(
    name = "fixer",
    version,
    about = "Find and fix the cause of an nginx 502 Bad Gateway on this server",
    long_about = "Find and fix the cause of an nginx 502 Bad Gateway on this server.\n\n\
        `fixer diagnose` walks DNS → nginx → upstream → backend port → port holder → HTTP and \
        says what is wrong, with evidence. It never changes anything."
)]
pub struct Cli {
    /// When to use colour: auto (a terminal without NO_COLOR), always, never.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, global = true)]
    pub color: ColorChoice,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

// Parsed once per run; boxing the big variant would only add noise.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Walk the chain read-only and name the root cause of the 502.
    Diagnose(DiagnoseArgs),
    /// Walk the chain and, where a step fails, show the fix and apply it after asking.
    Fix(FixArgs),
    /// Only the checks that prove health (the playbook's URLs); exit 0 healthy, 1 not.
    Verify(VerifyArgs),
    /// Write a playbook for one server block found in nginx's config (printed, or --write).
    Init(InitArgs),
    /// What would keep the next outage short (Restart=always, timeouts, log rotation), with the
    /// exact text to apply; --apply writes the systemd part after asking.
    Harden(HardenArgs),
    /// Verify on an interval (or --once, for cron), notify on a change of state, and with --fix
    /// repair what the playbook allows; --install puts it under a systemd timer.
    Watch(WatchArgs),
    /// Show the latest entries of the audit log.
    Log(LogArgs),
    /// List the playbooks fixer can see and where each comes from.
    Playbooks,
    /// A disposable nginx + backend on loopback with one injected fault, to rehearse on.
    Lab {
        #[command(subcommand)]
        command: LabCommand,
    },
    /// Print the shell completion script for bash, zsh, fish, elvish or powershell.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff); --dir writes one page per subcommand instead.
    Man(ManArgs),
}

#[derive(Debug, Clone, Args)]
pub struct ManArgs {
    /// Write fixer.1 and one page per subcommand (fixer-diagnose.1, …) into DIR.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// What to check: a playbook, and flags that override it or stand in for it.
#[derive(Debug, Clone, Args, Default)]
pub struct TargetArgs {
    /// Playbook name (from ./playbooks, the config dirs or built in) or a path to a .toml file.
    /// With no playbook, no flag naming a site and no default playbook: every server block of
    /// this host's nginx and the backends they proxy to.
    #[arg(short, long, value_name = "NAME|PATH")]
    pub playbook: Option<String>,

    /// Domain that should point at this host (repeatable).
    #[arg(long = "domain", value_name = "DOMAIN")]
    pub domains: Vec<String>,

    /// The IP the domains should resolve to (repeatable); default: this host's addresses.
    #[arg(long = "expected-ip", value_name = "IP")]
    pub expected_ips: Vec<String>,

    /// Also ask this DNS server (IP or IP:port) what the domains resolve to: what users see,
    /// where this host's resolver may answer from /etc/hosts.
    #[arg(long, value_name = "IP[:PORT]")]
    pub dns_server: Option<String>,

    /// Backend address nginx should reach: host:port or unix:/path.
    #[arg(long, value_name = "ADDR")]
    pub backend: Option<String>,

    /// Port nginx should listen on (repeatable).
    #[arg(long = "nginx-port", value_name = "PORT", value_parser = clap::value_parser!(u16).range(1..))]
    pub nginx_ports: Vec<u16>,

    /// URL that proves health (repeatable); replaces the playbook's [[verify]] list.
    #[arg(long = "health", value_name = "URL")]
    pub health: Vec<String>,

    /// Healthy HTTP status for the --health URLs (repeatable); default: any below 500.
    #[arg(long = "expect", value_name = "STATUS", value_parser = clap::value_parser!(u16).range(100..=599))]
    pub expect: Vec<u16>,

    /// Regex on the backend's full command line (never just the process name).
    #[arg(long = "match", value_name = "REGEX")]
    pub match_: Option<String>,

    /// Command that starts the backend (used by `fix`).
    #[arg(long, value_name = "CMD")]
    pub restart_cmd: Option<String>,

    /// systemd unit of the backend (used by `fix`).
    #[arg(long, value_name = "UNIT")]
    pub restart_unit: Option<String>,

    /// Timeout of each network probe, in seconds.
    #[arg(long, value_name = "SECS")]
    pub timeout: Option<f64>,

    /// Send nothing to addresses outside this host: a domain that resolves elsewhere is
    /// reported without asking what answers there.
    #[arg(long, visible_alias = "no-remote")]
    pub offline: bool,

    /// Print one JSON document instead of the human report.
    #[arg(long)]
    pub json: bool,

    /// Also write a Markdown incident report (timeline, evidence, actions, verification).
    #[arg(long, value_name = "FILE.md")]
    pub report: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct DiagnoseArgs {
    #[command(flatten)]
    pub target: TargetArgs,

    /// Run `nginx -T` even when the config it printed on an earlier run (at most 5 minutes
    /// ago) still holds: every file it read, the certificates and the binary unchanged.
    #[arg(long)]
    pub fresh: bool,
}

#[derive(Debug, Clone, Args)]
pub struct FixArgs {
    /// Playbook name or path (same as -p).
    #[arg(value_name = "PLAYBOOK", conflicts_with = "playbook")]
    pub name: Option<String>,

    #[command(flatten)]
    pub target: TargetArgs,

    /// Answer yes to every prompt (cron, automation). A foreign process still needs
    /// --force-foreign.
    #[arg(short, long, env = "FIXER_YES", value_parser = clap::builder::BoolishValueParser::new())]
    pub yes: bool,

    // Wins over --yes, so a FIXER_YES in the environment does not make --dry-run an error.
    /// Show every action it would take; change nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// Let --yes also kill a port holder that does not match the backend's pattern.
    #[arg(long)]
    pub force_foreign: bool,

    /// Seconds to keep re-checking after the actions until healthy (nginx may answer 502 for
    /// its fail_timeout, 10 s by default, after the backend is back).
    #[arg(long, value_name = "SECS", default_value_t = 30.0)]
    pub wait: f64,

    /// Seconds between SIGTERM and the offer to SIGKILL.
    #[arg(long, value_name = "SECS", default_value_t = 10.0)]
    pub grace: f64,

    /// Before killing a stuck holder, also write a core file of each of its processes into DIR
    /// (with gdb's `gcore`), to find out later why it hung.
    #[arg(long, value_name = "DIR")]
    pub core: Option<PathBuf>,

    /// Audit log file (default /var/log/fixer/audit.jsonl as root, else
    /// $XDG_STATE_HOME/fixer/audit.jsonl).
    #[arg(long, value_name = "PATH")]
    pub audit_log: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct VerifyArgs {
    /// Playbook name or path (same as -p).
    #[arg(value_name = "PLAYBOOK", conflicts_with = "playbook")]
    pub name: Option<String>,

    #[command(flatten)]
    pub target: TargetArgs,

    /// Keep re-checking up to this many seconds until healthy (0: check once).
    #[arg(long, value_name = "SECS", default_value_t = 0.0)]
    pub wait: f64,

    /// What to print: human, json (same as --json), or prometheus (node_exporter's textfile
    /// format).
    #[arg(long, value_enum, value_name = "FORMAT", default_value_t = VerifyFormat::Human, conflicts_with = "json")]
    pub format: VerifyFormat,

    /// Also write the metrics in node_exporter's textfile format to PATH, atomically (a temp
    /// file in the same directory, then renamed over PATH).
    #[arg(long, value_name = "PATH")]
    pub textfile: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum VerifyFormat {
    Human,
    Json,
    Prometheus,
}

#[derive(Debug, Clone, Args)]
pub struct InitArgs {
    /// The server block, by its server_name.
    #[arg(long, value_name = "NAME")]
    pub server: Option<String>,

    /// The backend the server block proxies to (host:port or unix:/path).
    #[arg(long, value_name = "ADDR")]
    pub backend: Option<String>,

    /// Write the playbook to this file instead of printing it.
    #[arg(long, value_name = "PATH")]
    pub write: Option<PathBuf>,

    /// Timeout of `nginx -T` and name lookups, in seconds.
    #[arg(long, value_name = "SECS")]
    pub timeout: Option<f64>,
}

#[derive(Debug, Clone, Args)]
pub struct LogArgs {
    /// How many entries to show.
    #[arg(short = 'n', long, default_value_t = 20)]
    pub lines: usize,

    /// Audit log file to read (default /var/log/fixer/audit.jsonl as root, else
    /// $XDG_STATE_HOME/fixer/audit.jsonl).
    #[arg(long, value_name = "PATH")]
    pub audit_log: Option<PathBuf>,

    /// Print the entries as JSON lines.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum LabCommand {
    /// Start a lab with one fault and leave it running; prints the playbook to use.
    Up {
        /// The fault to inject (see `fixer lab list`).
        #[arg(long, default_value = "none")]
        fault: String,
        /// Directory that holds the lab (nginx prefix, logs, playbook, state).
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// Stop the lab's processes and remove its directory.
    Down {
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// List the faults a lab can inject.
    List,
}
