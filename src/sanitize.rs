//! Text from the wild (command lines, log lines, HTTP headers) is escaped before it reaches a
//! terminal, so a hostile process title cannot move the cursor or change colours.

/// Replaces control characters with visible escapes; keeps ordinary Unicode.
pub fn clean(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// Joins an argv the way a shell user would read it, escaping each argument.
pub fn argv(args: &[String]) -> String {
    args.iter().map(|a| clean(a)).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_terminal_controls() {
        assert_eq!(clean("a\x1b[31mb"), "a\\u{1b}[31mb");
        assert_eq!(clean("x\ny"), "x\\ny");
        assert_eq!(clean("流量"), "流量");
    }
}
