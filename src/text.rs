//! Small wording helpers shared by checks and reports.

/// "1 connection", "3 connections": a count with its noun agreeing.
pub fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

#[cfg(test)]
mod tests {
    #[test]
    fn nouns_agree_with_counts() {
        assert_eq!(super::count(1, "URL", "URLs"), "1 URL");
        assert_eq!(super::count(0, "URL", "URLs"), "0 URLs");
        assert_eq!(super::count(2, "entry", "entries"), "2 entries");
    }
}
