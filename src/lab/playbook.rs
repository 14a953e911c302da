//! The playbook a lab hands to fixer, in fixer's own playbook schema (see
//! `crate::playbook::model`), serialised with the `toml` crate so paths are escaped properly.

use std::path::Path;

use anyhow::{Context, Result};
use serde::Serialize;

use super::Fault;

/// The address the `dns-elsewhere` lab expects the domain at: TEST-NET-1, never contacted.
pub const ELSEWHERE_IP: &str = "192.0.2.10";

#[derive(Debug, Clone)]
pub struct PlaybookParams<'a> {
    pub fault: Fault,
    pub dir: &'a Path,
    pub nginx_binary: &'a Path,
    /// The php-fpm binary, for the `fastcgi-backend` lab's restart command.
    pub php_fpm: Option<&'a Path>,
    /// The uWSGI binary, for the `uwsgi-backend` lab's restart command.
    pub uwsgi: Option<&'a Path>,
    /// The lab runs as root (php-fpm then needs `-R`).
    pub as_root: bool,
    pub http_port: u16,
    pub https_port: u16,
    pub backend_port: u16,
}

#[derive(Serialize)]
struct Playbook {
    name: String,
    description: String,
    site: Site,
    nginx: Nginx,
    backend: Backend,
    verify: Vec<Verify>,
}

#[derive(Serialize)]
struct Site {
    domains: Vec<String>,
    expected_ips: Vec<String>,
}

#[derive(Serialize)]
struct Nginx {
    ports: Vec<u16>,
    binary: String,
    prefix: String,
    config: String,
}

#[derive(Serialize)]
struct Backend {
    address: String,
    #[serde(rename = "match")]
    match_: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    health_path: Option<String>,
    restart: Restart,
}

#[derive(Serialize)]
struct Restart {
    command: String,
    cwd: String,
    log: String,
}

#[derive(Serialize)]
struct Verify {
    url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    via: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    insecure: bool,
    expect: Vec<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    auth: Option<Auth>,
}

#[derive(Serialize)]
struct Auth {
    user: String,
    password_file: String,
}

fn verify(url: String, via: bool, expect: u16) -> Verify {
    Verify {
        url,
        via: via.then(|| "127.0.0.1".to_string()),
        insecure: false,
        expect: vec![expect],
        auth: None,
    }
}

/// How the lab's backend is recognised and started again. The `fastcgi-backend` playbook names
/// no protocol and no health path: fixer reads `fastcgi_pass` from nginx's config and php-fpm's
/// `ping.path` from the pool's config, as it must on a real server.
fn backend_section(p: &PlaybookParams, dir: &str) -> Backend {
    let port = p.backend_port;
    let restart = |command: String| Restart {
        command,
        cwd: dir.to_string(),
        log: format!("{dir}/logs/backend.log"),
    };
    match p.fault {
        Fault::FastcgiBackend => {
            let php_fpm = p.php_fpm.unwrap_or(Path::new("php-fpm")).display();
            let args = super::spawn::php_fpm_args(p.dir, p.as_root).join(" ");
            Backend {
                address: format!("127.0.0.1:{port}"),
                match_: r"^php-fpm: (master process|pool)".into(),
                health_path: None,
                restart: restart(format!("{php_fpm} {args}")),
            }
        }
        f if f.fpm_on_unix() => {
            let php_fpm = p.php_fpm.unwrap_or(Path::new("php-fpm")).display();
            let args = super::spawn::php_fpm_args(p.dir, p.as_root).join(" ");
            Backend {
                address: format!("unix:{dir}/{}", super::FPM_SOCKET),
                match_: r"^php-fpm: (master process|pool)".into(),
                health_path: None,
                restart: restart(format!("{php_fpm} {args}")),
            }
        }
        // Streamlit's command line, run headless so it never asks (the stand-in in the lab dir).
        Fault::PromptBeforeListen => Backend {
            address: format!("127.0.0.1:{port}"),
            match_: r"streamlit run".into(),
            health_path: Some("/api/health".into()),
            restart: restart(format!(
                "python3 -m streamlit run app.py --server.port {port} --server.headless true"
            )),
        },
        Fault::UwsgiBackend => {
            let uwsgi = p.uwsgi.unwrap_or(Path::new("uwsgi_python3")).display();
            let args = super::spawn::uwsgi_args(p.dir, port).join(" ");
            Backend {
                address: format!("127.0.0.1:{port}"),
                match_: r"lab-wsgi\.py".into(),
                health_path: Some("/api/health".into()),
                restart: restart(format!("{uwsgi} {args}")),
            }
        }
        _ => {
            let tls = match p.fault {
                Fault::HttpsBackend => {
                    format!(" --tls-cert {dir}/cert.pem --tls-key {dir}/key.pem")
                }
                Fault::TlsUpstream => {
                    format!(" --tls-cert {dir}/cert.pem --tls-key {dir}/key.pem --plain-text-alert")
                }
                Fault::LocalhostV6 => " --host ::1".to_string(),
                _ => String::new(),
            };
            Backend {
                address: format!("127.0.0.1:{port}"),
                match_: r"lab-backend\.py".into(),
                health_path: Some("/api/health".into()),
                restart: restart(format!("python3 {dir}/lab-backend.py --port {port}{tls}")),
            }
        }
    }
}

/// The URL straight to the backend, in the scheme it serves: php-fpm is asked in FastCGI.
fn direct_verify(fault: Fault, port: u16) -> Verify {
    match fault {
        Fault::FastcgiBackend => verify(format!("http://127.0.0.1:{port}/"), false, 200),
        Fault::HttpsBackend => {
            let mut v = verify(format!("https://127.0.0.1:{port}/api/health"), false, 200);
            v.insecure = true;
            v
        }
        _ => verify(format!("http://127.0.0.1:{port}/api/health"), false, 200),
    }
}

/// The playbook text for this lab.
pub fn render(p: &PlaybookParams) -> Result<String> {
    let dir = p.dir.display().to_string();
    let expected_ips = match p.fault {
        Fault::DnsElsewhere => vec![ELSEWHERE_IP.to_string()],
        _ => vec!["127.0.0.1".to_string(), "::1".to_string()],
    };
    let (http, https, backend) = (p.http_port, p.https_port, p.backend_port);
    let mut with_auth = verify(format!("http://localhost:{http}/"), true, 200);
    with_auth.auth = Some(Auth {
        user: "admin".into(),
        password_file: format!("{dir}/lab-password"),
    });
    let mut tls = verify(format!("https://localhost:{https}/api/health"), true, 200);
    tls.insecure = true;
    let book = Playbook {
        name: format!("lab-{}", p.fault.name()),
        description: format!("fixer lab ({}): {}", p.fault.name(), p.fault.describe()),
        site: Site {
            domains: vec!["localhost".into()],
            expected_ips,
        },
        nginx: Nginx {
            ports: vec![http, https],
            binary: p.nginx_binary.display().to_string(),
            prefix: dir.clone(),
            config: format!("{dir}/nginx.conf"),
        },
        backend: backend_section(p, &dir),
        // A verify URL cannot name a unix socket: those labs are verified through nginx only.
        verify: [(!p.fault.fpm_on_unix()).then(|| direct_verify(p.fault, backend))]
            .into_iter()
            .flatten()
            .chain([
                verify(format!("http://localhost:{http}/api/health"), true, 200),
                tls,
                // Behind basic auth, 401 without credentials is the healthy answer.
                verify(format!("http://localhost:{http}/"), true, 401),
                with_auth,
            ])
            .collect(),
    };
    let body = toml::to_string(&book).context("serialising the lab playbook")?;
    Ok(format!(
        "# Generated by `fixer lab up --fault {}`; removed by `fixer lab down`.\n{body}",
        p.fault.name()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::playbook::model::RawPlaybook;

    fn parsed(fault: Fault, dir: &str) -> RawPlaybook {
        let text = render(&PlaybookParams {
            fault,
            dir: Path::new(dir),
            nginx_binary: Path::new("/usr/sbin/nginx"),
            php_fpm: Some(Path::new("/usr/sbin/php-fpm8.2")),
            uwsgi: Some(Path::new("/usr/bin/uwsgi_python3")),
            as_root: true,
            http_port: 8081,
            https_port: 8443,
            backend_port: 9000,
        })
        .unwrap();
        toml::from_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"))
    }

    fn strs(v: &[toml::Spanned<String>]) -> Vec<&str> {
        v.iter().map(|s| s.get_ref().as_str()).collect()
    }

    #[test]
    fn matches_fixers_playbook_schema() {
        let book = parsed(Fault::StuckHolder, "/tmp/lab");
        assert_eq!(book.name.as_deref(), Some("lab-stuck-holder"));
        assert_eq!(book.site.domains, ["localhost"]);
        assert_eq!(strs(&book.site.expected_ips), ["127.0.0.1", "::1"]);
        assert_eq!(book.nginx.ports, Some(vec![8081, 8443]));
        assert_eq!(book.nginx.config.as_deref(), Some("/tmp/lab/nginx.conf"));
        let backend = book.backend.unwrap();
        assert_eq!(backend.address.get_ref(), "127.0.0.1:9000");
        assert_eq!(
            backend.match_.as_ref().map(|m| m.get_ref().as_str()),
            Some(r"lab-backend\.py")
        );
        let restart = backend.restart.unwrap();
        assert_eq!(
            restart.command.as_deref(),
            Some("python3 /tmp/lab/lab-backend.py --port 9000")
        );
        assert_eq!(book.verify.len(), 5);
        assert_eq!(book.verify[3].expect, [401]);
        assert!(book.verify[2].insecure);
        let auth = book.verify[4].auth.as_ref().unwrap();
        assert_eq!(auth.password_file.as_deref(), Some("/tmp/lab/lab-password"));
    }

    #[test]
    fn fastcgi_lab_restarts_php_fpm_and_leaves_the_protocol_to_nginx() {
        let book = parsed(Fault::FastcgiBackend, "/tmp/lab");
        let backend = book.backend.unwrap();
        assert!(backend.protocol.is_none());
        assert!(backend.health_path.is_none());
        assert_eq!(
            backend.restart.unwrap().command.as_deref(),
            Some("/usr/sbin/php-fpm8.2 -F -y /tmp/lab/php-fpm.conf -p /tmp/lab -R")
        );
        let re = regex::Regex::new(backend.match_.unwrap().get_ref()).unwrap();
        assert!(re.is_match("php-fpm: master process (/tmp/lab/php-fpm.conf)"));
        assert!(re.is_match("php-fpm: pool lab"));
        assert_eq!(book.verify[0].url.get_ref(), "http://127.0.0.1:9000/");
    }

    #[test]
    fn uwsgi_lab_restarts_uwsgi_so_that_sigterm_stops_it() {
        let backend = parsed(Fault::UwsgiBackend, "/tmp/lab").backend.unwrap();
        let command = backend.restart.unwrap().command.unwrap();
        assert!(
            command.starts_with(
                "/usr/bin/uwsgi_python3 --socket 127.0.0.1:9000 --wsgi-file /tmp/lab/lab-wsgi.py"
            ),
            "{command}"
        );
        assert!(command.ends_with("--die-on-term"), "{command}");
        let re = regex::Regex::new(backend.match_.unwrap().get_ref()).unwrap();
        assert!(re.is_match(&command));
    }

    #[test]
    fn dns_elsewhere_expects_test_net() {
        assert_eq!(
            strs(&parsed(Fault::DnsElsewhere, "/tmp/lab").site.expected_ips),
            [ELSEWHERE_IP]
        );
    }

    #[test]
    fn escapes_paths() {
        let book = parsed(Fault::None, "/tmp/odd\"dir\\x");
        assert_eq!(book.nginx.prefix.as_deref(), Some("/tmp/odd\"dir\\x"));
    }
}
