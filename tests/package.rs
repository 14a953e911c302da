//! The Debian package, installed the way an operator installs it (`apt install ./fixer_*.deb`)
//! in a booted Debian container that has no fixer and no Rust, then run there: the binary on
//! PATH, its man pages and completions, the playbooks in /usr/share and /etc, `fixer verify`
//! on a real site.
//!
//! The .deb is built by `./scripts/package` (a release build and cargo-deb take minutes, so
//! not here); `./scripts/test` runs it before the tests. With no .deb this test says so and
//! returns without checking anything.
#![allow(clippy::print_stderr)]

mod container_support;

use std::path::PathBuf;

use container_support::{AppUnit, Boot, Container};

/// `FIXER_DEB`, or the newest `target/debian/fixer_*.deb`.
fn deb() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("FIXER_DEB") {
        return Some(PathBuf::from(path));
    }
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/debian");
    std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            name.starts_with("fixer_") && name.ends_with(".deb")
        })
        .max_by_key(|p| p.metadata().and_then(|m| m.modified()).ok())
}

#[test]
fn the_deb_installs_with_apt_and_fixer_runs_from_it() {
    let Some(deb) = deb() else {
        eprintln!(
            "SKIPPED: no target/debian/fixer_*.deb; build it with ./scripts/package \
             (./scripts/test does) or point FIXER_DEB at one"
        );
        return;
    };
    // Only this one file goes into the container, read-only.
    let dir = tempfile::tempdir().unwrap();
    let name = deb.file_name().unwrap().to_string_lossy().into_owned();
    std::fs::copy(&deb, dir.path().join(&name)).unwrap();
    let c = Container::boot_with(&Boot {
        fixer: false,
        bind_ro: vec![(dir.path().to_path_buf(), "/mnt/deb".into())],
    });
    assert_ne!(c.sh("command -v fixer").code, 0, "no fixer before");

    let out = c.sh_ok("cd /mnt/deb && apt install -y ./fixer_*.deb");
    assert!(out.stdout.contains("Setting up fixer"), "{}", out.all());
    assert_eq!(c.sh_ok("command -v fixer").stdout.trim(), "/usr/bin/fixer");
    let version = c.fixer(&["--version"]);
    assert_eq!(
        version.stdout.trim(),
        format!("fixer {}", env!("CARGO_PKG_VERSION")),
        "{}",
        version.all()
    );

    let files = c.sh_ok("dpkg -L fixer").stdout;
    for path in [
        "/usr/bin/fixer",
        "/usr/share/man/man1/fixer.1.gz",
        "/usr/share/man/man1/fixer-verify.1.gz",
        "/usr/share/bash-completion/completions/fixer",
        "/usr/share/zsh/vendor-completions/_fixer",
        "/usr/share/fish/vendor_completions.d/fixer.fish",
        "/usr/share/fixer/playbooks/login-502.toml",
        "/usr/share/fixer/playbooks/streamlit-502.toml",
        "/etc/fixer/playbooks/example.toml",
    ] {
        assert!(files.lines().any(|l| l == path), "{path} not in:\n{files}");
    }
    let conffiles = c.sh_ok("dpkg-query -W -f='${Conffiles}' fixer").stdout;
    assert!(
        conffiles.contains("/etc/fixer/playbooks/example.toml"),
        "an admin's edits survive upgrades: {conffiles}"
    );
    let page = c.sh_ok("zcat /usr/share/man/man1/fixer-verify.1.gz").stdout;
    assert!(page.contains("textfile"), "{page}");
    c.sh_ok("bash -c '. /usr/share/bash-completion/completions/fixer && complete -p fixer'");

    // fixer finds the example where the package put it, and it parses.
    let listed = c.fixer(&["playbooks"]);
    let example = listed
        .stdout
        .lines()
        .find(|l| l.contains("/etc/fixer/playbooks/example.toml"))
        .unwrap_or_else(|| panic!("{}", listed.all()));
    assert!(
        example.contains("example") && example.contains("ok"),
        "{example}"
    );

    // A real site (systemd unit, nginx package): healthy, then its backend stopped.
    c.site(AppUnit::default());
    let all = c.fixer(&["verify"]);
    assert_eq!(all.code, 0, "every site nginx serves:\n{}", all.all());
    // With no playbook, each discovered site is a series of its own.
    let all = c.fixer(&["verify", "--format", "prometheus"]);
    assert_eq!(all.code, 0, "{}", all.all());
    assert!(
        all.stdout
            .contains("fixer_healthy{playbook=\"localhost → 127.0.0.1:8080\"} 1"),
        "{}",
        all.all()
    );
    let out = c.fixer(&[
        "verify",
        "app",
        "--format",
        "prometheus",
        "--textfile",
        "/root/fixer-app.prom",
    ]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(
        out.stdout.contains("fixer_healthy{playbook=\"app\"} 1"),
        "{}",
        out.all()
    );
    assert_eq!(c.sh_ok("cat /root/fixer-app.prom").stdout, out.stdout);
    c.sh_ok("systemctl stop app.service");
    let down = c.fixer(&["verify", "app", "--json"]);
    assert_eq!(down.code, 1, "{}", down.all());
    assert!(down.stdout.contains("\"healthy\": false"), "{}", down.all());
}
