//! A complete unit file for a backend that has none, written from the playbook's start
//! command — or, for one started by hand, from the running process (its argv, working
//! directory and user): what an operator would otherwise write by hand after the outage. It
//! runs the backend the way `fixer fix` starts it (stdin from /dev/null, output appended to
//! the log), but under systemd, which restarts it when it dies.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Seconds systemd waits before restarting a dead backend: long enough that a crash loop
/// never exhausts the default start limit (5 starts in 10 s), short enough for an outage.
pub const RESTART_SEC: u64 = 5;

/// How the backend is started.
pub enum Exec<'a> {
    /// The playbook's start command: a shell line.
    Shell(&'a str),
    /// A running backend's argv, its program an absolute path.
    Argv(Vec<String>),
}

/// What is known about starting the backend.
pub struct Spec<'a> {
    /// Where it was learned, for the header comment (`playbook app`, `PID 123`).
    pub from: String,
    pub name: &'a str,
    pub address: String,
    pub exec: Exec<'a>,
    pub cwd: Option<&'a Path>,
    pub log: Option<&'a Path>,
    pub env: &'a BTreeMap<String, String>,
    /// `User=`, for a backend that ran as someone other than root.
    pub user: Option<&'a str>,
}

/// The unit file's text.
pub fn render(spec: &Spec<'_>) -> String {
    let mut t = format!(
        "# Written by `fixer harden` from {}.\n[Unit]\nDescription={} backend on {}\nAfter=network.target\n\n[Service]\n",
        spec.from,
        escape_specifiers(spec.name),
        escape_specifiers(&spec.address)
    );
    if let Some(user) = spec.user {
        t += &format!("User={user}\n");
    }
    if let Some(cwd) = spec.cwd {
        t += &format!(
            "WorkingDirectory={}\n",
            escape_specifiers(&cwd.display().to_string())
        );
    }
    let (assigned, exec) = match &spec.exec {
        Exec::Shell(line) => {
            let (assigned, command) = leading_assignments(line);
            (assigned, exec_start(command))
        }
        Exec::Argv(argv) => (Vec::new(), argv_line(argv)),
    };
    let env = spec.env.iter().map(|(k, v)| (k.as_str(), v.as_str()));
    for (k, v) in env.chain(assigned) {
        t += &format!("Environment={}\n", quote(&format!("{k}={v}"), false));
    }
    t += &format!("ExecStart={exec}\n");
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

/// `A=1 B=x cmd …` → `([(A, 1), (B, x)], "cmd …")`: a shell's `exec A=1 cmd` would look for a
/// program named `A=1`, so leading assignments (unquoted ones) become `Environment=` lines.
pub fn leading_assignments(command: &str) -> (Vec<(&str, &str)>, &str) {
    let mut rest = command.trim_start();
    let mut out = Vec::new();
    loop {
        let word = rest.split_whitespace().next().unwrap_or("");
        let Some((k, v)) = word.split_once('=') else {
            break;
        };
        let name_ok = k
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !name_ok || v.chars().any(|c| "'\"\\$`;&|<>()".contains(c)) {
            break;
        }
        out.push((k, v));
        rest = rest[word.len()..].trim_start();
    }
    (out, rest)
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
    // `exec` replaces the shell with a simple command, so systemd's MainPID is the backend;
    // a list or pipeline (`a && b`, `a | b`) keeps the shell in between.
    let compound = command.contains(['&', ';', '|', '\n']);
    let line = if compound {
        command.to_string()
    } else {
        format!("exec {command}")
    };
    format!("/bin/sh -c {}", quote(&line, true))
}

/// An argv as a systemd command line: each word as is when it is plain, quoted otherwise.
pub fn argv_line(argv: &[String]) -> String {
    argv.iter()
        .map(|a| {
            let plain = !a.is_empty()
                && a.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_@+=:,./-".contains(c));
            if plain {
                a.clone()
            } else {
                quote(a, true)
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
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
            r#"/bin/sh -c "python3 app.py > out.log 2>&1""#
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
        assert_eq!(
            exec_start("cd /srv && ./run"),
            r#"/bin/sh -c "cd /srv && ./run""#
        );
        assert!(exec_start("no-such-program-here x").starts_with("/bin/sh -c "));
    }

    #[test]
    fn leading_assignments_become_environment() {
        assert_eq!(
            leading_assignments("A=1 B_2=x python3 app.py C=3"),
            (vec![("A", "1"), ("B_2", "x")], "python3 app.py C=3")
        );
        assert_eq!(leading_assignments("A='x y' cmd"), (vec![], "A='x y' cmd"));
        let env = BTreeMap::new();
        let text = render(&Spec {
            from: "playbook p".into(),
            name: "p",
            address: "127.0.0.1:1".into(),
            exec: Exec::Shell("PYTHONUNBUFFERED=1 python3 app.py > /dev/null"),
            cwd: None,
            log: None,
            env: &env,
            user: None,
        });
        assert!(text.contains("Environment=\"PYTHONUNBUFFERED=1\"\nExecStart=/bin/sh -c \"exec python3 app.py > /dev/null\"\n"), "{text}");
    }

    #[test]
    fn renders_a_complete_unit() {
        let env = BTreeMap::from([("APP_ENV".to_string(), "prod 100%".to_string())]);
        let text = render(&Spec {
            from: "playbook login-502".into(),
            name: "login-502",
            address: "127.0.0.1:8080".into(),
            exec: Exec::Shell("/usr/bin/python3 app.py"),
            cwd: Some(Path::new("/srv/app")),
            log: Some(Path::new("/var/log/app.log")),
            env: &env,
            user: Some("www-data"),
        });
        for line in [
            "[Service]\n",
            "User=www-data\n",
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
        let argv: Vec<String> = ["/usr/bin/streamlit", "run", "my app.py", "--x=$1%"]
            .map(String::from)
            .to_vec();
        assert_eq!(
            argv_line(&argv),
            r#"/usr/bin/streamlit run "my app.py" "--x=$$1%%""#
        );
    }
}
