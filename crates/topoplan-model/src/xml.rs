//! The one XML escaper: every value topoplan writes into XML (RFC 5261 patches of product files,
//! the SVG picture) goes through [`escape`].

/// XML text and attribute content: the five markup characters as their predefined entities. A
/// character XML 1.0 cannot carry at all (a C0 control other than tab, line feed and carriage
/// return; U+FFFE, U+FFFF) becomes U+FFFD: callers that must not alter a value (a password)
/// check [`writable`] first. A value keeps its `--` (a punycode host name, `xn--…`, must be
/// written as it is); inside comments, which values never reach, the render layer splits them.
pub fn escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&apos;"),
            c if !allowed(c) => o.push('\u{FFFD}'),
            c => o.push(c),
        }
    }
    o
}

/// Whether XML 1.0 can carry `s` as it is (after [`escape`]).
pub fn writable(s: &str) -> bool {
    s.chars().all(allowed)
}

fn allowed(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r') || !(c < ' ' || c == '\u{FFFE}' || c == '\u{FFFF}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_replaces_what_xml_cannot_carry() {
        assert_eq!(escape("a<b>&\"'"), "a&lt;b&gt;&amp;&quot;&apos;");
        assert_eq!(escape("xn--bcher-kva.example"), "xn--bcher-kva.example");
        assert_eq!(escape("a\u{7}b\tc\u{FFFF}"), "a\u{FFFD}b\tc\u{FFFD}");
        assert!(writable("pa ss\tword\n") && !writable("pa\u{1}ss"));
    }
}
