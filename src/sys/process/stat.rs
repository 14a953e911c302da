//! /proc/PID/stat and the `Uid:` line of /proc/PID/status, as pure parsers.

/// The fields of /proc/PID/stat that fixer uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stat {
    pub pid: i32,
    pub comm: String,
    pub state: ProcState,
    pub ppid: i32,
    pub pgid: i32,
    pub sid: i32,
    /// Kernel `PF_*` flags (field 9).
    pub flags: u32,
    /// Start time in clock ticks since boot (field 22).
    pub start_ticks: u64,
}

/// `PF_KTHREAD`: the task is a kernel thread.
pub const PF_KTHREAD: u32 = 0x0020_0000;

/// A process's state, from the letter in `/proc/PID/stat`, with the questions fixer asks of it
/// answered in one place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcState {
    Running,
    Sleeping,
    DiskSleep,
    Stopped,
    Traced,
    Zombie,
    Dead,
    Idle,
    Other(char),
}

impl ProcState {
    pub fn from_letter(c: char) -> ProcState {
        match c {
            'R' => ProcState::Running,
            'S' => ProcState::Sleeping,
            'D' => ProcState::DiskSleep,
            'T' => ProcState::Stopped,
            't' => ProcState::Traced,
            'Z' => ProcState::Zombie,
            'X' | 'x' => ProcState::Dead,
            'I' => ProcState::Idle,
            other => ProcState::Other(other),
        }
    }

    /// The letter as /proc and `ps` show it.
    pub fn letter(self) -> char {
        match self {
            ProcState::Running => 'R',
            ProcState::Sleeping => 'S',
            ProcState::DiskSleep => 'D',
            ProcState::Stopped => 'T',
            ProcState::Traced => 't',
            ProcState::Zombie => 'Z',
            ProcState::Dead => 'X',
            ProcState::Idle => 'I',
            ProcState::Other(c) => c,
        }
    }

    /// Exited (a zombie or dead): it holds no sockets and serves nothing.
    pub fn is_gone(self) -> bool {
        matches!(self, ProcState::Zombie | ProcState::Dead)
    }

    /// Stopped by a signal or a debugger: it serves nothing until continued.
    pub fn is_stopped(self) -> bool {
        matches!(self, ProcState::Stopped | ProcState::Traced)
    }

    /// Asleep in the kernel (so its wchan and system call say what it waits for).
    pub fn is_waiting(self) -> bool {
        matches!(self, ProcState::Sleeping | ProcState::DiskSleep)
    }

    pub fn word(self) -> &'static str {
        match self {
            ProcState::Running => "running",
            ProcState::Sleeping => "sleeping",
            ProcState::DiskSleep => "in uninterruptible I/O",
            ProcState::Stopped => "stopped",
            ProcState::Traced => "stopped by a debugger",
            ProcState::Zombie => "zombie",
            ProcState::Dead => "dead",
            ProcState::Idle => "idle",
            ProcState::Other(_) => "unknown state",
        }
    }
}

/// Serialised as the letter, as before it was a type.
impl serde::Serialize for ProcState {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_char(self.letter())
    }
}

impl std::fmt::Display for ProcState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.letter())
    }
}

/// Parses one stat line. The comm is in parentheses and may itself contain spaces and ')'
/// (any process can name itself `x) R 1 (y`), so the split is at the *last* ')'.
pub fn parse_stat(text: &str) -> Option<Stat> {
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    if close < open {
        return None;
    }
    let pid = text[..open].trim().parse().ok()?;
    let comm = text[open + 1..close].to_string();
    // After the comm: field 3 (state) is index 0, so field N is index N - 3.
    let rest: Vec<&str> = text[close + 1..].split_whitespace().collect();
    let field = |n: usize| rest.get(n - 3).copied();
    Some(Stat {
        pid,
        comm,
        state: ProcState::from_letter(field(3)?.chars().next()?),
        ppid: field(4)?.parse().ok()?,
        pgid: field(5)?.parse().ok()?,
        sid: field(6)?.parse().ok()?,
        flags: field(9)?.parse().ok()?,
        start_ticks: field(22)?.parse().ok()?,
    })
}

/// The real uid from `Uid:\treal\teffective\tsaved\tfs`.
pub fn parse_status_uid(text: &str) -> Option<u32> {
    let line = text.lines().find(|l| l.starts_with("Uid:"))?;
    line["Uid:".len()..].split_whitespace().next()?.parse().ok()
}

/// `btime` of /proc/stat: the boot time in seconds since the epoch.
pub fn parse_btime(text: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with("btime "))?;
    line["btime ".len()..].trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    macro_rules! fixture {
        ($name:literal) => {
            include_str!(concat!("../../../tests/fixtures/proc/", $name))
        };
    }

    #[test]
    fn python_server() {
        let s = parse_stat(fixture!("stat_python_http_server.txt")).unwrap();
        assert_eq!(
            (s.pid, s.comm.as_str(), s.state.letter()),
            (9745, "python3", 'S')
        );
        assert_eq!((s.ppid, s.pgid, s.sid), (9742, 9742, 4187));
        assert_eq!(s.start_ticks, 51738);
        assert_eq!(s.flags & PF_KTHREAD, 0);
    }

    #[test]
    fn comm_with_space_and_paren() {
        let s = parse_stat(fixture!("stat_comm_space_paren.txt")).unwrap();
        assert_eq!(
            (s.pid, s.comm.as_str(), s.state.letter(), s.ppid),
            (9747, "a b)", 'S', 9742)
        );
        assert_eq!(s.start_ticks, 51738);
    }

    #[test]
    fn comm_that_imitates_fields() {
        let s = parse_stat(fixture!("stat_comm_evil.txt")).unwrap();
        assert_eq!(
            (s.pid, s.comm.as_str(), s.state.letter(), s.ppid),
            (9749, "evil) R 1 (x", 'S', 9742)
        );
        assert_eq!(s.start_ticks, 51739);
    }

    #[test]
    fn kernel_thread_flag() {
        let s = parse_stat(fixture!("stat_kthreadd.txt")).unwrap();
        assert_eq!((s.pid, s.ppid, s.start_ticks), (2, 0, 24));
        assert_ne!(s.flags & PF_KTHREAD, 0);
    }

    #[test]
    fn truncated_or_garbage() {
        assert_eq!(parse_stat("12 (x) S 1 2"), None);
        assert_eq!(parse_stat(")( S"), None);
        assert_eq!(parse_stat(""), None);
    }

    #[test]
    fn status_real_uid() {
        assert_eq!(
            parse_status_uid(fixture!("status_python_http_server.txt")),
            Some(0)
        );
        assert_eq!(
            parse_status_uid("Name:\tx\nUid:\t1000\t0\t0\t0\n"),
            Some(1000)
        );
        assert_eq!(parse_status_uid("Name:\tx\n"), None);
    }

    #[test]
    fn boot_time() {
        assert_eq!(
            parse_btime("cpu 1 2\nbtime 1795619807\nprocesses 9\n"),
            Some(1795619807)
        );
        assert_eq!(parse_btime("cpu 1 2\n"), None);
    }
}
