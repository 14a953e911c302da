//! `fixer init`: a playbook for one discovered backend, so the next run is one word. The text
//! is TOML the playbook loader reads back (values quoted by the toml crate).

use super::survey::Survey;
use crate::target::{BackendAddr, Target};

/// Which discovered backend the operator means.
#[derive(Debug, Clone, Default)]
pub struct Selector {
    pub server: Option<String>,
    pub backend: Option<String>,
}

/// One discovered backend a selector may name, for the list shown when it is ambiguous.
#[derive(Debug, Clone)]
pub struct Choice {
    pub servers: Vec<String>,
    pub backend: String,
}

pub enum Picked<'a> {
    /// The backend's target and the first server block that reaches it.
    One(&'a Target, String),
    /// Nothing matched, or more than one did: the candidates to choose from.
    Choose(Vec<Choice>),
}

pub fn pick<'a>(survey: &'a Survey, sel: &Selector) -> Result<Picked<'a>, String> {
    let want_backend = sel
        .backend
        .as_deref()
        .map(BackendAddr::parse)
        .transpose()
        .map_err(|e| format!("--backend: {e}"))?;
    let hits: Vec<usize> = (0..survey.backends.len())
        .filter(|&i| {
            let t = &survey.backends[i].target;
            let addr_ok = want_backend
                .as_ref()
                .is_none_or(|w| t.backend.as_ref().is_some_and(|b| b.address == *w));
            let server_ok = sel
                .server
                .as_ref()
                .is_none_or(|name| servers_of(survey, i).iter().any(|s| s == name));
            addr_ok && server_ok
        })
        .collect();
    match hits.as_slice() {
        [one] => Ok(Picked::One(
            &survey.backends[*one].target,
            servers_of(survey, *one)
                .into_iter()
                .next()
                .unwrap_or_default(),
        )),
        _ => {
            let pool: Vec<usize> = if hits.is_empty() {
                (0..survey.backends.len()).collect()
            } else {
                hits
            };
            Ok(Picked::Choose(
                pool.into_iter()
                    .map(|i| Choice {
                        servers: servers_of(survey, i),
                        backend: survey.backends[i]
                            .target
                            .backend
                            .as_ref()
                            .map_or(String::new(), |b| b.address.to_string()),
                    })
                    .collect(),
            ))
        }
    }
}

/// The server names whose locations reach backend `i`, each once, in config order.
fn servers_of(survey: &Survey, i: usize) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for row in survey.rows.iter().filter(|r| r.checked == Some(i)) {
        if !out.contains(&row.server) {
            out.push(row.server.clone());
        }
    }
    out
}

fn q(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// A file-name-safe playbook name from a server name: `app.example.com` → `app-example-com`.
pub fn slug(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let s = s.trim_matches('-').to_string();
    if s.is_empty() {
        "site".into()
    } else {
        s
    }
}

/// The playbook for `t`, with the places it was read from as comments.
pub fn render(t: &Target, server: &str) -> String {
    let mut out = String::new();
    let backend = t.backend.as_ref();
    let addr = backend.map_or(String::new(), |b| b.address.to_string());
    out += &format!("# Written by `fixer init` from {}.\n", t.source);
    out += &format!("name = {}\n", q(&slug(server)));
    out += &format!("description = {}\n\n", q(&format!("{server} → {addr}")));
    if !server.is_empty() && server != "_" && server != "localhost" {
        out += &format!("[site]\ndomains = [{}]\n\n", q(server));
    }
    out += "[nginx]\n";
    for note in &t.nginx.derived {
        out += &format!("# {}\n", note.replace('\n', " "));
    }
    let ports: Vec<String> = t.nginx.ports.iter().map(u16::to_string).collect();
    out += &format!("ports = [{}]\n", ports.join(", "));
    if let Some(p) = &t.nginx.prefix {
        out += &format!("prefix = {}\n", q(&p.display().to_string()));
    }
    if let Some(c) = &t.nginx.config {
        out += &format!("config = {}\n", q(&c.display().to_string()));
    }
    out += &format!("\n[backend]\naddress = {}\n", q(&addr));
    out += "health_path = \"/\"\n";
    out +=
        "# match = \"gunicorn|app\\\\.py\"          # regex on the backend's full command line\n";
    out += "# restart = { systemd = \"app\" }         # or { command = \"...\", cwd = \"...\" }\n";
    for v in &t.verify {
        out += &format!("\n[[verify]]\nurl = {}\n", q(&v.url));
        if let Some(via) = &v.via {
            out += &format!("via = {}\n", q(via));
        }
        if v.insecure {
            out += "insecure = true\n";
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::target::{BackendSpec, NginxSpec, VerifySpec};

    #[test]
    fn the_playbook_loads_back() {
        let t = Target {
            name: "app.test → 127.0.0.1:8080".into(),
            source: "discovered in master PID 1 (/srv/x \"q\"/nginx.conf)".into(),
            domains: Vec::new(),
            expected_ips: Vec::new(),
            dns_server: None,
            offline: false,
            nginx: NginxSpec {
                ports: vec![8081, 8443],
                prefix: Some("/srv/x \"q\"".into()),
                config: Some("/srv/x \"q\"/nginx.conf".into()),
                derived: vec!["port 8081 from /srv/x/nginx.conf:3 listen".into()],
                ..Default::default()
            },
            backend: Some(BackendSpec {
                address: BackendAddr::parse("127.0.0.1:8080").unwrap(),
                matcher: None,
                health_path: "/".into(),
                restart: None,
                protocol: None,
            }),
            verify: vec![VerifySpec {
                url: "https://app.test:8443/api/".into(),
                via: Some("127.0.0.1".into()),
                insecure: true,
                expect: Vec::new(),
                auth: None,
            }],
            timeout: std::time::Duration::from_secs(2),
            watch: Default::default(),
        };
        let text = render(&t, "app.test");
        let back = crate::playbook::validate::parse(&text, "init.toml", "init")
            .unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(back.name, "app-test");
        assert_eq!(back.domains, ["app.test"]);
        assert_eq!(back.nginx.ports, [8081, 8443]);
        assert!(back.nginx.ports_given);
        assert_eq!(back.nginx.config, t.nginx.config);
        assert_eq!(back.backend.unwrap().address.to_string(), "127.0.0.1:8080");
        assert_eq!(back.verify[0].url, "https://app.test:8443/api/");
        assert!(back.verify[0].insecure);
    }

    #[test]
    fn slugs() {
        assert_eq!(slug("App.Example.com"), "app-example-com");
        assert_eq!(slug("_"), "site");
    }
}
