//! A reader for the configuration nginx prints with `nginx -T`: every file it loaded, each
//! introduced by `# configuration file PATH:`. Pure functions over text, so they are tested on
//! captured dumps.

pub mod servers;

use std::sync::Arc;

/// One directive with its arguments, where it was written, and its block if it has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directive {
    pub name: String,
    pub args: Vec<String>,
    /// Shared by every directive of the file: one allocation per file, not per directive.
    pub file: Arc<str>,
    pub line: usize,
    pub block: Option<Vec<Directive>>,
}

impl Directive {
    pub fn at(&self) -> String {
        format!("{}:{}", self.file, self.line)
    }

    fn children(&self) -> &[Directive] {
        self.block.as_deref().unwrap_or(&[])
    }

    /// Every argument of every `name` directive directly inside this block (`server_name a b;
    /// server_name c;` gives a, b, c).
    fn args_of(&self, name: &str) -> Vec<String> {
        self.children()
            .iter()
            .filter(|c| c.name == name)
            .flat_map(|c| c.args.clone())
            .collect()
    }
}

/// The files a `nginx -T` dump says it printed, in its order.
pub fn dump_files(dump: &str) -> impl Iterator<Item = &str> {
    dump.lines().filter_map(file_header)
}

/// The path in a dump's `# configuration file PATH:` line, which starts each file's text.
fn file_header(line: &str) -> Option<&str> {
    line.trim_end_matches(['\n', '\r'])
        .strip_prefix("# configuration file ")
        .and_then(|l| l.strip_suffix(':'))
}

/// Splits a `nginx -T` dump into its files and parses each one, straight from the dump's text
/// (no copy of a file's text, no token list: a 3 000-server-block dump is parsed in one pass).
pub fn parse_dump(dump: &str) -> Vec<Directive> {
    let mut out = Vec::new();
    let mut file: Arc<str> = Arc::from("nginx.conf");
    let (mut start, mut at) = (0, 0);
    for line in dump.split_inclusive('\n') {
        if let Some(path) = file_header(line) {
            out.extend(parse_text(&dump[start..at], &file, 1));
            file = Arc::from(path);
            start = at + line.len();
        }
        at += line.len();
    }
    out.extend(parse_text(&dump[start..], &file, 1));
    out
}

#[derive(Debug, PartialEq)]
enum Token {
    Word(String, usize),
    Open,
    Close,
    Semi,
}

/// The tokens of one file's text, read as the parser asks for them. Every byte that ends or
/// starts a token is ASCII, so the text is scanned as bytes and words are sliced from it,
/// never built a character at a time; separators are nginx's own (space, tab, CR, LF) plus
/// vertical tab and form feed.
struct Tokens<'a> {
    text: &'a str,
    pos: usize,
    line: usize,
}

fn separates(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n' | 0x0b | 0x0c)
}

impl Tokens<'_> {
    /// A quoted word from just after its opening quote: backslash takes the next character
    /// as it is; an unterminated quote runs to the end of the text.
    fn quoted(&mut self, quote: u8) -> String {
        let bytes = self.text.as_bytes();
        let mut word = String::new();
        let mut from = self.pos;
        while let Some(&b) = bytes.get(self.pos) {
            if b == quote {
                word.push_str(&self.text[from..self.pos]);
                self.pos += 1;
                return word;
            }
            if b == b'\\' {
                word.push_str(&self.text[from..self.pos]);
                self.pos += 1;
                if let Some(c) = self.text[self.pos..].chars().next() {
                    word.push(c);
                    self.pos += c.len_utf8();
                }
                from = self.pos;
                continue;
            }
            if b == b'\n' {
                self.line += 1;
            }
            self.pos += 1;
        }
        word.push_str(&self.text[from..]);
        word
    }
}

impl Iterator for Tokens<'_> {
    type Item = Token;

    fn next(&mut self) -> Option<Token> {
        let bytes = self.text.as_bytes();
        while let Some(&b) = bytes.get(self.pos) {
            self.pos += 1;
            match b {
                b'\n' => self.line += 1,
                b if separates(b) => {}
                b'#' => match bytes[self.pos..].iter().position(|&c| c == b'\n') {
                    Some(n) => {
                        self.pos += n + 1;
                        self.line += 1;
                    }
                    None => self.pos = bytes.len(),
                },
                b'{' => return Some(Token::Open),
                b'}' => return Some(Token::Close),
                b';' => return Some(Token::Semi),
                b'"' | b'\'' => {
                    let line = self.line;
                    return Some(Token::Word(self.quoted(b), line));
                }
                _ => {
                    let start = self.pos - 1;
                    let len = bytes[self.pos..]
                        .iter()
                        .position(|&c| separates(c) || matches!(c, b'{' | b'}' | b';'))
                        .unwrap_or(bytes.len() - self.pos);
                    self.pos += len;
                    return Some(Token::Word(
                        self.text[start..self.pos].to_string(),
                        self.line,
                    ));
                }
            }
        }
        None
    }
}

/// Parses one file's text; unbalanced braces end the block quietly (nginx -t reports those).
#[cfg(test)]
pub fn parse_file(text: &str, file: &str, first_line: usize) -> Vec<Directive> {
    parse_text(text, &Arc::from(file), first_line)
}

fn parse_text(text: &str, file: &Arc<str>, first_line: usize) -> Vec<Directive> {
    let mut tokens = Tokens {
        text,
        pos: 0,
        line: first_line,
    };
    parse_block(&mut tokens, file, 0)
}

fn parse_block(tokens: &mut Tokens<'_>, file: &Arc<str>, depth: usize) -> Vec<Directive> {
    let mut out = Vec::new();
    let mut words: Vec<(String, usize)> = Vec::new();
    while let Some(token) = tokens.next() {
        match token {
            Token::Word(w, l) => words.push((w, l)),
            Token::Semi => out.extend(directive(std::mem::take(&mut words), file, None)),
            Token::Open if depth >= crate::limits::NGINX_BLOCK_DEPTH_MAX => {
                skip_block(tokens);
                words.clear();
            }
            Token::Open => {
                let block = parse_block(tokens, file, depth + 1);
                out.extend(directive(std::mem::take(&mut words), file, Some(block)));
            }
            Token::Close => return out,
        }
    }
    out
}

/// Passes over a block nested deeper than any real config, counting braces instead of
/// recursing, so a hostile file cannot exhaust the stack.
fn skip_block(tokens: &mut Tokens<'_>) {
    let mut open = 1usize;
    for token in tokens.by_ref() {
        match token {
            Token::Open => open += 1,
            Token::Close => open -= 1,
            _ => {}
        }
        if open == 0 {
            return;
        }
    }
}

fn directive(
    words: Vec<(String, usize)>,
    file: &Arc<str>,
    block: Option<Vec<Directive>>,
) -> Option<Directive> {
    let mut it = words.into_iter();
    let (name, line) = it.next()?;
    Some(Directive {
        name,
        args: it.map(|(w, _)| w).collect(),
        file: Arc::clone(file),
        line,
        block,
    })
}

/// The `upstream` blocks: nginx allows them only directly inside `http { }` and `stream { }`,
/// which in a `nginx -T` dump is either inside those blocks or at the top of an included file.
/// So this looks there and not through every server block (a lookup per proxy_pass over a
/// hosting-size config would otherwise walk the whole tree each time).
pub fn upstreams(tree: &[Directive]) -> impl Iterator<Item = &Directive> {
    tree.iter()
        .flat_map(|d| match d.name.as_str() {
            "http" | "stream" => d.children(),
            _ => std::slice::from_ref(d),
        })
        .filter(|d| d.name == "upstream")
}

/// Every directive named `name`, at any depth. One list for the whole walk: a list per block
/// visited cost more than the walk itself on a 3 000-server-block config.
pub fn find_all<'a>(tree: &'a [Directive], name: &str) -> Vec<&'a Directive> {
    let mut out = Vec::new();
    walk(tree, &mut |d| {
        if d.name == name {
            out.push(d);
        }
    });
    out
}

/// Calls `visit` on every directive, at any depth, in the order of the config.
pub fn walk<'a>(tree: &'a [Directive], visit: &mut impl FnMut(&'a Directive)) {
    for d in tree {
        visit(d);
        walk(d.children(), visit);
    }
}

/// A `server { }` block reduced to what the chain needs.
#[derive(Debug, Clone)]
pub struct Server {
    pub listen_ports: Vec<u16>,
    /// Each `listen` as written (`80`, `[::]:80`, `127.0.0.1:8080`), so `listen 80` plus
    /// `listen [::]:80` reads as two addresses, not as "80, 80".
    pub listen_addrs: Vec<String>,
    pub names: Vec<String>,
    /// `(location, proxy directive)` for proxy_pass / fastcgi_pass / uwsgi_pass / grpc_pass.
    pub proxies: Vec<(String, Directive)>,
    pub at: String,
}

const PASS_DIRECTIVES: [&str; 5] = [
    "proxy_pass",
    "fastcgi_pass",
    "uwsgi_pass",
    "scgi_pass",
    "grpc_pass",
];

pub fn servers(tree: &[Directive]) -> Vec<Server> {
    find_all(tree, "server")
        .into_iter()
        .filter(|d| d.block.is_some())
        .map(|d| Server {
            listen_ports: d
                .children()
                .iter()
                .filter(|c| c.name == "listen")
                .filter_map(|c| c.args.first().and_then(|a| listen_port(a)))
                .collect(),
            listen_addrs: d
                .children()
                .iter()
                .filter(|c| c.name == "listen")
                .filter_map(|c| c.args.first().cloned())
                .collect(),
            names: d.args_of("server_name"),
            proxies: proxies_in(d.children(), "/"),
            at: d.at(),
        })
        .collect()
}

fn proxies_in(block: &[Directive], location: &str) -> Vec<(String, Directive)> {
    let mut out = Vec::new();
    for d in block {
        if PASS_DIRECTIVES.contains(&d.name.as_str()) {
            out.push((location.to_string(), d.clone()));
        } else if d.name == "location" || d.name == "if" {
            let loc = if d.name == "location" {
                d.args.join(" ")
            } else {
                location.to_string()
            };
            out.extend(proxies_in(d.children(), &loc));
        }
    }
    out
}

/// The port of a `listen` argument: `80`, `127.0.0.1:8080`, `[::]:443`, `*:80`; unix sockets
/// have none.
pub fn listen_port(arg: &str) -> Option<u16> {
    if arg.starts_with("unix:") {
        return None;
    }
    let port = match arg.rsplit_once(':') {
        Some((host, port)) if !host.ends_with('[') => port,
        _ => arg,
    };
    port.parse()
        .ok()
        .or_else(|| (!arg.contains(':') && !arg.chars().all(|c| c.is_ascii_digit())).then_some(80))
}

/// Where a proxy directive sends requests, after following `upstream` blocks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    Tcp {
        host: String,
        port: u16,
    },
    Unix(String),
    /// Contains variables: decided per request, cannot be compared.
    Dynamic(String),
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Endpoint::Tcp { host, port } if host.contains(':') => write!(f, "[{host}]:{port}"),
            Endpoint::Tcp { host, port } => write!(f, "{host}:{port}"),
            Endpoint::Unix(p) => write!(f, "unix:{p}"),
            Endpoint::Dynamic(s) => write!(f, "{s} (variable)"),
        }
    }
}

/// Resolves a proxy directive's target to endpoints, with where each came from.
pub fn endpoints(tree: &[Directive], pass: &Directive) -> Vec<(Endpoint, String)> {
    let Some(raw) = pass.args.first() else {
        return Vec::new();
    };
    if raw.contains('$') {
        return vec![(Endpoint::Dynamic(raw.clone()), pass.at())];
    }
    let (scheme, rest) = raw.split_once("://").unwrap_or(("http", raw.as_str()));
    let default_port = if scheme == "https" || scheme == "grpcs" {
        443
    } else {
        80
    };
    if let Some(path) = rest.strip_prefix("unix:") {
        let path = path.split(':').next().unwrap_or(path);
        return vec![(Endpoint::Unix(path.to_string()), pass.at())];
    }
    let authority = rest.split('/').next().unwrap_or(rest);
    let upstream = upstreams(tree).find(|u| u.args.first().map(String::as_str) == Some(authority));
    match upstream {
        Some(u) => u
            .children()
            .iter()
            .filter(|c| c.name == "server")
            .filter_map(|c| {
                c.args
                    .first()
                    .map(|a| (endpoint_of(a, default_port), c.at()))
            })
            .collect(),
        None => vec![(endpoint_of(authority, default_port), pass.at())],
    }
}

fn endpoint_of(authority: &str, default_port: u16) -> Endpoint {
    if let Some(path) = authority.strip_prefix("unix:") {
        return Endpoint::Unix(path.to_string());
    }
    if let Some(rest) = authority.strip_prefix('[') {
        if let Some((host, port)) = rest.split_once(']') {
            let port = port
                .strip_prefix(':')
                .and_then(|p| p.parse().ok())
                .unwrap_or(default_port);
            return Endpoint::Tcp {
                host: host.to_string(),
                port,
            };
        }
    }
    match authority.rsplit_once(':') {
        Some((host, port)) => match port.parse() {
            Ok(port) => Endpoint::Tcp {
                host: host.to_string(),
                port,
            },
            Err(_) => Endpoint::Tcp {
                host: authority.to_string(),
                port: default_port,
            },
        },
        None => Endpoint::Tcp {
            host: authority.to_string(),
            port: default_port,
        },
    }
}

#[cfg(test)]
mod tests;

pub mod pass;
