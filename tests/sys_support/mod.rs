//! Processes the sys tests start themselves, in their own process group, killed on drop so a
//! failing assertion never leaves them behind.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

pub const DEADLINE: Duration = Duration::from_secs(10);

pub struct Spawned {
    pub child: Child,
    pub stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<String>,
    /// Processes this one started in a session of their own (outside the process group).
    pub also_kill: Vec<i32>,
}

impl Spawned {
    /// Runs `python3 -c script args...` in a new process group with piped stdin and stdout.
    pub fn python(script: &str, args: &[&str]) -> Spawned {
        Self::python_with_stdin(script, args, Stdio::piped())
    }

    pub fn python_with_stdin(script: &str, args: &[&str], stdin: Stdio) -> Spawned {
        let mut cmd = Command::new("python3");
        cmd.arg("-c").arg(script).args(args).stdin(stdin);
        Self::spawn(&mut cmd)
    }

    /// Starts `cmd` with piped stdout in a new process group.
    pub fn spawn(cmd: &mut Command) -> Spawned {
        use std::os::unix::process::CommandExt;
        let mut child = cmd
            .stdout(Stdio::piped())
            .process_group(0)
            .spawn()
            .expect("the test process starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stdin = child.stdin.take();
        Spawned {
            child,
            stdin,
            lines,
            also_kill: Vec::new(),
        }
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// The next line the process printed, waiting at most [`DEADLINE`].
    pub fn line(&self) -> String {
        self.lines
            .recv_timeout(DEADLINE)
            .expect("the test process printed a line in time")
    }

    /// The whitespace-separated numbers of the next line.
    pub fn numbers(&self) -> Vec<i64> {
        self.line()
            .split_whitespace()
            .map(|n| n.parse().expect("a number"))
            .collect()
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        for &pid in &self.also_kill {
            let _ = nix::sys::signal::kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
        let _ = killpg(Pid::from_raw(self.pid()), Signal::SIGKILL);
        let _ = self.child.wait();
    }
}

/// Polls `probe` every 20 ms until it yields a value; panics naming `what` after [`DEADLINE`].
pub fn wait_until<T>(what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = probe() {
            return v;
        }
        assert!(start.elapsed() < DEADLINE, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A unique word to put on a test process's command line, so a matcher finds only it.
pub fn marker(name: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("fixer-test-{name}-{}-{nanos}", std::process::id())
}
