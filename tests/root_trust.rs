//! What root runs comes from files only root can change, and the audit log says who acted.

mod common;
mod fix_support;

use std::fs;
use std::os::unix::fs::PermissionsExt;

use common::lab;
use fix_support::{audit_of, output, Run};
use fixer::lab::Fault;

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// A world-writable directory with `./playbooks/login-502.toml` mode 0666, owned by nobody when
/// the test can arrange it: the shape of `cd /tmp/X && sudo fixer fix login-502`.
fn hostile_dir() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::Builder::new()
        .prefix("fixer-x-")
        .tempdir()
        .unwrap();
    let books = dir.path().join("playbooks");
    fs::create_dir(&books).unwrap();
    let file = books.join("login-502.toml");
    fs::write(
        &file,
        "[backend]\naddress = \"127.0.0.1:9\"\nrestart = { command = \"touch /tmp/owned\" }\n",
    )
    .unwrap();
    fs::set_permissions(&file, fs::Permissions::from_mode(0o666)).unwrap();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o777)).unwrap();
    if is_root() {
        std::os::unix::fs::chown(&file, Some(65534), Some(65534)).unwrap();
    }
    (dir, file)
}

#[test]
fn root_refuses_a_playbook_another_user_can_change() {
    let (dir, file) = hostile_dir();
    let run = Run::new();
    let mut cmd = run.fixer("fix");
    cmd.args(["login-502", "--dry-run", "--timeout", "1"])
        .current_dir(dir.path());
    let out = output(cmd);
    if !is_root() {
        // Only root refuses: as its owner, the file is the operator's own playbook.
        assert!(!out.stderr.contains("refusing"), "{}", out.all());
        return;
    }
    assert_eq!(out.code, 2, "{}", out.all());
    let want = format!(
        "fixer: error: refusing {} as root: it is owned by nobody (uid 65534), not root;",
        file.display()
    );
    assert!(out.stderr.starts_with(&want), "{}", out.all());
    assert!(
        out.stdout.is_empty(),
        "nothing was diagnosed: {}",
        out.all()
    );

    // Made root's but left in the world-writable directory, it is still refused.
    std::os::unix::fs::chown(&file, Some(0), Some(0)).unwrap();
    fs::set_permissions(&file, fs::Permissions::from_mode(0o644)).unwrap();
    let mut cmd = run.fixer("playbooks");
    cmd.current_dir(dir.path());
    let out = output(cmd);
    assert_eq!(out.code, 0, "{}", out.all());
    let row = out
        .stdout
        .lines()
        .find(|l| l.contains("playbooks/login-502.toml"))
        .unwrap_or_else(|| panic!("{}", out.all()));
    assert!(
        row.contains("refused as root: its directory") && row.contains("without the sticky bit"),
        "{row}"
    );
}

#[test]
fn playbooks_marks_one_that_does_not_parse() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("playbooks")).unwrap();
    fs::write(
        dir.path().join("playbooks/broken.toml"),
        "[nginx]\nports = \"eighty\"\n",
    )
    .unwrap();
    let run = Run::new();
    let mut cmd = run.fixer("playbooks");
    cmd.current_dir(dir.path());
    let out = output(cmd);
    let row = out
        .stdout
        .lines()
        .find(|l| l.contains("broken"))
        .unwrap_or_else(|| panic!("{}", out.all()));
    assert!(row.contains("does not parse"), "{row}");
}

#[test]
fn the_audit_log_names_the_sudo_user_and_login_uid() {
    let (_dir, lab) = lab(Fault::StoppedBackend);
    let run = Run::new();
    let mut cmd = run.fix(&lab);
    cmd.arg("--yes")
        .env("SUDO_USER", "alice")
        .env("SUDO_UID", "1000");
    let out = output(cmd);
    assert_eq!(out.code, 0, "{}", out.all());
    let start = audit_of(&run.audit(), "resume-holder", "start")[0].clone();
    assert!(
        start["user"].as_str().unwrap().starts_with("alice (as "),
        "{start:#}"
    );
    assert_eq!(start["identity"]["sudo_user"], "alice", "{start:#}");
    assert_eq!(start["identity"]["sudo_uid"], 1000, "{start:#}");
    let login = fs::read_to_string("/proc/self/loginuid").unwrap();
    match login.trim().parse::<u32>().unwrap() {
        u32::MAX => assert!(start["identity"]["login_uid"].is_null(), "{start:#}"),
        uid => assert_eq!(start["identity"]["login_uid"], uid, "{start:#}"),
    }
}
