//! `fixer completions SHELL` and `fixer man`: generated from the clap definitions the binary
//! parses with, so a flag can never be missing from the completion or the manual page.

use std::io::Write;

/// The completion script for `shell`, on stdout.
pub(crate) fn completions(mut cmd: clap::Command, shell: clap_complete::Shell) {
    let mut out = std::io::stdout().lock();
    clap_complete::generate(shell, &mut cmd, "fixer", &mut out);
    let _ = out.flush();
}

/// fixer(1), in roff.
pub(crate) fn man_page(cmd: clap::Command) -> std::io::Result<Vec<u8>> {
    render(&clap_mangen::Man::new(cmd))
}

fn render(man: &clap_mangen::Man) -> std::io::Result<Vec<u8>> {
    let mut page = Vec::new();
    man.render(&mut page)?;
    Ok(ascii(&String::from_utf8_lossy(&page)).into_bytes())
}

/// Non-ASCII text (the help's arrows, ellipses, dashes) as roff escapes: troff reads a page's
/// bytes in the locale's encoding, and under `LANG=C` would print UTF-8 as garbage and warn.
/// The named glyphs exist on every output device, ASCII included; `\[uXXXX]` is the fallback.
fn ascii(page: &str) -> String {
    let mut out = String::with_capacity(page.len());
    for c in page.chars() {
        match c {
            c if c.is_ascii() => out.push(c),
            '\u{2192}' => out.push_str("\\[->]"),
            '\u{2026}' => out.push_str("\\&..."), // `\&` first: a line never starts with a dot
            '\u{2014}' => out.push_str("\\[em]"),
            '\u{2013}' => out.push_str("\\[en]"),
            c => out.push_str(&format!("\\[u{:04X}]", u32::from(c))),
        }
    }
    out
}

/// fixer.1 and one page per subcommand (fixer-diagnose.1, fixer-lab-up.1, …), by file name.
pub(crate) fn man_pages(cmd: clap::Command) -> std::io::Result<Vec<(String, Vec<u8>)>> {
    let mut cmd = cmd.disable_help_subcommand(true);
    cmd.build();
    let mut pages = Vec::new();
    collect(cmd, &mut pages)?;
    Ok(pages)
}

fn collect(cmd: clap::Command, pages: &mut Vec<(String, Vec<u8>)>) -> std::io::Result<()> {
    let man = clap_mangen::Man::new(cmd.clone());
    pages.push((man.get_filename(), render(&man)?));
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        collect(sub.clone(), pages)?;
    }
    Ok(())
}

/// Bytes already rendered (a man page), on stdout.
pub(crate) fn raw(bytes: &[u8]) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(bytes);
    let _ = out.flush();
}
