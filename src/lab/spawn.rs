//! Starting the lab's processes detached (own session, stdin from /dev/null or a FIFO,
//! output appended to `DIR/logs/<role>.log`) and waiting, with a deadline, until each is
//! ready. Nothing here sleeps a fixed time.

use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};

use super::net::{http_status, poll};
use super::procfs;

const START_TIMEOUT: Duration = Duration::from_secs(15);

/// The programs a lab needs, found on PATH (and nginx also in /usr/sbin).
#[derive(Debug, Clone)]
pub struct Tools {
    pub nginx: PathBuf,
    pub python: PathBuf,
    pub openssl: PathBuf,
    /// Only the `fastcgi-backend` lab needs it.
    pub php_fpm: Option<PathBuf>,
    /// uWSGI with its Python 3 plugin built in; only the `uwsgi-backend` lab needs it.
    pub uwsgi: Option<PathBuf>,
}

impl Tools {
    pub fn find() -> Result<Tools> {
        let nginx = find_program("nginx", &["/usr/sbin/nginx"])
            .ok_or_else(|| anyhow!("nginx is not installed: apt-get install nginx"))?;
        let python = find_program("python3", &["/usr/bin/python3"])
            .ok_or_else(|| anyhow!("python3 is not installed: apt-get install python3"))?;
        let openssl = find_program("openssl", &["/usr/bin/openssl"])
            .ok_or_else(|| anyhow!("openssl is not installed: apt-get install openssl"))?;
        Ok(Tools {
            nginx,
            python,
            openssl,
            php_fpm: find_php_fpm(),
            uwsgi: find_program("uwsgi_python3", &["/usr/bin/uwsgi_python3"]),
        })
    }

    pub fn uwsgi(&self) -> Result<&Path> {
        self.uwsgi.as_deref().ok_or_else(|| {
            anyhow!("uWSGI is not installed: apt-get install uwsgi-core uwsgi-plugin-python3")
        })
    }

    pub fn php_fpm(&self) -> Result<&Path> {
        self.php_fpm
            .as_deref()
            .ok_or_else(|| anyhow!("php-fpm is not installed: apt-get install php-fpm"))
    }
}

/// `php-fpm`, or Debian's versioned `php-fpm8.2` (the newest when several are installed).
fn find_php_fpm() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs = std::env::split_paths(&path).chain([PathBuf::from("/usr/sbin")]);
    let mut found: Vec<PathBuf> = dirs
        .filter_map(|d| fs::read_dir(d).ok())
        .flat_map(|entries| entries.flatten().take(10_000))
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("php-fpm"))
                && is_executable(p)
        })
        .collect();
    found.sort_by_key(|p| {
        let name = p
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        (name == "php-fpm", name)
    });
    found.pop()
}

fn find_program(name: &str, fallbacks: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .chain(fallbacks.iter().map(PathBuf::from))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Starts `program args` in its own session with cwd `dir`, the given stdin, and stdout and
/// stderr appended to `DIR/logs/<log>.log`.
pub fn spawn_detached<S: AsRef<OsStr>>(
    program: &Path,
    args: &[S],
    dir: &Path,
    stdin: Stdio,
    log: &str,
) -> Result<Child> {
    let log_path = log_path(dir, log);
    let out = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .with_context(|| format!("opening {}", log_path.display()))?;
    let err = out.try_clone()?;
    let mut cmd = Command::new(program);
    cmd.args(args)
        .current_dir(dir)
        .stdin(stdin)
        .stdout(out)
        .stderr(err);
    crate::sys::spawn::own_session(&mut cmd);
    cmd.spawn()
        .with_context(|| format!("starting {}", program.display()))
}

pub fn log_path(dir: &Path, log: &str) -> PathBuf {
    dir.join("logs").join(format!("{log}.log"))
}

/// The last lines of a lab log, for error messages.
pub fn log_tail(dir: &Path, log: &str) -> String {
    let Ok((_, bytes)) = crate::sys::tail::read_tail(&log_path(dir, log), 0, 1500) else {
        return String::new();
    };
    let text = String::from_utf8_lossy(&bytes);
    let lines: Vec<&str> = text.lines().rev().take(6).collect();
    let tail: Vec<&str> = lines.into_iter().rev().collect();
    tail.join(" | ")
}

/// Fails with the log's tail if the child has already exited.
fn check_running(child: &mut Child, dir: &Path, log: &str) -> Result<()> {
    if let Some(status) = child.try_wait()? {
        bail!(
            "{log} exited during start-up ({status}); {}: {}",
            log_path(dir, log).display(),
            crate::sanitize::clean(&log_tail(dir, log))
        );
    }
    Ok(())
}

/// How a started process shows it is ready.
#[derive(Debug, Clone, Copy)]
pub enum Ready {
    /// `GET /api/health` on the port answers 200.
    Healthy(u16),
    /// A socket listens on the port (nobody may ever accept it).
    Listening(u16),
    /// Listening on the port and asleep in read() on stdin.
    ListeningReadingStdin(u16),
    /// Asleep in read() on stdin with nothing listening on the port.
    ReadingStdinNotListening(u16),
    /// Its log holds this text.
    Said(&'static str),
    /// php-fpm's unix socket (`DIR/run/php-fpm.sock`) exists.
    FpmSocket,
}

/// uWSGI serving the lab's WSGI app over the uwsgi protocol: a master and two workers, like a
/// production pool. `--die-on-term`: uWSGI otherwise takes SIGTERM as "reload".
pub fn uwsgi_args(dir: &Path, port: u16) -> Vec<String> {
    let d = dir.display();
    [
        "--socket",
        &format!("127.0.0.1:{port}"),
        "--wsgi-file",
        &format!("{d}/lab-wsgi.py"),
        "--master",
        "--processes",
        "2",
        "--die-on-term",
    ]
    .map(String::from)
    .to_vec()
}

/// php-fpm in the foreground (`-F`) from the lab's config; `-R` lets it run its workers as
/// root when the lab runs as root (it refuses otherwise).
pub fn php_fpm_args(dir: &Path, as_root: bool) -> Vec<String> {
    let d = dir.display();
    let mut args = vec![
        "-F".to_string(),
        "-y".into(),
        format!("{d}/php-fpm.conf"),
        "-p".into(),
        d.to_string(),
    ];
    if as_root {
        args.push("-R".into());
    }
    args
}

/// Polls until the child is ready; fails early, with its log, if it exits.
pub fn wait_ready(child: &mut Child, dir: &Path, log: &str, ready: Ready) -> Result<()> {
    let pid = child.id() as i32;
    let what = match ready {
        Ready::Healthy(port) => format!("{log} to answer on 127.0.0.1:{port}"),
        Ready::Listening(port) => format!("{log} to listen on 127.0.0.1:{port}"),
        Ready::ListeningReadingStdin(port) => {
            format!("{log} to listen on 127.0.0.1:{port} and block reading stdin")
        }
        Ready::ReadingStdinNotListening(port) => {
            format!("{log} to block reading stdin before listening on 127.0.0.1:{port}")
        }
        Ready::Said(text) => format!("{log} to say {text:?}"),
        Ready::FpmSocket => format!("{log} to create {}", dir.join(super::FPM_SOCKET).display()),
    };
    poll(START_TIMEOUT, &what, || {
        check_running(child, dir, log)?;
        Ok(match ready {
            Ready::Healthy(port) => {
                http_status(port, "/api/health", Duration::from_millis(500)).ok() == Some(200)
            }
            Ready::Listening(port) => procfs::listening(port),
            Ready::ListeningReadingStdin(port) => {
                procfs::listening(port) && procfs::reading_stdin(pid)
            }
            Ready::ReadingStdinNotListening(port) => {
                procfs::reading_stdin(pid) && !procfs::listening(port)
            }
            Ready::Said(text) => crate::sys::tail::read_tail(&log_path(dir, log), 0, 4096)
                .is_ok_and(|(_, b)| String::from_utf8_lossy(&b).contains(text)),
            Ready::FpmSocket => dir.join(super::FPM_SOCKET).exists(),
        })
    })
}

/// Starts nginx as a daemon and returns its master's pid once its pid file names a live
/// process and its ports listen.
pub fn start_nginx(tools: &Tools, dir: &Path, ports: &[u16]) -> Result<i32> {
    let conf = dir.join("nginx.conf");
    let error_log = dir.join("logs/error.log");
    let args = [
        OsStr::new("-p"),
        dir.as_os_str(),
        OsStr::new("-c"),
        conf.as_os_str(),
        OsStr::new("-e"),
        error_log.as_os_str(),
    ];
    let mut launcher = spawn_detached(&tools.nginx, &args, dir, Stdio::null(), "nginx")?;
    // The launcher forks the master and exits; a config or bind error makes it exit non-zero.
    let mut status = None;
    poll(START_TIMEOUT, "nginx to daemonise", || {
        status = launcher.try_wait()?;
        Ok(status.is_some())
    })?;
    if let Some(s) = status.filter(|s| !s.success()) {
        bail!(
            "nginx failed to start ({s}): {}",
            crate::sanitize::clean(&log_tail(dir, "nginx"))
        );
    }
    let pid_file = dir.join("nginx.pid");
    let mut master = 0;
    poll(START_TIMEOUT, "nginx's pid file and ports", || {
        master = fs::read_to_string(&pid_file)
            .ok()
            .and_then(|t| t.trim().parse().ok())
            .unwrap_or(0);
        Ok(master > 0
            && procfs::stat(master).is_some()
            && ports.iter().all(|p| procfs::listening(*p)))
    })?;
    Ok(master)
}
