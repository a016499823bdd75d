//! The XPath subset used in `sel` attributes.
//!
//! Absolute location paths only: `/step/step/...`, each step `name`, `prefix:name` or `*`,
//! with predicates `[@attr='v']`, `[child='v']` (child element's trimmed text) or `[n]`
//! (1-based position among the step's matches), ending optionally in `text()` or `@attr`.
//! That covers every selector the product overlays need while staying small enough to reason
//! about: a selector either matches exactly one place or the patch is refused.

use std::collections::BTreeMap;

/// A parsed selector: a path of element steps and what it selects at the end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selector {
    /// The element steps from the root.
    pub steps: Vec<Step>,
    /// What the last step's element gives.
    pub target: Target,
}

/// What a selector selects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// The element itself.
    Element,
    /// Its text (`/text()`).
    Text,
    /// One of its attributes (`/@name`).
    Attribute(String),
}

/// One element step of a selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// Namespace URI the element must have (`None`: no namespace); ignored for `*`.
    pub ns: Option<String>,
    /// Local name, or `*`.
    pub name: String,
    /// Its conditions, all of which must hold.
    pub predicates: Vec<Predicate>,
}

/// A condition on a step's element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Predicate {
    /// `[@name='value']` (or `=number`).
    Attr(String, String),
    /// `[child='text']`.
    Child(String, String),
    /// `[n]`, 1-based, among the siblings the step matches.
    Position(usize),
}

/// Splits on `sep` outside brackets and quotes.
fn split_outside(s: &str, sep: char) -> Vec<&str> {
    let (mut depth, mut quote, mut start) = (0i32, None::<char>, 0);
    let mut out = Vec::new();
    for (i, c) in s.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '[') => depth += 1,
            (None, ']') => depth -= 1,
            (None, c) if c == sep && depth == 0 => {
                out.push(&s[start..i]);
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

/// Index of the `]` closing the `[` that `s` starts with, outside quotes.
fn closing_bracket(s: &str) -> Option<usize> {
    if !s.starts_with('[') {
        return None;
    }
    let mut quote = None::<char>;
    for (i, c) in s.char_indices().skip(1) {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, ']') => return Some(i),
            _ => {}
        }
    }
    None
}

fn unquote(v: &str) -> Option<String> {
    let v = v.trim();
    let q = v.chars().next()?;
    (matches!(q, '\'' | '"') && v.len() >= 2 && v.ends_with(q))
        .then(|| v[1..v.len() - 1].to_string())
}

impl Selector {
    /// Parses `sel` with `namespaces` (prefix -> URI) declared on the patch's `<diff>`.
    pub fn parse(sel: &str, namespaces: &BTreeMap<String, String>) -> Result<Selector, String> {
        let rest = sel
            .strip_prefix('/')
            .ok_or("only absolute selectors (starting with `/`) are supported")?;
        if rest.starts_with('/') {
            return Err("`//` is not supported: spell out the full path".into());
        }
        let parts = split_outside(rest, '/');
        let mut steps = Vec::new();
        let mut target = Target::Element;
        for (i, part) in parts.iter().enumerate() {
            let last = i + 1 == parts.len();
            if *part == "text()" && last && !steps.is_empty() {
                target = Target::Text;
                break;
            }
            if let Some(a) = part.strip_prefix('@') {
                if !last || steps.is_empty() || a.is_empty() {
                    return Err(format!("`@{a}` may only end a selector"));
                }
                target = Target::Attribute(a.to_string());
                break;
            }
            steps.push(Self::step(part, namespaces)?);
        }
        if steps.is_empty() {
            return Err("empty selector".into());
        }
        Ok(Selector { steps, target })
    }

    fn step(part: &str, namespaces: &BTreeMap<String, String>) -> Result<Step, String> {
        let (head, preds) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if head.is_empty() {
            return Err(format!("empty step in `{part}`"));
        }
        let (ns, name) = match head.split_once(':') {
            Some((p, n)) => (
                Some(
                    namespaces
                        .get(p)
                        .cloned()
                        .ok_or_else(|| format!("prefix `{p}` is not declared on <diff>"))?,
                ),
                n.to_string(),
            ),
            None => (None, head.to_string()),
        };
        let mut predicates = Vec::new();
        let mut rest = preds;
        while !rest.is_empty() {
            let inner_end =
                closing_bracket(rest).ok_or_else(|| format!("malformed predicate in `{part}`"))?;
            let inner = &rest[1..inner_end];
            rest = &rest[inner_end + 1..];
            if let Ok(n) = inner.trim().parse::<usize>() {
                if n == 0 {
                    return Err("positions start at 1".into());
                }
                predicates.push(Predicate::Position(n));
                continue;
            }
            let (lhs, rhs) = inner
                .split_once('=')
                .ok_or_else(|| format!("unsupported predicate `[{inner}]`"))?;
            let value = unquote(rhs)
                .ok_or_else(|| format!("predicate value must be quoted in `[{inner}]`"))?;
            let lhs = lhs.trim();
            match lhs.strip_prefix('@') {
                Some(a) => predicates.push(Predicate::Attr(a.to_string(), value)),
                None => predicates.push(Predicate::Child(lhs.to_string(), value)),
            }
        }
        Ok(Step {
            ns,
            name,
            predicates,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_prefixes_predicates_and_targets() {
        let ns = BTreeMap::from([("c".to_string(), "urn:c".to_string())]);
        let s = Selector::parse("/c:Server/c:Ports/c:Offset/text()", &ns).unwrap();
        assert_eq!(s.target, Target::Text);
        assert_eq!(s.steps[2].ns.as_deref(), Some("urn:c"));
        let s = Selector::parse("/a/b[@name='http']/c[Issuer='x/y'][2]/@uri", &ns).unwrap();
        assert_eq!(s.target, Target::Attribute("uri".into()));
        assert_eq!(
            s.steps[2].predicates,
            vec![
                Predicate::Child("Issuer".into(), "x/y".into()),
                Predicate::Position(2)
            ]
        );
    }

    #[test]
    fn rejects_what_it_cannot_evaluate() {
        let ns = BTreeMap::new();
        assert!(Selector::parse("a/b", &ns).is_err());
        assert!(Selector::parse("//b", &ns).is_err());
        assert!(Selector::parse("/x:b", &ns).is_err());
        assert!(Selector::parse("/a[@n=v]", &ns).is_err());
    }
}
