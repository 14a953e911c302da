//! /proc/PID/syscall: which system call a sleeping process is blocked in, by name.
//!
//! Only the calls that tell an operator *why* a process sleeps are named; the rest come out as
//! `syscall_N`, which is still evidence.

use super::Syscall;

/// System-call numbering differs per architecture; these two cover the servers fixer meets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arch {
    X86_64,
    Aarch64,
    Other,
}

impl Arch {
    pub fn host() -> Arch {
        if cfg!(target_arch = "x86_64") {
            Arch::X86_64
        } else if cfg!(target_arch = "aarch64") {
            Arch::Aarch64
        } else {
            Arch::Other
        }
    }

    fn table(self) -> &'static [(u64, &'static str)] {
        match self {
            Arch::X86_64 => X86_64,
            Arch::Aarch64 => AARCH64,
            Arch::Other => &[],
        }
    }
}

/// From arch/x86/entry/syscalls/syscall_64.tbl.
const X86_64: &[(u64, &str)] = &[
    (0, "read"),
    (1, "write"),
    (3, "close"),
    (7, "poll"),
    (17, "pread64"),
    (19, "readv"),
    (23, "select"),
    (34, "pause"),
    (35, "nanosleep"),
    (42, "connect"),
    (43, "accept"),
    (44, "sendto"),
    (45, "recvfrom"),
    (46, "sendmsg"),
    (47, "recvmsg"),
    (61, "wait4"),
    (65, "semop"),
    (70, "msgrcv"),
    (73, "flock"),
    (128, "rt_sigtimedwait"),
    (130, "rt_sigsuspend"),
    (202, "futex"),
    (230, "clock_nanosleep"),
    (232, "epoll_wait"),
    (247, "waitid"),
    (257, "openat"),
    (270, "pselect6"),
    (271, "ppoll"),
    (281, "epoll_pwait"),
    (288, "accept4"),
    (295, "preadv"),
    (299, "recvmmsg"),
    (327, "preadv2"),
    (426, "io_uring_enter"),
    (441, "epoll_pwait2"),
];

/// From include/uapi/asm-generic/unistd.h (arm64 has no select, poll, epoll_wait or pause).
const AARCH64: &[(u64, &str)] = &[
    (22, "epoll_pwait"),
    (32, "flock"),
    (56, "openat"),
    (57, "close"),
    (63, "read"),
    (64, "write"),
    (65, "readv"),
    (67, "pread64"),
    (69, "preadv"),
    (72, "pselect6"),
    (73, "ppoll"),
    (95, "waitid"),
    (98, "futex"),
    (101, "nanosleep"),
    (115, "clock_nanosleep"),
    (133, "rt_sigsuspend"),
    (137, "rt_sigtimedwait"),
    (188, "msgrcv"),
    (193, "semop"),
    (202, "accept"),
    (203, "connect"),
    (206, "sendto"),
    (207, "recvfrom"),
    (211, "sendmsg"),
    (212, "recvmsg"),
    (242, "accept4"),
    (243, "recvmmsg"),
    (260, "wait4"),
    (286, "preadv2"),
    (426, "io_uring_enter"),
    (441, "epoll_pwait2"),
];

pub fn syscall_name(arch: Arch, nr: u64) -> String {
    match arch.table().iter().find(|(n, _)| *n == nr) {
        Some((_, name)) => (*name).to_string(),
        None => format!("syscall_{nr}"),
    }
}

/// Parses `"0 0x3 0x7f.. ..."`. `running` (on a CPU) and `-1` (blocked outside a system call,
/// e.g. stopped) give None, as does text that does not parse.
pub fn parse_syscall(text: &str, arch: Arch) -> Option<Syscall> {
    let mut fields = text.split_whitespace();
    let nr: u64 = fields.next()?.parse().ok()?;
    let arg0 = fields.next().and_then(parse_hex).unwrap_or(0);
    Some(Syscall {
        name: syscall_name(arch, nr),
        arg0,
    })
}

fn parse_hex(s: &str) -> Option<u64> {
    u64::from_str_radix(s.trim_start_matches("0x"), 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HTTP_SERVER: &str =
        include_str!("../../../tests/fixtures/proc/syscall_python_http_server.txt");
    const INPUT_FIFO: &str =
        include_str!("../../../tests/fixtures/proc/syscall_python_input_fifo.txt");

    #[test]
    fn server_sleeping_in_poll() {
        let sc = parse_syscall(HTTP_SERVER, Arch::X86_64).unwrap();
        assert_eq!(sc.name, "poll");
    }

    #[test]
    fn prompt_reading_fd_zero() {
        let sc = parse_syscall(INPUT_FIFO, Arch::X86_64).unwrap();
        assert_eq!(
            sc,
            Syscall {
                name: "read".into(),
                arg0: 0
            }
        );
        let arm = parse_syscall("63 0x0 0x1 0x2", Arch::Aarch64).unwrap();
        assert_eq!(
            arm,
            Syscall {
                name: "read".into(),
                arg0: 0
            }
        );
    }

    #[test]
    fn running_and_not_in_syscall() {
        assert_eq!(parse_syscall("running\n", Arch::X86_64), None);
        assert_eq!(parse_syscall("-1 0x7ffd 0x4011\n", Arch::X86_64), None);
        assert_eq!(parse_syscall("", Arch::X86_64), None);
    }

    #[test]
    fn unknown_numbers_stay_visible() {
        let sc = parse_syscall("999 0x10", Arch::X86_64).unwrap();
        assert_eq!(
            sc,
            Syscall {
                name: "syscall_999".into(),
                arg0: 16
            }
        );
        assert_eq!(syscall_name(Arch::Other, 0), "syscall_0");
    }

    #[test]
    fn tables_have_unique_numbers() {
        for table in [X86_64, AARCH64] {
            assert!(
                table.windows(2).all(|w| w[0].0 < w[1].0),
                "sorted and unique"
            );
        }
    }
}
