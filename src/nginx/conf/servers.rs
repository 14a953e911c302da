//! `server { }` blocks with what discovery needs from each: every `listen` with its address,
//! port, `ssl` and file:line, the names, and each location's `*_pass` directive.

use super::{Directive, PASS_DIRECTIVES};

/// One `listen` directive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listen {
    /// The address part when one is given (`127.0.0.1`, `::1`, `localhost`); None for a bare
    /// port or a wildcard (`*`, `[::]`, `0.0.0.0`).
    pub addr: Option<String>,
    pub port: u16,
    pub ssl: bool,
    /// file:line of the directive, or of the server block when it has no `listen` (nginx then
    /// listens on *:80).
    pub at: String,
}

impl Listen {
    /// `listen ARGS`, or None for a unix socket or a QUIC (UDP) listener.
    pub fn parse(d: &Directive) -> Option<Listen> {
        let first = d.args.first()?;
        if first.starts_with("unix:") || d.args.iter().any(|a| a == "quic") {
            return None;
        }
        let port = super::listen_port(first)?;
        Some(Listen {
            addr: listen_addr(first),
            port,
            ssl: d.args.iter().any(|a| a == "ssl"),
            at: d.at(),
        })
    }
}

fn listen_addr(arg: &str) -> Option<String> {
    let host = if let Some(rest) = arg.strip_prefix('[') {
        rest.split_once(']')?.0
    } else if arg.chars().all(|c| c.is_ascii_digit()) {
        return None;
    } else {
        arg.rsplit_once(':').map_or(arg, |(h, _)| h)
    };
    match host {
        "" | "*" | "::" | "0.0.0.0" => None,
        h => Some(h.to_string()),
    }
}

/// One `location` (or the server level) that hands requests to a backend.
#[derive(Debug, Clone)]
pub struct Route {
    /// The location's arguments joined (`/api/`, `= /health`, `~ \.php$`); `/` at server level.
    pub location: String,
    pub pass: Directive,
}

/// A `server { }` block.
#[derive(Debug, Clone)]
pub struct ServerBlock {
    pub names: Vec<String>,
    pub listens: Vec<Listen>,
    pub routes: Vec<Route>,
    pub at: String,
}

impl ServerBlock {
    /// The name to show: the first `server_name`, or `_`.
    pub fn name(&self) -> &str {
        self.names
            .iter()
            .find(|n| !n.is_empty())
            .map_or("_", String::as_str)
    }

    /// A name a request can carry as Host: not a wildcard, regex or catch-all.
    pub fn host_name(&self) -> Option<&str> {
        self.names
            .iter()
            .map(String::as_str)
            .find(|n| !n.is_empty() && *n != "_" && !n.contains('*') && !n.starts_with('~'))
    }
}

/// Every `server { }` block in the http context (not `upstream`'s `server` lines, which have
/// no block).
pub fn server_blocks(tree: &[Directive]) -> Vec<ServerBlock> {
    super::find_all(tree, "server")
        .into_iter()
        .filter(|d| d.block.is_some())
        .map(block)
        .collect()
}

fn block(d: &Directive) -> ServerBlock {
    let mut listens: Vec<Listen> = d
        .children()
        .iter()
        .filter(|c| c.name == "listen")
        .filter_map(Listen::parse)
        .collect();
    if !d.children().iter().any(|c| c.name == "listen") {
        listens.push(Listen {
            addr: None,
            port: 80,
            ssl: false,
            at: format!("{} (no listen: nginx's default *:80)", d.at()),
        });
    }
    let mut routes = Vec::new();
    collect_routes(d.children(), "/", &mut routes);
    ServerBlock {
        names: d.args_of("server_name"),
        listens,
        routes,
        at: d.at(),
    }
}

fn collect_routes(block: &[Directive], location: &str, out: &mut Vec<Route>) {
    for d in block {
        if PASS_DIRECTIVES.contains(&d.name.as_str()) {
            out.push(Route {
                location: location.to_string(),
                pass: d.clone(),
            });
        } else if d.name == "location" {
            collect_routes(d.children(), &d.args.join(" "), out);
        } else if d.name == "if" {
            collect_routes(d.children(), location, out);
        }
    }
}

/// A path a request can use to reach `location`: its prefix or exact path; None for regex and
/// named locations, where no single path is sure to match.
pub fn location_path(location: &str) -> Option<&str> {
    let mut words = location.split_whitespace();
    let first = words.next()?;
    let path = match first {
        "=" | "^~" => words.next()?,
        p if p.starts_with('/') => p,
        _ => return None,
    };
    path.starts_with('/').then_some(path)
}

#[cfg(test)]
mod tests {
    use super::super::parse_file;
    use super::*;

    #[test]
    fn listens_names_and_routes() {
        let conf =
            "server { listen 127.0.0.1:8081; listen [::1]:8443 ssl http2; listen 443 quic;\n\
                    server_name app.test *.app.test;\n\
                    location = /health { proxy_pass http://127.0.0.1:9000; }\n\
                    location ~ \\.php$ { fastcgi_pass unix:/run/php.sock; } }\n\
                    server { server_name _; root /srv; }";
        let tree = parse_file(conf, "site.conf", 1);
        let blocks = server_blocks(&tree);
        assert_eq!(blocks.len(), 2);
        let b = &blocks[0];
        assert_eq!(
            b.listens,
            vec![
                Listen {
                    addr: Some("127.0.0.1".into()),
                    port: 8081,
                    ssl: false,
                    at: "site.conf:1".into()
                },
                Listen {
                    addr: Some("::1".into()),
                    port: 8443,
                    ssl: true,
                    at: "site.conf:1".into()
                }
            ]
        );
        assert_eq!(b.host_name(), Some("app.test"));
        assert_eq!(b.routes.len(), 2);
        assert_eq!(location_path(&b.routes[0].location), Some("/health"));
        assert_eq!(location_path(&b.routes[1].location), None);
        let plain = &blocks[1];
        assert_eq!(plain.name(), "_");
        assert_eq!(plain.host_name(), None);
        assert_eq!(plain.listens[0].port, 80);
        assert!(plain.listens[0].at.contains("default *:80"));
    }

    #[test]
    fn listen_addresses() {
        assert_eq!(listen_addr("8080"), None);
        assert_eq!(listen_addr("*:80"), None);
        assert_eq!(listen_addr("[::]:80"), None);
        assert_eq!(listen_addr("0.0.0.0:80"), None);
        assert_eq!(listen_addr("localhost:80").as_deref(), Some("localhost"));
        assert_eq!(listen_addr("[::1]:80").as_deref(), Some("::1"));
    }
}
