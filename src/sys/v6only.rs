//! Whether a listening `[::]` socket also takes IPv4. /proc/net/tcp6 does not show a socket's
//! IPV6_V6ONLY; the socket itself does, through a duplicate of its holder's fd (pidfd_getfd).
//! nginx, for one, sets it on its own `[::]` listeners; a backend that does so refuses every
//! connection to 127.0.0.1, and a probe refused there says nothing about whether it is stuck.

use rustix::net::sockopt;
use rustix::process::{pidfd_getfd, pidfd_open, Pid, PidfdFlags, PidfdGetfdFlags};

use super::holders;

/// Whether the socket `inode` has IPV6_V6ONLY set, read from one of its holders (looked for
/// among `likely` pids first). `None` when no holder can be inspected (not root, gone).
pub fn of_inode(inode: u64, likely: &[i32]) -> Option<(bool, i32)> {
    let scan = holders::find_holders(&[inode], likely);
    scan.holders
        .get(&inode)?
        .iter()
        .find_map(|&pid| v6only(pid, inode).map(|v| (v, pid)))
}

fn v6only(pid: i32, inode: u64) -> Option<bool> {
    let pidfd = pidfd_open(Pid::from_raw(pid)?, PidfdFlags::empty()).ok()?;
    let want = format!("socket:[{inode}]");
    let entries = std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?;
    let fd = entries.flatten().find_map(|entry| {
        let link = std::fs::read_link(entry.path()).ok()?;
        (link.to_str() == Some(want.as_str())).then_some(())?;
        entry.file_name().to_str()?.parse::<i32>().ok()
    })?;
    let dup = pidfd_getfd(&pidfd, fd, PidfdGetfdFlags::empty()).ok()?;
    sockopt::ipv6_v6only(&dup).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;
    use std::os::fd::AsRawFd;

    fn inode(l: &TcpListener) -> u64 {
        let link = std::fs::read_link(format!("/proc/self/fd/{}", l.as_raw_fd())).unwrap();
        let text = link.to_string_lossy().into_owned();
        text.trim_start_matches("socket:[")
            .trim_end_matches(']')
            .parse()
            .unwrap()
    }

    #[test]
    fn reads_the_flag_of_a_socket_of_this_process() {
        let Ok(l) = TcpListener::bind("[::1]:0") else {
            return; // no IPv6 here
        };
        let me = std::process::id() as i32;
        let set = sockopt::ipv6_v6only(&l).unwrap();
        assert_eq!(of_inode(inode(&l), &[me]).map(|(v, _)| v), Some(set));
        assert_eq!(of_inode(u64::MAX, &[me]), None);
    }
}
