//! Where playbooks come from. A name is looked up in ./playbooks, then
//! $XDG_CONFIG_HOME/fixer/playbooks, then /etc/fixer/playbooks, then the ones built into the
//! binary; the first hit wins, so a local copy can override a shipped one.

use std::path::{Path, PathBuf};

use super::error::PlaybookError;

/// Playbooks compiled into the binary, so `fixer fix login-502` works on a bare server.
const BUILT_IN: &[(&str, &str)] = &[
    ("login-502", include_str!("../../playbooks/login-502.toml")),
    (
        "streamlit-502",
        include_str!("../../playbooks/streamlit-502.toml"),
    ),
];

/// The text of a playbook and where it was found.
#[derive(Debug, Clone)]
pub struct Found {
    pub name: String,
    pub text: String,
    /// A path, or `built-in`.
    pub source: String,
}

/// One row of `fixer playbooks`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Listed {
    pub name: String,
    pub source: String,
    pub description: Option<String>,
    /// Hidden behind an earlier playbook of the same name.
    pub shadowed: bool,
    /// Why it cannot be used: refused as root, unreadable, or does not parse.
    pub problem: Option<String>,
}

pub fn search_dirs() -> Vec<PathBuf> {
    let mut dirs = vec![PathBuf::from("playbooks")];
    let config_home = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".config")));
    if let Some(home) = config_home {
        dirs.push(home.join("fixer/playbooks"));
    }
    dirs.push(PathBuf::from("/etc/fixer/playbooks"));
    dirs
}

/// Finds a playbook by name, or reads it when given a path.
pub fn find(name_or_path: &str) -> Result<Found, PlaybookError> {
    let as_path = Path::new(name_or_path);
    if name_or_path.contains('/') || name_or_path.ends_with(".toml") {
        return read(as_path, stem(as_path));
    }
    for dir in search_dirs() {
        let path = dir.join(format!("{name_or_path}.toml"));
        // Anything at that path is used or refused, never skipped: a FIFO or a file root may
        // not trust must not silently fall through to the next directory.
        if std::fs::symlink_metadata(&path).is_ok() {
            return read(&path, name_or_path.to_string());
        }
    }
    if let Some((name, text)) = BUILT_IN.iter().find(|(n, _)| *n == name_or_path) {
        return Ok(Found {
            name: name.to_string(),
            text: text.to_string(),
            source: "built-in".to_string(),
        });
    }
    let known = known_names();
    Err(PlaybookError::Unknown {
        name: name_or_path.to_string(),
        suggestion: closest(name_or_path, &known),
        known,
    })
}

/// The known name a typo most likely meant, if one is close enough.
fn closest(name: &str, known: &[String]) -> Option<String> {
    known
        .iter()
        .map(|k| (edit_distance(name, k), k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 3) || k.contains(name) && name.len() >= 3)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k.clone())
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let here = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb))
                .min(row[j] + 1)
                .min(here + 1);
            prev = here;
        }
    }
    row[b.len()]
}

/// The playbook used when none is named: `default` from the search path, or the one named by
/// `default_playbook` in /etc/fixer/config.toml.
pub fn find_default() -> Result<Found, PlaybookError> {
    if let Some(name) = configured_default(Path::new(CONFIG))? {
        return find(&name);
    }
    find("default").map_err(|_| PlaybookError::NoDefault {
        known: known_names(),
    })
}

const CONFIG: &str = "/etc/fixer/config.toml";

/// `default_playbook` from the config file; no file means no setting.
fn configured_default(config: &Path) -> Result<Option<String>, PlaybookError> {
    let text = match trusted_text("config", config, crate::limits::CONFIG_MAX_BYTES) {
        Ok(text) => text,
        Err(None) => return Ok(None),
        Err(Some(e)) => return Err(e),
    };
    let source_name = config.display().to_string();
    let value: toml::Table = toml::from_str(&text).map_err(|e| PlaybookError::Parse {
        message: super::validate::parse_message(&e, &text),
        source_name,
    })?;
    Ok(value
        .get("default_playbook")
        .and_then(|v| v.as_str())
        .map(str::to_string))
}

fn read(path: &Path, name: String) -> Result<Found, PlaybookError> {
    let text = trusted_text("playbook", path, crate::limits::PLAYBOOK_MAX_BYTES).map_err(|e| {
        e.unwrap_or_else(|| PlaybookError::Read {
            path: path.display().to_string(),
            message: "no such file".into(),
        })
    })?;
    Ok(Found {
        name,
        text,
        source: path.display().to_string(),
    })
}

/// A bounded, regular, UTF-8 file that root may trust (see `trust`); `Err(None)` when it does
/// not exist.
fn trusted_text(
    what: &'static str,
    path: &Path,
    cap: u64,
) -> Result<String, Option<PlaybookError>> {
    let shown = super::trust::absolute(path).display().to_string();
    let (bytes, meta) = crate::sys::regular_file::read(what, path, cap)
        .map_err(|e| (!e.is_not_found()).then_some(PlaybookError::File(e)))?;
    if super::trust::required() {
        super::trust::check(path, &meta).map_err(|reason| {
            Some(PlaybookError::Untrusted {
                path: shown.clone(),
                reason,
            })
        })?;
    }
    String::from_utf8(bytes).map_err(|e| {
        Some(PlaybookError::Read {
            path: shown,
            message: format!("not UTF-8 text (byte {})", e.utf8_error().valid_up_to()),
        })
    })
}

fn stem(path: &Path) -> String {
    path.file_stem()
        .map_or_else(|| "playbook".into(), |s| s.to_string_lossy().into_owned())
}

fn known_names() -> Vec<String> {
    let mut names: Vec<String> = list()
        .into_iter()
        .filter(|l| !l.shadowed)
        .map(|l| l.name)
        .collect();
    names.sort();
    names
}

/// Every playbook visible from here, in lookup order.
pub fn list() -> Vec<Listed> {
    let mut out: Vec<Listed> = Vec::new();
    let push =
        |name: String, source: String, text: Result<String, String>, out: &mut Vec<Listed>| {
            let shadowed = out.iter().any(|l| l.name == name);
            let problem = match &text {
                Ok(t) => super::validate::parse(t, &source, &name)
                    .err()
                    .map(|e| format!("does not parse: {e}")),
                Err(e) => Some(e.clone()),
            };
            out.push(Listed {
                description: text.ok().as_deref().and_then(description),
                name,
                source,
                shadowed,
                problem,
            });
        };
    for dir in search_dirs() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        paths.sort();
        for path in paths
            .into_iter()
            .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        {
            let text = read(&path, stem(&path))
                .map(|f| f.text)
                .map_err(|e| match e {
                    PlaybookError::Untrusted { reason, .. } => format!("refused as root: {reason}"),
                    e => e.to_string(),
                });
            push(stem(&path), path.display().to_string(), text, &mut out);
        }
    }
    for (name, text) in BUILT_IN {
        push(
            name.to_string(),
            "built-in".to_string(),
            Ok(text.to_string()),
            &mut out,
        );
    }
    out
}

fn description(text: &str) -> Option<String> {
    let value: toml::Table = toml::from_str(text).ok()?;
    value.get("description")?.as_str().map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_playbooks_are_valid() {
        for (name, text) in BUILT_IN {
            super::super::validate::parse(text, name, name).unwrap_or_else(|e| panic!("{e}"));
        }
    }

    #[test]
    fn unknown_name_lists_known_ones() {
        let e = find("no-such-playbook").unwrap_err().to_string();
        assert!(
            e.contains("login-502") && e.contains("streamlit-502"),
            "{e}"
        );
    }

    #[test]
    fn the_config_names_the_default_and_is_held_to_the_same_rules() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config.toml");
        assert_eq!(
            configured_default(&config).unwrap(),
            None,
            "no file, no setting"
        );
        std::fs::write(&config, "default_playbook = \"login-502\"\n").unwrap();
        assert_eq!(
            configured_default(&config).unwrap().as_deref(),
            Some("login-502")
        );
        std::fs::write(&config, "default_playbook = \n").unwrap();
        let e = configured_default(&config).unwrap_err().to_string();
        assert!(
            e.starts_with(&format!("{}: line 1", config.display())),
            "{e}"
        );
        std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o666)).unwrap();
        std::fs::write(&config, "default_playbook = \"login-502\"\n").unwrap();
        match configured_default(&config) {
            Err(PlaybookError::Untrusted { reason, .. }) if super::super::trust::required() => {
                assert_eq!(reason, "it is writable by group and others (mode 0666)")
            }
            Ok(Some(_)) if !super::super::trust::required() => {}
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_typo_suggests_the_closest_name() {
        let known = ["login-502".to_string(), "streamlit-502".to_string()];
        assert_eq!(closest("login502", &known).as_deref(), Some("login-502"));
        assert_eq!(
            closest("streamlit", &known).as_deref(),
            Some("streamlit-502")
        );
        assert_eq!(closest("mysql", &known), None);
    }
}
