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

/// At most `max` characters of `s`; a longer text is cut and says how long it was, so a 1.5 MB
/// command line does not bury the report. JSON output keeps the text whole.
pub fn shorten(s: &str, max: usize) -> std::borrow::Cow<'_, str> {
    match s.char_indices().nth(max) {
        None => s.into(),
        Some((cut, _)) => format!("{}… [{} bytes in all]", &s[..cut], s.len()).into(),
    }
}

/// `clean`, then `shorten` to what a terminal or report shows of untrusted text.
pub fn shown(s: &str) -> String {
    clean(&shorten(s, crate::limits::SHOWN_TEXT_MAX_CHARS))
}

/// A piece of the operator's own input quoted in an error message.
pub fn quoted(s: &str) -> String {
    shorten(s, crate::limits::QUOTED_INPUT_MAX_CHARS).into_owned()
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

    #[test]
    fn long_text_is_cut_with_its_size() {
        assert_eq!(shorten("abc", 3), "abc");
        assert_eq!(shorten("abcdef", 3), "abc… [6 bytes in all]");
        assert_eq!(shorten("流量流量", 2), "流量… [12 bytes in all]");
        let long = "x".repeat(1_500_000);
        assert!(shown(&long).ends_with("… [1500000 bytes in all]"));
    }
}
