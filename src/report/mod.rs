//! Everything fixer prints goes through here: the human report (colour and spinners only on a
//! terminal), the JSON document, and error messages.

#![allow(clippy::print_stdout, clippy::print_stderr)]

/// `println!` for the report on stdout, without its panic when stdout is gone: see [`write_out`].
macro_rules! outln {
    () => {
        $crate::report::write_out(format_args!(""), true)
    };
    ($($arg:tt)*) => {
        $crate::report::write_out(format_args!($($arg)*), true)
    };
}

/// `print!` for the report on stdout, without its panic when stdout is gone.
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::report::write_out(format_args!($($arg)*), false)
    };
}

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

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};

/// Set once a write to stdout failed: the rest of the report is not attempted.
static STDOUT_GONE: AtomicBool = AtomicBool::new(false);

/// Writes part of the report to stdout. `println!` panics when the write fails, and a reader
/// that stops early (`fixer diagnose | head`) makes it fail: the run would end in a panic
/// instead of its own exit code and `--report` file. A closed pipe is not fixer's error and
/// is not mentioned; any other failure (a full disk) is said once on stderr. Either way the
/// rest of the output is dropped and the run goes on.
pub(crate) fn write_out(args: std::fmt::Arguments<'_>, newline: bool) {
    if STDOUT_GONE.load(Ordering::Relaxed) {
        return;
    }
    let mut stdout = std::io::stdout().lock();
    let written = stdout.write_fmt(args).and_then(|()| match newline {
        true => stdout.write_all(b"\n"),
        false => Ok(()),
    });
    if let Err(e) = written {
        STDOUT_GONE.store(true, Ordering::Relaxed);
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            eprintln!(
                "fixer: writing to stdout: {}; the rest of the output is not written",
                crate::format::io_message(&e)
            );
        }
    }
}

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
    outln!();
}

/// An error that stops fixer, printed to stderr with its whole context chain. Line breaks stay
/// line breaks (a regex error points at the column on the next line); everything else is
/// escaped.
pub fn error(err: &anyhow::Error) {
    let text = format!("{err:#}");
    let lines: Vec<String> = text.lines().map(crate::sanitize::shown).collect();
    eprintln!("fixer: error: {}", lines.join("\n"));
}
