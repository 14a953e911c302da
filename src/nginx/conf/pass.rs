//! Which protocol a pass directive makes nginx speak to its backend: `proxy_pass http://` or
//! `https://`, `fastcgi_pass`, `uwsgi_pass`, `scgi_pass`, `grpc_pass`, and a scheme-less
//! `proxy_pass` inside `stream { }` (a raw TCP stream).

use super::Directive;
use crate::target::Protocol;

/// The protocol `pass` speaks; `tree` tells whether it sits inside a `stream` block.
pub fn protocol(tree: &[Directive], pass: &Directive) -> Protocol {
    let target = pass.args.first().map_or("", String::as_str);
    let scheme = target.split_once("://").map(|(s, _)| s);
    match (pass.name.as_str(), scheme) {
        ("proxy_pass", Some("https")) => Protocol::Https,
        ("proxy_pass", Some(_)) => Protocol::Http,
        ("proxy_pass", None) if in_stream(tree, pass) => Protocol::Tcp,
        ("proxy_pass", None) => Protocol::Http,
        ("fastcgi_pass", _) => Protocol::Fastcgi,
        // uwsgi over TLS (`suwsgi://`) is not spoken: connect only.
        ("uwsgi_pass", Some("suwsgi")) => Protocol::Tcp,
        ("uwsgi_pass", _) => Protocol::Uwsgi,
        ("scgi_pass", _) => Protocol::Scgi,
        ("grpc_pass", _) => Protocol::Grpc,
        _ => Protocol::Tcp,
    }
}

/// `stream { }` is a top-level block only.
fn in_stream(tree: &[Directive], pass: &Directive) -> bool {
    tree.iter()
        .filter(|d| d.name == "stream")
        .any(|s| contains(s.block.as_deref().unwrap_or(&[]), pass))
}

fn contains(block: &[Directive], wanted: &Directive) -> bool {
    block.iter().any(|d| {
        (d.name == wanted.name && d.file == wanted.file && d.line == wanted.line)
            || contains(d.block.as_deref().unwrap_or(&[]), wanted)
    })
}

#[cfg(test)]
mod tests {
    use super::super::{endpoints, find_all, parse_dump, servers, Endpoint};
    use super::*;

    const FPM: &str = include_str!("../../../tests/fixtures/nginx/php-fpm-T.txt");

    fn passes(conf: &str) -> Vec<(String, Protocol)> {
        let tree = parse_dump(conf);
        find_all(&tree, "proxy_pass")
            .into_iter()
            .chain(find_all(&tree, "fastcgi_pass"))
            .chain(find_all(&tree, "uwsgi_pass"))
            .chain(find_all(&tree, "scgi_pass"))
            .chain(find_all(&tree, "grpc_pass"))
            .map(|d| (d.args[0].clone(), protocol(&tree, d)))
            .collect()
    }

    #[test]
    fn reads_the_protocol_of_every_pass_directive() {
        let conf = "http { server { listen 80;\n\
            location /a { proxy_pass http://127.0.0.1:8000; }\n\
            location /b { proxy_pass https://127.0.0.1:8443; }\n\
            location /c { proxy_pass http://$upstream; }\n\
            location ~ \\.php$ { fastcgi_pass 127.0.0.1:9000; }\n\
            location /d { uwsgi_pass 127.0.0.1:3031; }\n\
            location /e { uwsgi_pass suwsgi://127.0.0.1:3032; }\n\
            location /f { scgi_pass unix:/run/scgi.sock; }\n\
            location /g { grpc_pass grpc://127.0.0.1:50051; }\n\
            } }\nstream { server { listen 5432; proxy_pass 127.0.0.1:5433; } }\n";
        let got = passes(conf);
        let want = [
            ("http://127.0.0.1:8000", Protocol::Http),
            ("https://127.0.0.1:8443", Protocol::Https),
            ("http://$upstream", Protocol::Http),
            ("127.0.0.1:5433", Protocol::Tcp),
            ("127.0.0.1:9000", Protocol::Fastcgi),
            ("127.0.0.1:3031", Protocol::Uwsgi),
            ("suwsgi://127.0.0.1:3032", Protocol::Tcp),
            ("unix:/run/scgi.sock", Protocol::Scgi),
            ("grpc://127.0.0.1:50051", Protocol::Grpc),
        ];
        let want: Vec<(String, Protocol)> = want.iter().map(|(a, p)| (a.to_string(), *p)).collect();
        assert_eq!(got, want);
    }

    /// `nginx -T` of Debian's php-fpm site: a `fastcgi_pass` to php-fpm's socket through an
    /// `upstream` block, next to a direct one.
    #[test]
    fn follows_fastcgi_pass_through_an_upstream_block() {
        let tree = parse_dump(FPM);
        let server = &servers(&tree)[0];
        let found: Vec<(Endpoint, Protocol)> = server
            .proxies
            .iter()
            .flat_map(|(_, pass)| {
                let p = protocol(&tree, pass);
                endpoints(&tree, pass).into_iter().map(move |(e, _)| (e, p))
            })
            .collect();
        assert_eq!(
            found,
            [
                (
                    Endpoint::Unix("/run/php/php8.2-fpm.sock".into()),
                    Protocol::Fastcgi
                ),
                (
                    Endpoint::Tcp {
                        host: "127.0.0.1".into(),
                        port: 9000
                    },
                    Protocol::Fastcgi
                ),
            ]
        );
    }
}
