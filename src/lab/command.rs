//! `fixer lab up | down | list`.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Result};

use super::{Fault, Lab, Role};
use crate::cli::LabCommand;
use crate::sanitize::clean;

/// `$TMPDIR/fixer-lab`, or `/tmp/fixer-lab`.
pub fn default_dir() -> PathBuf {
    let tmp = std::env::var_os("TMPDIR")
        .filter(|t| !t.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/tmp"));
    tmp.join("fixer-lab")
}

pub fn run(cmd: &LabCommand, out: &mut dyn Write) -> Result<()> {
    match cmd {
        LabCommand::List => list(out),
        LabCommand::Up { fault, dir } => {
            let fault = Fault::parse(fault).ok_or_else(|| {
                anyhow!(
                    "unknown fault {:?}; known faults: {}",
                    clean(fault),
                    Fault::known_names()
                )
            })?;
            let dir = dir.clone().unwrap_or_else(default_dir);
            let lab = Lab::up(&dir, fault)?;
            describe(&lab, out)?;
            lab.keep();
            Ok(())
        }
        LabCommand::Down { dir } => {
            let dir = dir.clone().unwrap_or_else(default_dir);
            Lab::down_dir(&dir)?;
            writeln!(out, "lab in {} stopped", show(&dir))?;
            Ok(())
        }
    }
}

fn list(out: &mut dyn Write) -> Result<()> {
    for f in Fault::ALL {
        writeln!(out, "{:<20} {}", f.name(), f.describe())?;
    }
    Ok(())
}

fn show(p: &Path) -> String {
    clean(&p.display().to_string())
}

fn describe(lab: &Lab, out: &mut dyn Write) -> Result<()> {
    let dir = show(&lab.dir);
    writeln!(
        out,
        "lab up with fault {}: {}",
        lab.fault,
        lab.fault.describe()
    )?;
    writeln!(out, "  dir       {dir}")?;
    let nginx = match lab.pid(Role::Nginx) {
        Some(pid) => format!("running, master pid {pid}"),
        None => "not running".to_string(),
    };
    writeln!(
        out,
        "  nginx     http://localhost:{} and https://localhost:{} on 127.0.0.1 ({nginx})",
        lab.http_port, lab.https_port
    )?;
    writeln!(
        out,
        "            proxies to 127.0.0.1:{}",
        lab.upstream_port
    )?;
    let backend = match (lab.pid(Role::Backend), lab.pid(Role::Squatter)) {
        (Some(pid), _) => format!("lab-backend.py, pid {pid}"),
        (None, Some(pid)) => format!("held by squatter.py, pid {pid}"),
        (None, None) => "not running".to_string(),
    };
    writeln!(
        out,
        "  backend   127.0.0.1:{} ({backend})",
        lab.backend_port
    )?;
    writeln!(out, "  playbook  {}", show(&lab.playbook))?;
    writeln!(
        out,
        "  login     admin, password in {}",
        show(&lab.password_file)
    )?;
    writeln!(out, "  logs      {dir}/logs/")?;
    writeln!(out)?;
    writeln!(out, "next:  fixer diagnose -p {}", show(&lab.playbook))?;
    writeln!(out, "stop:  fixer lab down --dir {dir}")?;
    Ok(())
}
