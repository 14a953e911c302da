//! Resolves the command line and the playbook into one `Target`. Flags override the playbook,
//! and stand in for it entirely when an operator has no playbook yet.

use std::net::IpAddr;
use std::time::Duration;

use crate::cli::TargetArgs;
use crate::playbook::{self, validate, PlaybookError};
use crate::target::{BackendAddr, BackendSpec, RestartSpec, StartCommand, Target, VerifySpec};

/// Flags that describe a target, so their presence means "no playbook needed".
fn describes_target(args: &TargetArgs) -> bool {
    args.backend.is_some() || !args.domains.is_empty() || !args.health.is_empty()
}

pub fn resolve(args: &TargetArgs) -> Result<Target, PlaybookError> {
    check_flags(args)?;
    let mut target = match (&args.playbook, describes_target(args)) {
        (Some(name), _) => playbook::load(Some(name))?,
        (None, true) => empty_target(),
        (None, false) => playbook::load(None)?,
    };
    apply(&mut target, args)?;
    // Without ports the URLs through nginx wait for the config (see discover::derive).
    if target.verify.is_empty() && target.nginx.ports_given {
        target.verify = implied_verify(&target, &args.expect);
    }
    Ok(target)
}

fn empty_target() -> Target {
    Target {
        name: "command-line".to_string(),
        source: "command-line flags".to_string(),
        domains: Vec::new(),
        expected_ips: Vec::new(),
        dns_server: None,
        offline: false,
        nginx: crate::target::NginxSpec {
            ports: validate::DEFAULT_NGINX_PORTS.to_vec(),
            ..Default::default()
        },
        backend: None,
        verify: Vec::new(),
        timeout: validate::DEFAULT_TIMEOUT,
        watch: Default::default(),
    }
}

fn flag_error(key: &str, message: impl Into<String>) -> PlaybookError {
    PlaybookError::Flag {
        flag: key.to_string(),
        message: message.into(),
    }
}

/// Values a flag may carry that clap's types do not rule out; the playbook checks the same.
fn check_flags(args: &TargetArgs) -> Result<(), PlaybookError> {
    for d in &args.domains {
        validate::check_domain(d).map_err(|m| flag_error("--domain", m))?;
    }
    if let Some(secs) = args.timeout {
        validate::check_timeout(secs).map_err(|m| flag_error("--timeout", m))?;
    }
    if !args.nginx_ports.is_empty() {
        validate::check_ports(&args.nginx_ports).map_err(|m| flag_error("--nginx-port", m))?;
    }
    if args.health.len() > crate::limits::VERIFY_URLS_MAX {
        let m = validate::too_many_urls(args.health.len(), "--health URLs");
        return Err(flag_error("--health", m));
    }
    if let Some(addr) = &args.backend {
        BackendAddr::parse(addr)
            .and_then(validate::check_backend)
            .map_err(|m| flag_error("--backend", m))?;
    }
    Ok(())
}

fn apply(t: &mut Target, args: &TargetArgs) -> Result<(), PlaybookError> {
    if !args.domains.is_empty() {
        t.domains = args.domains.clone();
    }
    if !args.expected_ips.is_empty() {
        t.expected_ips = args
            .expected_ips
            .iter()
            .map(|s| {
                s.parse::<IpAddr>()
                    .map_err(|_| flag_error("--expected-ip", format!("{s:?} is not an IP address")))
            })
            .collect::<Result<_, _>>()?;
    }
    if let Some(server) = &args.dns_server {
        t.dns_server = Some(
            crate::sys::dns_query::parse_server(server)
                .map_err(|m| flag_error("--dns-server", m))?,
        );
    }
    if !args.nginx_ports.is_empty() {
        t.nginx.ports = args.nginx_ports.clone();
        t.nginx.ports_given = true;
    }
    if let Some(secs) = args.timeout {
        t.timeout = timeout_flag(secs)?;
    }
    t.offline |= args.offline;
    apply_backend(t, args)?;
    if !args.health.is_empty() {
        t.verify = args
            .health
            .iter()
            .map(|url| health_flag(url, &args.expect))
            .collect::<Result<_, _>>()?;
    } else if !args.expect.is_empty() {
        for v in &mut t.verify {
            v.expect = args.expect.clone();
        }
    }
    Ok(())
}

/// `--timeout SECS`, checked the same way for every command.
pub fn timeout_flag(secs: f64) -> Result<Duration, PlaybookError> {
    validate::check_timeout(secs).map_err(|m| flag_error("--timeout", m))
}

/// Nothing that names a site: no playbook and no flag describing one. With no default
/// playbook either, fixer looks at what this host's nginx serves.
pub fn names_nothing(args: &TargetArgs) -> bool {
    args.playbook.is_none()
        && !describes_target(args)
        && args.nginx_ports.is_empty()
        && args.match_.is_none()
        && args.restart_cmd.is_none()
        && args.restart_unit.is_none()
}

fn apply_backend(t: &mut Target, args: &TargetArgs) -> Result<(), PlaybookError> {
    if let Some(addr) = &args.backend {
        let address = BackendAddr::parse(addr).map_err(|m| flag_error("--backend", m))?;
        match &mut t.backend {
            Some(b) => b.address = address,
            None => {
                t.backend = Some(BackendSpec {
                    address,
                    matcher: None,
                    health_path: "/".to_string(),
                    restart: None,
                    protocol: None,
                })
            }
        }
    }
    let needs_backend =
        args.match_.is_some() || args.restart_cmd.is_some() || args.restart_unit.is_some();
    let Some(b) = t.backend.as_mut() else {
        return if needs_backend {
            Err(flag_error(
                "--backend",
                "--match/--restart-cmd/--restart-unit need a backend address",
            ))
        } else {
            Ok(())
        };
    };
    if let Some(m) = &args.match_ {
        b.matcher = Some(validate::compile_match(m).map_err(|e| flag_error("--match", e))?);
    }
    match (&args.restart_cmd, &args.restart_unit) {
        (Some(_), Some(_)) => {
            return Err(flag_error(
                "--restart-cmd",
                "give --restart-cmd or --restart-unit, not both",
            ))
        }
        (Some(cmd), None) => {
            b.restart = Some(RestartSpec::Command(StartCommand {
                command: cmd.clone(),
                ..Default::default()
            }))
        }
        (None, Some(unit)) => b.restart = Some(RestartSpec::Systemd { unit: unit.clone() }),
        (None, None) => {}
    }
    Ok(())
}

/// A `--health` URL naming a domain is checked against this server (connect to 127.0.0.1 with
/// the domain as Host/SNI), since the point is to test this host, not whatever DNS says.
fn health_flag(url: &str, expect: &[u16]) -> Result<VerifySpec, PlaybookError> {
    validate::check_url(url).map_err(|m| flag_error("--health", m))?;
    let host = url_host(url);
    let is_ip = host
        .trim_matches(|c| c == '[' || c == ']')
        .parse::<IpAddr>()
        .is_ok();
    Ok(VerifySpec {
        url: url.to_string(),
        via: (!is_ip).then(|| "127.0.0.1".to_string()),
        insecure: !is_ip && url.starts_with("https://"),
        expect: expect.to_vec(),
        auth: None,
    })
}

/// The host part of an http(s) URL, without port.
pub fn url_host(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if authority.starts_with('[') {
        return authority
            .split_once(']')
            .map_or(authority, |(h, _)| &h[1..]);
    }
    authority.split(':').next().unwrap_or(authority)
}

/// Without `[[verify]]` or `--health`, prove health the way an operator would by hand: the
/// backend directly, and each nginx port with the first domain as Host.
pub(crate) fn implied_verify(t: &Target, expect: &[u16]) -> Vec<VerifySpec> {
    let mut out = Vec::new();
    if let Some(BackendSpec {
        address: addr @ (BackendAddr::Tcp(_) | BackendAddr::Named(_)),
        health_path,
        ..
    }) = &t.backend
    {
        out.push(VerifySpec {
            url: format!("http://{addr}{health_path}"),
            via: None,
            insecure: false,
            expect: expect.to_vec(),
            auth: None,
        });
    }
    let host = t.domains.first().map_or("localhost", String::as_str);
    let path = t.backend.as_ref().map_or("/", |b| b.health_path.as_str());
    for &port in &t.nginx.ports {
        let (scheme, default) = if port == 443 || port == 8443 {
            ("https", 443)
        } else {
            ("http", 80)
        };
        let port_part = if port == default {
            String::new()
        } else {
            format!(":{port}")
        };
        out.push(VerifySpec {
            url: format!("{scheme}://{host}{port_part}{path}"),
            via: Some("127.0.0.1".to_string()),
            insecure: scheme == "https",
            expect: expect.to_vec(),
            auth: None,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_stand_in_for_a_playbook() {
        let args = TargetArgs {
            domains: vec!["example.com".into()],
            backend: Some("127.0.0.1:8080".into()),
            nginx_ports: vec![80, 443],
            ..Default::default()
        };
        let t = resolve(&args).unwrap();
        assert_eq!(t.name, "command-line");
        let urls: Vec<_> = t.verify.iter().map(|v| v.url.as_str()).collect();
        assert_eq!(
            urls,
            [
                "http://127.0.0.1:8080/",
                "http://example.com/",
                "https://example.com/"
            ]
        );
        assert_eq!(t.verify[2].via.as_deref(), Some("127.0.0.1"));
    }

    #[test]
    fn flags_override_a_playbook() {
        let args = TargetArgs {
            playbook: Some("login-502".into()),
            backend: Some("127.0.0.1:9090".into()),
            match_: Some("uwsgi".into()),
            ..Default::default()
        };
        let t = resolve(&args).unwrap();
        let b = t.backend.unwrap();
        assert_eq!(b.address.to_string(), "127.0.0.1:9090");
        assert_eq!(b.matches("uwsgi --ini app.ini"), Some(true));
        assert_eq!(t.verify.len(), 2, "playbook's verify list is kept");
    }

    #[test]
    fn url_host_handles_ports_userinfo_and_v6() {
        assert_eq!(url_host("https://example.com:8443/x"), "example.com");
        assert_eq!(url_host("http://u@h/x"), "h");
        assert_eq!(url_host("http://[::1]:80/"), "::1");
    }
}
