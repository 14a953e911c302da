//! The verdict of each table row and of the whole run: a row takes its backend's verdict;
//! broken backends come first, and the exit code is computed here from them.

use super::survey::{Checked, Row, Survey};

/// What the table says about one row, in the order the table lists them.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum RowVerdict {
    /// The backend's first failure: its finding code.
    Broken(String),
    /// A check could not run, nothing failed.
    Incomplete(String),
    Unchecked(String),
    Healthy,
    /// Serves files itself; nothing to check.
    NoBackend,
}

impl RowVerdict {
    pub fn text(&self) -> String {
        match self {
            RowVerdict::Broken(code) => format!("broken: {code}"),
            RowVerdict::Incomplete(why) => format!("could not check: {why}"),
            RowVerdict::Unchecked(why) => format!("not checked: {why}"),
            RowVerdict::Healthy => "ok".into(),
            RowVerdict::NoBackend => "-".into(),
        }
    }
}

impl Survey {
    pub fn verdict(&self, row: &Row) -> RowVerdict {
        let Some(b) = row.checked.and_then(|i| self.backends.get(i)) else {
            return match &row.unchecked {
                Some(why) => RowVerdict::Unchecked(why.clone()),
                None => RowVerdict::NoBackend,
            };
        };
        if let Some(f) = b.root_cause() {
            return RowVerdict::Broken(f.code.as_str().to_string());
        }
        match b.could_not_run() {
            Some(s) => RowVerdict::Incomplete(format!("{} step", s.name.as_str())),
            None => RowVerdict::Healthy,
        }
    }

    /// Rows with broken backends first, then incomplete, unchecked, healthy, static; config
    /// order within each group.
    pub fn sorted_rows(&self) -> Vec<(&Row, RowVerdict)> {
        let mut rows: Vec<(&Row, RowVerdict)> =
            self.rows.iter().map(|r| (r, self.verdict(r))).collect();
        rows.sort_by_key(|r| rank(&r.1));
        rows
    }

    pub fn broken(&self) -> Vec<&Checked> {
        self.backends.iter().filter(|b| b.broken()).collect()
    }

    pub fn exit_code(&self) -> crate::exit_code::ExitCode {
        use crate::exit_code::ExitCode;
        if self.no_nginx() {
            ExitCode::CheckFailed
        } else if self.backends.iter().any(Checked::broken) {
            ExitCode::Problem
        } else if self.backends.iter().any(|b| b.could_not_run().is_some())
            || !self.unread.is_empty()
        {
            ExitCode::CheckFailed
        } else {
            ExitCode::Healthy
        }
    }
}

fn rank(v: &RowVerdict) -> u8 {
    match v {
        RowVerdict::Broken(_) => 0,
        RowVerdict::Incomplete(_) => 1,
        RowVerdict::Unchecked(_) => 2,
        RowVerdict::Healthy => 3,
        RowVerdict::NoBackend => 4,
    }
}
