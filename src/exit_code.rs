//! The one place that defines fixer's exit codes. Scripts and cron jobs depend on them.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    /// Healthy, or fixed and verified.
    Healthy = 0,
    /// A problem was found (diagnose, verify) or remains after fix.
    Problem = 1,
    /// Bad usage or a bad playbook.
    Usage = 2,
    /// A check could not run (e.g. permission).
    CheckFailed = 3,
    /// The operator declined an action.
    Declined = 4,
    /// An action failed.
    ActionFailed = 5,
    /// `fix` was interrupted (Ctrl-C, SIGTERM) and stopped at a safe point.
    Interrupted = 130,
}

impl ExitCode {
    pub fn code(self) -> i32 {
        self as i32
    }
}

impl From<ExitCode> for std::process::ExitCode {
    fn from(c: ExitCode) -> Self {
        std::process::ExitCode::from(c as u8)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every variant, with a phrase its row in docs/output.md must contain.
    const DOCUMENTED_AS: &[(ExitCode, &str)] = &[
        (ExitCode::Healthy, "healthy"),
        (ExitCode::Problem, "a problem was found"),
        (ExitCode::Usage, "usage or playbook error"),
        (ExitCode::CheckFailed, "a check could not run"),
        (ExitCode::Declined, "declined"),
        (ExitCode::ActionFailed, "an action failed"),
        (ExitCode::Interrupted, "interrupted"),
    ];

    /// `(code, meaning)` of each row of the exit-code table in docs/output.md.
    fn documented() -> Vec<(i32, String)> {
        let doc = include_str!("../docs/output.md");
        let table = doc
            .split("## Exit codes")
            .nth(1)
            .expect("docs/output.md has an Exit codes section");
        table
            .lines()
            .filter_map(|l| {
                let mut cells = l.trim().strip_prefix('|')?.split('|');
                let code = cells.next()?.trim().parse().ok()?;
                Some((code, cells.next()?.trim().to_string()))
            })
            .collect()
    }

    #[test]
    fn codes_match_the_documented_table() {
        let rows = documented();
        assert_eq!(
            rows.len(),
            DOCUMENTED_AS.len(),
            "one row per code: {rows:?}"
        );
        for (code, phrase) in DOCUMENTED_AS {
            let row = rows
                .iter()
                .find(|(n, _)| *n == code.code())
                .unwrap_or_else(|| panic!("{code:?} ({}) is not in docs/output.md", code.code()));
            assert!(
                row.1.contains(phrase),
                "docs/output.md says {} is {:?}; the code means {phrase:?}",
                row.0,
                row.1
            );
        }
    }
}
