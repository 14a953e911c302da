//! Everything fixer prints goes through here: the human report (colour and spinners only on a
//! terminal), the JSON document, and error messages.

#![allow(clippy::print_stdout, clippy::print_stderr)]

pub mod document;
pub(crate) mod fix;
pub(crate) mod harden;
pub(crate) mod human;
pub(crate) mod json;
pub(crate) mod markdown;
pub(crate) mod prometheus;
pub(crate) mod shell;
pub(crate) mod survey;
pub(crate) mod watch;

use std::io::IsTerminal;

/// When to colour the output; the command line's `--color` is turned into this once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColorWhen {
    Auto,
    Always,
    Never,
}

/// Output settings decided once at start-up, never read from globals later.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    pub color: bool,
    /// Spinners on stderr (a terminal, and not JSON output).
    pub spinner: bool,
    /// One JSON document on stdout; what is said for people goes to stderr.
    pub json: bool,
}

impl Style {
    pub fn detect(choice: ColorWhen, json: bool) -> Style {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let color = match choice {
            ColorWhen::Always => true,
            ColorWhen::Never => false,
            ColorWhen::Auto => !no_color && std::io::stdout().is_terminal(),
        };
        Style {
            color: color && !json,
            spinner: !json && std::io::stderr().is_terminal(),
            json,
        }
    }
}

/// A table fitted to the terminal; unconstrained when the terminal reports no usable width (a
/// pseudo-terminal nobody sized, as under `expect` or some `docker exec -t`), where comfy-table
/// would otherwise squeeze every column to one character.
pub fn table() -> comfy_table::Table {
    let mut table = comfy_table::Table::new();
    if table.width().is_some_and(|w| w < 20) {
        table.force_no_tty();
    }
    table
}

/// An empty line between reports on stdout.
pub fn blank_line() {
    println!();
}

/// An error that stops fixer, printed to stderr with its whole context chain. Line breaks stay
/// line breaks (a regex error points at the column on the next line); everything else is
/// escaped.
pub fn error(err: &anyhow::Error) {
    let text = format!("{err:#}");
    let lines: Vec<String> = text.lines().map(crate::sanitize::shown).collect();
    eprintln!("fixer: error: {}", lines.join("\n"));
}
