//! `--restart-cmd` is a shell command line: `cd DIR && exec …`, `VAR=1 cmd`, and a command
//! that fails at once, whose message fixer quotes from the log it keeps in its state dir.

mod common;
mod fix_support;

use common::{lab, status};
use fix_support::{cmdline, listeners, output, Run};
use fixer::lab::{Fault, Lab};

/// `fixer fix --yes` on a lab whose backend is down, started with `cmd` instead of the
/// playbook's command.
fn fix_with(run: &Run, lab: &Lab, cmd: &str) -> fix_support::Output {
    let mut c = run.fix(lab);
    c.args(["--yes", "--restart-cmd", cmd]);
    output(c)
}

/// `fix_with` a command built around the lab's own backend command (`python3 …/lab-backend.py
/// --port P`); it must succeed and leave exactly one process on the port, which is returned.
fn fixed_by(wrap: impl Fn(&str) -> String) -> (tempfile::TempDir, Lab, fix_support::Output, i32) {
    let (dir, lab) = lab(Fault::BackendDown);
    let backend = format!(
        "python3 {}/lab-backend.py --port {}",
        lab.dir.display(),
        lab.backend_port
    );
    let out = fix_with(&Run::new(), &lab, &wrap(&backend));
    assert_eq!(out.code, 0, "{}", out.all());
    let pids = listeners(lab.backend_port);
    assert_eq!(pids.len(), 1, "{pids:?}");
    (dir, lab, out, pids[0])
}

/// A directory inside the lab with the health path as a file, served by `http.server`; the
/// lab's teardown stops what runs from inside its directory.
fn site(lab: &Lab) -> std::path::PathBuf {
    let dir = lab.dir.join("site");
    std::fs::create_dir_all(dir.join("api")).unwrap();
    std::fs::write(dir.join("api/health"), "ok\n").unwrap();
    dir
}

#[test]
fn cd_and_exec_run_as_a_shell_would() {
    let (_dir, lab) = lab(Fault::BackendDown);
    let dir = site(&lab);
    let port = lab.backend_port;
    let cmd = format!(
        "cd {} && exec python3 -m http.server {port} --bind 127.0.0.1",
        dir.display()
    );
    let run = Run::new();
    let out = fix_with(&run, &lab, &cmd);
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(
        out.stdout.contains("as a shell command line (sh -c)"),
        "{}",
        out.all()
    );
    let pids = listeners(port);
    assert_eq!(pids.len(), 1, "{pids:?}");
    assert!(
        cmdline(pids[0]).contains("-m http.server"),
        "{}",
        cmdline(pids[0])
    );
    assert!(
        out.stdout.contains(&format!(
            "the backend is PID {} ({})",
            pids[0],
            cmdline(pids[0])
        )),
        "{}",
        out.all()
    );
    assert_eq!(status(lab.http_port, "/api/health").unwrap(), 200);
    // Output is kept, not thrown away: http.server logged the health probes.
    let log = run.state.join(format!("logs/backend-127.0.0.1-{port}.log"));
    let text = std::fs::read_to_string(&log).unwrap_or_else(|e| panic!("{}: {e}", log.display()));
    assert!(text.contains("GET /api/health"), "{text}");
}

#[test]
fn an_environment_assignment_reaches_the_backend() {
    let (_dir, _lab, _out, pid) = fixed_by(|backend| format!("FIXER_TEST_GREETING=1 {backend}"));
    let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap();
    assert!(
        environ
            .split(|b| *b == 0)
            .any(|v| v == b"FIXER_TEST_GREETING=1"),
        "the assignment did not reach PID {pid}"
    );
}

#[test]
fn a_command_that_fails_at_once_is_quoted() {
    let (_dir, lab) = lab(Fault::BackendDown);
    let run = Run::new();
    let cmd = "echo 'starting app'; echo 'app.py: error: settings.toml not found' >&2; exit 1";
    let out = fix_with(&run, &lab, cmd);
    assert_eq!(out.code, 5, "{}", out.all());
    assert!(
        out.stdout
            .contains("the command exited at once (exit status: 1)"),
        "{}",
        out.all()
    );
    let log = run
        .state
        .join(format!("logs/backend-127.0.0.1-{}.log", lab.backend_port));
    assert!(
        out.stdout.contains(&format!(
            "{}: app.py: error: settings.toml not found",
            log.display()
        )),
        "{}",
        out.all()
    );
    assert!(out.stdout.contains("starting app"), "{}", out.all());
    // A second failing run quotes only its own output.
    let again = fix_with(&run, &lab, "echo 'second try' >&2; exit 3");
    assert_eq!(again.code, 5, "{}", again.all());
    assert!(again.stdout.contains("second try"), "{}", again.all());
    assert!(!again.stdout.contains("settings.toml"), "{}", again.all());
}

/// A command that puts the backend in the background and exits 0 (as a daemonising server
/// does): the backend is the process that then holds the port, not the shell.
#[test]
fn a_backend_left_behind_by_the_command_is_tracked_by_its_port() {
    let (_dir, lab, out, pid) = fixed_by(|backend| format!("{backend} &"));
    let text = &out.stdout;
    let exited = text
        .find("the command exited (exit status: 0); waiting for a process it left behind")
        .unwrap_or_else(|| panic!("{}", out.all()));
    let named = text
        .find(&format!("the backend is PID {pid} ({})", cmdline(pid)))
        .unwrap_or_else(|| panic!("{}", out.all()));
    assert!(exited < named, "{}", out.all());
    assert_eq!(status(lab.http_port, "/api/health").unwrap(), 200);
}
