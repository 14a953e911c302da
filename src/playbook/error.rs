//! Playbook errors are usage errors (exit 2): they name the file, the line and the key, or
//! list the playbooks that do exist.

use std::fmt;

#[derive(Debug, thiserror::Error)]
pub enum PlaybookError {
    /// The TOML could not be parsed or has the wrong shape (unknown key, wrong type, ...).
    #[error("{source_name}: {message}")]
    Parse {
        source_name: String,
        message: String,
    },
    /// A value parsed but makes no sense (bad address, bad regex, ...).
    #[error("{source_name}:{line}: {key}: {message}")]
    Invalid {
        source_name: String,
        line: usize,
        key: String,
        message: String,
    },
    #[error(
        "unknown playbook {name:?}{}; known playbooks: {}",
        Suggestion(suggestion),
        KnownList(known)
    )]
    Unknown {
        name: String,
        known: Vec<String>,
        suggestion: Option<String>,
    },
    #[error(
        "no playbook given and no default playbook found (./playbooks/default.toml or \
         default_playbook in /etc/fixer/config.toml); pass -p NAME or describe the target \
         with --backend/--domain/--nginx-port; known playbooks: {}",
        KnownList(known)
    )]
    NoDefault { known: Vec<String> },
    #[error("reading {path}: {message}")]
    Read { path: String, message: String },
    /// Root would run what another user wrote (see `trust`).
    #[error("refusing {path} as root: {reason}; {}", super::trust::REMEDY)]
    Untrusted { path: String, reason: String },
    /// Not a regular file, too large, unreadable.
    #[error(transparent)]
    File(#[from] crate::sys::regular_file::FileError),
    /// A bad command-line value: the flag is the location.
    #[error("{flag}: {message}")]
    Flag { flag: String, message: String },
}

struct Suggestion<'a>(&'a Option<String>);

impl fmt::Display for Suggestion<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(s) => write!(f, " (did you mean {s}?)"),
            None => Ok(()),
        }
    }
}

struct KnownList<'a>(&'a [String]);

impl fmt::Display for KnownList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            f.write_str("(none)")
        } else {
            f.write_str(&self.0.join(", "))
        }
    }
}
