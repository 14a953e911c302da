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

    #[test]
    fn codes_match_the_documented_table() {
        let table = [
            (ExitCode::Healthy, 0),
            (ExitCode::Problem, 1),
            (ExitCode::Usage, 2),
            (ExitCode::CheckFailed, 3),
            (ExitCode::Declined, 4),
            (ExitCode::ActionFailed, 5),
            (ExitCode::Interrupted, 130),
        ];
        for (c, n) in table {
            assert_eq!(c.code(), n);
        }
    }
}
