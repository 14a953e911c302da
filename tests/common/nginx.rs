//! A bare nginx master of the test's own, beside the lab's: started from a copy of the system
//! binary under another name (as `nginx-debug` or a build in /opt would run), with a temp
//! prefix, listening on free loopback ports and answering `200 ok` itself. Stopped on drop.
#![allow(dead_code)]

use std::fs;
use std::net::TcpListener;
use std::path::Path;
use std::path::PathBuf;
use std::process::Command;

use super::{deadline, gone, identity, wait_until};

pub struct PlainNginx {
    pub dir: tempfile::TempDir,
    pub binary: PathBuf,
    pub conf: PathBuf,
    pub pid: i32,
    pub ports: Vec<u16>,
    /// (pid, start time) of the master, so drop never signals a reused pid.
    identity: (i32, u64),
}

/// `n` loopback ports that were free a moment ago.
pub fn free_ports(n: usize) -> Vec<u16> {
    let listeners: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("binding a free port"))
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect()
}

/// nginx.conf for prefix `d`: one server of its own (`listens`, answering 200 itself) and
/// `extra` inside `http { }`.
pub fn conf_text(d: &str, listens: &str, extra: &str) -> String {
    format!(
        "worker_processes 1;\ndaemon on;\npid {d}/nginx.pid;\nerror_log {d}/error.log warn;\n\
         events {{ worker_connections 64; }}\n\
         http {{\n access_log off;\n client_body_temp_path {d}/temp/cb;\n proxy_temp_path {d}/temp/p;\n\
         fastcgi_temp_path {d}/temp/f;\n uwsgi_temp_path {d}/temp/u;\n scgi_temp_path {d}/temp/s;\n\
         server {{ {listens} server_name other.test; location / {{ return 200 \"ok\\n\"; }} }}\n{extra}\n}}\n"
    )
}

impl PlainNginx {
    /// A master from `/usr/sbin/nginx` copied to `DIR/<binary_name>`, listening on `ports`
    /// fresh ports, with `extra` added inside `http { }`.
    pub fn start(binary_name: &str, ports: usize, extra: &str) -> PlainNginx {
        let dir = tempfile::Builder::new()
            .prefix("fixer-nginx-")
            .tempdir()
            .unwrap();
        let d = dir.path().display().to_string();
        let binary = dir.path().join(binary_name);
        fs::copy("/usr/sbin/nginx", &binary).expect("copying /usr/sbin/nginx");
        fs::create_dir_all(dir.path().join("temp")).unwrap();
        let ports = free_ports(ports);
        let listens: String = ports
            .iter()
            .map(|p| format!("listen 127.0.0.1:{p}; "))
            .collect();
        let conf = dir.path().join("nginx.conf");
        fs::write(&conf, conf_text(&d, &listens, extra)).unwrap();
        // The copy may still be open for writing in a child another test thread forked
        // meanwhile (exec then fails with ETXTBSY until that child execs): retry until a deadline.
        let mut started = None;
        wait_until(deadline(10.0), || {
            let run = Command::new(&binary)
                .arg("-p")
                .arg(dir.path())
                .arg("-c")
                .arg(&conf)
                .arg("-e")
                .arg(dir.path().join("error.log"))
                .output();
            match run {
                Err(e) if e.kind() == std::io::ErrorKind::ExecutableFileBusy => false,
                other => {
                    started = Some(other);
                    true
                }
            }
        });
        let out = started
            .expect("the nginx copy stayed busy for 10 s")
            .expect("starting nginx");
        assert!(
            out.status.success(),
            "nginx did not start: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let pid_file = dir.path().join("nginx.pid");
        let mut pid = 0;
        assert!(
            wait_until(deadline(10.0), || {
                pid = fs::read_to_string(&pid_file)
                    .ok()
                    .and_then(|t| t.trim().parse().ok())
                    .unwrap_or(0);
                // The master writes its pid file before it takes its title.
                pid > 0
                    && ports
                        .iter()
                        .all(|&p| TcpListener::bind(("127.0.0.1", p)).is_err())
                    && fs::read(format!("/proc/{pid}/cmdline"))
                        .is_ok_and(|c| c.starts_with(b"nginx: master process"))
            }),
            "nginx from {} did not come up",
            binary.display()
        );
        PlainNginx {
            identity: identity(pid).expect("the master runs"),
            dir,
            binary,
            conf,
            pid,
            ports,
        }
    }
}

impl Drop for PlainNginx {
    fn drop(&mut self) {
        if !gone(self.identity) {
            let _ = Command::new("kill").arg(self.pid.to_string()).status();
            wait_until(deadline(10.0), || gone(self.identity));
        }
    }
}

/// A scenario in a PID namespace of its own (`unshare --pid --fork --mount-proc`): the nginx
/// and backends its script starts are the only processes fixer can see there, so a zero-config
/// run never probes another test's sites, and when the script ends the kernel ends everything
/// it started. The network is shared: ports come from [`free_ports`].
pub struct Isolated {
    pub dir: tempfile::TempDir,
}

/// What one fixer run inside the namespace printed.
pub struct Ran {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

impl Isolated {
    pub fn new() -> Isolated {
        let dir = tempfile::Builder::new()
            .prefix("fixer-iso-")
            .tempdir()
            .unwrap();
        fs::create_dir_all(dir.path().join("temp")).unwrap();
        Isolated { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes nginx.conf with `extra` inside `http { }` (its own server on one fresh port).
    pub fn nginx_conf(&self, extra: &str) {
        let d = self.path().display().to_string();
        let listens = format!("listen 127.0.0.1:{}; ", free_ports(1)[0]);
        fs::write(
            self.path().join("nginx.conf"),
            conf_text(&d, &listens, extra),
        )
        .unwrap();
    }

    /// Runs `setup` (shell lines; [`http_backend`] and [`closing_backend`] start backends),
    /// then nginx when `nginx` is set, waits until it is up (bounded), then fixer once per
    /// entry of `runs`, in the scenario's directory, and returns what each printed.
    pub fn run(&self, setup: &str, nginx: bool, runs: &[Vec<String>]) -> Vec<Ran> {
        let d = self.path().display().to_string();
        let mut script = String::from("set -u\ncd \"$D\"\n");
        script += "up() { for _ in $(seq 400); do (exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0; sleep 0.025; done; echo \"port $1 never listened\" >&2; exit 90; }\n";
        script += setup;
        if nginx {
            script +=
                "/usr/sbin/nginx -p \"$D\" -c \"$D/nginx.conf\" -e \"$D/error.log\" || exit 91\n";
            // The master writes its pid file before it takes its title.
            script += "for _ in $(seq 400); do grep -qa 'nginx: master process' /proc/$(cat \"$D/nginx.pid\" 2>/dev/null)/cmdline 2>/dev/null && break; sleep 0.025; done\n";
        }
        for (i, args) in runs.iter().enumerate() {
            let args: Vec<String> = args.iter().map(|a| quote(a)).collect();
            script += &format!(
                "\"$FIXER\" {} >\"$D/run{i}.out\" 2>\"$D/run{i}.err\"; echo $? >\"$D/run{i}.code\"\n",
                args.join(" ")
            );
        }
        let out = Command::new("unshare")
            .args(["--pid", "--fork", "--mount-proc", "bash", "-c", &script])
            .env("D", &d)
            .env("FIXER", env!("CARGO_BIN_EXE_fixer"))
            .env("NO_COLOR", "1")
            .env("XDG_CONFIG_HOME", self.path())
            .env("FIXER_STATE_DIR", self.path().join("state"))
            .env_remove("FIXER_YES")
            .output()
            .expect("running unshare");
        assert!(
            out.status.success(),
            "scenario failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        (0..runs.len())
            .map(|i| {
                let read = |ext: &str| {
                    fs::read_to_string(self.path().join(format!("run{i}.{ext}")))
                        .unwrap_or_default()
                };
                Ran {
                    code: read("code").trim().parse().unwrap_or(-1),
                    stdout: read("out"),
                    stderr: read("err"),
                }
            })
            .collect()
    }
}

/// `["diagnose", "--json"]` → owned strings, for [`Isolated::run`].
pub fn args(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

/// Shell lines that start python's http.server on `port` and wait until it listens.
pub fn http_backend(port: u16) -> String {
    format!(
        "python3 -m http.server {port} --bind 127.0.0.1 >/dev/null 2>&1 </dev/null &\nup {port}\n"
    )
}

/// Shell lines that start a listener on `port` that accepts and closes at once (a socket that
/// does not speak HTTP), and wait until it listens.
pub fn closing_backend(port: u16) -> String {
    format!(
        "python3 -c 'import socket,sys\ns=socket.socket()\ns.bind((\"127.0.0.1\",{port}))\ns.listen(16)\nwhile True:\n    s.accept()[0].close()\n' >/dev/null 2>&1 </dev/null &\nup {port}\n"
    )
}
