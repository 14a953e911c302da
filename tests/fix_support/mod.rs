//! Running `fixer fix` the way an operator does: in a pseudo-terminal answering prompts, or
//! as a plain child without a terminal. Every run gets its own temp dir holding the lock
//! (`FIXER_STATE_DIR`) and the audit log, so nothing touches /var/lib or /var/log. Processes a
//! test starts itself (a holder that ignores SIGTERM, a newcomer on a port) are killed when
//! dropped. Each test binary uses a subset, hence the `dead_code` allowance.
#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use fixer::lab::Lab;
use rexpect::process::WaitStatus;
use rexpect::session::{spawn_with_options, PtySession};
use serde_json::Value;

use crate::common::{deadline, fixer, identity, proc_state, wait_until};

/// How long any one expected piece of output may take to appear. A stuck-holder diagnosis
/// takes ~2 s with `--timeout 1`; this only bounds a broken run.
const EXPECT_MS: u64 = 30_000;

/// A temp dir for one fixer run: lock, audit log, scripts the test writes.
pub struct Run {
    pub dir: tempfile::TempDir,
    pub state: PathBuf,
    pub audit: PathBuf,
}

impl Run {
    pub fn new() -> Run {
        let dir = tempfile::Builder::new()
            .prefix("fixer-run-")
            .tempdir()
            .expect("creating a temp dir");
        Run {
            state: dir.path().join("state"),
            audit: dir.path().join("audit.jsonl"),
            dir,
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `fixer SUBCOMMAND` with this run's state dir, no colour, a real-looking TERM, started
    /// in the temp dir (a backend it starts without a cwd lands there, not in the crate).
    pub fn fixer(&self, sub: &str) -> Command {
        let mut c = fixer();
        c.arg(sub)
            .env("FIXER_STATE_DIR", &self.state)
            .env("NO_COLOR", "1")
            .env("TERM", "xterm")
            .env_remove("FIXER_YES")
            .current_dir(self.dir.path());
        c
    }

    /// `fixer fix -p LAB --audit-log A --timeout 1 --wait 20`; add flags with `.args(..)`.
    pub fn fix(&self, lab: &Lab) -> Command {
        let mut c = self.fixer("fix");
        c.arg("-p")
            .arg(&lab.playbook)
            .arg("--audit-log")
            .arg(&self.audit)
            .args(["--timeout", "1", "--wait", "20"]);
        c
    }

    /// Writes an executable script into the run's dir.
    pub fn script(&self, name: &str, text: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let path = self.path(name);
        fs::write(&path, text).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    /// The audit log's entries, each line parsed as JSON (a line that is not JSON fails).
    pub fn audit(&self) -> Vec<Value> {
        let text = fs::read_to_string(&self.audit).unwrap_or_default();
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("audit line {l:?}: {e}")))
            .collect()
    }

    /// `(action, phase, result)` of every audit entry, in order.
    pub fn audit_summary(&self) -> Vec<(String, String, String)> {
        let s = |v: &Value| v.as_str().unwrap_or("-").to_string();
        self.audit()
            .iter()
            .map(|e| (s(&e["action"]), s(&e["phase"]), s(&e["result"])))
            .collect()
    }

    /// The audit log as "action phase result" lines, the way a reader scans it.
    pub fn audit_phases(&self) -> Vec<String> {
        self.audit_summary()
            .into_iter()
            .map(|(a, p, r)| format!("{a} {p} {r}"))
            .collect()
    }
}

/// The stuck-holder lab, its holder's identity (pid, start time) and a fresh fixer run.
pub fn stuck_lab() -> (tempfile::TempDir, Lab, (i32, u64), Run) {
    let (dir, lab) = crate::common::lab(fixer::lab::Fault::StuckHolder);
    let holder = identity(lab.pid(fixer::lab::Role::Backend).unwrap()).unwrap();
    (dir, lab, holder, Run::new())
}

/// What a non-interactive run printed.
pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    pub fn all(&self) -> String {
        format!(
            "exit {}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }

    /// The last non-empty line of stdout.
    pub fn last_line(&self) -> &str {
        self.stdout
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("")
    }
}

/// Runs without a terminal: stdin from /dev/null, output captured.
pub fn output(mut cmd: Command) -> Output {
    let out = cmd.stdin(Stdio::null()).output().expect("running fixer");
    Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// fixer in a pseudo-terminal (stdin, stdout and stderr all the terminal, as over SSH).
pub struct Pty {
    session: PtySession,
    /// fixer's PID (printed by the wrapper shell right before it execs fixer).
    pub pid: i32,
    /// Everything read so far, for failure messages.
    pub seen: String,
}

impl Pty {
    /// Starts `cmd` through `sh -c 'echo pid=$$; exec "$@"'`, so the PID is known and is
    /// fixer's own.
    pub fn spawn(cmd: &Command) -> Pty {
        let mut sh = Command::new("/bin/sh");
        sh.arg("-c")
            .arg(r#"echo "pid=$$"; exec "$@""#)
            .arg("sh")
            .arg(cmd.get_program())
            .args(cmd.get_args());
        for (k, v) in cmd.get_envs() {
            match v {
                Some(v) => sh.env(k, v),
                None => sh.env_remove(k),
            };
        }
        if let Some(dir) = cmd.get_current_dir() {
            sh.current_dir(dir);
        }
        let options = rexpect::reader::Options::new()
            .timeout_ms(Some(EXPECT_MS))
            .strip_ansi_escape_codes(true);
        let mut session = spawn_with_options(sh, options).expect("starting fixer in a pty");
        let (_, m) = session
            .exp_regex(r"pid=\d+")
            .expect("the wrapper prints its pid");
        Pty {
            session,
            pid: m["pid=".len()..].parse().unwrap(),
            seen: String::new(),
        }
    }

    /// Waits (bounded) until `needle` appears; returns what came before it.
    pub fn expect(&mut self, needle: &str) -> String {
        match self.session.exp_string(&as_bytes(needle)) {
            Ok(before) => {
                let before = utf8(&before);
                self.seen.push_str(&before);
                self.seen.push_str(needle);
                before
            }
            Err(e) => panic!(
                "waiting for {needle:?}: {}\n--- terminal so far:\n{}",
                got(&e),
                self.seen
            ),
        }
    }

    /// Keys typed without Enter (type-ahead, or a lone `y` that must not answer a question).
    pub fn key(&mut self, k: &str) {
        self.session.send(k).expect("writing to the pty");
        self.session.flush().expect("flushing the pty");
    }

    /// An answer typed and sent with Enter, as fixer reads a whole line per question.
    pub fn line(&mut self, text: &str) {
        self.key(&format!("{text}\n"));
    }

    /// Reads to the end and returns the rest of the output and the exit code.
    pub fn finish(mut self) -> (String, i32) {
        let rest = match self.session.exp_eof() {
            Ok(rest) => utf8(&rest),
            Err(e) => panic!(
                "waiting for fixer to exit: {}\n--- so far:\n{}",
                got(&e),
                self.seen
            ),
        };
        self.seen.push_str(&rest);
        let mut code = None;
        let exited = wait_until(deadline(10.0), || {
            match self.session.process().status() {
                Some(WaitStatus::Exited(_, c)) => code = Some(c),
                Some(WaitStatus::Signaled(_, sig, _)) => code = Some(128 + sig as i32),
                _ => {}
            }
            code.is_some()
        });
        assert!(
            exited,
            "fixer closed the pty but did not exit:\n{}",
            self.seen
        );
        (rest, code.unwrap())
    }
}

/// rexpect hands over each byte read as one `char`; needles are matched in that form and
/// text is turned back into UTF-8 for assertions and messages.
fn as_bytes(s: &str) -> String {
    s.bytes().map(char::from).collect()
}

/// What the pty showed when an expectation failed.
fn got(e: &rexpect::error::Error) -> String {
    match e {
        rexpect::error::Error::Timeout { got, timeout, .. } => {
            format!("timed out after {timeout:?}; then:\n{}", utf8(got))
        }
        rexpect::error::Error::EOF { got, .. } => format!("fixer exited; then:\n{}", utf8(got)),
        other => other.to_string(),
    }
}

fn utf8(s: &str) -> String {
    let bytes: Vec<u8> = s
        .chars()
        .map(|c| u8::try_from(u32::from(c)).unwrap_or(b'?'))
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// A process the test started itself; SIGKILLed and reaped when dropped.
pub struct Owned {
    pub child: Child,
}

impl Owned {
    /// `python3 SCRIPT ARGS` with output to `SCRIPT.log`.
    pub fn python(script: &Path, args: &[String]) -> Owned {
        let log = fs::File::create(script.with_extension("log")).unwrap();
        let child = Command::new("python3")
            .arg(script)
            .args(args)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("starting python3");
        Owned { child }
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }
}

impl Drop for Owned {
    fn drop(&mut self) {
        // Our own unreaped child: its PID cannot have been reused.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Listens on 127.0.0.1:PORT (argv[1]) and never accepts; `--ignore-term` makes it ignore
/// SIGTERM, like a server stuck in a shutdown hook.
pub const SILENT_LISTENER: &str = r#"import signal, socket, sys, time
if "--ignore-term" in sys.argv:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(16)
print("listening", flush=True)
while True:
    time.sleep(3600)
"#;

/// Starts the silent listener from `run`'s dir on `port` and waits until it listens.
pub fn silent_listener(run: &Run, name: &str, port: u16, ignore_term: bool) -> Owned {
    let script = run.script(name, SILENT_LISTENER);
    let mut args = vec![port.to_string()];
    if ignore_term {
        args.push("--ignore-term".into());
    }
    let p = Owned::python(&script, &args);
    let pid = p.pid();
    assert!(
        wait_until(deadline(10.0), || listeners(port).contains(&pid)),
        "{name} did not start listening on {port}"
    );
    p
}

/// Inodes of sockets in LISTEN on 127.0.0.1:port or 0.0.0.0:port, read from /proc/net/tcp.
fn listen_inodes(port: u16) -> Vec<String> {
    let text = fs::read_to_string("/proc/net/tcp").unwrap_or_default();
    let want = format!(":{port:04X}");
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let local = f.get(1)?;
            let ours = local.ends_with(&want)
                && (local.starts_with("0100007F") || local.starts_with("00000000"));
            (ours && f.get(3) == Some(&"0A")).then(|| f.get(9).map(|s| s.to_string()))?
        })
        .collect()
}

/// PIDs holding a listening socket on the port (through /proc/*/fd).
pub fn listeners(port: u16) -> Vec<i32> {
    let inodes: Vec<String> = listen_inodes(port)
        .into_iter()
        .map(|i| format!("socket:[{i}]"))
        .collect();
    if inodes.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::new();
    for pid in pids() {
        let Ok(fds) = fs::read_dir(format!("/proc/{pid}/fd")) else {
            continue;
        };
        let holds = fds.flatten().any(|fd| {
            fs::read_link(fd.path())
                .is_ok_and(|t| inodes.iter().any(|i| t.as_os_str() == i.as_str()))
        });
        if holds {
            out.push(pid);
        }
    }
    out
}

fn pids() -> Vec<i32> {
    fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .collect()
}

/// The command line as fixer shows it: arguments joined by spaces.
pub fn cmdline(pid: i32) -> String {
    let raw = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let args: Vec<String> = raw
        .split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    args.join(" ")
}

/// Live (non-zombie) processes running this lab's `lab-backend.py`.
pub fn lab_backends(lab: &Lab) -> Vec<(i32, u64)> {
    let script = format!("{}/lab-backend.py", lab.dir.display());
    pids()
        .into_iter()
        .filter(|p| cmdline(*p).split(' ').any(|a| a == script))
        .filter(|p| proc_state(*p).is_some_and(|s| s != 'Z'))
        .filter_map(identity)
        .collect()
}

/// Sends `sig` to exactly that process: a pidfd, then its start time re-checked.
pub fn signal_exact(id: (i32, u64), sig: rustix::process::Signal) {
    let pid = rustix::process::Pid::from_raw(id.0).expect("a positive pid");
    let fd =
        rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty()).expect("pidfd_open");
    assert_eq!(identity(id.0), Some(id), "PID {} changed", id.0);
    rustix::process::pidfd_send_signal(&fd, sig).expect("pidfd_send_signal");
}

/// The entries of `action` in the audit log, by phase.
pub fn audit_of<'a>(entries: &'a [Value], action: &str, phase: &str) -> Vec<&'a Value> {
    entries
        .iter()
        .filter(|e| e["action"] == action && e["phase"] == phase)
        .collect()
}
