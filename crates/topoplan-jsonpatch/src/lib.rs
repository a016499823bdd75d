#![warn(missing_docs, clippy::print_stdout, clippy::print_stderr)]
//! topoplan-jsonpatch: RFC 6902 JSON Patch documents applied to real product files.
//!
//! The Jaggery apps' configs (`store.json`, `publisher.json`, `social.json`) are hand-edited by
//! operators: key order, indentation and spacing must survive, so nothing is re-serialised.
//! The target is parsed with `jsonc-parser`, which keeps every value's byte range; each
//! operation's RFC 6901 pointer is resolved against that one parse, and a `replace` splices
//! the new value's compact JSON over the old value's bytes.
//!
//! Supported: `test` (the value at the pointer equals the given one; used to make sure a patch
//! meets the file it was written for) and `replace` (the pointer must exist). Every operation
//! is checked before anything changes; a pointer that matches nothing is an error, and the
//! result is parsed again before it is returned. `add`, `remove`, `move` and `copy` are
//! refused: a port planner only rewrites values that the product already has.

use jsonc_parser::ast::{ObjectPropName, Value as Ast};
use jsonc_parser::common::Ranged;
use jsonc_parser::{CollectOptions, ParseOptions};
use serde_json::Value;
use topoplan_splice::{splice, Edit};

/// Why a JSON patch could not be read or applied.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum JsonPatchError {
    /// The patch is not a JSON Patch array of the supported operations.
    #[error("not a JSON patch document: {0}")]
    BadPatch(String),
    /// The file to patch is not well-formed JSON.
    #[error("target is not well-formed JSON: {0}")]
    BadTarget(String),
    /// A pointer finds nothing in the file.
    #[error("pointer `{pointer}` matches nothing")]
    NoMatch {
        /// The pointer.
        pointer: String,
    },
    /// A pointer finds several properties of one name (JSON allows them; a patch must not guess).
    #[error("pointer `{pointer}` matches {count} properties of the same name")]
    Ambiguous {
        /// The pointer.
        pointer: String,
        /// How many it finds.
        count: usize,
    },
    /// A `test` operation found another value.
    #[error("test failed: `{pointer}` is {found}, the patch expects {expected}")]
    TestFailed {
        /// The pointer.
        pointer: String,
        /// The value in the file.
        found: String,
        /// The value the patch expects.
        expected: String,
    },
    /// Two operations change overlapping text.
    #[error("pointers `{a}` and `{b}` change overlapping text")]
    Overlap {
        /// The first pointer.
        a: String,
        /// The pointer whose change overlaps it.
        b: String,
    },
}

/// The operations topoplan writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpKind {
    /// `test`: the value must be this.
    Test,
    /// `replace`: the value becomes this.
    Replace,
}

/// One operation of a patch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Op {
    /// What it does.
    pub kind: OpKind,
    /// The RFC 6901 pointer as written.
    pub path: String,
    tokens: Vec<String>,
    /// The value it tests or writes.
    pub value: Value,
}

/// A parsed JSON Patch array.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Patch {
    /// Its operations, in order.
    pub ops: Vec<Op>,
}

/// Splits an RFC 6901 pointer into unescaped reference tokens (`~1` is `/`, `~0` is `~`).
fn tokens(pointer: &str) -> Result<Vec<String>, String> {
    if pointer.is_empty() {
        return Ok(Vec::new());
    }
    let rest = pointer
        .strip_prefix('/')
        .ok_or_else(|| format!("pointer `{pointer}` does not start with `/`"))?;
    rest.split('/')
        .map(|t| {
            let mut out = String::with_capacity(t.len());
            let mut chars = t.chars();
            while let Some(c) = chars.next() {
                if c == '~' {
                    match chars.next() {
                        Some('0') => out.push('~'),
                        Some('1') => out.push('/'),
                        _ => return Err(format!("pointer `{pointer}` has a bad `~` escape")),
                    }
                } else {
                    out.push(c);
                }
            }
            Ok(out)
        })
        .collect()
}

impl Patch {
    /// A JSON Patch array of `test` and `replace` operations.
    pub fn parse(src: &str) -> Result<Patch, JsonPatchError> {
        let doc: Value =
            serde_json::from_str(src).map_err(|e| JsonPatchError::BadPatch(e.to_string()))?;
        let Value::Array(items) = doc else {
            return Err(JsonPatchError::BadPatch(
                "the document is not an array of operations".into(),
            ));
        };
        let mut ops = Vec::new();
        for (i, item) in items.into_iter().enumerate() {
            let Value::Object(mut o) = item else {
                return Err(JsonPatchError::BadPatch(format!(
                    "operation {i} is not an object"
                )));
            };
            let kind = match o.get("op").and_then(Value::as_str) {
                Some("test") => OpKind::Test,
                Some("replace") => OpKind::Replace,
                Some(other) => {
                    return Err(JsonPatchError::BadPatch(format!(
                        "operation {i}: `{other}` is not supported (only `test` and `replace`)"
                    )))
                }
                None => {
                    return Err(JsonPatchError::BadPatch(format!(
                        "operation {i} has no string `op`"
                    )))
                }
            };
            let path = o
                .get("path")
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    JsonPatchError::BadPatch(format!("operation {i} has no string `path`"))
                })?
                .to_string();
            let value = o.remove("value").ok_or_else(|| {
                JsonPatchError::BadPatch(format!("operation {i} (`{path}`) has no `value`"))
            })?;
            let tokens = tokens(&path).map_err(JsonPatchError::BadPatch)?;
            ops.push(Op {
                kind,
                path,
                tokens,
                value,
            });
        }
        Ok(Patch { ops })
    }

    /// Applies the patch to `target`; returns the new text. Either every operation applies or
    /// an error is returned and nothing changes.
    pub fn apply(&self, target: &str) -> Result<String, JsonPatchError> {
        let root = parse_ast(target)?;
        let mut edits: Vec<Edit> = Vec::new();
        for op in &self.ops {
            let node = resolve(&root, &op.tokens, &op.path)?;
            let r = node.range();
            let text = &target[r.start..r.end];
            match op.kind {
                OpKind::Test => {
                    let found: Value =
                        serde_json::from_str(text).map_err(|_| JsonPatchError::TestFailed {
                            pointer: op.path.clone(),
                            found: text.to_string(),
                            expected: op.value.to_string(),
                        })?;
                    if found != op.value {
                        return Err(JsonPatchError::TestFailed {
                            pointer: op.path.clone(),
                            found: found.to_string(),
                            expected: op.value.to_string(),
                        });
                    }
                }
                OpKind::Replace => {
                    let new = serde_json::to_string(&op.value).expect("JSON values serialise");
                    edits.push(Edit {
                        range: r.start..r.end,
                        text: new,
                        label: op.path.as_str(),
                    });
                }
            }
        }
        let out = splice(target, edits).map_err(|o| JsonPatchError::Overlap { a: o.a, b: o.b })?;
        // The splice cannot break the syntax around it, but a check costs little and a broken
        // product file costs a failed start.
        parse_ast(&out)?;
        Ok(out)
    }
}

/// One value that differs from the patch (see [`Patch::drift`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drift {
    /// The pointer of the value.
    pub pointer: String,
    /// What the patch writes there.
    pub expected: String,
    /// What the file holds.
    pub found: String,
}

impl Patch {
    /// Every `replace` whose value the file does not hold, and every `test` that fails, as
    /// JSON text; compared as values, so spacing does not count. Nothing is written.
    pub fn drift(&self, target: &str) -> Result<Vec<Drift>, JsonPatchError> {
        let root = parse_ast(target)?;
        let mut out = Vec::new();
        for op in &self.ops {
            let node = resolve(&root, &op.tokens, &op.path)?;
            let r = node.range();
            let text = &target[r.start..r.end];
            let same = serde_json::from_str::<Value>(text).is_ok_and(|v| v == op.value);
            if !same {
                out.push(Drift {
                    pointer: op.path.clone(),
                    expected: op.value.to_string(),
                    found: text.to_string(),
                });
            }
        }
        Ok(out)
    }
}

fn parse_ast(text: &str) -> Result<Ast<'_>, JsonPatchError> {
    let parsed =
        jsonc_parser::parse_to_ast(text, &CollectOptions::default(), &ParseOptions::default())
            .map_err(|e| {
                let hint = if text.starts_with('\u{feff}') {
                    " (the file starts with a UTF-8 byte order mark, which JSON does not allow: save it without one)"
                } else {
                    ""
                };
                JsonPatchError::BadTarget(format!("{e}{hint}"))
            })?;
    parsed
        .value
        .ok_or_else(|| JsonPatchError::BadTarget("the file holds no value".into()))
}

fn resolve<'a, 'b>(
    root: &'b Ast<'a>,
    tokens: &[String],
    pointer: &str,
) -> Result<&'b Ast<'a>, JsonPatchError> {
    let no_match = || JsonPatchError::NoMatch {
        pointer: pointer.to_string(),
    };
    let mut node = root;
    for t in tokens {
        node = match node {
            Ast::Object(o) => {
                let hits: Vec<&Ast> = o
                    .properties
                    .iter()
                    .filter(|p| prop_name(&p.name) == t.as_str())
                    .map(|p| &p.value)
                    .collect();
                match hits.as_slice() {
                    [one] => one,
                    [] => return Err(no_match()),
                    many => {
                        return Err(JsonPatchError::Ambiguous {
                            pointer: pointer.to_string(),
                            count: many.len(),
                        })
                    }
                }
            }
            Ast::Array(a) => {
                // RFC 6901: decimal index without leading zeros.
                let ok = !t.is_empty()
                    && t.bytes().all(|b| b.is_ascii_digit())
                    && (t == "0" || !t.starts_with('0'));
                let i: usize = if ok {
                    t.parse().map_err(|_| no_match())?
                } else {
                    return Err(no_match());
                };
                a.elements.get(i).ok_or_else(no_match)?
            }
            _ => return Err(no_match()),
        };
    }
    Ok(node)
}

fn prop_name<'a>(n: &'a ObjectPropName<'_>) -> &'a str {
    match n {
        ObjectPropName::String(s) => s.value.as_ref(),
        ObjectPropName::Word(w) => w.value,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONF: &str = "{\n    \"a\": 1,\n    \"sso\": {\n        \"issuer\": \"store\",\n        \"url\" : \"%https.host%/samlsso\",   \"x/y\": [1, 2]\n    }\n}\n";

    fn patch(ops: &str) -> Patch {
        Patch::parse(ops).unwrap()
    }

    #[test]
    fn replace_changes_only_the_value_bytes_and_is_idempotent() {
        let p = patch(
            r#"[{"op":"test","path":"/sso/issuer","value":"store"},{"op":"replace","path":"/sso/url","value":"https://[fd00::1]:9443/samlsso"}]"#,
        );
        let once = p.apply(CONF).unwrap();
        assert_eq!(
            once,
            CONF.replace(
                "\"%https.host%/samlsso\"",
                "\"https://[fd00::1]:9443/samlsso\""
            )
        );
        assert_eq!(p.apply(&once).unwrap(), once);
    }

    #[test]
    fn drift_compares_values_not_spacing() {
        let p = patch(
            r#"[{"op":"test","path":"/sso/issuer","value":"store"},{"op":"replace","path":"/sso/url","value":"https://h:1/samlsso"}]"#,
        );
        let d = p.drift(CONF).unwrap();
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].found, "\"%https.host%/samlsso\"");
        assert!(p.drift(&p.apply(CONF).unwrap()).unwrap().is_empty());
        assert!(
            patch(r#"[{"op":"replace","path":"/sso/x~1y","value":[1,2]}]"#)
                .drift(CONF)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn pointers_unescape_and_index_arrays() {
        let out = patch(r#"[{"op":"replace","path":"/sso/x~1y/1","value":7}]"#)
            .apply(CONF)
            .unwrap();
        assert!(out.contains("[1, 7]"));
    }

    #[test]
    fn values_are_json_escaped() {
        let out = patch(r#"[{"op":"replace","path":"/a","value":"q\"<\n"}]"#)
            .apply(CONF)
            .unwrap();
        assert!(out.contains(r#""a": "q\"<\n","#));
        serde_json::from_str::<Value>(&out).unwrap();
    }

    #[test]
    fn refuses_missing_pointers_failed_tests_and_other_operations() {
        assert_eq!(
            patch(r#"[{"op":"replace","path":"/sso/nope","value":1}]"#).apply(CONF),
            Err(JsonPatchError::NoMatch {
                pointer: "/sso/nope".into()
            })
        );
        assert!(matches!(
            patch(r#"[{"op":"test","path":"/sso/issuer","value":"social"},{"op":"replace","path":"/a","value":2}]"#).apply(CONF),
            Err(JsonPatchError::TestFailed { .. })
        ));
        assert!(matches!(
            Patch::parse(r#"[{"op":"add","path":"/b","value":1}]"#),
            Err(JsonPatchError::BadPatch(_))
        ));
        assert!(matches!(
            Patch::parse(r#"[{"op":"replace","path":"b","value":1}]"#),
            Err(JsonPatchError::BadPatch(_))
        ));
        assert!(matches!(
            patch(r#"[{"op":"replace","path":"/a/0","value":1}]"#).apply(CONF),
            Err(JsonPatchError::NoMatch { .. })
        ));
        assert!(matches!(
            patch(r#"[{"op":"replace","path":"/a","value":1}]"#).apply("{\"a\": "),
            Err(JsonPatchError::BadTarget(_))
        ));
        assert!(matches!(
            patch(r#"[{"op":"replace","path":"/a","value":1}]"#).apply("{\"a\": 1, \"a\": 2}"),
            Err(JsonPatchError::Ambiguous { count: 2, .. })
        ));
    }

    #[test]
    fn a_byte_order_mark_is_named() {
        let p = Patch::parse(r#"[{"op": "replace", "path": "/a", "value": 1}]"#).unwrap();
        match p.apply("\u{feff}{\"a\": 0}") {
            Err(JsonPatchError::BadTarget(m)) => assert!(m.contains("byte order mark"), "{m}"),
            other => panic!("{other:?}"),
        }
    }
}
