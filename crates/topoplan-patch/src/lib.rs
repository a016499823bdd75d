#![warn(missing_docs, clippy::print_stdout, clippy::print_stderr)]
//! One patch layer: the two formats topoplan writes product files with (RFC 5261 for XML,
//! RFC 6902 for JSON) behind one trait, [`FilePatch`] (apply, drift), parsed into one
//! [`Patch`]; the escaping of values for each format; the secret markers a bundle holds where a
//! database password goes (filled in by `apply` from the environment, masked wherever a patched
//! text is printed); and the [`apply`] transaction that writes a node's patches into a product
//! home, all or nothing.

pub mod apply;

/// The format of a product file's patch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchFormat {
    /// An RFC 5261 `<diff>` document.
    Xml,
    /// An RFC 6902 JSON Patch array.
    Json,
}

impl PatchFormat {
    /// File suffix of a rendered patch in a bundle.
    pub fn suffix(self) -> &'static str {
        match self {
            PatchFormat::Xml => ".patch.xml",
            PatchFormat::Json => ".patch.json",
        }
    }

    /// A patch file of a bundle (`<product file>.patch.xml` / `.patch.json`): the product file
    /// it patches and its format.
    pub fn of_bundle_path(path: &str) -> Option<(&str, PatchFormat)> {
        [PatchFormat::Xml, PatchFormat::Json]
            .into_iter()
            .find_map(|f| path.strip_suffix(f.suffix()).map(|rel| (rel, f)))
    }

    /// The escaping of every value written into a patch of this format.
    pub fn escape_fn(self) -> fn(&str) -> String {
        match self {
            PatchFormat::Xml => topoplan_model::xml::escape,
            PatchFormat::Json => escape_json_string,
        }
    }

    /// Whether a rendered patch holds any operation (templates render to nothing, or to an
    /// empty document, for nodes they do not concern).
    pub fn has_operation(self, text: &str) -> bool {
        match self {
            PatchFormat::Xml => ["<replace", "<add", "<remove"]
                .iter()
                .any(|op| text.contains(op)),
            PatchFormat::Json => text.contains("\"op\""),
        }
    }
}

/// The inside of a JSON string (the one JSON escaper).
pub fn escape_json_string(s: &str) -> String {
    let quoted = serde_json::to_string(s).expect("a string serialises");
    quoted[1..quoted.len() - 1].to_string()
}

/// What every patch format does: apply itself to a product file's text, and say where a file
/// differs from it. A new format is one implementation and one [`PatchFormat`] variant.
pub trait FilePatch: Send + Sync {
    /// `target` with the patch applied (the result re-parsed by the format).
    fn apply(&self, target: &str) -> Result<String, PatchError>;
    /// Every value of `target` that differs from what the patch writes.
    fn drift(&self, target: &str) -> Result<Vec<Drift>, PatchError>;
}

impl FilePatch for topoplan_xmlpatch::Patch {
    fn apply(&self, target: &str) -> Result<String, PatchError> {
        Ok(topoplan_xmlpatch::Patch::apply(self, target)?)
    }

    fn drift(&self, target: &str) -> Result<Vec<Drift>, PatchError> {
        Ok((topoplan_xmlpatch::Patch::drift(self, target)?.into_iter())
            .map(|d| Drift {
                at: d.selector,
                expected: d.expected,
                found: d.found,
            })
            .collect())
    }
}

impl FilePatch for topoplan_jsonpatch::Patch {
    fn apply(&self, target: &str) -> Result<String, PatchError> {
        Ok(topoplan_jsonpatch::Patch::apply(self, target)?)
    }

    fn drift(&self, target: &str) -> Result<Vec<Drift>, PatchError> {
        Ok(
            (topoplan_jsonpatch::Patch::drift(self, target)?.into_iter())
                .map(|d| Drift {
                    at: d.pointer,
                    expected: d.expected,
                    found: d.found,
                })
                .collect(),
        )
    }
}

/// A patch of any format, parsed: apply it, or find a file's drift from it.
pub struct Patch(Box<dyn FilePatch>);

/// Why a patch could not be read or applied.
#[derive(Debug, thiserror::Error)]
pub enum PatchError {
    /// Of an XML patch or file.
    #[error(transparent)]
    Xml(#[from] topoplan_xmlpatch::PatchError),
    /// Of a JSON patch or file.
    #[error(transparent)]
    Json(#[from] topoplan_jsonpatch::JsonPatchError),
}

/// One value of a product file that differs from the patch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drift {
    /// The selector (XML) or pointer (JSON) of the value.
    pub at: String,
    /// What the patch writes there.
    pub expected: String,
    /// What the file holds.
    pub found: String,
}

impl Patch {
    /// A patch document of `format`.
    pub fn parse(format: PatchFormat, text: &str) -> Result<Patch, PatchError> {
        Ok(Patch(match format {
            PatchFormat::Xml => Box::new(topoplan_xmlpatch::Patch::parse(text)?),
            PatchFormat::Json => Box::new(topoplan_jsonpatch::Patch::parse(text)?),
        }))
    }

    /// `target` with the patch applied.
    pub fn apply(&self, target: &str) -> Result<String, PatchError> {
        self.0.apply(target)
    }

    /// Every value of `target` that differs from what the patch writes.
    pub fn drift(&self, target: &str) -> Result<Vec<Drift>, PatchError> {
        self.0.drift(target)
    }
}

const SECRET_OPEN: &str = "@@topoplan-secret:";
const SECRET_CLOSE: &str = "@@";

/// What a template writes where a secret goes: the name of the environment variable that
/// holds it, never its value.
pub fn secret_marker(var: &str) -> String {
    format!("{SECRET_OPEN}{var}{SECRET_CLOSE}")
}

/// The environment variables a patch's secret markers name, each once.
pub fn secret_vars(text: &str) -> Vec<String> {
    let mut vars = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find(SECRET_OPEN) {
        let after = &rest[i + SECRET_OPEN.len()..];
        let Some(j) = after.find(SECRET_CLOSE) else {
            break;
        };
        let var = after[..j].to_string();
        if !vars.contains(&var) {
            vars.push(var);
        }
        rest = &after[j + SECRET_CLOSE.len()..];
    }
    vars
}

/// A patch with every secret marker replaced by the variable's value from `lookup`, escaped
/// for the patch's format; and the values filled (as given and as escaped for either format),
/// for [`mask`] to hide wherever the patched text is printed.
pub fn fill_secrets(
    text: &str,
    format: PatchFormat,
    mut lookup: impl FnMut(&str) -> Option<String>,
) -> Result<(String, Vec<String>), SecretError> {
    let mut out = text.to_string();
    let mut values = Vec::new();
    for var in secret_vars(text) {
        let value = lookup(&var).ok_or_else(|| SecretError::Unset(var.clone()))?;
        if format == PatchFormat::Xml && !topoplan_model::xml::writable(&value) {
            // Replaced, it would be another password: refused instead.
            return Err(SecretError::NotWritable(var));
        }
        out = out.replace(&secret_marker(&var), &format.escape_fn()(&value));
        values.push(topoplan_model::xml::escape(&value));
        values.push(escape_json_string(&value));
        values.push(value);
    }
    Ok((out, values))
}

/// Why a secret could not be filled in, naming its variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretError {
    /// The variable is not set.
    Unset(String),
    /// Its value holds a character an XML file cannot carry (a control character).
    NotWritable(String),
}

/// What stands in for a secret wherever topoplan prints one (diffs, drift).
pub const MASK: &str = "********";

/// `text` with every secret value replaced by [`MASK`], the longest first (a password that
/// holds another is masked whole, never left with a visible tail).
pub fn mask(text: &str, secrets: &[String]) -> String {
    let mut secrets: Vec<&String> = secrets.iter().filter(|s| !s.is_empty()).collect();
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    secrets
        .into_iter()
        .fold(text.to_string(), |t, s| t.replace(s.as_str(), MASK))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_filled_escaped_for_their_format_and_masked() {
        let text = format!("<a>{}</a>", secret_marker("DB_PW"));
        let (filled, values) =
            fill_secrets(&text, PatchFormat::Xml, |_| Some("a<b".into())).unwrap();
        assert_eq!(filled, "<a>a&lt;b</a>");
        assert_eq!(mask(&filled, &values), "<a>********</a>");
        assert_eq!(
            fill_secrets(&text, PatchFormat::Xml, |_| None),
            Err(SecretError::Unset("DB_PW".into()))
        );
        let (json, _) = fill_secrets(&text, PatchFormat::Json, |_| Some("q\"".into())).unwrap();
        // One password inside another: the longer is masked whole, whatever the order given.
        let both = ["abc".to_string(), "abcdef".to_string()];
        assert_eq!(mask("x abcdef y abc", &both), "x ******** y ********");
        assert_eq!(json, "<a>q\\\"</a>");
    }
}
