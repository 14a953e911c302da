//! nginx's proxy timeouts for the locations that reach the backend. Left at nginx's defaults
//! (60 s each), a stuck backend holds every request a full minute before nginx answers 504,
//! and users wait that long on each click. Read from `nginx -T`, with nginx's inheritance: a
//! directive in a location wins over its server's, which wins over `http`'s.

use crate::finding::{Finding, FindingCode};
use crate::nginx::conf::Directive;

use super::Item;

/// What fixer proposes: loopback connects take microseconds; a page taking longer than
/// 30 s is broken anyway (raise it for slow reports).
const CONNECT: &str = "5s";
const READ: &str = "30s";
const KEYS: [(&str, &str); 2] = [
    ("proxy_connect_timeout", CONNECT),
    ("proxy_read_timeout", READ),
];

/// One `proxy_pass` to the backend, with the timeouts in force there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proxied {
    pub location: String,
    /// Where the `location` block is written (or the proxy_pass, outside a location).
    pub at: String,
    /// `(directive, value set)`, `None` when nginx's default applies.
    pub timeouts: Vec<(&'static str, Option<String>)>,
}

/// Every `proxy_pass` in the dump for which `to_backend` says it reaches the backend.
pub fn proxied(tree: &[Directive], to_backend: &dyn Fn(&Directive) -> bool) -> Vec<Proxied> {
    let mut out = Vec::new();
    walk(tree, &[None, None], "/", "", to_backend, &mut out);
    out
}

fn walk(
    block: &[Directive],
    inherited: &[Option<String>; 2],
    location: &str,
    at: &str,
    to_backend: &dyn Fn(&Directive) -> bool,
    out: &mut Vec<Proxied>,
) {
    let mut here = inherited.clone();
    for (i, (key, _)) in KEYS.iter().enumerate() {
        if let Some(d) = block.iter().rfind(|d| d.name == *key) {
            here[i] = d.args.first().cloned();
        }
    }
    for d in block {
        match (d.name.as_str(), &d.block) {
            ("proxy_pass", None) if to_backend(d) => out.push(Proxied {
                location: location.to_string(),
                at: if at.is_empty() {
                    d.at()
                } else {
                    at.to_string()
                },
                timeouts: KEYS
                    .iter()
                    .zip(here.iter())
                    .map(|((k, _), v)| (*k, v.clone()))
                    .collect(),
            }),
            ("location", Some(b)) => walk(b, &here, &d.args.join(" "), &d.at(), to_backend, out),
            (_, Some(b)) => walk(b, &here, location, at, to_backend, out),
            _ => {}
        }
    }
}

/// A finding for each location that leaves a timeout at its default.
pub fn check(found: &[Proxied]) -> Vec<Item> {
    found
        .iter()
        .filter_map(|p| {
            let missing: Vec<(&str, &str)> = KEYS
                .iter()
                .zip(&p.timeouts)
                .filter(|(_, (_, v))| v.is_none())
                .map(|((k, want), _)| (*k, *want))
                .collect();
            if missing.is_empty() {
                return None;
            }
            let names: Vec<&str> = missing.iter().map(|(k, _)| *k).collect();
            let snippet: String = missing.iter().map(|(k, v)| format!("{k} {v};\n")).collect();
            let finding = Finding::new(
                FindingCode::HardenProxyTimeouts,
                format!(
                    "location {} ({}) proxies to the backend with {} at nginx's default of 60 s: a stuck backend holds each request a minute before nginx answers 504",
                    p.location,
                    p.at,
                    names.join(" and ")
                ),
            )
            .with_action(format!(
                "add the lines to location {} ({}), then `nginx -t` and reload nginx (fixer does not edit nginx's config)",
                p.location, p.at
            ));
            Some(Item::new(finding, &format!("location {} ({})", p.location, p.at), snippet, false))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nginx::conf;

    fn found(text: &str) -> Vec<Proxied> {
        let tree = conf::parse_file(text, "site.conf", 1);
        proxied(&tree, &|d: &Directive| {
            d.args.first().is_some_and(|a| a.contains("127.0.0.1:8080"))
        })
    }

    #[test]
    fn timeouts_are_inherited_and_overridden() {
        let p = found(
            "http {\n proxy_read_timeout 10s;\n server {\n  location /api/ {\n   proxy_connect_timeout 2s;\n   proxy_pass http://127.0.0.1:8080;\n  }\n  location /x { proxy_pass http://127.0.0.1:9090; }\n }\n}\n",
        );
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].location, "/api/");
        assert_eq!(p[0].at, "site.conf:4");
        assert_eq!(
            p[0].timeouts,
            [
                ("proxy_connect_timeout", Some("2s".into())),
                ("proxy_read_timeout", Some("10s".into()))
            ]
        );
        assert!(check(&p).is_empty());
    }

    #[test]
    fn defaults_are_a_finding_with_the_missing_lines() {
        let p = found(
            "server {\n location / {\n  proxy_pass http://127.0.0.1:8080;\n  proxy_read_timeout 20s;\n }\n}\n",
        );
        let items = check(&p);
        assert_eq!(items.len(), 1);
        assert_eq!(items[0].finding.code, FindingCode::HardenProxyTimeouts);
        assert_eq!(items[0].snippet, "proxy_connect_timeout 5s;\n");
        assert_eq!(items[0].place, "location / (site.conf:2)");
    }
}
