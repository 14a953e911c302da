//! `fixer completions` and `fixer man`: generated from the same clap definitions the binary
//! parses with.

use std::path::Path;

use clap::CommandFactory;

use crate::cli::Cli;
use crate::exit_code::ExitCode;
use crate::report;

pub fn completions(shell: clap_complete::Shell) -> ExitCode {
    report::shell::completions(Cli::command(), shell);
    ExitCode::Healthy
}

/// fixer(1) on stdout, or every page written into `dir`.
pub fn man(dir: Option<&Path>) -> ExitCode {
    let Some(dir) = dir else {
        return match report::shell::man_page(Cli::command()) {
            Ok(page) => {
                report::shell::raw(&page);
                ExitCode::Healthy
            }
            Err(e) => {
                report::error(&e.into());
                ExitCode::CheckFailed
            }
        };
    };
    let written = report::shell::man_pages(Cli::command()).and_then(|pages| {
        pages
            .iter()
            .try_for_each(|(name, page)| std::fs::write(dir.join(name), page))
    });
    match written {
        Ok(()) => ExitCode::Healthy,
        Err(e) => {
            report::error(&anyhow::anyhow!(
                "writing man pages into {}: {e}",
                dir.display()
            ));
            ExitCode::Usage
        }
    }
}
