//! Inputs for the property tests of the parsers that read files from the wild (nginx's error
//! log, `nginx -T` dumps, playbooks): real samples with characters replaced, inserted or
//! removed at random places, and cut short, as a truncated or corrupted file would be.

use proptest::prelude::*;

/// One of `seeds` with up to `edits` random edits, then cut somewhere in its second half.
pub(crate) fn mutated(seeds: Vec<String>, edits: usize) -> impl Strategy<Value = String> {
    (
        0..seeds.len(),
        proptest::collection::vec((any::<usize>(), any::<char>(), 0u8..3), 0..edits),
        any::<usize>(),
    )
        .prop_map(move |(i, edits, cut)| {
            let mut chars: Vec<char> = seeds[i].chars().collect();
            for (at, c, op) in edits {
                let at = at % (chars.len() + 1);
                match op {
                    0 if at < chars.len() => chars[at] = c,
                    1 => chars.insert(at, c),
                    _ if at < chars.len() => {
                        chars.remove(at);
                    }
                    _ => {}
                }
            }
            chars.truncate(cut % (chars.len() + 1).max(1) + chars.len() / 2);
            chars.into_iter().collect()
        })
}
