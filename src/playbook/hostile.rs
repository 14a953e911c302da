//! Playbooks from the wild: a corrupted or hostile file is an error naming the file, never a
//! panic or a hang (files larger than `PLAYBOOK_MAX_BYTES` are refused before they are read).

use proptest::prelude::*;

use super::validate::parse;

const LOGIN: &str = include_str!("../../playbooks/login-502.toml");
const STREAMLIT: &str = include_str!("../../playbooks/streamlit-502.toml");

/// Crashes the property tests below found, kept: none so far; these are the hand-made edges.
#[test]
fn hostile_playbooks_are_errors_not_panics() {
    let deep_arrays = format!("x = {}", "[".repeat(100_000));
    let deep_tables = format!("x = {}", "{ a = ".repeat(100_000));
    for text in [
        "",
        "[",
        "[[verify]]\n[[verify]]\n[[verify]]",
        "[backend]\naddress = \"unix:\"",
        "[backend]\naddress = \"[::1]:99999\"",
        "[backend]\nmatch = \"(((((((((\"",
        "[site]\ndomains = [\"\u{0}\"]",
        "timeout = -1",
        "timeout = 1e308",
        deep_arrays.as_str(),
        deep_tables.as_str(),
    ] {
        let r = parse(text, "pb.toml", "pb");
        if let Err(e) = r {
            assert!(e.to_string().starts_with("pb.toml"), "{e}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn mutated_playbooks_never_panic(
        text in crate::hostile::mutated(vec![LOGIN.into(), STREAMLIT.into()], 20)
    ) {
        if let Err(e) = parse(&text, "pb.toml", "pb") {
            prop_assert!(e.to_string().starts_with("pb.toml"));
        }
    }

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,300}") {
        let _ = parse(&text, "pb.toml", "pb");
    }
}
