//! A disposable environment on loopback: nginx from the system package with a temp prefix and
//! generated config on free ports, a real backend process, and one injected fault. Used by
//! `fixer lab` so an operator can rehearse, and by the integration tests.

use std::path::{Path, PathBuf};

/// A fault the lab can inject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    None,
    BackendDown,
    StuckHolder,
    StoppedBackend,
    StdinHolder,
    WrongPort,
    NginxDown,
    NginxConfigBroken,
    DnsElsewhere,
    ForeignHolder,
}

impl Fault {
    pub const ALL: &'static [Fault] = &[
        Fault::None,
        Fault::BackendDown,
        Fault::StuckHolder,
        Fault::StoppedBackend,
        Fault::StdinHolder,
        Fault::WrongPort,
        Fault::NginxDown,
        Fault::NginxConfigBroken,
        Fault::DnsElsewhere,
        Fault::ForeignHolder,
    ];

    pub fn name(self) -> &'static str {
        todo!()
    }

    pub fn describe(self) -> &'static str {
        todo!()
    }

    pub fn parse(_s: &str) -> Option<Fault> {
        todo!()
    }
}

/// A running lab. Dropping it tears it down unless `keep()` was called.
#[derive(Debug)]
pub struct Lab {
    pub dir: PathBuf,
    pub fault: Fault,
    /// nginx's plain-HTTP port.
    pub http_port: u16,
    /// nginx's TLS port (self-signed certificate for `localhost`).
    pub https_port: u16,
    /// Where the playbook says the backend is.
    pub backend_port: u16,
    /// The playbook fixer should be run with.
    pub playbook: PathBuf,
    /// nginx's config file and prefix.
    pub nginx_conf: PathBuf,
}

impl Lab {
    pub fn up(_dir: &Path, _fault: Fault) -> anyhow::Result<Lab> {
        todo!()
    }

    /// Tears down the lab recorded in `dir` (used by `fixer lab down`).
    pub fn down_dir(_dir: &Path) -> anyhow::Result<()> {
        todo!()
    }

    /// Leaves the lab running after this value is dropped.
    pub fn keep(self) {
        todo!()
    }
}

pub mod command {
    //! Placeholder until the lab lands.
    pub fn run(_cmd: &crate::cli::LabCommand, _out: &mut dyn std::io::Write) -> anyhow::Result<()> {
        anyhow::bail!("the lab is not available in this build")
    }
}
