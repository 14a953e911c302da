//! `--dns-server`: ask a DNS server directly (what users see), next to this host's resolver.
//! A real dnsmasq on a loopback port serves the test names; every answer is a loopback address.

mod common;

use std::net::UdpSocket;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{deadline, fixer, step, wait_until};
use serde_json::Value;

struct Dnsmasq {
    child: Child,
    port: u16,
}

impl Dnsmasq {
    /// dnsmasq binds UDP and TCP on its port, so the port must be free for both; another test
    /// may take it in between, so a dnsmasq that exits at once is retried on a fresh port.
    fn start() -> Dnsmasq {
        for _ in 0..5 {
            if let Some(dns) = Self::try_start(free_udp_and_tcp_port()) {
                return dns;
            }
        }
        panic!("dnsmasq did not start on any of 5 ports");
    }

    fn try_start(port: u16) -> Option<Dnsmasq> {
        let binary = if std::path::Path::new("/usr/sbin/dnsmasq").exists() {
            "/usr/sbin/dnsmasq"
        } else {
            "dnsmasq"
        };
        let child = Command::new(binary)
            .args([
                "--keep-in-foreground",
                "--conf-file=/dev/null",
                "--no-resolv",
                "--no-hosts",
            ])
            .args([
                "--listen-address=127.0.0.1",
                "--bind-interfaces",
                "--pid-file",
            ])
            .arg(format!("--port={port}"))
            .arg("--address=/here.fixer.test/127.0.0.1")
            .arg("--address=/elsewhere.fixer.test/127.0.0.3")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("dnsmasq is installed (apt-get install dnsmasq)");
        let mut dns = Dnsmasq { child, port };
        let server = format!("127.0.0.1:{port}").parse().unwrap();
        let mut exited = false;
        let ready = wait_until(deadline(10.0), || {
            exited = matches!(dns.child.try_wait(), Ok(Some(_)));
            exited
                || fixer::sys::dns_query::query(
                    server,
                    "here.fixer.test",
                    Duration::from_millis(200),
                )
                .is_ok()
        });
        assert!(ready, "dnsmasq neither answered nor exited");
        (!exited).then_some(dns)
    }
}

fn free_udp_and_tcp_port() -> u16 {
    for _ in 0..100 {
        let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = tcp.local_addr().unwrap().port();
        if UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no loopback port free for both UDP and TCP in 100 tries");
}

impl Drop for Dnsmasq {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn dns_step(dns: &Dnsmasq, domain: &str) -> Value {
    let out = fixer()
        .args(["diagnose", "--json", "--timeout", "1", "--nginx-port", "9"])
        .args(["--domain", domain, "--expected-ip", "127.0.0.1"])
        .arg(format!("--dns-server=127.0.0.1:{}", dns.port))
        .output()
        .unwrap();
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    step(&doc, "dns").clone()
}

#[test]
fn the_dns_servers_answer_is_what_counts() {
    let dns = Dnsmasq::start();
    let ok = dns_step(&dns, "here.fixer.test");
    assert_eq!(ok["verdict"], "ok", "{ok:#}");
    let evidence = ok["evidence"].to_string();
    assert!(
        evidence.contains(&format!("asking DNS server 127.0.0.1:{}", dns.port)),
        "{evidence}"
    );
    assert!(
        evidence.contains("DNS server: here.fixer.test → 127.0.0.1"),
        "{evidence}"
    );
    assert!(
        evidence.contains("DIFFERENT"),
        "this host's resolver does not know the name: {evidence}"
    );

    let bad = dns_step(&dns, "elsewhere.fixer.test");
    assert_eq!(bad["verdict"], "fail", "{bad:#}");
    assert_eq!(bad["finding"]["code"], "dns-points-elsewhere");
    assert!(
        bad["finding"]["cause"]
            .as_str()
            .unwrap()
            .contains("127.0.0.3"),
        "{bad:#}"
    );
}

#[test]
fn a_name_the_server_does_not_know_is_unresolved() {
    let dns = Dnsmasq::start();
    let s = dns_step(&dns, "nowhere.invalid");
    assert_eq!(s["finding"]["code"], "dns-unresolved", "{s:#}");
}

#[test]
fn a_bad_dns_server_flag_is_a_usage_error() {
    let out = fixer()
        .args([
            "diagnose",
            "--domain",
            "x",
            "--dns-server",
            "resolver.example",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--dns-server"));
}

/// The seed's case: the name resolves to another machine (127.0.0.3 here, not an address of
/// this host's interfaces), whose nginx answers 502 with its version in `Server`, while this
/// host's nginx (`server_tokens off`) answers 200. Two real nginx masters, loopback only.
#[test]
fn another_server_answering_is_named_next_to_this_hosts_nginx() {
    use common::nginx::{free_ports, PlainNginx};
    let dns = Dnsmasq::start();
    let port = free_ports(1)[0];
    let _here = PlainNginx::start(
        "nginx",
        1,
        &format!(
            "server {{ listen 127.0.0.1:{port}; server_tokens off; return 200 \"here\\n\"; }}"
        ),
    );
    let _there = PlainNginx::start(
        "nginx",
        1,
        &format!("server {{ listen 127.0.0.3:{port}; return 502; }}"),
    );
    let run = |extra: &[&str]| {
        let out = fixer()
            .args(["diagnose", "--json", "--timeout", "1", "--nginx-port"])
            .arg(port.to_string())
            .args([
                "--domain",
                "elsewhere.fixer.test",
                "--expected-ip",
                "127.0.0.1",
            ])
            .arg(format!("--dns-server=127.0.0.1:{}", dns.port))
            .args(extra)
            .output()
            .unwrap();
        let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
        (out.status.code(), doc)
    };
    let (code, doc) = run(&[]);
    assert_eq!(code, Some(1));
    assert_eq!(
        doc["root_cause_code"], "dns-answered-by-other-server",
        "{doc:#}"
    );
    let cause = doc["root_cause"].as_str().unwrap();
    assert!(
        cause.contains(&format!(
            "http://elsewhere.fixer.test:{port}/ at 127.0.0.3 answered 502 (Server: nginx/"
        )) && cause.ends_with("while this host's nginx answers 200 (Server: nginx)"),
        "{cause}"
    );
    let domain = &step(&doc, "dns")["details"]["domains"][0];
    assert_eq!(domain["other_server"], true, "{domain:#}");
    assert_eq!(domain["here"]["status"], 200, "{domain:#}");

    // --offline (and its alias): nothing is sent to 127.0.0.3, the record is still wrong.
    for flag in ["--offline", "--no-remote"] {
        let (code, doc) = run(&[flag]);
        assert_eq!(code, Some(1));
        assert_eq!(doc["root_cause_code"], "dns-points-elsewhere", "{doc:#}");
        let dns_step = step(&doc, "dns");
        assert!(
            dns_step["details"]["domains"][0]["answered"].is_null(),
            "{dns_step:#}"
        );
        assert!(
            dns_step["evidence"]
                .to_string()
                .contains("what answers at 127.0.0.3 was not asked (--offline)"),
            "{dns_step:#}"
        );
    }
}
