//! Playbooks: the TOML model, validation into a target, and lookup of shipped and local files.

pub mod model;
