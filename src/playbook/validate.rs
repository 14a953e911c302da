//! Turns a parsed playbook into a `Target`, checking every value once and pointing at the line
//! of any bad one.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use toml::Spanned;

use super::error::PlaybookError;
use super::model::{RawAuth, RawBackend, RawPlaybook, RawRestart, RawVerify};
pub use super::values::{
    check_backend, check_domain, check_path, check_ports, check_timeout, check_url, check_via,
    check_wait, compile_match, too_many_urls,
};
use crate::limits;
use crate::sanitize::{quoted, shorten};
use crate::target::{
    AuthSpec, BackendAddr, BackendSpec, NginxSpec, PasswordSource, Protocol, RestartSpec,
    StartCommand, Target, VerifySpec,
};

pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);
pub const DEFAULT_NGINX_PORTS: [u16; 2] = [80, 443];

/// Parses and validates playbook text. `source_name` is what errors call the file.
pub fn parse(text: &str, source_name: &str, fallback_name: &str) -> Result<Target, PlaybookError> {
    let raw: RawPlaybook = toml::from_str(text).map_err(|e| PlaybookError::Parse {
        source_name: source_name.to_string(),
        message: parse_message(&e, text),
    })?;
    Validator { text, source_name }.target(raw, fallback_name)
}

/// toml's own message already names the key; add the line so the operator can jump to it.
pub(crate) fn parse_message(e: &toml::de::Error, text: &str) -> String {
    let first = e.message().lines().next().unwrap_or("invalid TOML");
    let first = shorten(first, limits::QUOTED_INPUT_MAX_CHARS * 2).into_owned();
    match e.span() {
        Some(span) => {
            let line = line_of(text, span.start);
            match key_at(text, line).map(|k| quoted(&k)) {
                Some(key) if !first.contains(&format!("`{key}`")) => {
                    format!("line {line}: {key}: {first}")
                }
                _ => format!("line {line}: {first}"),
            }
        }
        None => first,
    }
}

/// The dotted key written on `line` (1-based), prefixed by its `[table]`, so an error like
/// "expected u16" can say which setting it is about.
fn key_at(text: &str, line: usize) -> Option<String> {
    let lines: Vec<&str> = text.lines().collect();
    let here = lines.get(line.checked_sub(1)?)?.trim();
    let table = lines[..line - 1]
        .iter()
        .rev()
        .map(|l| l.trim())
        .find(|l| l.starts_with('['))
        .map(|l| l.trim_matches(|c| c == '[' || c == ']').trim().to_string());
    if here.starts_with('[') {
        return Some(
            here.trim_matches(|c| c == '[' || c == ']')
                .trim()
                .to_string(),
        );
    }
    let key = here.split_once('=')?.0.trim();
    if key.is_empty() {
        return None;
    }
    Some(match table {
        Some(t) => format!("{t}.{key}"),
        None => key.to_string(),
    })
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

struct Validator<'a> {
    text: &'a str,
    source_name: &'a str,
}

impl Validator<'_> {
    fn invalid<T>(&self, at: &Spanned<T>, key: &str, message: impl Into<String>) -> PlaybookError {
        PlaybookError::Invalid {
            source_name: self.source_name.to_string(),
            line: line_of(self.text, at.span().start),
            key: key.to_string(),
            message: short_message(message.into()),
        }
    }

    /// Like `invalid`, for a value whose position is known only as a byte span.
    fn invalid_at(&self, at: std::ops::Range<usize>, key: &str, message: String) -> PlaybookError {
        PlaybookError::Invalid {
            source_name: self.source_name.to_string(),
            line: line_of(self.text, at.start),
            key: key.to_string(),
            message: short_message(message),
        }
    }

    fn invalid_key(&self, key: &str, message: impl Into<String>) -> PlaybookError {
        let last = key.rsplit('.').next().unwrap_or(key);
        let line = self
            .text
            .lines()
            .position(|l| l.trim_start().starts_with(last))
            .map_or(0, |i| i + 1);
        PlaybookError::Invalid {
            source_name: self.source_name.to_string(),
            line,
            key: key.to_string(),
            message: short_message(message.into()),
        }
    }

    fn target(&self, raw: RawPlaybook, fallback_name: &str) -> Result<Target, PlaybookError> {
        let expected_ips = raw
            .site
            .expected_ips
            .iter()
            .map(|s| {
                s.get_ref().parse::<IpAddr>().map_err(|_| {
                    self.invalid(
                        s,
                        "site.expected_ips",
                        format!("{:?} is not an IP address", s.get_ref()),
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let dns_server = raw
            .site
            .dns_server
            .as_ref()
            .map(|s| {
                crate::sys::dns_query::parse_server(s.get_ref())
                    .map_err(|m| self.invalid(s, "site.dns_server", m))
            })
            .transpose()?;
        for d in &raw.site.domains {
            check_domain(d).map_err(|m| self.invalid_key("site.domains", m))?;
        }
        let timeout = match raw.timeout {
            Some(t) => check_timeout(t).map_err(|m| self.invalid_key("timeout", m))?,
            None => DEFAULT_TIMEOUT,
        };
        if raw.verify.len() > limits::VERIFY_URLS_MAX {
            return Err(self.invalid_key(
                "verify",
                too_many_urls(raw.verify.len(), "[[verify]] entries"),
            ));
        }
        let ports_given = raw.nginx.ports.is_some();
        let ports = match raw.nginx.ports {
            Some(p) => check_ports(&p).map_err(|m| self.invalid_key("nginx.ports", m))?,
            None => DEFAULT_NGINX_PORTS.to_vec(),
        };
        let backend = raw.backend.map(|b| self.backend(b)).transpose()?;
        let watch = match &raw.watch {
            Some(w) => super::watch::validate(w)
                .map_err(|(at, key, m)| self.invalid_at(at, &format!("watch.{key}"), m))?,
            None => Default::default(),
        };
        let verify = raw
            .verify
            .into_iter()
            .enumerate()
            .map(|(i, v)| self.verify(i, v))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Target {
            name: raw.name.unwrap_or_else(|| fallback_name.to_string()),
            source: self.source_name.to_string(),
            domains: raw.site.domains,
            expected_ips,
            dns_server,
            offline: false,
            nginx: NginxSpec {
                ports_given,
                ports,
                binary: raw.nginx.binary.map(PathBuf::from),
                prefix: raw.nginx.prefix.map(PathBuf::from),
                config: raw.nginx.config.map(PathBuf::from),
                unit: raw.nginx.unit,
                ..Default::default()
            },
            backend,
            verify,
            timeout,
            watch,
        })
    }

    fn backend(&self, b: RawBackend) -> Result<BackendSpec, PlaybookError> {
        let address = BackendAddr::parse(b.address.get_ref())
            .and_then(check_backend)
            .map_err(|m| self.invalid(&b.address, "backend.address", m))?;
        let matcher = b
            .match_
            .as_ref()
            .map(|m| compile_match(m.get_ref()).map_err(|e| self.invalid(m, "backend.match", e)))
            .transpose()?;
        let health_path = b.health_path.unwrap_or_else(|| "/".to_string());
        check_path(&health_path).map_err(|m| self.invalid_key("backend.health_path", m))?;
        let restart = b.restart.map(|r| self.restart(r)).transpose()?;
        let protocol = b.protocol.as_ref().map(|p| self.protocol(p)).transpose()?;
        Ok(BackendSpec {
            address,
            matcher,
            health_path,
            restart,
            protocol,
        })
    }

    fn protocol(&self, p: &Spanned<String>) -> Result<Protocol, PlaybookError> {
        Protocol::parse(p.get_ref()).ok_or_else(|| {
            let names: Vec<&str> = Protocol::ALL.iter().map(|p| p.as_str()).collect();
            self.invalid(
                p,
                "backend.protocol",
                format!("must be one of {}", names.join(", ")),
            )
        })
    }

    fn restart(&self, r: RawRestart) -> Result<RestartSpec, PlaybookError> {
        match (r.systemd, r.command) {
            (Some(unit), None) => Ok(RestartSpec::Systemd { unit }),
            (None, Some(command)) => Ok(RestartSpec::Command(StartCommand {
                command,
                cwd: r.cwd.map(PathBuf::from),
                log: r.log.map(PathBuf::from),
                env: r.env,
            })),
            _ => Err(self.invalid_key(
                "backend.restart",
                "give exactly one of `systemd = \"UNIT\"` or `command = \"...\"`",
            )),
        }
    }

    fn verify(&self, i: usize, v: RawVerify) -> Result<VerifySpec, PlaybookError> {
        let key = |k: &str| format!("verify[{i}].{k}");
        let url = v.url.get_ref().clone();
        check_url(&url).map_err(|m| self.invalid(&v.url, &key("url"), m))?;
        if let Some(via) = &v.via {
            check_via(via.get_ref()).map_err(|m| self.invalid(via, &key("via"), m))?;
        }
        if let Some(bad) = v.expect.iter().find(|s| !(100..=599).contains(*s)) {
            return Err(self.invalid(
                &v.url,
                &key("expect"),
                format!("{bad} is not an HTTP status"),
            ));
        }
        let auth = v
            .auth
            .map(|a| self.auth(&v.url, &key("auth"), a))
            .transpose()?;
        Ok(VerifySpec {
            url,
            via: v.via.map(Spanned::into_inner),
            insecure: v.insecure,
            expect: v.expect,
            auth,
        })
    }

    fn auth(&self, at: &Spanned<String>, key: &str, a: RawAuth) -> Result<AuthSpec, PlaybookError> {
        let password =
            match (a.password_env, a.password_file) {
                (Some(var), None) => PasswordSource::Env(var),
                (None, Some(file)) => PasswordSource::File(PathBuf::from(file)),
                _ => return Err(self.invalid(
                    at,
                    key,
                    "give exactly one of password_env or password_file (never the password itself)",
                )),
            };
        Ok(AuthSpec {
            user: a.user,
            password,
        })
    }
}

/// Error messages quote the operator's input, but never a megabyte of it.
fn short_message(m: String) -> String {
    shorten(&m, limits::QUOTED_INPUT_MAX_CHARS * 4).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        parse(text, "pb.toml", "pb").unwrap_err().to_string()
    }

    #[test]
    fn unknown_key_names_line_and_key() {
        let e = err("name = \"x\"\n[site]\ndomian = [\"a\"]\n");
        assert!(e.starts_with("pb.toml: line 3"), "{e}");
        assert!(e.contains("domian"), "{e}");
    }

    #[test]
    fn bad_address_names_line_and_key() {
        let e = err("[backend]\n\naddress = \"nope\"\n");
        assert!(e.starts_with("pb.toml:3: backend.address:"), "{e}");
    }

    #[test]
    fn wrong_type_names_line() {
        let e = err("[nginx]\nports = [\"eighty\"]\n");
        assert!(
            e.starts_with("pb.toml: line 2: nginx.ports: invalid type"),
            "{e}"
        );
        let e = err("[backend]\nmatch = \"x\"\n");
        assert!(
            e.starts_with("pb.toml: line 1: backend: missing field `address`"),
            "{e}"
        );
    }

    #[test]
    fn bad_regex_and_ip_are_caught() {
        assert!(err("[backend]\naddress = \"127.0.0.1:1\"\nmatch = \"(\"\n")
            .contains(":3: backend.match"));
        assert!(err("[site]\nexpected_ips = [\"1.2.3\"]\n").contains(":2: site.expected_ips"));
    }

    #[test]
    fn restart_needs_exactly_one_way() {
        let e = err("[backend]\naddress = \"127.0.0.1:1\"\nrestart = { }\n");
        assert!(e.contains("backend.restart"), "{e}");
    }

    #[test]
    fn auth_never_takes_a_literal_password() {
        let e = err("[[verify]]\nurl = \"http://a/\"\nauth = { user = \"u\", password = \"p\" }\n");
        assert!(e.contains("password"), "{e}");
    }

    #[test]
    fn urls_and_paths_that_cannot_be_sent_are_refused() {
        let e = err("[backend]\naddress = \"127.0.0.1:1\"\nhealth_path = \"/api/health check\"\n");
        assert_eq!(
            e,
            "pb.toml:3: backend.health_path: \"/api/health check\" contains a space at byte 11; \
             percent-encode it (a space is %20)"
        );
        let e = err("[[verify]]\nurl = \"http://a/x\\r\\nInjected: 1\"\n");
        assert!(
            e.contains(":2: verify[0].url:") && e.contains("a carriage return (CR) at byte 10"),
            "{e}"
        );
        assert!(check_url("http://127.0.0.1:99999/")
            .unwrap_err()
            .contains("has port \"99999\"; a port is a number from 1 to 65535"));
        assert!(check_url("http://127.0.0.1:0/").is_err());
        assert!(check_url("http://[::1]:0/").is_err());
        assert!(check_url("http://u:p@h:80/x").is_ok());
        assert!(check_url("https://[::1]/").is_ok());
    }

    #[test]
    fn domains_are_names() {
        assert!(check_domain("example.com").is_ok());
        assert!(check_domain("bücher.example").is_ok());
        assert!(check_domain("example.com/x")
            .unwrap_err()
            .contains("'/' is not allowed"));
        assert!(
            err("[site]\ndomains = [\"a b\"]\n").contains("site.domains: \"a b\" contains a space")
        );
    }

    #[test]
    fn ports_timeouts_and_url_counts_are_bounded() {
        assert!(err("[nginx]\nports = []\n").starts_with("pb.toml:2: nginx.ports: is empty"));
        assert!(err("[nginx]\nports = [80, 0]\n").contains("0 is not a port"));
        assert!(
            err("[backend]\naddress = \"127.0.0.1:0\"\n").contains(":2: backend.address: port 0")
        );
        assert!(err("timeout = 0.001\n")
            .contains("timeout: 0.001 is not a usable timeout; give between 0.01 and 300 seconds"));
        let many = "[[verify]]\nurl = \"http://a/\"\n".repeat(limits::VERIFY_URLS_MAX + 1);
        assert!(
            err(&many).contains("65 [[verify]] entries; at most 64"),
            "{}",
            err(&many)
        );
    }

    #[test]
    fn huge_regexes_and_keys_get_short_messages() {
        let e = compile_match(&"a".repeat(50_000)).unwrap_err();
        assert!(
            e.starts_with("the regex is 50000 bytes long; at most 1024"),
            "{e}"
        );
        let e = compile_match("(a{100}){100}{100}").unwrap_err();
        assert!(e.starts_with("the regex compiles to more than"), "{e}");
        let e = err(&format!("[site]\n{} = 1\n", "k".repeat(200_000)));
        assert!(
            e.len() < 600 && e.contains(":2") || e.contains("line 2"),
            "{e}"
        );
        let e = err(&format!(
            "a = {}{}\n",
            "[".repeat(100_000),
            "]".repeat(100_000)
        ));
        assert!(e.starts_with("pb.toml: line 1: a:") && e.len() < 200, "{e}");
    }

    #[test]
    fn protocol_is_one_fixer_knows() {
        let e = err("[backend]\naddress = \"127.0.0.1:9000\"\nprotocol = \"fcgi\"\n");
        assert!(e.starts_with("pb.toml:3: backend.protocol:"), "{e}");
        assert!(e.contains("fastcgi"), "{e}");
        let text =
            "[backend]\naddress = \"unix:/run/php/php8.2-fpm.sock\"\nprotocol = \"fastcgi\"\n";
        let t = parse(text, "pb.toml", "pb").unwrap();
        assert_eq!(t.backend.unwrap().protocol, Some(Protocol::Fastcgi));
    }

    #[test]
    fn defaults_apply() {
        let t = parse("[backend]\naddress = \"127.0.0.1:8080\"\n", "pb.toml", "pb").unwrap();
        assert_eq!(t.name, "pb");
        assert_eq!(t.nginx.ports, vec![80, 443]);
        assert_eq!(t.timeout, DEFAULT_TIMEOUT);
        let backend = t.backend.unwrap();
        assert_eq!(backend.health_path, "/");
        assert_eq!(backend.protocol, None);
    }
}
