#![warn(missing_docs, clippy::print_stdout, clippy::print_stderr)]
//! topoplan-splice: the one way topoplan changes a product file's text.
//!
//! Both patchers (RFC 5261 for XML, RFC 6902 for JSON) resolve every operation against one
//! read-only parse to a byte range and its new text; this crate then builds the new file from
//! the original with only those ranges replaced. Keeping it in one place keeps one definition of
//! "overlapping operations", which both patchers must refuse the same way.

use std::ops::Range;

/// One replacement: `range` of the original becomes `text`. `label` names the operation
/// (a selector or pointer) in the overlap error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edit<'a> {
    /// Byte range of the original text it replaces (empty: an insertion).
    pub range: Range<usize>,
    /// What goes in its place.
    pub text: String,
    /// The operation that asked for it, for messages.
    pub label: &'a str,
}

/// Two edits whose ranges overlap (or replace the same non-empty range twice), by label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Overlap {
    /// The label of the first edit.
    pub a: String,
    /// The label of the edit it overlaps.
    pub b: String,
}

/// Applies `edits` to `original`. Insertions (empty ranges) at one position keep their order.
pub fn splice(original: &str, mut edits: Vec<Edit<'_>>) -> Result<String, Overlap> {
    edits.sort_by_key(|e| (e.range.start, e.range.end));
    for w in edits.windows(2) {
        let (x, y) = (&w[0].range, &w[1].range);
        if x.end > y.start || (x == y && !x.is_empty()) {
            return Err(Overlap {
                a: w[0].label.to_string(),
                b: w[1].label.to_string(),
            });
        }
    }
    let mut out = String::with_capacity(original.len() + 64);
    let mut at = 0;
    for e in &edits {
        out.push_str(&original[at..e.range.start]);
        out.push_str(&e.text);
        at = e.range.end;
    }
    out.push_str(&original[at..]);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edit(range: Range<usize>, text: &str, label: &'static str) -> Edit<'static> {
        Edit {
            range,
            text: text.into(),
            label,
        }
    }

    #[test]
    fn replaces_only_the_ranges_in_any_order() {
        let out = splice("a=1 b=2", vec![edit(6..7, "9", "b"), edit(2..3, "10", "a")]).unwrap();
        assert_eq!(out, "a=10 b=9");
    }

    #[test]
    fn refuses_overlaps_but_allows_insertions_at_one_place() {
        assert_eq!(
            splice("abcdef", vec![edit(1..4, "x", "p"), edit(3..5, "y", "q")]),
            Err(Overlap {
                a: "p".into(),
                b: "q".into()
            })
        );
        assert!(splice("abc", vec![edit(1..2, "x", "p"), edit(1..2, "y", "q")]).is_err());
        assert_eq!(
            splice("ac", vec![edit(1..1, "b", "p"), edit(1..1, "B", "q")]).unwrap(),
            "abBc"
        );
    }
}
