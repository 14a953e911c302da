//! Does a `server { }` block on the site's ports name the site's domain? When none does, nginx
//! answers the domain from the port's default server (the one marked `default_server`, else the
//! first), which serves something else: a 404, another site, or a 502 from another backend.

use crate::finding::{Finding, FindingCode};
use crate::nginx::conf::{self, Directive};
use crate::sanitize::clean;
use crate::target::Target;

/// The finding when a playbook domain has no server block of its own on a playbook port.
pub fn falls_to_default(target: &Target, tree: &[Directive]) -> Option<Finding> {
    falls_to_default_on(&target.domains, &target.nginx.ports, tree)
}

fn falls_to_default_on(domains: &[String], ports: &[u16], tree: &[Directive]) -> Option<Finding> {
    let servers: Vec<&Directive> = conf::find_all(tree, "server")
        .into_iter()
        .filter(|d| d.block.is_some())
        .collect();
    for domain in domains {
        if domain.parse::<std::net::IpAddr>().is_ok() {
            continue;
        }
        for &port in ports {
            let on_port: Vec<&Directive> = servers
                .iter()
                .copied()
                .filter(|s| listens(s, port).next().is_some())
                .collect();
            let Some(first) = on_port.first() else {
                continue;
            };
            if on_port.iter().any(|s| names_it(s, domain)) {
                continue;
            }
            let default = on_port
                .iter()
                .find(|s| listens(s, port).any(is_default))
                .unwrap_or(first);
            return Some(finding(domain, port, default, on_port.len()));
        }
    }
    None
}

fn finding(domain: &str, port: u16, default: &Directive, count: usize) -> Finding {
    let name = names(default)
        .first()
        .cloned()
        .unwrap_or_else(|| "\"\"".into());
    let cause = format!(
        "no server block on port {port} has server_name {}: nginx answers it from the port's default server (server_name {}, {}), one of {count} there",
        clean(domain),
        clean(&name),
        clean(&default.at())
    );
    Finding::new(FindingCode::NoServerBlock, cause).with_action(format!(
        "add {} to the server_name of the site's server block (or fix the playbook's domain), then `nginx -t` and reload nginx",
        clean(domain)
    ))
}

fn children(d: &Directive) -> &[Directive] {
    d.block.as_deref().unwrap_or(&[])
}

fn listens(server: &Directive, port: u16) -> impl Iterator<Item = &Directive> {
    children(server).iter().filter(move |c| {
        c.name == "listen" && c.args.first().and_then(|a| conf::listen_port(a)) == Some(port)
    })
}

fn is_default(listen: &Directive) -> bool {
    listen
        .args
        .iter()
        .any(|a| a == "default_server" || a == "default")
}

fn names(server: &Directive) -> Vec<String> {
    children(server)
        .iter()
        .filter(|c| c.name == "server_name")
        .flat_map(|c| c.args.clone())
        .collect()
}

/// nginx's server_name forms: exact, `*.example.com`, `.example.com`, `www.example.*`. A
/// regex (`~...`) is taken to match: fixer does not claim a miss it cannot prove.
fn names_it(server: &Directive, domain: &str) -> bool {
    let domain = domain.trim_end_matches('.').to_ascii_lowercase();
    names(server).iter().any(|n| {
        let n = n.to_ascii_lowercase();
        if n.starts_with('~') {
            return true;
        }
        if let Some(suffix) = n.strip_prefix("*.") {
            return domain.ends_with(&format!(".{suffix}"));
        }
        if let Some(base) = n.strip_prefix('.') {
            return domain == base || domain.ends_with(&format!(".{base}"));
        }
        if let Some(prefix) = n.strip_suffix(".*") {
            return domain.starts_with(&format!("{prefix}."));
        }
        n == domain
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn falls(domain: &str, tree: &[Directive]) -> Option<Finding> {
        falls_to_default_on(&[domain.to_string()], &[8080], tree)
    }

    const CONF: &str = "http {\n\
        server { listen 8080; server_name other.example; }\n\
        server { listen 127.0.0.1:8080 default_server; server_name _; return 404; }\n\
        server { listen 8080; server_name *.shop.example www.app.* .blog.example; }\n\
        }\n";

    #[test]
    fn a_domain_no_block_names_falls_to_the_default_server() {
        let tree = conf::parse_file(CONF, "nginx.conf", 1);
        let f = falls("app.example", &tree).unwrap();
        assert_eq!(f.code, FindingCode::NoServerBlock);
        assert!(
            f.cause.contains("server_name _, nginx.conf:3"),
            "{}",
            f.cause
        );
        for named in [
            "other.example",
            "a.shop.example",
            "www.app.io",
            "blog.example",
            "x.blog.example",
        ] {
            assert!(falls(named, &tree).is_none(), "{named}");
        }
        assert!(falls("127.0.0.1", &tree).is_none());
    }
}
