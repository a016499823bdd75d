#![warn(missing_docs, clippy::print_stdout, clippy::print_stderr)]
//! topoplan-xmlpatch: RFC 5261 XML patch documents applied to real product files.
//!
//! The product files are full of comments, odd indentation and commented-out alternatives
//! that operators rely on, so a patch must change only the bytes it selects. The target is
//! parsed read-only with roxmltree (which keeps byte ranges); every operation is resolved
//! against that one parse to a byte range, and the new file is the original text with those
//! ranges spliced. Nothing is re-serialised.
//!
//! Supported: `<replace>` of an element, its `text()` or an `@attribute`; `<add>` of elements
//! as last children, or of an `@attribute` the element may lack (set or inserted); `<remove>` of
//! an element. One deliberate extension keeps `apply`
//! idempotent (RFC 5261 `add` is not; an operator re-running `apply` must not grow the file):
//! an `<add>` of a single element is an upsert when the parent already has that element.
//! - A text-only element (`<ThriftServerHost>h</ThriftServerHost>`) is "already there" when the
//!   parent has one child of that name; its text is replaced (an empty `<X/>` is replaced whole).
//! - An element with element children (`<Environment><Name>gw2</Name>…`) is keyed by its first
//!   child element: it is "already there" when the parent has one child of that name whose
//!   first child element has the same name and text; that child is replaced whole.
//!
//! A second extension removes what an earlier apply added and the plan no longer has:
//! `<prune sel="…/Environment[@topoplan='added']" key="Name"><keep>gw2</keep>…</prune>`
//! removes every element the selector matches (none is fine) whose `key` child's text is not
//! a `<keep>`. Only elements that carry topoplan's mark are ever selected, so nothing an
//! operator wrote is removed.

pub mod selector;

use roxmltree::{Document, Node, ParsingOptions};
use selector::{Predicate, Selector, Step, Target};
use std::collections::BTreeMap;
use std::ops::Range;
use topoplan_splice::{splice, Edit};

/// Why an XML patch could not be read or applied.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PatchError {
    /// The patch is not a `<diff>` document of the supported operations.
    #[error("not a patch document: {0}")]
    BadPatch(String),
    /// A selector outside the supported XPath subset.
    #[error("selector `{sel}`: {msg}")]
    BadSelector {
        /// The selector.
        sel: String,
        /// What is wrong with it.
        msg: String,
    },
    /// The file to patch is not well-formed XML.
    #[error("target is not well-formed XML: {0}")]
    BadTarget(String),
    /// A selector finds nothing in the file.
    #[error("selector `{sel}` matches nothing")]
    NoMatch {
        /// The selector.
        sel: String,
    },
    /// A selector finds several places (a patch must not guess).
    #[error("selector `{sel}` matches {count} places; it must match exactly one")]
    Ambiguous {
        /// The selector.
        sel: String,
        /// How many it finds.
        count: usize,
    },
    /// The result would not parse: nothing is written.
    #[error("the patched file would not be well-formed XML ({0}); nothing is written")]
    BadResult(String),
    /// Two operations change overlapping text.
    #[error("selectors `{a}` and `{b}` change overlapping text")]
    Overlap {
        /// The first selector.
        a: String,
        /// The selector whose change overlaps it.
        b: String,
    },
}

/// The RFC 5261 operations topoplan writes, and its one extension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpKind {
    /// `<replace>`: the selected text, attribute or element becomes the content.
    Replace,
    /// `<add>`: the content is added to the selected element (or as an attribute).
    Add,
    /// `<remove>`: the selected node goes.
    Remove,
    /// The extension: remove every match whose `key` child is not kept.
    Prune,
}

/// One operation of a patch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Op {
    /// What it does.
    pub kind: OpKind,
    /// The selector as written.
    pub sel: String,
    selector: Selector,
    /// Replacement text (unescaped) for text/attribute targets.
    text: String,
    /// Raw XML of the operation's children, for element targets and `<add>`.
    xml: String,
    /// What identifies the single element an `<add>` carries, for the idempotent upsert.
    upsert: Option<UpsertKey>,
    /// `<prune>`: the child element that names each match, and the names to keep.
    prune: Option<(String, Vec<String>)>,
}

/// Identity of an added element (see the crate docs).
#[derive(Debug, Clone, PartialEq, Eq)]
enum UpsertKey {
    /// Namespace, name and new text of a text-only element.
    Text(Option<String>, String, String),
    /// Namespace and name of the element, name and trimmed text of its first child element.
    First(Option<String>, String, String, String),
}

/// A parsed `<diff>` document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Patch {
    /// Its operations, in order.
    pub ops: Vec<Op>,
}

fn options<'a>() -> ParsingOptions<'a> {
    ParsingOptions {
        allow_dtd: true,
        ..ParsingOptions::default()
    }
}

impl Patch {
    /// An RFC 5261 `<diff>` document (and `<prune>`).
    pub fn parse(src: &str) -> Result<Patch, PatchError> {
        let doc = Document::parse_with_options(src, options())
            .map_err(|e| PatchError::BadPatch(e.to_string()))?;
        let root = doc.root_element();
        if root.tag_name().name() != "diff" {
            return Err(PatchError::BadPatch(format!(
                "root element is <{}>, expected <diff>",
                root.tag_name().name()
            )));
        }
        let namespaces: BTreeMap<String, String> = root
            .namespaces()
            .filter_map(|n| n.name().map(|p| (p.to_string(), n.uri().to_string())))
            .collect();
        let ops = root
            .children()
            .filter(Node::is_element)
            .map(|child| parse_op(src, child, &namespaces))
            .collect::<Result<_, _>>()?;
        Ok(Patch { ops })
    }

    /// Applies the patch to `target`; returns the new text. Either every operation applies or
    /// an error is returned and nothing changes.
    pub fn apply(&self, target: &str) -> Result<String, PatchError> {
        let edits = self.edits(target)?;
        let out = splice(target, edits).map_err(|o| PatchError::Overlap { a: o.a, b: o.b })?;
        // A user template can add markup that only breaks in context (a prefix the target
        // does not declare): never hand back a file the product could not parse.
        Document::parse_with_options(&out, options())
            .map_err(|e| PatchError::BadResult(e.to_string()))?;
        Ok(out)
    }

    /// What differs between `target` and what the patch would write, per operation, without
    /// writing: the drift check. An operation whose bytes are already in place is not listed.
    pub fn drift(&self, target: &str) -> Result<Vec<Drift>, PatchError> {
        Ok(self
            .edits(target)?
            .into_iter()
            .filter(|e| target[e.range.clone()] != e.text)
            .map(|e| Drift {
                selector: e.label.to_string(),
                expected: if e.text.trim().is_empty() && !e.range.is_empty() {
                    "(absent: topoplan added it, the plan no longer has it)".to_string()
                } else {
                    e.text.trim().to_string()
                },
                found: if e.range.is_empty() {
                    "(missing)".to_string()
                } else {
                    target[e.range].trim().to_string()
                },
            })
            .collect())
    }

    /// Every operation resolved against one parse of `target` to a byte range and its text.
    fn edits<'p>(&'p self, target: &str) -> Result<Vec<Edit<'p>>, PatchError> {
        let doc = Document::parse_with_options(target, options())
            .map_err(|e| PatchError::BadTarget(e.to_string()))?;
        let mut edits: Vec<Edit> = Vec::new();
        for op in &self.ops {
            if let Some((key, keep)) = &op.prune {
                for node in select_all(&doc, op) {
                    let name = node
                        .children()
                        .find(|c| c.is_element() && c.tag_name().name() == key)
                        .and_then(|c| c.text())
                        .unwrap_or("")
                        .trim();
                    if !keep.iter().any(|k| k == name) {
                        edits.push(Edit {
                            range: line_range(target, node.range()),
                            text: String::new(),
                            label: op.sel.as_str(),
                        });
                    }
                }
                continue;
            }
            let node = select_one(&doc, op)?;
            let edit = match (&op.kind, &op.selector.target) {
                (OpKind::Replace, Target::Text) => {
                    let texts: Vec<Node> = node.children().filter(Node::is_text).collect();
                    match texts.as_slice() {
                        [t] => (t.range(), escape_text(&op.text)),
                        [] => {
                            return Err(PatchError::NoMatch {
                                sel: op.sel.clone(),
                            })
                        }
                        many => {
                            return Err(PatchError::Ambiguous {
                                sel: op.sel.clone(),
                                count: many.len(),
                            });
                        }
                    }
                }
                (OpKind::Replace, Target::Attribute(a)) => {
                    let attr = node
                        .attributes()
                        .find(|x| x.name() == a && x.namespace().is_none())
                        .ok_or_else(|| PatchError::NoMatch {
                            sel: op.sel.clone(),
                        })?;
                    let quote = target.as_bytes()[attr.range_value().start - 1] as char;
                    (attr.range_value(), escape_attr(&op.text, quote))
                }
                (OpKind::Add, Target::Attribute(a)) => add_attribute(target, node, a, &op.text),
                (OpKind::Replace, Target::Element) => (node.range(), op.xml.clone()),
                (OpKind::Remove, Target::Element) => {
                    (line_range(target, node.range()), String::new())
                }
                (OpKind::Add, Target::Element) => add_edit(target, node, op),
                _ => {
                    return Err(PatchError::BadSelector {
                        sel: op.sel.clone(),
                        msg: "this operation cannot target text() or an attribute".into(),
                    })
                }
            };
            edits.push(Edit {
                range: edit.0,
                text: edit.1,
                label: op.sel.as_str(),
            });
        }
        Ok(edits)
    }
}

/// One value that differs from the plan (see [`Patch::drift`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drift {
    /// The selector of the operation.
    pub selector: String,
    /// What the plan writes there (as it appears in the file).
    pub expected: String,
    /// What the file holds, or `(missing)`.
    pub found: String,
}

/// `<add sel="…/@name">value</add>`: set an attribute the element may lack (Tomcat's
/// `proxyPort`): its value is replaced when it is there, else ` name="value"` is inserted
/// after the element's name. Idempotent, like every `<add>` here.
fn add_attribute(target: &str, node: Node, name: &str, value: &str) -> (Range<usize>, String) {
    if let Some(attr) = node
        .attributes()
        .find(|x| x.name() == name && x.namespace().is_none())
    {
        let quote = target.as_bytes()[attr.range_value().start - 1] as char;
        return (attr.range_value(), escape_attr(value, quote));
    }
    // Right after the tag name, so the one line that changes is the element's first: the
    // line a reader looks for, and the only one a line-based review sees change.
    let start = node.range().start + 1;
    let at = start
        + target[start..]
            .find(|c: char| c.is_whitespace() || c == '>' || c == '/')
            .unwrap_or(0);
    (at..at, format!(" {name}=\"{}\"", escape_attr(value, '"')))
}

/// `<add>`: append the content as last child, indented like the parent's children; or, for a
/// single element the parent already has, replace that element's text (idempotent upsert).
fn add_edit(target: &str, parent: Node, op: &Op) -> (Range<usize>, String) {
    // An added element written without a namespace lands in the parent's default namespace
    // (XML scoping), so that is the namespace it is found by again: `<HostName>` added into
    // carbon.xml is carbon.xml's `HostName`.
    let default_ns = parent.lookup_namespace_uri(None);
    let same = |c: &Node, ns: &Option<String>, name: &str| {
        c.is_element()
            && c.tag_name().name() == name
            && c.tag_name().namespace() == ns.as_deref().or(default_ns)
    };
    match &op.upsert {
        Some(UpsertKey::Text(ns, name, text)) => {
            let existing: Vec<Node> = parent.children().filter(|c| same(c, ns, name)).collect();
            if let [e] = existing.as_slice() {
                let texts: Vec<Node> = e.children().filter(Node::is_text).collect();
                match texts.as_slice() {
                    [t] if e.children().count() == 1 => return (t.range(), escape_text(text)),
                    [] if e.children().next().is_none() => return (e.range(), op.xml.clone()),
                    _ => {}
                }
            }
        }
        Some(UpsertKey::First(ns, name, key, key_text)) => {
            let existing: Vec<Node> = parent
                .children()
                .filter(|c| same(c, ns, name))
                .filter(|c| {
                    c.children().find(Node::is_element).is_some_and(|k| {
                        k.tag_name().name() == key && k.text().unwrap_or("").trim() == key_text
                    })
                })
                .collect();
            if let [e] = existing.as_slice() {
                return (e.range(), op.xml.clone());
            }
        }
        None => {}
    }
    let last = parent
        .children()
        .rfind(|c| !(c.is_text() && c.text().is_some_and(|t| t.trim().is_empty())));
    let indent = parent
        .children()
        .rfind(Node::is_element)
        .map(|e| line_indent(target, e.range().start))
        .unwrap_or_else(|| format!("{}    ", line_indent(target, parent.range().start)));
    let r = parent.range();
    if last.is_none() && target[r.clone()].ends_with("/>") {
        // A self-closing parent (`<X/>`) is opened: the content goes inside, not after it.
        let start = r.start + 1;
        let qname_end = start
            + target[start..]
                .find(|c: char| c.is_whitespace() || c == '/' || c == '>')
                .unwrap_or(0);
        let text = format!(
            ">\n{indent}{}\n{}</{}>",
            op.xml,
            line_indent(target, r.start),
            &target[start..qname_end]
        );
        return (r.end - 2..r.end, crlf_like(target, text));
    }
    let at = match last {
        Some(n) => n.range().end,
        // Empty element: insert after its start tag.
        None => target[r.clone()]
            .find('>')
            .map_or(r.end, |i| r.start + i + 1),
    };
    let text = format!("\n{indent}{}", op.xml);
    (at..at, crlf_like(target, text))
}

/// Keep the file's line endings: a CRLF file gets CRLF in what is added.
fn crlf_like(target: &str, text: String) -> String {
    if target.contains("\r\n") {
        text.replace("\r\n", "\n").replace('\n', "\r\n")
    } else {
        text
    }
}

/// Leading white space of the line holding `pos`.
fn line_indent(text: &str, pos: usize) -> String {
    let start = text[..pos].rfind('\n').map_or(0, |i| i + 1);
    text[start..pos]
        .chars()
        .take_while(|c| c.is_whitespace())
        .collect()
}

/// Widens an element's range to its whole line when nothing else is on it.
fn line_range(text: &str, r: Range<usize>) -> Range<usize> {
    let start = text[..r.start].rfind('\n').map_or(0, |i| i + 1);
    let end = text[r.end..]
        .find('\n')
        .map_or(text.len(), |i| r.end + i + 1);
    if text[start..r.start].trim().is_empty() && text[r.end..end].trim().is_empty() {
        start..end
    } else {
        r
    }
}

/// One operation of a patch (`<replace>`, `<add>`, `<remove>`, `<prune>`), checked.
fn parse_op(
    src: &str,
    child: Node,
    namespaces: &BTreeMap<String, String>,
) -> Result<Op, PatchError> {
    let kind = match child.tag_name().name() {
        "replace" => OpKind::Replace,
        "add" => OpKind::Add,
        "remove" => OpKind::Remove,
        "prune" => OpKind::Prune,
        other => return Err(PatchError::BadPatch(format!("unknown operation <{other}>"))),
    };
    let sel = child
        .attribute("sel")
        .ok_or_else(|| {
            PatchError::BadPatch(format!("<{}> without `sel`", child.tag_name().name()))
        })?
        .to_string();
    if kind == OpKind::Add && child.attribute("pos").is_some() {
        return Err(PatchError::BadPatch(
            "`pos` on <add> is not supported".into(),
        ));
    }
    let selector = Selector::parse(&sel, namespaces).map_err(|msg| PatchError::BadSelector {
        sel: sel.clone(),
        msg,
    })?;
    let text: String = child
        .children()
        .filter(Node::is_text)
        .filter_map(|t| t.text())
        .collect();
    let xml = match (child.first_child(), child.last_child()) {
        (Some(f), Some(l)) => src[f.range().start..l.range().end].trim().to_string(),
        _ => String::new(),
    };
    if kind == OpKind::Prune && selector.target != Target::Element {
        return Err(PatchError::BadSelector {
            sel,
            msg: "<prune> removes elements: end the selector at an element".into(),
        });
    }
    let prune = (kind == OpKind::Prune)
        .then(|| prune_of(child))
        .transpose()?;
    Ok(Op {
        kind,
        sel,
        selector,
        text,
        xml,
        upsert: upsert_key(child),
        prune,
    })
}

/// How an `<add>` of one element finds the element a previous apply added: by its text, or by
/// its first child's text.
fn upsert_key(op: Node) -> Option<UpsertKey> {
    let elems: Vec<Node> = op.children().filter(Node::is_element).collect();
    match elems.as_slice() {
        [e] if e.children().all(|c| c.is_text()) => Some(UpsertKey::Text(
            e.tag_name().namespace().map(str::to_string),
            e.tag_name().name().to_string(),
            e.text().unwrap_or("").to_string(),
        )),
        [e] => e.children().find(Node::is_element).map(|k| {
            UpsertKey::First(
                e.tag_name().namespace().map(str::to_string),
                e.tag_name().name().to_string(),
                k.tag_name().name().to_string(),
                k.text().unwrap_or("").trim().to_string(),
            )
        }),
        _ => None,
    }
}

/// `<prune>`'s `key` attribute and its `<keep>` children.
fn prune_of(op: Node) -> Result<(String, Vec<String>), PatchError> {
    let key = op
        .attribute("key")
        .ok_or_else(|| PatchError::BadPatch("<prune> without `key`".into()))?;
    let mut keep = Vec::new();
    for c in op.children().filter(Node::is_element) {
        if c.tag_name().name() != "keep" {
            return Err(PatchError::BadPatch(format!(
                "<prune> holds <{}>; only <keep> names what stays",
                c.tag_name().name()
            )));
        }
        keep.push(c.text().unwrap_or("").trim().to_string());
    }
    Ok((key.to_string(), keep))
}

fn select_one<'a, 'i>(doc: &'a Document<'i>, op: &Op) -> Result<Node<'a, 'i>, PatchError> {
    let current = select_all(doc, op);
    match current.len() {
        1 => Ok(current[0]),
        0 => Err(PatchError::NoMatch {
            sel: op.sel.clone(),
        }),
        n => Err(PatchError::Ambiguous {
            sel: op.sel.clone(),
            count: n,
        }),
    }
}

/// Every node the selector matches (its target part aside).
fn select_all<'a, 'i>(doc: &'a Document<'i>, op: &Op) -> Vec<Node<'a, 'i>> {
    let mut current: Vec<Node> = vec![doc.root()];
    for step in &op.selector.steps {
        let mut next = Vec::new();
        for n in &current {
            let mut matched: Vec<Node> = n
                .children()
                .filter(|c| c.is_element() && step_matches(step, *c))
                .collect();
            for p in &step.predicates {
                matched = match p {
                    Predicate::Position(k) => matched.get(k - 1).copied().into_iter().collect(),
                    Predicate::Attr(a, v) => matched
                        .into_iter()
                        .filter(|c| c.attribute(a.as_str()) == Some(v))
                        .collect(),
                    Predicate::Child(name, v) => matched
                        .into_iter()
                        .filter(|c| {
                            c.children().any(|g| {
                                g.is_element()
                                    && g.tag_name().name() == name
                                    && g.text().unwrap_or("").trim() == v
                            })
                        })
                        .collect(),
                };
            }
            next.extend(matched);
        }
        current = next;
    }
    current
}

fn step_matches(step: &Step, n: Node) -> bool {
    step.name == "*"
        || (n.tag_name().name() == step.name && n.tag_name().namespace() == step.ns.as_deref())
}

fn escape_text(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn escape_attr(s: &str, quote: char) -> String {
    let s = escape_text(s);
    if quote == '"' {
        s.replace('"', "&quot;")
    } else {
        s.replace('\'', "&apos;")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CARBON: &str = "<?xml version=\"1.0\"?>\n<!-- c -->\n<Server xmlns=\"urn:carbon\">\n    <Ports>\n        <!-- offset -->\n        <Offset>0</Offset>\n    </Ports>\n</Server>\n";

    fn patch(ops: &str) -> Patch {
        Patch::parse(&format!("<diff xmlns:c=\"urn:carbon\">{ops}</diff>")).unwrap()
    }

    #[test]
    fn replaces_text_and_keeps_every_other_byte() {
        let out = patch("<replace sel=\"/c:Server/c:Ports/c:Offset/text()\">7</replace>")
            .apply(CARBON)
            .unwrap();
        assert_eq!(out, CARBON.replace("<Offset>0<", "<Offset>7<"));
    }

    #[test]
    fn replaces_attributes_escaping_values() {
        let t = "<a><b uri='x'/></a>";
        let out = patch("<replace sel=\"/a/b/@uri\">https://h:1/?a=1&amp;b='2'</replace>")
            .apply(t)
            .unwrap();
        assert_eq!(
            out,
            "<a><b uri='https://h:1/?a=1&amp;b=&apos;2&apos;'/></a>"
        );
    }

    #[test]
    fn prune_removes_only_marked_elements_the_patch_does_not_keep() {
        let target = "<a>\n  <E><Name>mine</Name></E>\n  <E m=\"x\"><Name>old</Name></E>\n  <E m=\"x\"><Name>kept</Name></E>\n</a>\n";
        let p = Patch::parse(
            "<diff><prune sel=\"/a/E[@m='x']\" key=\"Name\"><keep>kept</keep></prune></diff>",
        )
        .unwrap();
        let out = p.apply(target).unwrap();
        assert_eq!(
            out,
            "<a>\n  <E><Name>mine</Name></E>\n  <E m=\"x\"><Name>kept</Name></E>\n</a>\n"
        );
        // Nothing left to remove: applying again changes nothing, and no drift.
        assert_eq!(p.apply(&out).unwrap(), out);
        assert!(p.drift(&out).unwrap().is_empty());
        assert_eq!(p.drift(target).unwrap().len(), 1);
        // No match at all is fine; a text() target is refused.
        assert_eq!(p.apply("<a/>").unwrap(), "<a/>");
        assert!(Patch::parse("<diff><prune sel=\"/a/E/text()\" key=\"Name\"/></diff>").is_err());
        assert!(Patch::parse("<diff><prune sel=\"/a/E\"/></diff>").is_err());
    }

    #[test]
    fn add_of_an_attribute_inserts_it_once_then_sets_it() {
        let target =
            "<Server>\n  <Connector port=\"9443\" scheme='https'/>\n  <Connector/>\n</Server>\n";
        let p = patch(r#"<add sel="/Server/Connector[@port='9443']/@proxyPort">443</add>"#);
        let once = p.apply(target).unwrap();
        assert_eq!(
            once,
            "<Server>\n  <Connector proxyPort=\"443\" port=\"9443\" scheme='https'/>\n  <Connector/>\n</Server>\n"
        );
        assert_eq!(
            p.apply(&once).unwrap(),
            once,
            "a second apply changes nothing"
        );
        assert!(p.drift(&once).unwrap().is_empty());
        assert_eq!(p.drift(target).unwrap()[0].found, "(missing)");
        let other = patch(r#"<add sel="/Server/Connector[2]/@proxyPort">80</add>"#);
        assert!(other
            .apply(target)
            .unwrap()
            .contains("<Connector proxyPort=\"80\"/>"));
    }

    #[test]
    fn add_into_a_self_closing_parent_opens_it_once() {
        let target = "<r>\n  <Environments/>\n</r>\n";
        let p =
            patch(r#"<add sel="/r/Environments"><Environment><Name>a</Name></Environment></add>"#);
        let once = p.apply(target).unwrap();
        assert_eq!(
            once,
            "<r>\n  <Environments>\n      <Environment><Name>a</Name></Environment>\n  </Environments>\n</r>\n"
        );
        assert_eq!(p.apply(&once).unwrap(), once);
    }

    #[test]
    fn an_added_element_is_found_again_in_the_default_namespace() {
        let target = "<Server xmlns=\"urn:carbon\">\n    <Ports/>\n    <!--<HostName>x</HostName>-->\n</Server>\n";
        let p = patch(r#"<add sel="/c:Server"><HostName>gw.example</HostName></add>"#);
        let once = p.apply(target).unwrap();
        assert_eq!(
            once.matches("<HostName>gw.example</HostName>").count(),
            1,
            "{once}"
        );
        assert_eq!(p.apply(&once).unwrap(), once, "a second apply adds no copy");
        assert!(p.drift(&once).unwrap().is_empty());
    }

    #[test]
    fn add_appends_with_indent_then_upserts() {
        let t = "<a>\n    <k>1</k>\n    <!--x-->\n</a>\n";
        let p = patch("<add sel=\"/a\"><h>one</h></add>");
        let once = p.apply(t).unwrap();
        assert_eq!(
            once,
            "<a>\n    <k>1</k>\n    <!--x-->\n    <h>one</h>\n</a>\n"
        );
        assert_eq!(
            p.apply(&once).unwrap(),
            once,
            "second apply must change nothing"
        );
        let changed = patch("<add sel=\"/a\"><h>two</h></add>")
            .apply(&once)
            .unwrap();
        assert!(changed.contains("<h>two</h>") && !changed.contains("one"));
    }

    #[test]
    fn add_of_an_empty_element_already_there_replaces_it() {
        let t = "<a>\n    <h/>\n</a>\n";
        let p = patch("<add sel=\"/a\"><h>one</h></add>");
        let once = p.apply(t).unwrap();
        assert_eq!(once, "<a>\n    <h>one</h>\n</a>\n");
        assert_eq!(p.apply(&once).unwrap(), once);
    }

    #[test]
    fn add_of_a_structured_element_is_keyed_by_its_first_child() {
        let t = "<E>\n    <e><N>first</N><u>1</u></e>\n</E>\n";
        let p = patch("<add sel=\"/E\"><e><N>gw2</N><u>2</u></e></add>");
        let once = p.apply(t).unwrap();
        assert_eq!(
            once,
            "<E>\n    <e><N>first</N><u>1</u></e>\n    <e><N>gw2</N><u>2</u></e>\n</E>\n"
        );
        assert_eq!(
            p.apply(&once).unwrap(),
            once,
            "second apply changes nothing"
        );
        let moved = patch("<add sel=\"/E\"><e><N>gw2</N><u>3</u></e></add>")
            .apply(&once)
            .unwrap();
        assert_eq!(
            moved,
            once.replace("<u>2</u>", "<u>3</u>"),
            "the keyed entry is updated in place"
        );
    }

    #[test]
    fn drift_lists_only_the_values_that_differ() {
        let p = patch("<replace sel=\"/c:Server/c:Ports/c:Offset/text()\">0</replace><add sel=\"/c:Server/c:Ports\"><c:H>h</c:H></add>");
        let d = p.drift(CARBON).unwrap();
        assert_eq!(d.len(), 1, "{d:?}");
        assert_eq!(d[0].found, "(missing)");
        let p = patch("<replace sel=\"/c:Server/c:Ports/c:Offset/text()\">7</replace>");
        assert_eq!(
            p.drift(CARBON).unwrap(),
            vec![Drift {
                selector: "/c:Server/c:Ports/c:Offset/text()".into(),
                expected: "7".into(),
                found: "0".into()
            }]
        );
        assert!(p.drift(&p.apply(CARBON).unwrap()).unwrap().is_empty());
    }

    #[test]
    fn add_keeps_crlf_line_endings() {
        let t = "<a>\r\n    <k>1</k>\r\n</a>\r\n";
        let out = patch("<add sel=\"/a\"><h>one</h></add>").apply(t).unwrap();
        assert_eq!(out, "<a>\r\n    <k>1</k>\r\n    <h>one</h>\r\n</a>\r\n");
        assert!(
            !out.replace("\r\n", "").contains('\n'),
            "no bare LF: {out:?}"
        );
    }

    #[test]
    fn a_result_that_is_not_well_formed_is_refused() {
        // `c:` is declared in the patch, not in the target: spliced as is, it would be an
        // undeclared prefix.
        let out = patch("<add sel=\"/a\"><c:h>one</c:h></add>").apply("<a><k/></a>");
        assert!(matches!(out, Err(PatchError::BadResult(_))), "{out:?}");
    }

    #[test]
    fn refuses_missing_and_ambiguous_selectors() {
        let t = "<a><b>1</b><b>2</b></a>";
        assert_eq!(
            patch("<replace sel=\"/a/c/text()\">x</replace>").apply(t),
            Err(PatchError::NoMatch {
                sel: "/a/c/text()".into()
            })
        );
        assert_eq!(
            patch("<replace sel=\"/a/b/text()\">x</replace>").apply(t),
            Err(PatchError::Ambiguous {
                sel: "/a/b/text()".into(),
                count: 2
            })
        );
        assert_eq!(
            patch("<replace sel=\"/a/b[2]/text()\">x</replace>")
                .apply(t)
                .unwrap(),
            "<a><b>1</b><b>x</b></a>"
        );
    }

    #[test]
    fn child_text_predicate_selects_the_issuer() {
        let t = "<s><p><I>store</I><u>1</u></p><p><I>pub</I><u>2</u></p></s>";
        let out = patch("<replace sel=\"/s/p[I='pub']/u/text()\">9</replace>")
            .apply(t)
            .unwrap();
        assert_eq!(
            out,
            "<s><p><I>store</I><u>1</u></p><p><I>pub</I><u>9</u></p></s>"
        );
    }

    #[test]
    fn overlapping_operations_are_refused() {
        let t = "<a><b>1</b></a>";
        let p = patch(
            "<replace sel=\"/a/b/text()\">2</replace><replace sel=\"/a/b/text()\">3</replace>",
        );
        assert!(matches!(p.apply(t), Err(PatchError::Overlap { .. })));
    }
}
