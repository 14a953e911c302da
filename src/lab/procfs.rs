//! The little of /proc the lab needs to start, recognise and stop its own processes: a
//! process's identity (pid + start time), its state, parent, command line and cwd, who
//! listens on a loopback port, and signalling through a pidfd so a reused pid is never hit.
//!
//! The parsers are pure functions over the text of the /proc files, tested below.

use std::fs;
use std::io;
use std::path::PathBuf;

use rustix::process::{Pid, PidfdFlags, Signal};

/// The fields of /proc/PID/stat the lab uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    pub state: char,
    pub ppid: i32,
    /// Field 22: start time in clock ticks since boot. With the pid, the process's identity.
    pub start_ticks: u64,
}

/// Parses the text of /proc/PID/stat. The command name (field 2) may hold spaces and
/// parentheses, so the fields are counted from the last `)`.
pub fn parse_stat(text: &str) -> Option<Stat> {
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    Some(Stat {
        state: fields.first()?.chars().next()?,
        ppid: fields.get(1)?.parse().ok()?,
        start_ticks: fields.get(19)?.parse().ok()?,
    })
}

pub fn stat(pid: i32) -> Option<Stat> {
    parse_stat(&fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// Start time of a running process, to record next to its pid.
pub fn start_ticks(pid: i32) -> io::Result<u64> {
    stat(pid)
        .map(|s| s.start_ticks)
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("process {pid} is gone")))
}

/// Is the process with this identity still running? A zombie counts as gone (its sockets are
/// closed); if it is our own child it is reaped on the way.
pub fn alive(pid: i32, start_ticks: u64) -> bool {
    match stat(pid) {
        Some(s) if s.start_ticks == start_ticks => {
            if matches!(s.state, 'Z' | 'X') {
                reap(pid);
                false
            } else {
                true
            }
        }
        _ => false,
    }
}

/// Collects the exit status of `pid` if it is a finished child of this process.
fn reap(pid: i32) {
    if let Some(p) = Pid::from_raw(pid) {
        let _ = rustix::process::waitpid(Some(p), rustix::process::WaitOptions::NOHANG);
    }
}

/// Sends `sig` to the process only if it still has this identity. The pidfd is opened before
/// the identity is checked, so the signal cannot reach a process that reused the pid.
/// Returns false when the process is already gone.
pub fn signal(pid: i32, start_ticks: u64, sig: Signal) -> io::Result<bool> {
    let Some(p) = Pid::from_raw(pid).filter(|_| pid > 1) else {
        return Ok(false);
    };
    let fd = match rustix::process::pidfd_open(p, PidfdFlags::empty()) {
        Ok(fd) => Some(fd),
        Err(rustix::io::Errno::SRCH) => return Ok(false),
        Err(rustix::io::Errno::NOSYS) => None,
        Err(e) => return Err(e.into()),
    };
    if !alive(pid, start_ticks) {
        return Ok(false);
    }
    let sent = match fd {
        Some(fd) => rustix::process::pidfd_send_signal(&fd, sig),
        None => rustix::process::kill_process(p, sig),
    };
    match sent {
        Ok(()) => Ok(true),
        Err(rustix::io::Errno::SRCH) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// The arguments of the process; empty for kernel threads.
pub fn argv(pid: i32) -> Option<Vec<String>> {
    let raw = fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    Some(
        raw.split(|b| *b == 0)
            .filter(|a| !a.is_empty())
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect(),
    )
}

/// The command line with arguments joined by spaces (nginx rewrites its own into one string
/// such as `nginx: master process /usr/sbin/nginx -p DIR -c DIR/nginx.conf`).
pub fn cmdline(pid: i32) -> Option<String> {
    argv(pid).map(|a| a.join(" "))
}

pub fn cwd(pid: i32) -> Option<PathBuf> {
    fs::read_link(format!("/proc/{pid}/cwd")).ok()
}

/// Every pid in /proc.
pub fn all_pids() -> Vec<i32> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect()
}

/// The pids whose parent is `ppid`, with their start times.
pub fn children(ppid: i32) -> Vec<(i32, u64)> {
    all_pids()
        .into_iter()
        .filter_map(|pid| {
            let s = stat(pid)?;
            (s.ppid == ppid).then_some((pid, s.start_ticks))
        })
        .collect()
}

/// True while the process sleeps in read(2) on file descriptor 0, per /proc/PID/syscall
/// (`0 0x0 ...` on x86_64: syscall number 0 is read, the first argument is the fd).
pub fn reading_stdin(pid: i32) -> bool {
    let Ok(text) = fs::read_to_string(format!("/proc/{pid}/syscall")) else {
        return false;
    };
    let mut fields = text.split_whitespace();
    let read_nr = if cfg!(target_arch = "aarch64") {
        "63"
    } else {
        "0"
    };
    fields.next() == Some(read_nr) && fields.next() == Some("0x0")
}

/// Socket inodes of the LISTEN sockets on `port` in the text of /proc/net/tcp or tcp6.
pub fn parse_listen_inodes(text: &str, port: u16) -> Vec<u64> {
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let local_port = f.get(1)?.rsplit(':').next()?;
            let listening = *f.get(3)? == "0A";
            let port_matches = u16::from_str_radix(local_port, 16).ok()? == port;
            (listening && port_matches).then(|| f.get(9)?.parse().ok())?
        })
        .collect()
}

/// Inodes of every TCP socket (IPv4 or IPv6) listening on `port`.
pub fn listen_inodes(port: u16) -> Vec<u64> {
    ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|p| fs::read_to_string(p).ok())
        .flat_map(|text| parse_listen_inodes(&text, port))
        .collect()
}

pub fn listening(port: u16) -> bool {
    !listen_inodes(port).is_empty()
}

/// Processes holding a listening socket on `port`. Processes whose fds cannot be read
/// (e.g. /proc/1/fd) are skipped.
pub fn listeners(port: u16) -> Vec<i32> {
    let inodes = listen_inodes(port);
    if inodes.is_empty() {
        return Vec::new();
    }
    let wanted: Vec<String> = inodes.iter().map(|i| format!("socket:[{i}]")).collect();
    all_pids()
        .into_iter()
        .filter(|pid| {
            let Ok(fds) = fs::read_dir(format!("/proc/{pid}/fd")) else {
                return false;
            };
            fds.filter_map(|fd| fs::read_link(fd.ok()?.path()).ok())
                .any(|target| wanted.iter().any(|w| target.as_os_str() == w.as_str()))
        })
        .collect()
}

/// This process and its ancestors: never signalled by the lab.
pub fn self_and_ancestors() -> Vec<i32> {
    let mut out = vec![std::process::id() as i32];
    while let Some(s) = out.last().and_then(|p| stat(*p)) {
        if s.ppid <= 0 || out.contains(&s.ppid) {
            break;
        }
        out.push(s.ppid);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_with_odd_command_names() {
        let text = "4242 (python3 (x) y) T 17 4242 4242 0 -1 1077936128 300 0 0 0 2 1 0 0 20 0 \
                    1 0 987654 20000000 2000 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1";
        let s = parse_stat(text).unwrap();
        assert_eq!(
            s,
            Stat {
                state: 'T',
                ppid: 17,
                start_ticks: 987654
            }
        );
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn finds_listening_sockets_by_port() {
        let tcp = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
           0: 0100007F:1F90 00000000:0000 0A 00000000:00000003 00:00000000 00000000     0        0 5551 1 0000000000000000 100 0 0 10 0\n\
           1: 0100007F:1F90 0100007F:D2F0 01 00000000:00000000 00:00000000 00000000     0        0 5552 1 0000000000000000 20 4 30 10 -1\n\
           2: 0100007F:1F91 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 5553 1 0000000000000000 100 0 0 10 0\n";
        assert_eq!(parse_listen_inodes(tcp, 8080), vec![5551]);
        assert_eq!(parse_listen_inodes(tcp, 8081), vec![5553]);
        assert!(parse_listen_inodes(tcp, 80).is_empty());
        let tcp6 = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
           0: 00000000000000000000000001000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 7771 1 0000000000000000 100 0 0 10 0\n";
        assert_eq!(parse_listen_inodes(tcp6, 8080), vec![7771]);
    }

    #[test]
    fn knows_this_process() {
        let me = std::process::id() as i32;
        let ticks = start_ticks(me).unwrap();
        assert!(alive(me, ticks));
        assert!(!alive(me, ticks + 1));
        assert_eq!(self_and_ancestors()[0], me);
    }
}
