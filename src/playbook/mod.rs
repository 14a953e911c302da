//! Playbooks: the TOML model, validation into a target, and lookup of shipped and local files.

pub(crate) mod error;
#[cfg(test)]
mod hostile;
pub(crate) mod lookup;
pub mod model;
pub(crate) mod trust;
pub(crate) mod validate;
pub(crate) mod values;
pub mod watch;

pub use error::PlaybookError;

use crate::target::Target;

/// Loads a playbook by name or path (or the default one) into a validated target.
pub fn load(name_or_path: Option<&str>) -> Result<Target, PlaybookError> {
    let found = match name_or_path {
        Some(n) => lookup::find(n)?,
        None => lookup::find_default()?,
    };
    let mut target = validate::parse(&found.text, &found.source, &found.name)?;
    target.source = found.source;
    Ok(target)
}
