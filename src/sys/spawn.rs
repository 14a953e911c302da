//! Starting a backend the way a supervisor would: its own session (no SIGHUP when the SSH
//! session ends), stdin from /dev/null (a backend waiting at a prompt is exactly the Streamlit
//! outage), output appended to a log file — never discarded, since a backend that dies at once
//! says why only there.

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use anyhow::Context;

/// How much of a log's end is read to quote its last lines.
pub const LOG_TAIL_BYTES: u64 = 16 * 1024;
/// Lines quoted from a log, and the longest line quoted whole.
pub const LOG_TAIL_LINES: usize = 10;
const LOG_LINE_CHARS: usize = 300;

#[derive(Debug, Clone)]
pub struct Detached {
    /// A shell command line: `cd /srv/app && exec python3 -m http.server 8080` works as typed.
    pub command: String,
    pub cwd: Option<PathBuf>,
    /// Where stdout and stderr are appended.
    pub log: PathBuf,
    pub env: BTreeMap<String, String>,
}

/// Starts `sh -c COMMAND` as a shell would run the line. The PID returned may be the shell
/// (`cd … && cmd`, which stays as the backend's parent) or the backend itself; callers find
/// the backend by the port it then holds.
pub fn spawn(d: &Detached) -> anyhow::Result<Child> {
    let mut cmd = Command::new("/bin/sh");
    cmd.arg("-c")
        .arg(shell_line(&d.command))
        .stdin(Stdio::null())
        .envs(&d.env);
    if let Some(cwd) = &d.cwd {
        cmd.current_dir(cwd);
    }
    let file = open_log(&d.log)?;
    cmd.stdout(file.try_clone()?).stderr(file);
    own_session(&mut cmd);
    cmd.spawn()
        .with_context(|| format!("starting `{}`", d.command))
}

/// Starts the child in its own session: no controlling terminal, and a Ctrl-C or hangup of
/// fixer's terminal does not reach it. The one `pre_exec` in fixer.
pub fn own_session(cmd: &mut Command) {
    use std::os::unix::process::CommandExt as _;
    // SAFETY: setsid is async-signal-safe and touches no memory of the parent.
    unsafe {
        cmd.pre_exec(|| rustix::process::setsid().map(drop).map_err(Into::into));
    }
}

fn open_log(path: &Path) -> anyhow::Result<std::fs::File> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("opening log {}", path.display()))
}

/// The line given to `sh -c`. A single simple command gets `exec` (after any leading
/// `VAR=value` words), as bash does by itself and dash does not: the backend then replaces
/// the shell instead of running under a waiting `sh -c` that also matches its pattern.
/// Anything else — lists, pipes, subshells, builtins such as `cd` — runs exactly as written.
pub fn shell_line(command: &str) -> String {
    const OPERATORS: &[char] = &[';', '&', '|', '\n', '(', ')', '`', '\'', '"', '\\', '#'];
    const NOT_PROGRAMS: &[&str] = &[
        "exec", "cd", "export", "set", "unset", "eval", ".", "source", "exit", "return", "trap",
        "umask", "ulimit", "alias", "read", "wait", "shift", "times", ":", "if", "for", "while",
        "until", "case", "{", "!", "function", "readonly", "local",
    ];
    let words: Vec<&str> = command.split_whitespace().collect();
    let assignments = words
        .iter()
        .take_while(|w| w.split_once('=').is_some_and(|(name, _)| is_name(name)))
        .count();
    let simple = !command.contains(OPERATORS) && !command.contains("$(");
    match words.get(assignments) {
        Some(program) if simple && !NOT_PROGRAMS.contains(program) => {
            let mut line = words[..assignments].join(" ");
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str("exec ");
            line.push_str(&words[assignments..].join(" "));
            line
        }
        _ => command.to_string(),
    }
}

fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Whether systemd is PID 1 (sd_booted): the directory exists only then.
pub fn systemd_booted() -> bool {
    Path::new("/run/systemd/system").is_dir()
}

/// The log's size now, so only what a start writes afterwards is quoted.
pub fn log_len(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

/// The last lines written to a log since byte `from` (at most [`LOG_TAIL_LINES`] lines from
/// its last [`LOG_TAIL_BYTES`], each cut at a few hundred characters), for evidence when a
/// backend dies or never listens.
pub fn tail_since(path: &Path, from: u64) -> Vec<String> {
    let Ok((start, bytes)) = super::tail::read_tail(path, from, LOG_TAIL_BYTES) else {
        return Vec::new();
    };
    let text = String::from_utf8_lossy(&bytes);
    let mut lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    // A read that began mid-line (the cap cut it) drops that partial first line.
    if start > from && !lines.is_empty() {
        lines.remove(0);
    }
    lines[lines.len().saturating_sub(LOG_TAIL_LINES)..]
        .iter()
        .map(|l| match l.char_indices().nth(LOG_LINE_CHARS) {
            Some((i, _)) => format!("{}…", &l[..i]),
            None => l.to_string(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_simple_command_replaces_the_shell() {
        assert_eq!(
            shell_line("python3 app.py --port 8"),
            "exec python3 app.py --port 8"
        );
        assert_eq!(
            shell_line("VAR=1 B=x python3 app.py"),
            "VAR=1 B=x exec python3 app.py"
        );
        assert_eq!(
            shell_line("  gunicorn  -b :8 app:app "),
            "exec gunicorn -b :8 app:app"
        );
    }

    #[test]
    fn anything_else_runs_as_written() {
        for line in [
            "cd /srv/app && exec python3 -m http.server 8080",
            "cd /srv/app",
            "exec python3 app.py",
            "python3 app.py | tee log",
            "python3 app.py &",
            "VAR='a b' python3 app.py",
            "echo \"x\"; exit 1",
            "python3 $(pwd)/app.py",
            "VAR=1",
            "",
        ] {
            assert_eq!(shell_line(line), line);
        }
    }

    #[test]
    fn quotes_only_what_was_appended_and_at_most_ten_lines() {
        let dir = std::env::temp_dir().join(format!("fixer-tail-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let log = dir.join("b.log");
        std::fs::write(&log, "old run\n").unwrap();
        let from = log_len(&log);
        let mut text = String::new();
        for i in 0..15 {
            text += &format!("line {i}\n");
        }
        text += &"x".repeat(1000);
        std::fs::write(&log, format!("old run\n{text}\n")).unwrap();
        let tail = tail_since(&log, from);
        assert_eq!(tail.len(), LOG_TAIL_LINES);
        assert_eq!(tail[0], "line 6");
        assert!(!tail.iter().any(|l| l.contains("old run")));
        assert_eq!(tail[9].chars().count(), LOG_LINE_CHARS + 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
