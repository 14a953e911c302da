//! A complete unit file for a backend that has none, written from the playbook's start
//! command: what an operator would otherwise write by hand after the outage. It runs the
//! command the way `fixer fix` starts it (stdin from /dev/null, output appended to the log),
//! but under systemd, which restarts it when it dies.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Seconds systemd waits before restarting a dead backend: long enough that a crash loop
/// never exhausts the default start limit (5 starts in 10 s), short enough for an outage.
pub const RESTART_SEC: u64 = 5;

/// What the playbook says about starting the backend.
pub struct Spec<'a> {
    pub playbook: &'a str,
    pub address: String,
    pub command: &'a str,
    pub cwd: Option<&'a Path>,
    pub log: Option<&'a Path>,
    pub env: &'a BTreeMap<String, String>,
}

/// The unit file's text.
pub fn render(spec: &Spec<'_>) -> String {
    let mut t = format!(
        "# Written by `fixer harden` from playbook {}.\n[Unit]\nDescription={} backend on {}\nAfter=network.target\n\n[Service]\n",
        spec.playbook,
        escape_specifiers(spec.playbook),
        escape_specifiers(&spec.address)
    );
    if let Some(cwd) = spec.cwd {
        t += &format!(
            "WorkingDirectory={}\n",
            escape_specifiers(&cwd.display().to_string())
        );
    }
    for (k, v) in spec.env {
        t += &format!("Environment={}\n", quote(&format!("{k}={v}"), false));
    }
    t += &format!("ExecStart={}\n", exec_start(spec.command));
    t += "StandardInput=null\n";
    if let Some(log) = spec.log {
        let log = escape_specifiers(&log.display().to_string());
        t += &format!("StandardOutput=append:{log}\nStandardError=append:{log}\n");
    }
    t += &format!(
        "Restart=always\nRestartSec={RESTART_SEC}s\n\n[Install]\nWantedBy=multi-user.target\n"
    );
    t
}

/// A unit name for the backend: the playbook's name, reduced to what unit names allow.
pub fn unit_name(playbook: &str) -> String {
    let base: String = playbook
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("{}-backend.service", base.trim_matches('-'))
}

/// A plain command line (`/usr/bin/python3 app.py --port 8080`) is given to systemd as it is,
/// its program made absolute; anything the shell would interpret (quotes, `$VAR`, `&&`,
/// redirections, globs, `~`) runs through `/bin/sh -c 'exec …'`, as `fixer fix` runs it.
pub fn exec_start(command: &str) -> String {
    let plain = !command
        .chars()
        .any(|c| "|&;<>()$`\\\"'*?[]#~{}%=".contains(c));
    let mut words = command.split_whitespace();
    if let (true, Some(program)) = (plain, words.next()) {
        let program = if program.starts_with('/') {
            Some(PathBuf::from(program))
        } else if !program.contains('/') {
            crate::sys::command::which(program)
        } else {
            None
        };
        if let Some(p) = program {
            let mut line = vec![p.display().to_string()];
            line.extend(words.map(str::to_string));
            return line.join(" ");
        }
    }
    format!("/bin/sh -c {}", quote(&format!("exec {command}"), true))
}

/// A double-quoted systemd word: backslash and quote escaped, `%` doubled (specifiers) and,
/// on command lines, `$` doubled (systemd expands `$VAR` there).
fn quote(text: &str, command_line: bool) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '\\' | '"' => {
                out.push('\\');
                out.push(c);
            }
            '%' => out.push_str("%%"),
            '$' if command_line => out.push_str("$$"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn escape_specifiers(text: &str) -> String {
    text.replace('%', "%%")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shell_line_runs_through_sh() {
        assert_eq!(
            exec_start("python3 app.py > out.log 2>&1"),
            r#"/bin/sh -c "exec python3 app.py > out.log 2>&1""#
        );
        assert_eq!(
            exec_start(r#"app --name "a b" --home $HOME --pct 5%"#),
            r#"/bin/sh -c "exec app --name \"a b\" --home $$HOME --pct 5%%""#
        );
        assert_eq!(
            exec_start("/usr/bin/python3 /opt/app/app.py --port 8080"),
            "/usr/bin/python3 /opt/app/app.py --port 8080"
        );
        assert_eq!(
            exec_start("sh -c true").split(' ').next(),
            Some("/usr/bin/sh")
        );
        assert!(exec_start("./run.sh").starts_with("/bin/sh -c "));
        assert!(exec_start("no-such-program-here x").starts_with("/bin/sh -c "));
    }

    #[test]
    fn renders_a_complete_unit() {
        let env = BTreeMap::from([("APP_ENV".to_string(), "prod 100%".to_string())]);
        let text = render(&Spec {
            playbook: "login-502",
            address: "127.0.0.1:8080".into(),
            command: "/usr/bin/python3 app.py",
            cwd: Some(Path::new("/srv/app")),
            log: Some(Path::new("/var/log/app.log")),
            env: &env,
        });
        for line in [
            "[Service]\n",
            "WorkingDirectory=/srv/app\n",
            "Environment=\"APP_ENV=prod 100%%\"\n",
            "ExecStart=/usr/bin/python3 app.py\n",
            "StandardInput=null\n",
            "StandardOutput=append:/var/log/app.log\n",
            "StandardError=append:/var/log/app.log\n",
            "Restart=always\n",
            "RestartSec=5s\n",
            "[Install]\nWantedBy=multi-user.target\n",
        ] {
            assert!(text.contains(line), "{line:?} missing from\n{text}");
        }
        assert_eq!(unit_name("login 502"), "login-502-backend.service");
    }
}
