//! A bare nginx master of the test's own, beside the lab's: started from a copy of the system
//! binary under another name (as `nginx-debug` or a build in /opt would run), with a temp
//! prefix, listening on free loopback ports and answering `200 ok` itself. Stopped on drop.
#![allow(dead_code)]

use std::fs;
use std::net::TcpListener;
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
        fs::write(
            &conf,
            format!(
                "worker_processes 1;\ndaemon on;\npid {d}/nginx.pid;\nerror_log {d}/error.log warn;\n\
                 events {{ worker_connections 32; }}\n\
                 http {{\n access_log off;\n client_body_temp_path {d}/temp/cb;\n proxy_temp_path {d}/temp/p;\n\
                 fastcgi_temp_path {d}/temp/f;\n uwsgi_temp_path {d}/temp/u;\n scgi_temp_path {d}/temp/s;\n\
                 server {{ {listens} server_name other.test; location / {{ return 200 \"ok\\n\"; }} }}\n{extra}\n}}\n"
            ),
        )
        .unwrap();
        let out = Command::new(&binary)
            .arg("-p")
            .arg(dir.path())
            .arg("-c")
            .arg(&conf)
            .arg("-e")
            .arg(dir.path().join("error.log"))
            .output()
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
