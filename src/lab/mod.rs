//! A disposable environment on loopback: nginx from the system package with a temp prefix and
//! generated config on free ports, a real backend process, and one injected fault. Used by
//! `fixer lab` so an operator can rehearse, and by the integration tests.
//!
//! Layout of a lab directory: `nginx.conf`, `cert.pem`/`key.pem`, `htpasswd`, `lab-password`,
//! `lab-backend.py`, `squatter.py`, `playbook.toml`, `lab.json` (what runs, for `lab down`),
//! `php-fpm.conf` and `app.php` (fastcgi-backend), `lab-wsgi.py` (uwsgi-backend),
//! `logs/` (nginx's error and access logs, one log per started process), `temp/` (nginx).

pub mod command;
mod expired_cert;
mod fault;
mod net;
mod nginx_conf;

pub use nginx_conf::{make_cert, make_cert_for};
mod playbook;
mod procfs;
mod spawn;
mod state;
mod teardown;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use anyhow::{anyhow, bail, Context, Result};
use rustix::process::Signal;

pub use fault::Fault;
pub use playbook::ELSEWHERE_IP;
pub use state::{LabProcess, Role};

use spawn::{Ready, Tools};
use state::{LabState, OWNED_MARKER};

const BACKEND_SCRIPT: &str = include_str!("lab-backend.py");
const SQUATTER_SCRIPT: &str = include_str!("squatter.py");
const CROWD_SCRIPT: &str = include_str!("crowd.py");
const WSGI_SCRIPT: &str = include_str!("lab-wsgi.py");
const STREAMLIT_MAIN: &str = include_str!("streamlit-main.py");
/// How often `up` tries fresh ports when one was taken between choosing and binding it.
const PORT_ATTEMPTS: u32 = 3;

/// A running lab. Dropping it tears it down unless `keep()` was called.
#[derive(Debug)]
pub struct Lab {
    /// The lab directory, absolute and canonical.
    pub dir: PathBuf,
    pub fault: Fault,
    /// nginx's plain-HTTP port.
    pub http_port: u16,
    /// nginx's TLS port (self-signed certificate for `localhost`).
    pub https_port: u16,
    /// Where the playbook says the backend is.
    pub backend_port: u16,
    /// Where nginx proxies to: the backend's port, except with `wrong-port`.
    pub upstream_port: u16,
    /// The playbook fixer should be run with.
    pub playbook: PathBuf,
    /// nginx's config file and prefix.
    pub nginx_conf: PathBuf,
    /// The basic-auth password of user `admin` (mode 600).
    pub password_file: PathBuf,
    /// What the lab started, in start order.
    pub processes: Vec<LabProcess>,
    /// Torn down or kept: Drop leaves it alone.
    finished: bool,
}

impl Lab {
    /// Creates `dir` if missing and starts a lab with `fault` in it. Refuses a directory that
    /// holds a running lab, or that holds other files.
    pub fn up(dir: &Path, fault: Fault) -> Result<Lab> {
        let tools = Tools::find()?;
        let mut attempt = 1;
        loop {
            match Lab::try_up(dir, fault, &tools) {
                Err(e) if attempt < PORT_ATTEMPTS && port_was_taken(&e) => attempt += 1,
                result => return result,
            }
        }
    }

    /// Tears down the lab recorded in `dir` (used by `fixer lab down`).
    pub fn down_dir(dir: &Path) -> Result<()> {
        let dir = dir
            .canonicalize()
            .with_context(|| format!("no lab at {}", dir.display()))?;
        let mut state = LabState::load(&dir)?
            .ok_or_else(|| anyhow!("{} holds no lab (no {})", dir.display(), state::STATE_FILE))?;
        state.dir = dir;
        teardown::stop_all(&state)?;
        remove_if_owned(&state.dir)
    }

    /// Stops the lab now; afterwards Drop does nothing.
    pub fn down(&mut self) -> Result<()> {
        if self.finished {
            return Ok(());
        }
        self.finished = true;
        teardown::stop_all(&self.state())?;
        remove_if_owned(&self.dir)
    }

    /// Leaves the lab running after this value is dropped.
    pub fn keep(mut self) {
        self.finished = true;
    }

    /// The pid of the first process with this role (nginx means its master).
    pub fn pid(&self, role: Role) -> Option<i32> {
        self.processes
            .iter()
            .find(|p| p.role == role)
            .map(|p| p.pid)
    }

    fn state(&self) -> LabState {
        LabState {
            fault: self.fault,
            dir: self.dir.clone(),
            http_port: self.http_port,
            https_port: self.https_port,
            backend_port: self.backend_port,
            upstream_port: self.upstream_port,
            processes: self.processes.clone(),
        }
    }

    fn try_up(dir: &Path, fault: Fault, tools: &Tools) -> Result<Lab> {
        let dir = prepare_dir(dir)?;
        let ports = net::free_ports(4).context("finding free loopback ports")?;
        let mut lab = Lab {
            playbook: dir.join("playbook.toml"),
            nginx_conf: dir.join("nginx.conf"),
            password_file: dir.join("lab-password"),
            dir,
            fault,
            http_port: ports[0],
            https_port: ports[1],
            backend_port: ports[2],
            upstream_port: if fault == Fault::WrongPort {
                ports[3]
            } else {
                ports[2]
            },
            processes: Vec::new(),
            finished: false,
        };
        lab.write_files(tools)?;
        lab.state().save()?;
        lab.start_backend(tools)?;
        if !matches!(fault, Fault::NginxDown | Fault::NginxConfigBroken) {
            let master = spawn::start_nginx(tools, &lab.dir, &[lab.http_port, lab.https_port])?;
            lab.record(Role::Nginx, master)?;
        }
        if fault == Fault::NginxSaturated {
            lab.start_crowd(tools)?;
        }
        if fault == Fault::FpmPoolFull {
            fill_pool(&lab)?;
        }
        Ok(lab)
    }

    fn write_files(&self, tools: &Tools) -> Result<()> {
        let d = &self.dir;
        write(&d.join("lab-backend.py"), BACKEND_SCRIPT)?;
        write(&d.join("squatter.py"), SQUATTER_SCRIPT)?;
        if self.fault == Fault::NginxSaturated {
            write(&d.join("crowd.py"), CROWD_SCRIPT)?;
        }
        if self.fault == Fault::PromptBeforeListen {
            fs::create_dir_all(d.join("streamlit"))?;
            write(&d.join("streamlit/__main__.py"), STREAMLIT_MAIN)?;
            write(
                &d.join("app.py"),
                "# the app `streamlit run app.py` would serve\n",
            )?;
        }
        let password = nginx_conf::new_password()?;
        let served = match self.fault {
            Fault::AuthMismatch => nginx_conf::new_password()?,
            _ => password.clone(),
        };
        nginx_conf::write_auth_pair(d, "admin", &password, &served)?;
        nginx_conf::write_cert(&tools.openssl, d)?;
        if self.fault == Fault::TlsExpired {
            expired_cert::write(&tools.openssl, d)?;
        }
        let conf = nginx_conf::render(&nginx_conf::ConfParams {
            dir: d,
            http_port: self.http_port,
            https_port: self.https_port,
            upstream_port: self.upstream_port,
            workers_as_root: rustix::process::geteuid().is_root()
                && self.fault != Fault::FpmSocketPermission,
            broken: self.fault == Fault::NginxConfigBroken,
            protocol: self.fault.protocol(),
            worker_connections: if self.fault == Fault::NginxSaturated {
                4
            } else {
                64
            },
            misnamed: self.fault == Fault::NoServerBlock,
            upstream_unix: self
                .fault
                .fpm_on_unix()
                .then(|| self.dir.join(FPM_SOCKET))
                .as_deref(),
        });
        write(&self.nginx_conf, &conf)?;
        if self.fault == Fault::FastcgiBackend {
            tools.php_fpm()?;
            let fpm = nginx_conf::php_fpm_conf(d, self.backend_port);
            write(&d.join("php-fpm.conf"), &fpm)?;
            write(&d.join("app.php"), nginx_conf::PHP_APP)?;
        }
        if self.fault.fpm_on_unix() {
            tools.php_fpm()?;
            let as_root = rustix::process::geteuid().is_root();
            let pool = nginx_conf::php_fpm_unix_pool(self.fault, as_root);
            let socket = d.join(FPM_SOCKET).display().to_string();
            write(
                &d.join("php-fpm.conf"),
                &nginx_conf::php_fpm_pool(d, &socket, &pool),
            )?;
            write(&d.join("app.php"), nginx_conf::PHP_APP)?;
            fpm_dirs(d, self.fault)?;
        }
        if self.fault == Fault::UwsgiBackend {
            tools.uwsgi()?;
            write(&d.join("lab-wsgi.py"), WSGI_SCRIPT)?;
        }
        let book = playbook::render(&playbook::PlaybookParams {
            fault: self.fault,
            dir: d,
            nginx_binary: &tools.nginx,
            php_fpm: tools.php_fpm.as_deref(),
            uwsgi: tools.uwsgi.as_deref(),
            as_root: rustix::process::geteuid().is_root(),
            http_port: self.http_port,
            https_port: self.https_port,
            backend_port: self.backend_port,
        })?;
        write(&self.playbook, &book)
    }

    fn start_backend(&mut self, tools: &Tools) -> Result<()> {
        let port = self.backend_port;
        match self.fault {
            Fault::BackendDown => Ok(()),
            Fault::ForeignHolder => {
                let stdin = Stdio::null();
                self.start_script(tools, Role::Squatter, &[], stdin, Ready::Listening(port))
            }
            Fault::StuckHolder => {
                let args = ["--mode", "stuck"];
                self.start_script(
                    tools,
                    Role::Backend,
                    &args,
                    Stdio::null(),
                    Ready::Listening(port),
                )
            }
            Fault::StdinHolder => {
                let stdin = self.stdin_fifo()?;
                let ready = Ready::ListeningReadingStdin(port);
                self.start_script(tools, Role::Backend, &["--mode", "prompt"], stdin, ready)
            }
            Fault::FastcgiBackend => self.start_php_fpm(tools),
            Fault::UnixSocketMissing => Ok(()),
            Fault::FpmSocketPermission | Fault::FpmPoolFull => {
                let args = spawn::php_fpm_args(&self.dir, rustix::process::geteuid().is_root());
                let mut child = spawn::spawn_detached(
                    tools.php_fpm()?,
                    &args,
                    &self.dir,
                    Stdio::null(),
                    "backend",
                )?;
                self.record(Role::Backend, child.id() as i32)?;
                spawn::wait_ready(&mut child, &self.dir, "backend", Ready::FpmSocket)
            }
            Fault::UwsgiBackend => {
                let args = spawn::uwsgi_args(&self.dir, port);
                self.start_program(tools.uwsgi()?, &args)
            }
            Fault::SlowBackend
            | Fault::Backend500
            | Fault::CrashMidRequest
            | Fault::TooBigHeader => {
                let mode = match self.fault {
                    Fault::SlowBackend => "slow",
                    Fault::Backend500 => "error500",
                    Fault::CrashMidRequest => "crash",
                    _ => "big-header",
                };
                let ready = Ready::Listening(port);
                self.start_script(
                    tools,
                    Role::Backend,
                    &["--mode", mode],
                    Stdio::null(),
                    ready,
                )
            }
            Fault::HttpsBackend | Fault::TlsUpstream => {
                let (cert, key) = (self.dir.join("cert.pem"), self.dir.join("key.pem"));
                let args = [
                    "--tls-cert",
                    &cert.display().to_string(),
                    "--tls-key",
                    &key.display().to_string(),
                ]
                .map(String::from);
                let mut args: Vec<&str> = args.iter().map(String::as_str).collect();
                if self.fault == Fault::TlsUpstream {
                    args.push("--plain-text-alert");
                }
                let ready = Ready::Listening(port);
                self.start_script(tools, Role::Backend, &args, Stdio::null(), ready)
            }
            Fault::StoppedBackend => {
                self.start_script(
                    tools,
                    Role::Backend,
                    &[],
                    Stdio::null(),
                    Ready::Healthy(port),
                )?;
                self.stop_backend()
            }
            Fault::PromptBeforeListen => self.start_streamlit(tools),
            Fault::LocalhostV6 => {
                let args = ["--host", "::1"];
                let ready = Ready::Listening(port);
                self.start_script(tools, Role::Backend, &args, Stdio::null(), ready)
            }
            _ => self.start_script(
                tools,
                Role::Backend,
                &[],
                Stdio::null(),
                Ready::Healthy(port),
            ),
        }
    }

    /// `python3 DIR/crowd.py --port HTTP`: clients that take nginx's last free connections; ready
    /// once it says it holds them.
    fn start_crowd(&mut self, tools: &Tools) -> Result<()> {
        let args = [
            self.dir.join("crowd.py").display().to_string(),
            "--port".into(),
            self.http_port.to_string(),
        ];
        let mut child =
            spawn::spawn_detached(&tools.python, &args, &self.dir, Stdio::null(), "crowd")?;
        self.record(Role::Crowd, child.id() as i32)?;
        spawn::wait_ready(&mut child, &self.dir, "crowd", Ready::Said("crowd holding"))
    }

    /// `python3 -m streamlit run app.py --server.port P` from the lab dir (the stand-in
    /// package there), stdin a FIFO nobody writes to: it waits at "Email:" and never listens.
    fn start_streamlit(&mut self, tools: &Tools) -> Result<()> {
        let port = self.backend_port.to_string();
        let args = ["-m", "streamlit", "run", "app.py", "--server.port", &port];
        let stdin = self.stdin_fifo()?;
        let mut child = spawn::spawn_detached(&tools.python, &args, &self.dir, stdin, "backend")?;
        self.record(Role::Backend, child.id() as i32)?;
        let ready = Ready::ReadingStdinNotListening(self.backend_port);
        spawn::wait_ready(&mut child, &self.dir, "backend", ready)
    }

    /// Runs `python3 DIR/<script> --port BACKEND ARGS`, recorded before it is waited for so a
    /// failed start is still torn down.
    fn start_script(
        &mut self,
        tools: &Tools,
        role: Role,
        extra: &[&str],
        stdin: Stdio,
        ready: Ready,
    ) -> Result<()> {
        let script = match role {
            Role::Squatter => "squatter.py",
            _ => "lab-backend.py",
        };
        let mut args = vec![
            self.dir.join(script).display().to_string(),
            "--port".into(),
            self.backend_port.to_string(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        let mut child = spawn::spawn_detached(&tools.python, &args, &self.dir, stdin, role.name())?;
        self.record(role, child.id() as i32)?;
        spawn::wait_ready(&mut child, &self.dir, role.name(), ready)
    }

    /// A real PHP-FPM master with its pool of two workers, recorded as the backend.
    fn start_php_fpm(&mut self, tools: &Tools) -> Result<()> {
        let args = spawn::php_fpm_args(&self.dir, rustix::process::geteuid().is_root());
        self.start_program(tools.php_fpm()?, &args)
    }

    /// A backend that is not one of the lab's scripts (php-fpm, uWSGI), recorded as the backend
    /// before it is waited for.
    fn start_program(&mut self, program: &Path, args: &[String]) -> Result<()> {
        let mut child = spawn::spawn_detached(program, args, &self.dir, Stdio::null(), "backend")?;
        self.record(Role::Backend, child.id() as i32)?;
        spawn::wait_ready(
            &mut child,
            &self.dir,
            "backend",
            Ready::Listening(self.backend_port),
        )
    }

    /// `DIR/stdin.fifo`, opened read-write so the reader never sees end-of-file: the backend
    /// stays blocked at its prompt after `lab up` exits, until someone writes a line to it.
    fn stdin_fifo(&self) -> Result<Stdio> {
        let path = self.dir.join("stdin.fifo");
        let _ = fs::remove_file(&path);
        use rustix::fs::{mknodat, FileType, Mode, CWD};
        mknodat(CWD, &path, FileType::Fifo, Mode::from_raw_mode(0o600), 0)
            .with_context(|| format!("creating {}", path.display()))?;
        let fifo = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .with_context(|| format!("opening {}", path.display()))?;
        Ok(Stdio::from(fifo))
    }

    /// SIGSTOP the (healthy) backend and wait until /proc shows it stopped.
    fn stop_backend(&self) -> Result<()> {
        let p = self
            .processes
            .iter()
            .find(|p| p.role == Role::Backend)
            .context("no backend to stop")?;
        if !procfs::signal(p.pid, p.start_ticks, Signal::STOP)? {
            bail!(
                "the lab backend (pid {}) exited before it could be stopped",
                p.pid
            );
        }
        net::poll(
            std::time::Duration::from_secs(5),
            "the backend to stop",
            || Ok(procfs::stat(p.pid).is_some_and(|s| s.state.is_stopped())),
        )
    }

    fn record(&mut self, role: Role, pid: i32) -> Result<()> {
        self.processes.push(LabProcess::new(role, pid)?);
        self.state().save()
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.down()));
        match result {
            Ok(Ok(())) => {}
            Ok(Err(e)) => crate::report::error(
                &e.context(format!("tearing down the lab in {}", self.dir.display())),
            ),
            Err(_) => crate::report::error(&anyhow::anyhow!(
                "tearing down the lab in {} panicked",
                self.dir.display()
            )),
        }
    }
}

/// The php-fpm socket of the labs whose pool listens on one, relative to the lab directory.
pub const FPM_SOCKET: &str = "run/php-fpm.sock";

/// `DIR/run` for the socket. For `fpm-socket-permission` nginx's workers run as nobody, who
/// must reach the socket for the socket's own mode to be what stops them: the lab directory
/// becomes searchable (711, not listable) by others.
fn fpm_dirs(dir: &Path, fault: Fault) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let run = dir.join("run");
    fs::create_dir_all(&run).with_context(|| format!("creating {}", run.display()))?;
    fs::set_permissions(&run, fs::Permissions::from_mode(0o755))?;
    if fault == Fault::FpmSocketPermission {
        fs::set_permissions(dir, fs::Permissions::from_mode(0o711))
            .with_context(|| format!("making {} searchable", dir.display()))?;
    }
    Ok(())
}

/// Sends one slow request through nginx (given up on at once: php-fpm's worker keeps running
/// the script) and waits until php-fpm logs that its pool reached pm.max_children.
fn fill_pool(lab: &Lab) -> Result<()> {
    let _ = net::http_status(
        lab.http_port,
        "/api/health/slow",
        std::time::Duration::from_millis(300),
    );
    let log = lab.dir.join("logs/php-fpm-error.log");
    net::poll(
        std::time::Duration::from_secs(10),
        "php-fpm to report its pool full",
        || Ok(fs::read_to_string(&log).is_ok_and(|t| t.contains("max_children"))),
    )
}

/// A port chosen as free was bound by someone else before the lab could bind it.
fn port_was_taken(e: &anyhow::Error) -> bool {
    format!("{e:#}").contains("Address already in use")
}

/// Makes `dir` ready for a new lab and returns it canonical.
fn prepare_dir(dir: &Path) -> Result<PathBuf> {
    let abs = std::path::absolute(dir).with_context(|| format!("resolving {}", dir.display()))?;
    nginx_conf::check_dir_usable(&abs)?;
    if abs.exists() {
        check_reusable(&abs)?;
    } else {
        fs::create_dir_all(&abs).with_context(|| format!("creating {}", abs.display()))?;
        write(
            &abs.join(OWNED_MARKER),
            "created by `fixer lab up`; `fixer lab down` removes this directory\n",
        )?;
    }
    let dir = abs.canonicalize()?;
    nginx_conf::check_dir_usable(&dir)?;
    for sub in ["logs", "temp"] {
        fs::create_dir_all(dir.join(sub))
            .with_context(|| format!("creating {}", dir.join(sub).display()))?;
    }
    let _ = fs::remove_file(dir.join("nginx.pid"));
    Ok(dir)
}

/// An existing directory may hold a stopped lab, or nothing at all.
fn check_reusable(dir: &Path) -> Result<()> {
    if !dir.is_dir() {
        bail!("{} exists and is not a directory", dir.display());
    }
    match LabState::load(dir)? {
        Some(old) if old.running() => bail!(
            "{} already holds a running lab (fault {}); stop it first: fixer lab down --dir {}",
            dir.display(),
            old.fault,
            dir.display()
        ),
        Some(_) => Ok(()),
        None => {
            let mut entries =
                fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))?;
            if entries.any(|e| e.is_ok_and(|e| e.file_name() != OWNED_MARKER)) {
                bail!(
                    "{} is not empty and holds no lab; give `--dir` a new or empty directory",
                    dir.display()
                );
            }
            Ok(())
        }
    }
}

/// Removes the lab directory, but only if `fixer lab up` created it.
fn remove_if_owned(dir: &Path) -> Result<()> {
    if dir.join(OWNED_MARKER).exists() {
        fs::remove_dir_all(dir).with_context(|| format!("removing {}", dir.display()))?;
    }
    Ok(())
}

fn write(path: &Path, text: &str) -> Result<()> {
    fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}
