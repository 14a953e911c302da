//! `fixer watch --install` / `--uninstall`: one systemd timer per playbook, built from two
//! templates (`fixer-watch@.service`, `fixer-watch@.timer`), the instance's interval in a
//! drop-in and its arguments and secrets in `/etc/fixer/watch/NAME.env` (mode 0600, so the
//! tokens are neither in a world-readable unit nor in the process list). Written only after
//! consent, as `fixer fix` asks; without systemd as PID 1 only a crontab line is printed.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::cli::TargetArgs;

use super::units::{crontab_line, interval_text, service_text, TIMER_TEXT};
use super::view::{File, Plan};
use super::WatchArgs;

const UNIT_DIR: &str = "/etc/systemd/system";
const ENV_DIR: &str = "/etc/fixer/watch";
const SERVICE: &str = "fixer-watch@.service";
const TIMER: &str = "fixer-watch@.timer";
/// `enable --now` starts the timer, not a round; this bounds a hung systemctl.
const SYSTEMCTL_TIMEOUT: Duration = Duration::from_secs(30);

pub(crate) fn plan(
    args: &WatchArgs,
    target_args: &TargetArgs,
    interval: Duration,
) -> Result<Plan, String> {
    let Some(playbook) = target_args.playbook.clone() else {
        return Err(format!(
            "{} needs a playbook: fixer watch {} NAME",
            flag(args),
            flag(args)
        ));
    };
    let instance = instance_name(&playbook)?;
    if args.install {
        crate::config::resolve(target_args).map_err(|e| format!("{e}"))?;
    }
    let exe = std::env::current_exe()
        .map_err(|e| format!("cannot tell where fixer is installed: {e}"))?;
    let watch_args = unit_args(args, &playbook)?;
    let mut p = Plan {
        instance: instance.clone(),
        install: args.install,
        files: Vec::new(),
        remove: Vec::new(),
        commands: Vec::new(),
        crontab: None,
        notes: Vec::new(),
    };
    if !crate::sys::spawn::systemd_booted() {
        p.crontab = Some(crontab_line(&exe, &watch_args, interval));
        return Ok(p);
    }
    let timer = format!("fixer-watch@{instance}.timer");
    let env_file = Path::new(ENV_DIR).join(format!("{instance}.env"));
    let drop_in = Path::new(UNIT_DIR).join(format!("{timer}.d/interval.conf"));
    if !args.install {
        p.commands.push(cmd(&["disable", "--now", &timer]));
        p.remove.extend([env_file.clone(), drop_in]);
        if others_left(&env_file) {
            p.notes
                .push("other playbooks' timers remain: the unit templates stay".into());
        } else {
            p.remove
                .extend([SERVICE, TIMER].map(|f| Path::new(UNIT_DIR).join(f)));
        }
        p.commands.push(cmd(&["daemon-reload"]));
        return Ok(p);
    }
    let (env_text, env_shown) = env_file_text(&watch_args, &mut p.notes);
    p.files.push(File::shown(
        Path::new(UNIT_DIR).join(SERVICE),
        service_text(&exe),
    ));
    p.files.push(File::shown(
        Path::new(UNIT_DIR).join(TIMER),
        TIMER_TEXT.into(),
    ));
    p.files.push(File::shown(drop_in, interval_text(interval)));
    p.files.push(File {
        path: env_file,
        text: env_text,
        shown: env_shown,
        mode: 0o600,
    });
    p.commands.push(cmd(&["daemon-reload"]));
    p.commands.push(cmd(&["enable", "--now", &timer]));
    Ok(p)
}

pub(crate) fn flag(args: &WatchArgs) -> &'static str {
    if args.install {
        "--install"
    } else {
        "--uninstall"
    }
}

fn cmd(args: &[&str]) -> Vec<String> {
    args.iter().map(|a| a.to_string()).collect()
}

impl File {
    fn shown(path: PathBuf, text: String) -> File {
        File {
            shown: text.clone(),
            path,
            text,
            mode: 0o644,
        }
    }
}

/// The playbook's name as a systemd instance: `login-502`, or the file stem of a path.
fn instance_name(playbook: &str) -> Result<String, String> {
    let stem = Path::new(playbook)
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or(playbook);
    let ok = !stem.is_empty()
        && stem
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    if ok {
        Ok(stem.to_string())
    } else {
        Err(format!(
            "{}: a timer is named after its playbook, which may hold only letters, digits and -_.",
            crate::sanitize::quoted(playbook)
        ))
    }
}

/// The arguments of each timed round, after `fixer watch --once`. A playbook given as a path
/// is made absolute: the unit does not run in this directory.
fn unit_args(args: &WatchArgs, playbook: &str) -> Result<Vec<String>, String> {
    let playbook = if playbook.contains('/') {
        std::path::absolute(playbook)
            .map_err(|e| format!("{playbook}: {e}"))?
            .display()
            .to_string()
    } else {
        playbook.to_string()
    };
    let mut out = vec![playbook];
    if args.fix {
        out.push("--fix".into());
    }
    for n in &args.notify {
        // systemctl status and ps show a unit's command line: a token must come from its file.
        let source = n
            .split_once('=')
            .filter(|(k, _)| !k.contains(['/', ':']))
            .map_or(n.as_str(), |(_, s)| s);
        if !(source.starts_with("env:") || source.starts_with("file:")) {
            return Err(
                "--install: give each --notify URL as env:NAME or file:PATH, so its token stays \
                 out of the unit's command line"
                    .into(),
            );
        }
        out.push(format!("--notify={n}"));
    }
    if let Some(s) = &args.dingtalk_secret {
        out.push(format!("--dingtalk-secret={s}"));
    }
    if let Some(k) = &args.dingtalk_keyword {
        out.push(format!("--dingtalk-keyword={k}"));
    }
    if let Some(a) = &args.audit_log {
        out.push(format!("--audit-log={}", a.display()));
    }
    if let Some(t) = args.target.timeout {
        out.push(format!("--timeout={t}"));
    }
    // systemd splits $FIXER_WATCH_ARGS on white space and expands % and $: such an argument
    // would arrive changed.
    if let Some(bad) = out
        .iter()
        .find(|a| a.contains(char::is_whitespace) || a.contains(['"', '\'', '\\', '$', '%', '`']))
    {
        return Err(format!(
            "{}: a timer's arguments may not hold spaces, quotes, $, % or backslashes",
            crate::sanitize::quoted(bad)
        ));
    }
    Ok(out)
}

/// `env:NAME` sources named in the arguments: their values go into the env file.
fn env_names(args: &[String]) -> Vec<String> {
    let mut names: Vec<String> = args
        .iter()
        .filter_map(|a| a.split_once("env:").map(|(_, n)| n.to_string()))
        .collect();
    names.dedup();
    names
}

/// The env file: the round's arguments and, for each `env:NAME` set here, its value.
fn env_file_text(watch_args: &[String], notes: &mut Vec<String>) -> (String, String) {
    let head =
        "# Written by `fixer watch --install`: the arguments of each round and the secrets\n\
                # they name. Keep this file 0600.\n";
    let line = format!("FIXER_WATCH_ARGS=\"{}\"\n", watch_args.join(" "));
    let (mut text, mut shown) = (format!("{head}{line}"), format!("{head}{line}"));
    for name in env_names(watch_args) {
        match std::env::var(&name) {
            Ok(v) if !v.contains(['"', '\\', '\n', '$', '`']) => {
                text.push_str(&format!("{name}=\"{v}\"\n"));
                shown.push_str(&format!("{name}=… (copied from this shell, not shown)\n"));
            }
            _ => notes.push(format!(
                "{name} is not set here (or holds quotes): add {name}=\"…\" to the env file by hand"
            )),
        }
    }
    (text, shown)
}

fn others_left(mine: &Path) -> bool {
    std::fs::read_dir(ENV_DIR).is_ok_and(|d| {
        d.flatten()
            .any(|e| e.path() != mine && e.path().extension().is_some_and(|x| x == "env"))
    })
}

/// Writes, removes and runs what the plan says, telling `tell` each step; stops at the first
/// failure. Whether to is decided before (`run::watch`); this only acts.
pub(crate) fn apply(p: &Plan, tell: &mut dyn FnMut(&str)) -> (bool, Vec<String>) {
    let mut evidence = Vec::new();
    let mut say = |line: String| {
        tell(&line);
        evidence.push(line);
    };
    for f in &p.files {
        match write(f) {
            Ok(()) => say(format!("wrote {} (mode {:o})", f.path.display(), f.mode)),
            Err(e) => {
                say(format!("writing {}: {e:#}", f.path.display()));
                return (false, evidence);
            }
        }
    }
    for path in &p.remove {
        let gone = if path.is_dir() {
            std::fs::remove_dir_all(path)
        } else {
            std::fs::remove_file(path)
        };
        match gone {
            Ok(()) => say(format!("removed {}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => say(format!(
                "removing {}: {}",
                path.display(),
                crate::format::io_text(&e)
            )),
        }
        if let Some(dir) = path
            .parent()
            .filter(|d| d.extension().is_some_and(|x| x == "d"))
        {
            let _ = std::fs::remove_dir(dir);
        }
    }
    for c in &p.commands {
        let shown = format!("systemctl {}", c.join(" "));
        let run = crate::sys::command::run(
            std::process::Command::new("systemctl").args(c),
            SYSTEMCTL_TIMEOUT,
        );
        match run {
            Ok(o) if o.success() => say(format!("{shown}: exit 0")),
            Ok(o) => {
                say(format!(
                    "{shown}: failed: {}",
                    o.stderr.lines().next().unwrap_or("no output")
                ));
                return (false, evidence);
            }
            Err(e) => {
                say(format!("{shown}: could not run: {e:#}"));
                return (false, evidence);
            }
        }
    }
    (true, evidence)
}

/// Through a temporary file renamed into place, created with its final mode, so systemd never
/// reads half a unit and a secret is never readable by others even for a moment.
fn write(f: &File) -> anyhow::Result<()> {
    use anyhow::Context;
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let dir = f.path.parent().unwrap_or(Path::new("/"));
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let tmp = dir.join(format!(
        ".{}.fixer-tmp",
        f.path.file_name().unwrap_or_default().to_string_lossy()
    ));
    let _ = std::fs::remove_file(&tmp);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(f.mode)
        .open(&tmp)
        .with_context(|| format!("creating {}", tmp.display()))?;
    file.write_all(f.text.as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, &f.path).with_context(|| format!("renaming to {}", f.path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instances_are_playbook_names() {
        assert_eq!(instance_name("login-502").unwrap(), "login-502");
        assert_eq!(
            instance_name("/etc/fixer/playbooks/app.toml").unwrap(),
            "app"
        );
        assert!(instance_name("my app").is_err());
    }
}
