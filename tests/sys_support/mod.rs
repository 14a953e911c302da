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

/// Answers every request with 200 on argv: ADDRESS PORT V6ONLY(0|1|-) FORKS [TAG]; prints the
/// port once listening. FORKS children share the socket (a pre-fork server); TAG only marks
/// the command line so a test can find its own process.
const OK_LISTENER: &str = r#"
import os, socket, sys
addr, port, v6only, forks = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
s = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
if v6only != "-":
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, int(v6only))
s.bind((addr, port)); s.listen(64)
print(s.getsockname()[1], flush=True)
for _ in range(forks):
    if os.fork() == 0:
        break
while True:
    c, _ = s.accept()
    c.recv(4096)
    c.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok")
    c.close()
"#;

/// Options of `Spawned::ok_listener`.
#[derive(Default)]
pub struct Listen<'a> {
    /// 0 picks a free port (printed on the first line).
    pub port: u16,
    pub v6only: Option<bool>,
    pub forks: u32,
    pub tag: &'a str,
}

impl Spawned {
    /// A server on `addr` answering 200 to everything (see `OK_LISTENER`).
    pub fn ok_listener(addr: &str, o: Listen) -> Spawned {
        let v6only = match o.v6only {
            None => "-",
            Some(true) => "1",
            Some(false) => "0",
        };
        let (port, forks) = (o.port.to_string(), o.forks.to_string());
        Self::python(OK_LISTENER, &[addr, &port, v6only, &forks, o.tag])
    }

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

/// The median time of `runs` calls of `f`, for the benchmarks kept as ignored tests.
pub fn median(runs: usize, mut f: impl FnMut()) -> Duration {
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    times.sort();
    times[times.len() / 2]
}
