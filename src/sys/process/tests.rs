use super::*;

fn sample(
    state: char,
    stdin: FdTarget,
    syscall: Option<(&str, u64)>,
    wchan: Option<&str>,
) -> ProcessInfo {
    ProcessInfo {
        pid: 4242,
        ppid: 1,
        pgid: 4242,
        sid: 4242,
        comm: "python3".into(),
        cmdline: vec!["python3".into(), "app.py".into()],
        state: ProcState::from_letter(state),
        uid: 0,
        user: "root".into(),
        start_ticks: 100,
        started_unix: now_unix() - 60.0,
        wchan: wchan.map(str::to_string),
        stdin,
        syscall: syscall.map(|(name, arg0)| Syscall {
            name: name.into(),
            arg0,
        }),
        unit: None,
        container: None,
        kernel_thread: false,
    }
}

#[test]
fn read_on_fd_zero_is_a_prompt() {
    let p = sample(
        'S',
        FdTarget::Pipe,
        Some(("read", 0)),
        Some("anon_pipe_read"),
    );
    assert!(p.blocked_reading_stdin());
    let p = sample('S', FdTarget::DevNull, Some(("read", 0)), None);
    assert!(
        p.blocked_reading_stdin(),
        "the syscall alone is evidence enough"
    );
}

#[test]
fn read_on_another_fd_is_not() {
    let p = sample(
        'S',
        FdTarget::Tty("/dev/pts/1".into()),
        Some(("read", 5)),
        Some("anon_pipe_read"),
    );
    assert!(!p.blocked_reading_stdin());
}

#[test]
fn select_on_stdin_only() {
    let tty = FdTarget::Tty("/dev/pts/1".into());
    assert!(
        sample('S', tty.clone(), Some(("select", 1)), Some("do_select")).blocked_reading_stdin()
    );
    assert!(!sample('S', tty, Some(("select", 7)), Some("do_select")).blocked_reading_stdin());
}

#[test]
fn a_worker_waiting_for_a_request_is_not_reading_stdin() {
    let p = sample(
        'S',
        FdTarget::Pipe,
        Some(("recvfrom", 4)),
        Some("wait_woken"),
    );
    assert!(!p.blocked_reading_stdin());
}

#[test]
fn wchan_when_syscall_unknown() {
    let tty = FdTarget::Tty("/dev/pts/1".into());
    assert!(sample('S', tty.clone(), None, Some("n_tty_read")).blocked_reading_stdin());
    assert!(sample('S', tty.clone(), None, Some("wait_woken")).blocked_reading_stdin());
    assert!(sample('S', FdTarget::Pipe, None, Some("pipe_read")).blocked_reading_stdin());
    assert!(!sample('S', FdTarget::DevNull, None, Some("n_tty_read")).blocked_reading_stdin());
    assert!(!sample('S', tty, None, Some("inet_csk_accept")).blocked_reading_stdin());
}

#[test]
fn stopped_or_running_is_not_blocked() {
    let p = sample(
        'T',
        FdTarget::Pipe,
        Some(("read", 0)),
        Some("do_signal_stop"),
    );
    assert!(!p.blocked_reading_stdin());
    let p = sample('R', FdTarget::Pipe, Some(("read", 0)), None);
    assert!(!p.blocked_reading_stdin());
}

#[test]
fn cmdline_str_escapes_and_brackets() {
    let mut p = sample('S', FdTarget::Pipe, None, None);
    p.cmdline = vec!["python3".into(), "-c".into(), "x\x1b[2J".into()];
    assert_eq!(p.cmdline_str(), "python3 -c x\\u{1b}[2J");
    p.cmdline.clear();
    p.comm = "kworker/0:1".into();
    assert_eq!(p.cmdline_str(), "[kworker/0:1]");
}

#[test]
fn age_and_units() {
    let mut p = sample('S', FdTarget::Pipe, None, None);
    assert!((59.0..120.0).contains(&p.age_secs()));
    p.unit = Some("run-r1.scope".into());
    assert_eq!(p.restartable_unit(), None);
    p.unit = Some("flask-app.service".into());
    assert_eq!(p.restartable_unit(), Some("flask-app.service"));
}

#[test]
fn cmdline_splitting() {
    assert_eq!(
        split_cmdline(b"python3\0-m\0http.server\0"),
        ["python3", "-m", "http.server"]
    );
    assert_eq!(
        split_cmdline(b"nginx: worker process"),
        ["nginx: worker process"]
    );
    assert_eq!(split_cmdline(b"a\0\0b\0"), ["a", "", "b"]);
    assert!(split_cmdline(b"").is_empty());
}

#[test]
fn descendants_walk_the_tree() {
    let map = HashMap::from([
        (1, vec![10, 20]),
        (10, vec![11, 12]),
        (12, vec![13]),
        (20, vec![]),
    ]);
    assert_eq!(descendants(10, &map), [11, 12, 13]);
    assert_eq!(descendants(1, &map), [10, 11, 12, 13, 20]);
    assert!(descendants(13, &map).is_empty());
}

#[test]
fn reads_itself() {
    let me = std::process::id() as i32;
    let p = ProcessInfo::read(me).unwrap();
    assert!(
        "RS".contains(p.state.letter()),
        "the leader thread runs or waits for the test threads"
    );
    assert!(!p.kernel_thread);
    assert!(p.age_secs() < 3600.0 * 24.0);
    assert!(all_pids().contains(&me));
    assert!(!ancestors(me).is_empty());
    assert!(children_map().values().flatten().any(|c| *c == me));
    assert_eq!(
        read_cmdline(me).unwrap(),
        std::env::args().collect::<Vec<_>>()
    );
}

#[test]
fn kernel_thread_and_missing_process() {
    let kthreadd = ProcessInfo::read(2).unwrap();
    assert!(kthreadd.kernel_thread);
    assert_eq!(kthreadd.cmdline_str(), "[kthreadd]");
    assert!(matches!(
        ProcessInfo::read(i32::MAX),
        Err(ProcError::Gone(_))
    ));
}

#[test]
fn pid1_reads_even_when_its_fds_are_hidden() {
    let init = ProcessInfo::read(1).unwrap();
    assert_eq!(init.ppid, 0);
    assert!(!init.kernel_thread);
    let hidden =
        std::fs::read_link("/proc/1/fd/0").is_err_and(|e| e.kind() == ErrorKind::PermissionDenied);
    if hidden {
        assert_eq!(init.stdin, FdTarget::Unreadable);
    }
}
