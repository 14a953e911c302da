//! nginx as fixer sees it: how the running master was started, and its effective config.

pub mod conf;
pub mod dumps;
pub mod errlog;
pub mod master;
pub mod memory;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use anyhow::Context;

use crate::sys::command;
use crate::target::NginxSpec;

/// How to call the nginx binary so it reads the same config as the running (or intended) master.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    pub binary: PathBuf,
    pub prefix: Option<PathBuf>,
    pub config: Option<PathBuf>,
    /// `-e`: the error log used before the config is read.
    pub error_log: Option<PathBuf>,
}

impl Invocation {
    /// From the playbook, falling back to `nginx` on PATH / in sbin.
    pub fn from_spec(spec: &NginxSpec) -> Option<Invocation> {
        let binary = spec.binary.clone().or_else(|| command::which("nginx"))?;
        Some(Invocation {
            binary,
            prefix: spec.prefix.clone(),
            config: spec.config.clone(),
            error_log: None,
        })
    }

    /// From a running master's title, e.g. `nginx: master process /usr/sbin/nginx -p /x -c n.conf`.
    /// Playbook values win where given, since they say what the operator intends.
    pub fn from_master(title: &str, spec: &NginxSpec) -> Option<Invocation> {
        let rest = title.strip_prefix("nginx: master process")?.trim();
        let words: Vec<&str> = rest.split_whitespace().collect();
        let mut inv = Invocation {
            binary: words.first().filter(|w| w.starts_with('/')).map_or_else(
                || command::which("nginx").unwrap_or_else(|| "nginx".into()),
                PathBuf::from,
            ),
            prefix: flag(&words, "-p"),
            config: flag(&words, "-c"),
            error_log: flag(&words, "-e"),
        };
        if let Some(b) = &spec.binary {
            inv.binary = b.clone();
        }
        inv.prefix = spec.prefix.clone().or(inv.prefix);
        inv.config = spec.config.clone().or(inv.config);
        Some(inv)
    }

    pub fn args(&self) -> Vec<String> {
        let mut args = Vec::new();
        if let Some(p) = &self.prefix {
            args.extend(["-p".to_string(), p.display().to_string()]);
        }
        if let Some(c) = &self.config {
            args.extend(["-c".to_string(), c.display().to_string()]);
        }
        if let Some(e) = &self.error_log {
            args.extend(["-e".to_string(), e.display().to_string()]);
        }
        args
    }

    /// The command line an operator would type, for evidence and plans.
    pub fn describe(&self, extra: &[&str]) -> String {
        let mut words = vec![self.binary.display().to_string()];
        words.extend(extra.iter().map(|s| s.to_string()));
        words.extend(self.args());
        words.join(" ")
    }

    pub fn command(&self, extra: &[&str]) -> Command {
        let mut cmd = Command::new(&self.binary);
        cmd.args(extra).args(self.args());
        cmd
    }

    /// The config file this invocation reads, for comparing with a master's.
    pub fn config_path(&self) -> PathBuf {
        let conf = self
            .config
            .clone()
            .unwrap_or_else(|| "/etc/nginx/nginx.conf".into());
        match (&self.prefix, conf.is_relative()) {
            (Some(p), true) => p.join(conf),
            _ => conf,
        }
    }
}

fn flag(words: &[&str], name: &str) -> Option<PathBuf> {
    let i = words.iter().position(|w| *w == name)?;
    words.get(i + 1).map(PathBuf::from)
}

/// The result of `nginx -T`: a config test plus the full effective configuration.
#[derive(Debug, Clone)]
pub struct Dump {
    pub ok: bool,
    pub command: String,
    /// nginx's own verdict lines ("syntax is ok", or the error with file:line).
    pub messages: Vec<String>,
    pub config: String,
    /// Set when this is a remembered dump, not one nginx -T printed in this run.
    pub remembered: Option<memory::Recalled>,
    /// What is read from the config, each on first use, and shared by every clone of this
    /// dump: on a 3 000-server-block config each reading costs as much as the steps that use
    /// it, and several steps ask for the same one at the same time.
    parsed: std::sync::Arc<Parsed>,
}

#[derive(Debug, Default)]
struct Parsed {
    tree: std::sync::OnceLock<Vec<conf::Directive>>,
    servers: std::sync::OnceLock<Vec<conf::Server>>,
    /// The server blocks with their listen flags and routes (the tls step, discovery).
    blocks: std::sync::OnceLock<Vec<std::sync::Arc<conf::servers::ServerBlock>>>,
}

impl Dump {
    /// A dump of `config`, as `nginx -T` printed it; nothing is read from it yet.
    pub fn new(ok: bool, command: String, messages: Vec<String>, config: String) -> Dump {
        Dump {
            ok,
            command,
            messages,
            config,
            remembered: None,
            parsed: Default::default(),
        }
    }

    /// This dump, as remembered from an earlier run.
    pub fn recalled(self, recalled: memory::Recalled) -> Dump {
        Dump {
            remembered: Some(recalled),
            ..self
        }
    }

    pub fn tree(&self) -> &[conf::Directive] {
        self.parsed
            .tree
            .get_or_init(|| conf::parse_dump(&self.config))
    }

    pub fn servers(&self) -> &[conf::Server] {
        self.parsed
            .servers
            .get_or_init(|| conf::servers(self.tree()))
    }

    pub fn blocks(&self) -> &[std::sync::Arc<conf::servers::ServerBlock>] {
        self.parsed.blocks.get_or_init(|| {
            conf::servers::server_blocks(self.tree())
                .into_iter()
                .map(std::sync::Arc::new)
                .collect()
        })
    }
}

/// Runs `nginx -T` within `timeout` (the probe timeout: an upstream host name nginx cannot
/// resolve can hang it), unless this run may use a remembered dump and has one that still
/// holds ([`memory`]). A run that did not finish, or could not start, is an error, never a
/// verdict on the config.
pub fn dump(inv: &Invocation, timeout: Duration) -> anyhow::Result<Dump> {
    let shown = inv.describe(&["-T"]);
    if let Some(d) = dumps::cached(&shown) {
        return Ok(d);
    }
    if let Some(d) = memory::recall(&shown) {
        dumps::keep(&shown, &d);
        return Ok(d);
    }
    let started = std::time::SystemTime::now();
    let d = run_dump(inv, &shown, timeout)?;
    memory::note(inv, &d, started);
    dumps::keep(&shown, &d);
    Ok(d)
}

fn run_dump(inv: &Invocation, shown: &str, timeout: Duration) -> anyhow::Result<Dump> {
    let out = command::run(&mut inv.command(&["-T"]), timeout)
        .with_context(|| format!("`{shown}` could not run"))?;
    if out.timed_out {
        anyhow::bail!(
            "`{shown}` did not finish within {}",
            crate::format::secs(timeout)
        );
    }
    if out.code.is_none() {
        anyhow::bail!("`{shown}` was killed by a signal");
    }
    if out.stdout_cut {
        // Half a config read as the whole would misname what nginx proxies to.
        anyhow::bail!(
            "`{shown}` printed more than {}; fixer does not read a config that large",
            crate::format::bytes(crate::limits::COMMAND_OUTPUT_MAX_BYTES)
        );
    }
    Ok(Dump::new(
        out.success(),
        inv.describe(&["-T"]),
        out.stderr
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(str::to_string)
            .collect(),
        out.stdout,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_master_title() {
        let spec = NginxSpec::default();
        let inv = Invocation::from_master(
            "nginx: master process /usr/sbin/nginx -p /tmp/lab -c nginx.conf",
            &spec,
        )
        .unwrap();
        assert_eq!(inv.binary, PathBuf::from("/usr/sbin/nginx"));
        assert_eq!(inv.config_path(), PathBuf::from("/tmp/lab/nginx.conf"));
        assert!(Invocation::from_master("nginx: worker process", &spec).is_none());
    }
}
