//! Running a helper program (nginx -T, systemctl) with a hard deadline, so a wedged tool can
//! never hang fixer.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::pace::Pace;

#[derive(Debug, Clone)]
pub struct Output {
    /// None when the program was killed at the deadline or by a signal.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub timed_out: bool,
    /// stdout was longer than `COMMAND_OUTPUT_MAX_BYTES`: `stdout` holds only its start.
    pub stdout_cut: bool,
}

impl Output {
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }
}

pub fn run(cmd: &mut Command, timeout: Duration) -> anyhow::Result<Output> {
    let program = format!("{:?}", cmd.get_program());
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("running {program}"))?;
    let out = reader(child.stdout.take());
    let err = reader(child.stderr.take());
    let deadline = Instant::now() + timeout;
    let exit = ExitWatch::open(&child);
    let mut pace = Pace::until(Duration::from_millis(1), Duration::from_millis(5), deadline);
    let mut timed_out = false;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break Some(status);
        }
        // Woken by the exit itself where the kernel offers a pidfd; `nginx -T` is on the
        // critical path of every diagnosis, and a polling pause would add up to 5 ms to it.
        let waiting = match &exit {
            Some(w) => w.wait_until(deadline),
            None => pace.wait(),
        };
        if !waiting {
            let _ = child.kill();
            let _ = child.wait();
            timed_out = true;
            break None;
        }
    };
    // A daemon the program started may keep the pipes open forever (e.g. `systemctl` starting
    // something that inherits stdout): take what arrived, never wait on it.
    let until = Instant::now() + Duration::from_secs(2);
    let left = || until.saturating_duration_since(Instant::now());
    let (stdout, stdout_cut) = out.recv_timeout(left()).unwrap_or_default();
    Ok(Output {
        code: status.and_then(|s| s.code()),
        stdout,
        stderr: err.recv_timeout(left()).unwrap_or_default().0,
        timed_out,
        stdout_cut,
    })
}

/// A pidfd of the child: readable once it has exited.
struct ExitWatch(std::os::fd::OwnedFd);

impl ExitWatch {
    fn open(child: &std::process::Child) -> Option<Self> {
        let pid = rustix::process::Pid::from_raw(i32::try_from(child.id()).ok()?)?;
        rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty())
            .ok()
            .map(Self)
    }

    /// Sleeps until the child exits or `deadline` comes; false once the deadline has passed.
    fn wait_until(&self, deadline: Instant) -> bool {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        match super::signal::pidfd_exited(&self.0, left) {
            // Woken, timed out or interrupted: the caller looks at the child again.
            Ok(_) | Err(rustix::io::Errno::INTR) => {}
            // A poll that keeps failing must not become a busy loop until the deadline.
            Err(_) => std::thread::sleep(left.min(Duration::from_millis(5))),
        }
        true
    }
}

/// Reads a pipe to its end on a thread of its own, keeping at most
/// `COMMAND_OUTPUT_MAX_BYTES`, and whether more came.
fn reader<R: Read + Send + 'static>(pipe: Option<R>) -> std::sync::mpsc::Receiver<(String, bool)> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(read_capped(pipe, crate::limits::COMMAND_OUTPUT_MAX_BYTES));
    });
    rx
}

fn read_capped(pipe: Option<impl Read>, max: u64) -> (String, bool) {
    let mut buf = Vec::new();
    let Some(mut p) = pipe else {
        return (String::new(), false);
    };
    let _ = p.by_ref().take(max).read_to_end(&mut buf);
    let rest = std::io::copy(&mut p, &mut std::io::sink()).unwrap_or(0);
    (String::from_utf8_lossy(&buf).into_owned(), rest > 0)
}

/// Finds a program on PATH, then in the sbin directories a non-login root shell may lack.
pub fn which(name: &str) -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/local/sbin"].map(Into::into))
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_past_the_cap_is_drained_and_flagged() {
        let (text, cut) = read_capped(Some(&b"0123456789"[..]), 4);
        assert_eq!((text.as_str(), cut), ("0123", true));
        let (text, cut) = read_capped(Some(&b"0123"[..]), 4);
        assert_eq!((text.as_str(), cut), ("0123", false));
    }

    #[test]
    fn captures_output_and_status() {
        let out = run(
            Command::new("sh").args(["-c", "echo hi; echo err >&2; exit 3"]),
            Duration::from_secs(10),
        )
        .unwrap();
        assert_eq!(out.code, Some(3));
        assert_eq!(out.stdout.trim(), "hi");
        assert_eq!(out.stderr.trim(), "err");
    }

    #[test]
    fn a_daemon_holding_the_pipe_open_does_not_hang_the_caller() {
        let t = std::time::Instant::now();
        let out = run(
            // The stray sleep ends by itself; it only has to outlive the 2 s grace.
            Command::new("sh").args(["-c", "echo started; sleep 6 & exit 0"]),
            Duration::from_secs(10),
        )
        .unwrap();
        assert_eq!(out.code, Some(0));
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "waited for the daemon"
        );
    }

    #[test]
    fn kills_at_the_deadline() {
        let out = run(Command::new("sleep").arg("30"), Duration::from_millis(200)).unwrap();
        assert!(out.timed_out);
        assert_eq!(out.code, None);
    }
}
