//! A throwaway Debian container with systemd as PID 1, for what needs real units, a real
//! `systemctl` and a real journal (the test machines' PID 1 is not systemd).
//!
//! `Container::boot()` starts `systemd-nspawn --boot --volatile=overlay` on the rootfs that
//! `scripts/setup-container` builds, so every write lands in a tmpfs that vanishes with the
//! container and tests never see each other's changes. Each container has its own machine name
//! and its own cgroup (nspawn with `--keep-unit` puts the container's tree under the cgroup it
//! was started in; without a cgroup of its own, two containers would share one). Commands run
//! inside through `nsenter -t PID1 -a`, each with a deadline. Dropping the container SIGKILLs
//! its PID 1 (through a pidfd: that ends every process in its PID namespace, and nothing else),
//! reaps nspawn and removes its cgroups; nothing on the host outside it is touched.
//!
//! When the container cannot boot here (tools or rootfs missing, no CAP_SYS_ADMIN), `boot`
//! panics with the reason: a test that needs systemd fails, it never passes without it.
#![allow(dead_code, clippy::print_stderr)]

use std::fs;
use std::os::fd::OwnedFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

mod cgroup;
mod units;

pub use units::*;

/// Where `scripts/setup-container` builds the rootfs (same variable, same default).
const DEFAULT_ROOTFS: &str = "/var/lib/machines/fixer-bookworm";
/// From starting nspawn to `is-system-running` saying running: ~2 s on an idle machine; the
/// bound only stops a broken boot, on a machine busy with other tests.
const BOOT_DEADLINE: Duration = Duration::from_secs(90);
/// Any one command inside the container (a `fixer fix` included).
pub const COMMAND_DEADLINE: Duration = Duration::from_secs(120);
/// nspawn exits once its PID 1 is gone; after this it is SIGKILLed with its process group.
const STOP_DEADLINE: Duration = Duration::from_secs(10);
/// The PATH inside the container: the host's (pyenv, cargo) means nothing there.
const PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// What a command inside the container printed.
#[derive(Debug)]
pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    pub fn all(&self) -> String {
        format!(
            "exit {}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

pub struct Container {
    pub name: String,
    /// The container's PID 1 as the host sees it.
    pub pid: i32,
    start_ticks: u64,
    /// pidfd of PID 1, once found.
    init: Option<OwnedFd>,
    nspawn: Child,
    cgroups: Vec<PathBuf>,
    dir: tempfile::TempDir,
}

/// What a container gets from the host besides its rootfs.
pub struct Boot {
    /// Bind the fixer binary under test at /usr/local/bin/fixer (off for testing an installed
    /// package, which it would shadow on PATH).
    pub fixer: bool,
    /// Host directories bound read-only: (host path, path inside).
    pub bind_ro: Vec<(PathBuf, String)>,
}

impl Default for Boot {
    fn default() -> Self {
        Boot {
            fixer: true,
            bind_ro: Vec::new(),
        }
    }
}

impl Container {
    /// Boots a fresh container with the fixer binary under test at /usr/local/bin/fixer and
    /// waits until systemd says the system is running (or degraded).
    pub fn boot() -> Container {
        Container::boot_with(&Boot::default())
    }

    /// `boot` with other binds.
    pub fn boot_with(boot: &Boot) -> Container {
        let started = Instant::now();
        let rootfs = rootfs();
        require_tool("systemd-nspawn");
        require_tool("nsenter");
        static SWEEP: std::sync::Once = std::sync::Once::new();
        SWEEP.call_once(cgroup::sweep_abandoned);
        let name = unique_name();
        let dir = tempfile::Builder::new()
            .prefix("fixer-container-")
            .tempdir()
            .expect("creating a temp dir");
        let cgroups = cgroup::create(&name);
        let nspawn = spawn_nspawn(&name, &rootfs, &cgroups, dir.path(), boot);
        let mut c = Container {
            name,
            pid: 0,
            start_ticks: 0,
            init: None,
            nspawn,
            cgroups,
            dir,
        };
        c.find_init();
        c.wait_running();
        eprintln!(
            "container {} (PID 1 = host PID {}) running in {:.1} s",
            c.name,
            c.pid,
            started.elapsed().as_secs_f64()
        );
        c
    }

    fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("nspawn.log")).unwrap_or_default()
    }

    /// Panics with nspawn's own output if it has exited (it cannot boot here).
    fn check_alive(&mut self, doing: &str) {
        if let Ok(Some(status)) = self.nspawn.try_wait() {
            panic!(
                "systemd-nspawn exited ({status}) while {doing}: the container cannot run \
                 here (needs root with CAP_SYS_ADMIN). Its output:\n{}",
                self.log()
            );
        }
    }

    /// nspawn's child that is PID 1 of a new PID namespace.
    fn find_init(&mut self) {
        let nspawn = self.nspawn.id() as i32;
        let deadline = Instant::now() + BOOT_DEADLINE;
        loop {
            self.check_alive("starting");
            if let Some(pid) = children(nspawn).into_iter().find(|&p| is_ns_init(p)) {
                let ticks = start_ticks(pid).expect("reading the container's PID 1");
                let raw = rustix::process::Pid::from_raw(pid).unwrap();
                let fd = rustix::process::pidfd_open(raw, rustix::process::PidfdFlags::empty())
                    .expect("pidfd_open of the container's PID 1");
                // The pidfd names the process we checked only if it is still that one.
                assert_eq!(start_ticks(pid), Some(ticks), "container PID 1 changed");
                (self.pid, self.start_ticks, self.init) = (pid, ticks, Some(fd));
                return;
            }
            assert!(
                Instant::now() < deadline,
                "nspawn started no PID 1 within {BOOT_DEADLINE:?}:\n{}",
                self.log()
            );
            thread::sleep(Duration::from_millis(20));
        }
    }

    fn wait_running(&mut self) {
        let deadline = Instant::now() + BOOT_DEADLINE;
        let mut state = String::new();
        while Instant::now() < deadline {
            self.check_alive("booting");
            state = self.run(&["systemctl", "is-system-running"]).stdout;
            match state.trim() {
                "running" | "degraded" => return,
                _ => thread::sleep(Duration::from_millis(50)),
            }
        }
        let failed = self.run(&["systemctl", "--failed", "--no-pager"]).stdout;
        panic!(
            "systemd in {} did not reach running within {BOOT_DEADLINE:?} (last: {}); \
             failed units:\n{failed}\nnspawn output:\n{}",
            self.name,
            state.trim(),
            self.log()
        );
    }

    /// `args` inside the container (all its namespaces, a clean environment), bounded by
    /// COMMAND_DEADLINE.
    pub fn run(&self, args: &[&str]) -> Out {
        self.run_with(args, None, COMMAND_DEADLINE)
    }

    /// `sh -c SCRIPT` inside the container.
    pub fn sh(&self, script: &str) -> Out {
        self.run(&["sh", "-c", script])
    }

    /// Like `sh`, and panics unless it exits 0.
    pub fn sh_ok(&self, script: &str) -> Out {
        let out = self.sh(script);
        assert_eq!(out.code, 0, "in {}: {script}\n{}", self.name, out.all());
        out
    }

    /// `args` with `stdin` as its input, killed after `deadline`.
    pub fn run_with(&self, args: &[&str], stdin: Option<&str>, deadline: Duration) -> Out {
        assert_eq!(
            start_ticks(self.pid),
            Some(self.start_ticks),
            "the container's PID 1 ({}) is gone:\n{}",
            self.pid,
            self.log()
        );
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let file = |what: &str| self.dir.path().join(format!("cmd-{n}.{what}"));
        let input = match stdin {
            Some(text) => {
                fs::write(file("in"), text).unwrap();
                Stdio::from(fs::File::open(file("in")).unwrap())
            }
            None => Stdio::null(),
        };
        // Output goes to files, not pipes: a process the command leaves running in the
        // background would keep a pipe open and a reader waiting.
        let mut child = Command::new("nsenter")
            .args(["-t", &self.pid.to_string(), "-a", "--", "env", "-i"])
            .args([
                format!("PATH={PATH}"),
                "HOME=/root".into(),
                "LANG=C.UTF-8".into(),
                "TERM=dumb".into(),
                "NO_COLOR=1".into(),
                "SYSTEMD_PAGER=".into(),
            ])
            .args(args)
            .stdin(input)
            .stdout(fs::File::create(file("out")).unwrap())
            .stderr(fs::File::create(file("err")).unwrap())
            .spawn()
            .expect("starting nsenter");
        let end = Instant::now() + deadline;
        let status = loop {
            if let Some(status) = child.try_wait().expect("waiting for nsenter") {
                break status;
            }
            if Instant::now() >= end {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "in {}: {args:?} did not finish within {deadline:?}; output so far:\n{}",
                    self.name,
                    fs::read_to_string(file("out")).unwrap_or_default()
                );
            }
            thread::sleep(Duration::from_millis(10));
        };
        Out {
            code: status.code().unwrap_or(-1),
            stdout: fs::read_to_string(file("out")).unwrap_or_default(),
            stderr: fs::read_to_string(file("err")).unwrap_or_default(),
        }
    }

    /// Writes `text` to `path` inside the container (parent directories created).
    pub fn write(&self, path: &str, text: &str) {
        let out = self.run_with(
            &[
                "sh",
                "-c",
                r#"mkdir -p "$(dirname "$1")" && cat > "$1""#,
                "sh",
                path,
            ],
            Some(text),
            COMMAND_DEADLINE,
        );
        assert_eq!(out.code, 0, "writing {path}: {}", out.all());
    }

    /// `fixer ARGS` inside the container: the binary under test, bound read-only.
    pub fn fixer(&self, args: &[&str]) -> Out {
        let mut all = vec!["fixer"];
        all.extend_from_slice(args);
        self.run(&all)
    }

    /// Calls `cond` every 50 ms until it is true or `secs` have passed; panics with `what`.
    pub fn wait_for(&self, secs: u64, what: &str, mut cond: impl FnMut(&Container) -> bool) {
        let end = Instant::now() + Duration::from_secs(secs);
        while !cond(self) {
            assert!(
                Instant::now() < end,
                "in {}: {what} did not happen within {secs} s",
                self.name
            );
            thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        // SIGKILL to a PID namespace's init ends every process in it. The pidfd names our
        // container's PID 1 even if that PID were reused.
        if let Some(init) = &self.init {
            let _ = rustix::process::pidfd_send_signal(init, rustix::process::Signal::KILL);
        }
        let end = Instant::now() + STOP_DEADLINE;
        while matches!(self.nspawn.try_wait(), Ok(None)) && Instant::now() < end {
            thread::sleep(Duration::from_millis(20));
        }
        if matches!(self.nspawn.try_wait(), Ok(None)) {
            // nspawn runs in its own process group, which holds only what we started.
            let pgid = rustix::process::Pid::from_raw(self.nspawn.id() as i32).unwrap();
            let _ = rustix::process::kill_process_group(pgid, rustix::process::Signal::KILL);
            let _ = self.nspawn.wait();
        }
        cgroup::remove(&self.cgroups);
    }
}

fn rootfs() -> PathBuf {
    let path = PathBuf::from(std::env::var("FIXER_ROOTFS").unwrap_or(DEFAULT_ROOTFS.into()));
    assert!(
        path.join(".fixer-rootfs").is_file(),
        "no container rootfs at {} (or an unfinished one): run ./scripts/setup-container \
         (needs root and network, ~2 min) or set FIXER_ROOTFS",
        path.display()
    );
    path
}

fn require_tool(tool: &str) {
    let found = Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        found,
        "{tool} is not installed: run ./scripts/setup-container"
    );
}

/// `fixer-test-PID-TICKS-N-NONCE`: this test process (PID and start time, which is how
/// `cgroup::sweep_abandoned` tells a live owner from a dead one) and something no other
/// container of this process has.
fn unique_name() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let pid = std::process::id() as i32;
    let ticks = start_ticks(pid).expect("reading this process's start time");
    format!("fixer-test-{pid}-{ticks}-{n}-{nanos:x}")
}

/// Starts nspawn in its own process group, moved into `cgroups` before it execs.
fn spawn_nspawn(name: &str, rootfs: &Path, cgroups: &[PathBuf], dir: &Path, boot: &Boot) -> Child {
    let bin = env!("CARGO_BIN_EXE_fixer");
    let mut binds: Vec<String> = boot
        .bind_ro
        .iter()
        .map(|(host, inside)| format!("--bind-ro={}:{inside}", host.display()))
        .collect();
    if boot.fixer {
        binds.push(format!("--bind-ro={bin}:/usr/local/bin/fixer"));
    }
    let mut script = String::new();
    for c in cgroups {
        script += &format!("echo $$ > '{}/cgroup.procs' && ", c.display());
    }
    script += r#"exec "$@""#;
    let log = fs::File::create(dir.join("nspawn.log")).unwrap();
    Command::new("sh")
        .args(["-c", &script, "sh", "systemd-nspawn"])
        .args(["--register=no", "--keep-unit", "--quiet", "-M", name, "-D"])
        .arg(rootfs)
        .args(["--volatile=overlay", "--private-network"])
        .args(binds)
        .args(["--boot", "--console=passive"])
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .process_group(0)
        .spawn()
        .expect("starting systemd-nspawn")
}

fn stat_fields(pid: i32) -> Option<Vec<String>> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &text[text.rfind(')')? + 1..];
    Some(rest.split_whitespace().map(String::from).collect())
}

fn start_ticks(pid: i32) -> Option<u64> {
    stat_fields(pid)?.get(19)?.parse().ok()
}

fn children(parent: i32) -> Vec<i32> {
    fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&p| stat_fields(p).and_then(|f| f.get(1)?.parse::<i32>().ok()) == Some(parent))
        .collect()
}

/// PID 1 of a PID namespace below ours: `NSpid:` ends in 1.
fn is_ns_init(pid: i32) -> bool {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("NSpid:"))
        .is_some_and(|ids| {
            let ids: Vec<&str> = ids.split_whitespace().collect();
            ids.len() > 1 && ids.last() == Some(&"1")
        })
}
