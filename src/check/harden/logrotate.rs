//! Is the backend's log file rotated? A log that only grows fills the disk, and a full disk
//! stops the backend (and nginx's own logging) in the middle of the night.

use std::path::Path;

use crate::finding::{Finding, FindingCode};

use super::Item;

pub const LOGROTATE_DIR: &str = "/etc/logrotate.d";
pub const LOGROTATE_CONF: &str = "/etc/logrotate.conf";
/// Rule files read: a logrotate.d holds a few dozen small files.
const MAX_FILES: usize = 500;
const MAX_FILE_BYTES: u64 = 64 * 1024;

/// `(file, text)` of the logrotate configuration: logrotate.conf and every file in
/// logrotate.d (bounded in count and size).
pub fn read_rules(dir: &Path, conf: &Path) -> Vec<(String, String)> {
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .take(MAX_FILES)
        .collect();
    paths.sort();
    paths.insert(0, conf.to_path_buf());
    paths
        .iter()
        .filter_map(|p| {
            use std::io::Read;
            let mut text = String::new();
            std::fs::File::open(p)
                .ok()?
                .take(MAX_FILE_BYTES)
                .read_to_string(&mut text)
                .ok()?;
            Some((p.display().to_string(), text))
        })
        .collect()
}

/// The rule file whose path patterns (the words before a `{`, globs allowed) match `log`.
pub fn rule_for<'a>(rules: &'a [(String, String)], log: &str) -> Option<&'a str> {
    rules.iter().find_map(|(file, text)| {
        let mut patterns = String::new();
        for line in text.lines().map(str::trim).filter(|l| !l.starts_with('#')) {
            match line.split_once('{') {
                Some((before, _)) => patterns.push_str(before),
                None if !line.contains('}') && line.starts_with(['/', '"']) => {
                    patterns.push_str(line);
                    patterns.push(' ');
                    continue;
                }
                None => {}
            }
            if line.contains('{') {
                let hit = patterns
                    .split_whitespace()
                    .map(|p| p.trim_matches('"'))
                    .any(|p| glob(p.as_bytes(), log.as_bytes()));
                if hit {
                    return Some(file.as_str());
                }
                patterns.clear();
            }
        }
        None
    })
}

/// Shell-style `*` and `?` (what logrotate patterns use), `*` not crossing `/`.
fn glob(pattern: &[u8], text: &[u8]) -> bool {
    match (pattern.first(), text.first()) {
        (None, None) => true,
        (Some(b'*'), _) => {
            glob(&pattern[1..], text)
                || (text.first().is_some_and(|&c| c != b'/') && glob(pattern, &text[1..]))
        }
        (Some(b'?'), Some(&c)) if c != b'/' => glob(&pattern[1..], &text[1..]),
        (Some(p), Some(t)) if p == t => glob(&pattern[1..], &text[1..]),
        _ => false,
    }
}

/// A finding when nothing rotates `log`, with a rule to drop into /etc/logrotate.d.
/// `copytruncate`: the backend keeps the file open and is never told to reopen it.
pub fn check(rules: &[(String, String)], log: &Path, name: &str) -> Option<Item> {
    let shown = log.display().to_string();
    if rule_for(rules, &shown).is_some() {
        return None;
    }
    let place = format!("{LOGROTATE_DIR}/{name}");
    let snippet = format!(
        "{shown} {{\n    weekly\n    rotate 8\n    maxsize 100M\n    compress\n    delaycompress\n    missingok\n    notifempty\n    copytruncate\n}}\n"
    );
    let finding = Finding::new(
        FindingCode::HardenNoLogRotation,
        format!("nothing in {LOGROTATE_DIR} rotates the backend's log {shown}: it grows until the disk is full"),
    )
    .with_action(format!("write the rule to {place}"));
    Some(Item::new(finding, &place, snippet, false))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> Vec<(String, String)> {
        let nginx = std::fs::read_to_string(format!(
            "{}/tests/fixtures/logrotate/nginx",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap();
        vec![
            ("/etc/logrotate.d/nginx".into(), nginx),
            (
                "/etc/logrotate.d/app".into(),
                "# app\n/srv/a.log\n\"/srv/bc.log\" /srv/d.log {\n  daily\n}\n".into(),
            ),
        ]
    }

    #[test]
    fn patterns_and_globs_match() {
        let r = rules();
        assert_eq!(
            rule_for(&r, "/var/log/nginx/error.log"),
            Some("/etc/logrotate.d/nginx")
        );
        assert_eq!(rule_for(&r, "/var/log/nginx/sub/x.log"), None);
        assert_eq!(rule_for(&r, "/srv/a.log"), Some("/etc/logrotate.d/app"));
        assert_eq!(rule_for(&r, "/srv/bc.log"), Some("/etc/logrotate.d/app"));
        assert_eq!(rule_for(&r, "/srv/d.log"), Some("/etc/logrotate.d/app"));
        assert_eq!(rule_for(&r, "/srv/daily"), None);
    }

    #[test]
    fn an_unrotated_log_gets_a_rule() {
        let item = check(&rules(), Path::new("/var/log/app.log"), "app").unwrap();
        assert_eq!(item.finding.code, FindingCode::HardenNoLogRotation);
        assert!(item.snippet.starts_with("/var/log/app.log {\n"));
        assert!(item.snippet.contains("copytruncate"));
        assert!(check(&rules(), Path::new("/srv/a.log"), "app").is_none());
    }
}
