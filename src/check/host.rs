//! Host pressure that explains a dead or stalled backend: memory (and swap) nearly gone, a
//! load far above the CPUs, the disk holding the backend's log full. Runs only when
//! `backend_port` says the backend is down or `port_holder` says it is stuck; adds the
//! measurements as evidence, names `host-memory-low` / `host-disk-full` when they apply, and
//! carries them into the step's finding, so the root cause says it. Without a unit, the last
//! lines of the backend's own log go in too: they are its last words. Changes nothing.

use std::path::{Path, PathBuf};

use crate::step::details::{HostDetails, HostDisk, StepDetails};

use crate::finding::{Finding, FindingCode};
use crate::sanitize::clean;
use crate::step::StepResult;
use crate::sys::host::{self, DiskSpace, Memory};
use crate::target::{RestartSpec, Target};

/// Below this share of memory available (swap nearly used up too, or none), the kernel is
/// reclaiming hard and the OOM killer is next.
const MEMORY_LOW: f64 = 0.05;
const SWAP_LOW: f64 = 0.10;
/// Below this share, or this many bytes, free on the log's filesystem, writes are about to
/// fail (ENOSPC) and backends that log synchronously die or hang.
const DISK_LOW: f64 = 0.05;
const DISK_LOW_BYTES: u64 = 100 * 1024 * 1024;
/// Log lines shown, and the most read from the end of the log to find them.
const LOG_LINES: usize = 10;
const LOG_TAIL_BYTES: u64 = 64 * 1024;
/// Where a unit's output goes when the playbook names no log: the journal's filesystem.
const DEFAULT_LOG_DIR: &str = "/var/log";

/// Adds the host's pressure (and, for a backend started by command, its log's last lines) to a
/// step that found the backend down or stuck.
pub fn explain(step: &mut StepResult, target: &Target) {
    let Some(code) = step.finding.as_ref().map(|f| f.code) else {
        return;
    };
    use FindingCode::*;
    let down = matches!(
        code,
        BackendNotListening | BackendKilled | BackendExited | BackendOomKilled | BackendStartLimit
    );
    if !down && code != HolderStuck {
        return;
    }
    let started = std::time::Instant::now();
    let log = backend_log(target);
    let memory = host::memory();
    let disk = host::disk_space(log.as_deref().unwrap_or(Path::new(DEFAULT_LOG_DIR)));
    let mut found = Vec::new();
    if let Some(m) = &memory {
        step.evidence.push(memory_line(m));
        found.extend(memory_low(m));
    }
    if let Some(d) = &disk {
        step.evidence.push(disk_line(d));
        found.extend(disk_full(d));
    }
    for f in &found {
        step.evidence.push(format!("{}: {}", f.code, f.cause));
    }
    if down && code == BackendNotListening {
        if let Some(log) = &log {
            log_tail(step, log);
        }
        // Without a unit there is no PID on record to look up: every OOM kill the kernel
        // still remembers is shown, for the operator to match against the backend.
        step.evidence
            .extend(kernel_oom(&kernel_ring(target.timeout)));
    }
    if let Some(f) = step.finding.as_mut() {
        for host in &found {
            f.cause = format!("{}; {}", f.cause, host.cause);
        }
    }
    let host = HostDetails {
        memory,
        disk: disk.map(|d| HostDisk {
            path: d.path.display().to_string(),
            total: d.total,
            available: d.available,
        }),
        findings: found,
    };
    match &mut step.details {
        StepDetails::BackendPort(d) => d.host = Some(host),
        StepDetails::PortHolder(d) => d.host = Some(host),
        _ => {}
    }
    step.elapsed_ms += started.elapsed().as_millis() as u64;
}

/// `explain`, for the chain's report of each step: only a step that found the backend down or
/// stuck is touched.
pub fn explained(mut step: StepResult, target: &Target) -> StepResult {
    explain(&mut step, target);
    step
}

/// The playbook's log for a backend started by command.
fn backend_log(target: &Target) -> Option<PathBuf> {
    match target.backend.as_ref()?.restart.as_ref()? {
        RestartSpec::Command(c) => c.log.clone(),
        RestartSpec::Systemd { .. } => None,
    }
}

/// OOM kills shown at most; the kernel's ring buffer read is bounded by `dmesg` itself.
const OOM_LINES: usize = 5;

/// The kernel's ring buffer (`dmesg`), bounded by the probe timeout; `Err` says why it could
/// not be read.
fn kernel_ring(within: std::time::Duration) -> Result<String, String> {
    let mut cmd = std::process::Command::new("dmesg");
    match crate::sys::command::run(&mut cmd, within) {
        Ok(o) if o.success() => Ok(o.stdout),
        Ok(o) => Err(clean(o.stderr.lines().last().unwrap_or("dmesg failed"))),
        Err(e) => Err(format!("{e:#}")),
    }
}

/// The newest OOM-killer lines of the kernel's ring buffer, or one line saying there are none
/// (or why it could not be read).
fn kernel_oom(ring: &Result<String, String>) -> Vec<String> {
    let text = match ring {
        Ok(t) => t,
        Err(why) => return vec![format!("kernel log (dmesg): not readable: {why}")],
    };
    let kills: Vec<&str> = text
        .lines()
        .filter(|l| {
            l.contains("Killed process") && l.to_ascii_lowercase().contains("out of memory")
        })
        .collect();
    if kills.is_empty() {
        return vec!["kernel log (dmesg): no OOM kill recorded".into()];
    }
    kills[kills.len().saturating_sub(OOM_LINES)..]
        .iter()
        .map(|l| format!("kernel log (dmesg): {}", clean(l.trim())))
        .collect()
}

fn log_tail(step: &mut StepResult, log: &Path) {
    match host::tail(log, LOG_LINES, LOG_TAIL_BYTES) {
        Ok(lines) if lines.is_empty() => {
            step.evidence.push(format!("log {}: empty", log.display()))
        }
        Ok(lines) => step.evidence.extend(
            lines
                .iter()
                .map(|l| format!("log {}: {}", log.display(), clean(l))),
        ),
        Err(e) => step
            .evidence
            .push(format!("log {}: cannot read: {e}", log.display())),
    }
}

fn memory_line(m: &Memory) -> String {
    let swap = if m.swap_total == 0 {
        "no swap".to_string()
    } else {
        format!(
            "swap {} free of {}",
            bytes(m.swap_free),
            bytes(m.swap_total)
        )
    };
    format!(
        "host: memory {} available of {}, {swap}, load {:.2} {:.2} {:.2} on {} CPUs",
        bytes(m.available),
        bytes(m.total),
        m.load[0],
        m.load[1],
        m.load[2],
        m.cpus
    )
}

fn disk_line(d: &DiskSpace) -> String {
    format!(
        "host: the filesystem holding {} has {} free of {}",
        d.path.display(),
        bytes(d.available),
        bytes(d.total)
    )
}

/// Pure: memory nearly gone, and swap no way out.
pub fn memory_low(m: &Memory) -> Option<Finding> {
    let share = |part: u64, whole: u64| part as f64 / whole.max(1) as f64;
    let swap_gone = m.swap_total == 0 || share(m.swap_free, m.swap_total) < SWAP_LOW;
    (m.total > 0 && share(m.available, m.total) < MEMORY_LOW && swap_gone).then(|| {
        Finding::new(
            FindingCode::HostMemoryLow,
            format!(
                "host memory is nearly exhausted ({} available of {}, {})",
                bytes(m.available),
                bytes(m.total),
                if m.swap_total == 0 {
                    "no swap".to_string()
                } else {
                    format!("swap {} free", bytes(m.swap_free))
                }
            ),
        )
        .with_action("find what holds the memory (`ps aux --sort=-rss | head`); the OOM killer picks the biggest process, often the backend")
    })
}

/// Pure: the filesystem a log is written to is (nearly) full.
pub fn disk_full(d: &DiskSpace) -> Option<Finding> {
    let low = d.available < DISK_LOW_BYTES.min(d.total / 10)
        || (d.available as f64) < d.total as f64 * DISK_LOW;
    (d.total > 0 && low).then(|| {
        Finding::new(
            FindingCode::HostDiskFull,
            format!(
                "the filesystem holding {} is full ({} free of {})",
                d.path.display(),
                bytes(d.available),
                bytes(d.total)
            ),
        )
        .with_action("free space (old logs, `journalctl --vacuum-size=`), then add log rotation (`fixer harden` shows a rule)")
    })
}

/// `1.9 GB`, `512 MB`, `40 kB`.
fn bytes(n: u64) -> String {
    const UNITS: [(&str, f64); 3] = [("GB", 1e9), ("MB", 1e6), ("kB", 1e3)];
    for (unit, size) in UNITS {
        if n as f64 >= size {
            return format!("{:.1} {unit}", n as f64 / size);
        }
    }
    format!("{n} B")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oom_kills_from_the_kernel_ring() {
        let ring = Ok("[ 10.0] eth0: link up\n\
            [ 99.1] Out of memory: Killed process 4242 (python3) total-vm:2100000kB, anon-rss:1992294kB\n\
            [ 99.2] oom_reaper: reaped process 4242 (python3)\n"
            .to_string());
        assert_eq!(
            kernel_oom(&ring),
            ["kernel log (dmesg): [ 99.1] Out of memory: Killed process 4242 (python3) total-vm:2100000kB, anon-rss:1992294kB"]
        );
        assert_eq!(
            kernel_oom(&Ok("[ 1.0] nothing\n".into())),
            ["kernel log (dmesg): no OOM kill recorded"]
        );
        assert_eq!(
            kernel_oom(&Err("Operation not permitted".into())),
            ["kernel log (dmesg): not readable: Operation not permitted"]
        );
    }

    fn mem(total: u64, available: u64, swap_total: u64, swap_free: u64) -> Memory {
        Memory {
            total,
            available,
            swap_total,
            swap_free,
            load: [0.0; 3],
            cpus: 2,
        }
    }

    #[test]
    fn memory_is_low_only_when_swap_cannot_help() {
        let g = 1_000_000_000;
        assert!(memory_low(&mem(2 * g, g / 20, 0, 0)).is_some());
        assert!(memory_low(&mem(2 * g, g / 20, g, g)).is_none(), "swap free");
        assert!(memory_low(&mem(2 * g, g / 20, g, g / 20)).is_some());
        assert!(memory_low(&mem(2 * g, g, 0, 0)).is_none());
        let f = memory_low(&mem(2 * g, 50_000_000, 0, 0)).unwrap();
        assert_eq!(
            f.cause,
            "host memory is nearly exhausted (50.0 MB available of 2.0 GB, no swap)"
        );
    }

    #[test]
    fn a_full_disk_is_a_small_share_or_little_space() {
        let d = |total, available| DiskSpace {
            path: "/var/log".into(),
            total,
            available,
        };
        let g = 1_000_000_000;
        assert!(disk_full(&d(100 * g, 4 * g)).is_some(), "4 %");
        assert!(disk_full(&d(100 * g, 20 * g)).is_none());
        assert!(disk_full(&d(1_000_000, 0)).is_some(), "a full tmpfs");
        assert!(disk_full(&d(1_000_000, 500_000)).is_none());
        assert_eq!(
            disk_full(&d(1_048_576, 0)).unwrap().cause,
            "the filesystem holding /var/log is full (0 B free of 1.0 MB)"
        );
    }
}
