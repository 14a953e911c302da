//! The fault lab, observed the way a user would: plain HTTP over TCP, /proc, and nginx -t.
//! Every test brings up its own lab (own dir, own ports) and tears it down.

mod common;

use std::fs;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{deadline, down_and_check, http_get, lab, proc_state, status, wait_until};
use fixer::cli::LabCommand;
use fixer::lab::{command, Fault, Lab, Role};
use fixer::playbook::model::RawPlaybook;

fn backend_pid(lab: &Lab) -> i32 {
    lab.pid(Role::Backend).expect("the lab runs a backend")
}

fn playbook(lab: &Lab) -> RawPlaybook {
    let text = fs::read_to_string(&lab.playbook).unwrap();
    toml::from_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

fn password(lab: &Lab) -> String {
    fs::read_to_string(&lab.password_file)
        .unwrap()
        .trim()
        .to_string()
}

fn refused(port: u16) -> bool {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    matches!(
        TcpStream::connect_timeout(&addr, Duration::from_secs(1)),
        Err(e) if e.kind() == ErrorKind::ConnectionRefused
    )
}

/// Connects and sends a request; true when nothing comes back within `wait`.
fn silent(port: u16, wait: Duration) -> bool {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(1)).expect("connect");
    s.set_read_timeout(Some(wait)).unwrap();
    s.write_all(b"GET /api/health HTTP/1.0\r\n\r\n").unwrap();
    let mut buf = [0u8; 16];
    matches!(s.read(&mut buf), Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut))
}

fn cmdline(pid: i32) -> String {
    fs::read(format!("/proc/{pid}/cmdline"))
        .unwrap_or_default()
        .split(|b| *b == 0)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn none_is_healthy_through_nginx_and_direct() {
    rehearse(Fault::None, |lab| {
        assert_eq!(status(lab.http_port, "/api/health").unwrap(), 200);
        assert_eq!(
            status(lab.http_port, "/").unwrap(),
            401,
            "basic auth guards /"
        );
        let pw = password(lab);
        let authed = http_get(
            lab.http_port,
            "/",
            Some(("admin", &pw)),
            Duration::from_secs(3),
        );
        assert_eq!(authed.unwrap(), 200);
        let wrong = http_get(
            lab.http_port,
            "/",
            Some(("admin", "nope")),
            Duration::from_secs(3),
        );
        assert_eq!(wrong.unwrap(), 401);
        assert_eq!(status(lab.backend_port, "/api/health").unwrap(), 200);
        assert_eq!(lab.upstream_port, lab.backend_port);
        let mode = fs::metadata(&lab.password_file)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    });
}

#[test]
fn none_serves_tls_with_a_certificate_rustls_accepts() {
    rehearse(Fault::None, |lab| {
        let pem = fs::read(lab.dir.join("cert.pem")).unwrap();
        let cert = ureq::tls::Certificate::from_pem(&pem).unwrap();
        let tls = ureq::tls::TlsConfig::builder()
            .root_certs(ureq::tls::RootCerts::new_with_certs(&[cert]))
            .build();
        let agent = ureq::Agent::config_builder()
            .tls_config(tls)
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(5)))
            .build()
            .new_agent();
        let url = format!("https://127.0.0.1:{}/api/health", lab.https_port);
        let resp = agent
            .get(&url)
            .call()
            .unwrap_or_else(|e| panic!("{url}: {e}"));
        assert_eq!(resp.status().as_u16(), 200);
    });
}

#[test]
fn playbook_matches_the_lab() {
    rehearse(Fault::None, |lab| {
        let book = playbook(lab);
        assert_eq!(book.name.as_deref(), Some("lab-none"));
        assert_eq!(book.nginx.ports, Some(vec![lab.http_port, lab.https_port]));
        let dir = lab.dir.display().to_string();
        assert_eq!(book.nginx.prefix.as_deref(), Some(dir.as_str()));
        let backend = book.backend.unwrap();
        assert_eq!(
            backend.address.get_ref(),
            &format!("127.0.0.1:{}", lab.backend_port)
        );
        let re = regex::Regex::new(backend.match_.as_ref().unwrap().get_ref()).unwrap();
        assert!(re.is_match(&cmdline(backend_pid(lab))));
        assert_eq!(book.verify.len(), 5);
    });
}

#[test]
fn backend_down_gives_502() {
    rehearse(Fault::BackendDown, |lab| {
        assert!(
            refused(lab.backend_port),
            "nothing may listen on the backend port"
        );
        assert_eq!(lab.pid(Role::Backend), None);
        assert_eq!(status(lab.http_port, "/api/health").unwrap(), 502);
    });
}

#[test]
fn stuck_holder_accepts_nothing_and_gives_504() {
    rehearse(Fault::StuckHolder, |lab| {
        assert!(silent(lab.backend_port, Duration::from_millis(1500)));
        let started = Instant::now();
        assert_eq!(status(lab.http_port, "/api/health").unwrap(), 504);
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "504 should come after ~1 s"
        );
    });
}

#[test]
fn stopped_backend_is_in_state_t_and_gives_504() {
    rehearse(Fault::StoppedBackend, |lab| {
        assert_eq!(proc_state(backend_pid(lab)), Some('T'));
        assert_eq!(status(lab.http_port, "/api/health").unwrap(), 504);
    });
}

#[test]
fn stdin_holder_blocks_in_read_on_fd_0_until_answered() {
    rehearse(Fault::StdinHolder, |lab| {
        let pid = backend_pid(lab);
        let in_read_on_stdin = || {
            let syscall = fs::read_to_string(format!("/proc/{pid}/syscall")).unwrap_or_default();
            syscall.split_whitespace().take(2).collect::<Vec<_>>() == ["0", "0x0"]
        };
        assert!(wait_until(deadline(5.0), in_read_on_stdin));
        let stdin = fs::read_link(format!("/proc/{pid}/fd/0")).unwrap();
        assert_eq!(stdin, lab.dir.join("stdin.fifo"));
        assert_eq!(status(lab.http_port, "/api/health").unwrap(), 504);
        // Answering the prompt unblocks it, as with the real Streamlit prompt.
        let mut fifo = fs::OpenOptions::new().write(true).open(&stdin).unwrap();
        fifo.write_all(b"ops@example.com\n").unwrap();
        let healthy = || status(lab.backend_port, "/api/health").ok() == Some(200);
        assert!(wait_until(deadline(5.0), healthy));
    });
}

#[test]
fn wrong_port_backend_answers_but_nginx_gives_502() {
    rehearse(Fault::WrongPort, |lab| {
        assert_ne!(lab.upstream_port, lab.backend_port);
        assert_eq!(status(lab.backend_port, "/api/health").unwrap(), 200);
        assert_eq!(status(lab.http_port, "/api/health").unwrap(), 502);
        let conf = fs::read_to_string(&lab.nginx_conf).unwrap();
        assert!(conf.contains(&format!("server 127.0.0.1:{};", lab.upstream_port)));
    });
}

#[test]
fn nginx_down_refuses_connections() {
    rehearse(Fault::NginxDown, |lab| {
        assert!(refused(lab.http_port));
        assert!(refused(lab.https_port));
        assert_eq!(lab.pid(Role::Nginx), None);
        assert_eq!(status(lab.backend_port, "/api/health").unwrap(), 200);
    });
}

#[test]
fn nginx_config_broken_fails_nginx_t() {
    rehearse(Fault::NginxConfigBroken, |lab| {
        let binary = playbook(lab).nginx.binary.unwrap();
        let out = lab_nginx(binary.as_ref(), lab).arg("-t").output().unwrap();
        assert!(!out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("nginx.conf"), "{stderr}");
        assert!(refused(lab.http_port));
    });
}

#[test]
fn dns_elsewhere_is_healthy_but_expects_test_net() {
    rehearse(Fault::DnsElsewhere, |lab| {
        let ips: Vec<String> = playbook(lab)
            .site
            .expected_ips
            .into_iter()
            .map(|s| s.into_inner())
            .collect();
        assert_eq!(ips, ["192.0.2.10"]);
        assert_eq!(status(lab.http_port, "/api/health").unwrap(), 200);
    });
}

#[test]
fn foreign_holder_squats_the_backend_port() {
    rehearse(Fault::ForeignHolder, |lab| {
        let pid = lab.pid(Role::Squatter).expect("a squatter runs");
        let matcher = regex::Regex::new(playbook(lab).backend.unwrap().match_.unwrap().get_ref());
        assert!(
            !matcher.unwrap().is_match(&cmdline(pid)),
            "the squatter must not look like the backend"
        );
        assert!(silent(lab.backend_port, Duration::from_millis(1500)));
        assert_eq!(status(lab.http_port, "/api/health").unwrap(), 504);
    });
}

#[test]
fn refuses_a_dir_with_a_running_lab_or_other_files() {
    let (dir, mut lab) = lab(Fault::BackendDown);
    let err = Lab::up(dir.path(), Fault::None).unwrap_err();
    assert!(
        format!("{err:#}").contains("already holds a running lab"),
        "{err:#}"
    );
    down_and_check(&mut lab);
    let other = tempfile::tempdir().unwrap();
    fs::write(other.path().join("precious.txt"), "x").unwrap();
    let err = Lab::up(other.path(), Fault::None).unwrap_err();
    assert!(format!("{err:#}").contains("not empty"), "{err:#}");
}

#[test]
fn command_up_and_down_through_lab_json() {
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("lab");
    let mut out = Vec::new();
    let up = LabCommand::Up {
        fault: "stuck-holder".into(),
        dir: Some(dir.clone()),
    };
    command::run(&up, &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    let book = dir.join("playbook.toml");
    assert!(
        text.contains(&format!("fixer diagnose -p {}", book.display())),
        "{text}"
    );
    assert!(!text.contains(
        &fs::read_to_string(dir.join("lab-password"))
            .unwrap()
            .trim()
            .to_string()
    ));
    let state: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(dir.join("lab.json")).unwrap()).unwrap();
    let pid = state["processes"][0]["pid"].as_i64().unwrap() as i32;
    let port = state["backend_port"].as_u64().unwrap() as u16;
    let identity = common::identity(pid).unwrap();

    command::run(
        &LabCommand::Down {
            dir: Some(dir.clone()),
        },
        &mut Vec::new(),
    )
    .unwrap();
    assert!(common::gone(identity));
    assert!(common::port_free(port));
    assert!(!dir.exists(), "a directory the lab created is removed");
}

#[test]
fn command_lists_faults_and_rejects_unknown_ones() {
    let mut out = Vec::new();
    command::run(&LabCommand::List, &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    for f in Fault::ALL {
        assert!(text.contains(f.name()), "{text}");
    }
    assert_eq!(text.lines().count(), Fault::ALL.len());
    let up = LabCommand::Up {
        fault: "gremlins".into(),
        dir: None,
    };
    let err = command::run(&up, &mut Vec::new()).unwrap_err().to_string();
    assert!(
        err.contains("gremlins") && err.contains("stdin-holder"),
        "{err}"
    );
}

fn error_log_mentions(lab: &Lab, text: &str) -> bool {
    let log = lab.dir.join("logs/error.log");
    wait_until(deadline(3.0), || {
        fs::read_to_string(&log).is_ok_and(|l| l.contains(text))
    })
}

#[test]
fn nginx_error_log_names_the_upstream_failure() {
    let (_dir, mut down) = lab(Fault::BackendDown);
    let (_dir2, mut stuck) = lab(Fault::StuckHolder);
    assert_eq!(status(down.http_port, "/api/health").unwrap(), 502);
    assert_eq!(status(stuck.http_port, "/api/health").unwrap(), 504);
    assert!(error_log_mentions(
        &down,
        "connect() failed (111: Connection refused)"
    ));
    assert!(error_log_mentions(
        &stuck,
        "upstream timed out (110: Connection timed out)"
    ));
    down_and_check(&mut down);
    down_and_check(&mut stuck);
}

#[test]
fn down_stops_a_backend_and_nginx_started_later() {
    let (_dir, mut lab) = lab(Fault::NginxDown);
    // What `fixer fix` would do: kill the backend, start it again from the playbook's
    // command, and start nginx with the lab's config.
    let old = common::identity(backend_pid(&lab)).unwrap();
    Command::new("kill")
        .arg("-KILL")
        .arg(old.0.to_string())
        .status()
        .unwrap();
    assert!(wait_until(deadline(5.0), || common::gone(old)));
    let log = fs::File::create(lab.dir.join("logs/restarted.log")).unwrap();
    let mut restarted = Command::new("python3")
        .arg(lab.dir.join("lab-backend.py"))
        .args(["--port", &lab.backend_port.to_string()])
        .current_dir(&lab.dir)
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let healthy = || status(lab.backend_port, "/api/health").ok() == Some(200);
    assert!(wait_until(deadline(10.0), healthy));
    let nginx = lab_nginx("/usr/sbin/nginx".as_ref(), &lab)
        .status()
        .unwrap();
    assert!(nginx.success());
    assert!(wait_until(deadline(5.0), || status(
        lab.http_port,
        "/api/health"
    )
    .ok()
        == Some(200)));
    let master: i32 = fs::read_to_string(lab.dir.join("nginx.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let later = [
        common::identity(restarted.id() as i32).unwrap(),
        common::identity(master).unwrap(),
    ];
    down_and_check(&mut lab);
    // Already reaped by the teardown (it is our child), or reaped now.
    let _ = restarted.wait();
    for p in later {
        assert!(
            common::gone(p),
            "process {} started later survived down",
            p.0
        );
    }
}

#[test]
fn drop_tears_down_when_a_test_panics() {
    let seen = std::sync::Mutex::new(Vec::new());
    let result = std::panic::catch_unwind(|| {
        let (_dir, lab) = lab(Fault::None);
        seen.lock().unwrap().extend(common::lab_processes(&lab));
        seen.lock().unwrap().push((lab.http_port as i32, 0));
        panic!("a failing assertion");
    });
    assert!(result.is_err());
    let seen = seen.into_inner().unwrap();
    let (port, procs) = seen.split_last().unwrap();
    assert!(common::port_free(port.0 as u16));
    for p in procs {
        assert!(common::gone(*p), "process {} survived the drop", p.0);
    }
}

/// `nginx` run on the lab's prefix, config and error log.
fn lab_nginx(binary: &std::path::Path, lab: &Lab) -> Command {
    let mut c = Command::new(binary);
    c.arg("-p")
        .arg(&lab.dir)
        .arg("-c")
        .arg(&lab.nginx_conf)
        .arg("-e")
        .arg(lab.dir.join("logs/error.log"));
    c
}

/// The lab with `fault` up, `check` run on it, then the lab torn down and checked gone.
fn rehearse(fault: Fault, check: impl FnOnce(&mut Lab)) {
    let (_dir, mut lab) = lab(fault);
    check(&mut lab);
    down_and_check(&mut lab);
}
