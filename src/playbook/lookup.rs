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
        if path.is_file() {
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
    Err(PlaybookError::Unknown {
        name: name_or_path.to_string(),
        known: known_names(),
    })
}

/// The playbook used when none is named: `default` from the search path, or the one named by
/// `default_playbook` in /etc/fixer/config.toml.
pub fn find_default() -> Result<Found, PlaybookError> {
    if let Some(name) = configured_default(Path::new("/etc/fixer/config.toml")) {
        return find(&name);
    }
    find("default").map_err(|_| PlaybookError::NoDefault {
        known: known_names(),
    })
}

fn configured_default(config: &Path) -> Option<String> {
    let text = std::fs::read_to_string(config).ok()?;
    let value: toml::Table = toml::from_str(&text).ok()?;
    value.get("default_playbook")?.as_str().map(str::to_string)
}

fn read(path: &Path, name: String) -> Result<Found, PlaybookError> {
    let text = std::fs::read_to_string(path).map_err(|e| PlaybookError::Read {
        path: path.display().to_string(),
        message: e.to_string(),
    })?;
    Ok(Found {
        name,
        text,
        source: path.display().to_string(),
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
    let push = |name: String, source: String, text: &str, out: &mut Vec<Listed>| {
        let shadowed = out.iter().any(|l| l.name == name);
        out.push(Listed {
            description: description(text),
            name,
            source,
            shadowed,
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
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            push(stem(&path), path.display().to_string(), &text, &mut out);
        }
    }
    for (name, text) in BUILT_IN {
        push(name.to_string(), "built-in".to_string(), text, &mut out);
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
}
