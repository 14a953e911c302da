//! Where a webhook URL or a signing secret comes from: an environment variable or a file,
//! never the playbook (which is shared, copied and printed). A URL may also be given as is,
//! for receivers that need no token; it is still never printed beyond its host.

use std::io::Read;
use std::path::Path;

/// The most read from a secret file: a URL or a key, not a document.
const SECRET_FILE_MAX_BYTES: u64 = 4096;

/// A value that must not appear in output, with where it came from (which may be shown).
#[derive(Clone)]
pub struct Secret {
    pub value: String,
    /// `env FIXER_DINGTALK_URL`, `file /etc/fixer/dingtalk.url`, `command line`.
    pub origin: String,
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secret(from {})", self.origin)
    }
}

/// Reads `env:NAME` or `file:PATH`; anything else is a literal only where `literal_ok`.
pub fn read(source: &str, literal_ok: bool) -> Result<Secret, String> {
    if let Some(name) = source.strip_prefix("env:") {
        let value = std::env::var(name)
            .map_err(|_| format!("environment variable {name} is not set (or not UTF-8)"))?;
        return non_empty(value.trim(), format!("env {name}"));
    }
    if let Some(path) = source.strip_prefix("file:") {
        return non_empty(&first_line(Path::new(path))?, format!("file {path}"));
    }
    if literal_ok {
        return non_empty(source, "command line".into());
    }
    Err(
        "give env:NAME or file:PATH; a secret on the command line is visible to every user \
         in the process list"
            .into(),
    )
}

fn non_empty(value: &str, origin: String) -> Result<Secret, String> {
    if value.is_empty() {
        return Err(format!("{origin} is empty"));
    }
    Ok(Secret {
        value: value.to_string(),
        origin,
    })
}

fn first_line(path: &Path) -> Result<String, String> {
    let mut text = String::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(SECRET_FILE_MAX_BYTES).read_to_string(&mut text))
        .map_err(|e| format!("reading {}: {}", path.display(), crate::format::io_text(&e)))?;
    Ok(text.lines().next().unwrap_or("").trim().to_string())
}

/// `https://oapi.dingtalk.com/…`: scheme and host of a URL, what may be shown of it.
pub fn shown_url(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("?", url));
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = host.rsplit('@').next().unwrap_or(host);
    format!("{scheme}://{host}/…")
}

/// `text` with every secret (and the path and query of every URL) replaced by `…`, for error
/// messages that may quote what they were given.
pub fn redact(text: &str, secrets: &[&str]) -> String {
    let mut out = text.to_string();
    for s in secrets.iter().filter(|s| s.len() >= 4) {
        out = out.replace(s, &shown_url(s));
        if let Some((_, query)) = s.split_once('?') {
            out = out.replace(query, "…");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_show_only_their_host() {
        let url = "https://oapi.dingtalk.com/robot/send?access_token=abc123";
        assert_eq!(shown_url(url), "https://oapi.dingtalk.com/…");
        assert_eq!(
            shown_url("http://u:p@127.0.0.1:9/x"),
            "http://127.0.0.1:9/…"
        );
        let msg = format!("error sending to {url}: refused; token access_token=abc123");
        let clean = redact(&msg, &[url]);
        assert!(!clean.contains("abc123"), "{clean}");
    }

    #[test]
    fn literal_secrets_are_refused_where_they_would_show_in_ps() {
        assert!(read("SEC123", false).is_err());
        assert_eq!(read("http://x/y", true).unwrap().origin, "command line");
        assert!(read("env:FIXER_TEST_SURELY_UNSET_VAR", true).is_err());
    }
}
