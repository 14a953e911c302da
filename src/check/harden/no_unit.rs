//! A backend without a systemd unit: the unit file that would supervise it, from the
//! playbook's start command or from the process running now.

use std::path::{Path, PathBuf};

use super::{existing_unit, new_unit, read_unit, Change, Hardening, Item, UNIT_DIR};
use crate::finding::{Finding, FindingCode};
use crate::sys::command;
use crate::sys::process::{self, ProcessInfo};
use crate::target::{BackendSpec, RestartSpec, StartCommand, Target};

/// A backend the playbook starts by command: a unit file for it, or — once one was written
/// under the name fixer gives it — that unit's checks.
pub(super) fn command_backend(
    h: &mut Hardening,
    target: &Target,
    backend: &BackendSpec,
) -> Option<PathBuf> {
    let Some(RestartSpec::Command(start)) = &backend.restart else {
        return None;
    };
    let StartCommand {
        command,
        cwd,
        log,
        env,
    } = start;
    let unit = new_unit::unit_name(&target.name);
    if read_unit(&unit).is_ok() {
        h.evidence.push(format!(
            "{unit} exists, but the playbook still starts the backend by command: set restart = {{ systemd = \"{unit}\" }} in it"
        ));
        let from_unit = existing_unit(h, &unit);
        return from_unit.or_else(|| log.clone());
    }
    let text = new_unit::render(&new_unit::Spec {
        from: format!("playbook {}", target.name),
        name: &target.name,
        address: backend.address.to_string(),
        exec: new_unit::Exec::Shell(command),
        cwd: cwd.as_deref(),
        log: log.as_deref(),
        env,
        user: None,
    });
    let cause = format!("the backend has no systemd unit (the playbook starts it with `{command}`): when it dies, nothing restarts it");
    new_unit_item(h, unit, text, cause, "stop the backend started by hand");
    log.clone()
}

/// A backend running outside any unit, with no start command in the playbook: a unit that
/// runs it the way it runs now (argv, working directory, user). Its environment is not
/// copied: it may hold secrets, and what matters in it is the operator's to say.
pub(super) fn by_hand(
    h: &mut Hardening,
    target: &Target,
    backend: &BackendSpec,
    p: &ProcessInfo,
) -> Option<PathBuf> {
    let mut argv = p.cmdline.clone();
    let program = argv.first().map(PathBuf::from)?;
    if !program.is_absolute() {
        argv[0] = command::which(&program.to_string_lossy())
            .or_else(|| process::exe(p.pid))?
            .display()
            .to_string();
    }
    let cwd = process::cwd(p.pid);
    let log = match process::read_fd(p.pid, 1) {
        process::FdTarget::File(f) => Some(PathBuf::from(f)),
        _ => None,
    };
    let text = new_unit::render(&new_unit::Spec {
        from: format!(
            "the running backend, PID {} (playbook {})",
            p.pid, target.name
        ),
        name: &target.name,
        address: backend.address.to_string(),
        exec: new_unit::Exec::Argv(argv),
        cwd: cwd.as_deref(),
        log: log.as_deref(),
        env: &Default::default(),
        user: (p.uid != 0).then_some(p.user.as_str()),
    });
    let cause = format!(
        "the backend runs without a systemd unit (PID {}, `{}`, user {}, started by hand): when it dies, nothing restarts it",
        p.pid,
        p.cmdline_str(),
        p.user
    );
    let unit = new_unit::unit_name(&target.name);
    let stop = format!(
        "add the Environment= lines it needs (its environment is not copied), stop PID {}",
        p.pid
    );
    new_unit_item(h, unit, text, cause, &stop);
    log
}

fn new_unit_item(h: &mut Hardening, unit: String, text: String, cause: String, stop: &str) {
    let path = Path::new(UNIT_DIR).join(&unit);
    let finding = Finding::new(FindingCode::HardenNoUnit, cause).with_action(format!(
        "write this unit to {} (fixer harden --apply does, and enables it), {stop}, `systemctl start {unit}`, and set restart = {{ systemd = \"{unit}\" }} in the playbook",
        path.display()
    ));
    h.items.push(Item::new(
        finding,
        &path.display().to_string(),
        text.clone(),
        true,
    ));
    h.unit = Some(unit.clone());
    h.change = Some(Change {
        unit,
        path,
        text,
        new_unit: true,
        enable: true,
    });
}

pub(super) fn no_restart_at_all() -> Item {
    Item::new(
        Finding::new(
            FindingCode::HardenNoUnit,
            "the playbook names neither the backend's systemd unit nor its start command: fixer cannot tell what supervises it",
        )
        .with_action("add restart = { systemd = \"UNIT\" } (or { command = \"…\", cwd = \"…\", log = \"…\" }) to [backend] and run fixer harden again"),
        "playbook [backend]",
        "restart = { command = \"...\", cwd = \"...\", log = \"...\" }\n".into(),
        false,
    )
}
