//! `fixer verify --format prometheus` and `--textfile`: the same verdict as the exit code, as
//! metrics for node_exporter's textfile collector.

use std::path::Path;
use std::time::SystemTime;

use crate::cli::{VerifyArgs, VerifyFormat};
use crate::report::{self, prometheus::Site};

/// Whether the metrics take stdout's place.
pub fn on_stdout(args: &VerifyArgs) -> bool {
    args.format == VerifyFormat::Prometheus
}

/// Prints the metrics when asked to, and writes `--textfile`. A file that cannot be written is
/// said on stderr; the exit code still describes the site (the stale file's
/// `fixer_last_run_timestamp_seconds` shows a monitor that it stopped being updated).
pub fn emit(args: &VerifyArgs, sites: &[Site<'_>]) {
    if !on_stdout(args) && args.textfile.is_none() {
        return;
    }
    let text = report::prometheus::render(sites, SystemTime::now());
    if on_stdout(args) {
        report::prometheus::print(&text);
    }
    if let Some(path) = &args.textfile {
        write(path, &text);
    }
}

fn write(path: &Path, text: &str) {
    if let Err(e) = crate::sys::regular_file::replace("textfile", path, text.as_bytes()) {
        report::error(&e.into());
    }
}
