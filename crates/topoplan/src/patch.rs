//! One patch document of either format, so `apply` and `check` dispatch on the format in one
//! place: RFC 5261 for XML product files, RFC 6902 for JSON ones.

use topoplan_render::PatchFormat;

pub enum AnyPatch {
    Xml(topoplan_xmlpatch::Patch),
    Json(topoplan_jsonpatch::Patch),
}

/// One value that differs from the plan: (selector or pointer, expected, found).
pub type Drift = (String, String, String);

/// What stands in for a secret wherever topoplan prints one (diffs, drift).
pub const MASK: &str = "********";

/// A patch with its secret markers filled from the environment (the database passwords a
/// bundle names only by variable), and the values filled, so that printers can mask them.
/// `Err` names the variable that is not set, or whose value the file cannot carry.
pub fn fill_secrets(
    format: PatchFormat,
    text: &str,
) -> Result<(String, Vec<String>), topoplan_render::SecretError> {
    let mut values = Vec::new();
    let filled = topoplan_render::fill_secrets(text, format, |var| {
        let v = std::env::var(var).ok()?;
        // As written in the file, too: escaped for its format.
        values.push(topoplan_render::escape_xml(&v));
        values.push(topoplan_render::escape_json_string(&v));
        values.push(v.clone());
        Some(v)
    })?;
    Ok((filled, values))
}

/// `text` with every secret value replaced by [`MASK`].
pub fn mask(text: &str, secrets: &[String]) -> String {
    secrets
        .iter()
        .filter(|s| !s.is_empty())
        .fold(text.to_string(), |t, s| t.replace(s.as_str(), MASK))
}

impl AnyPatch {
    pub fn parse(format: PatchFormat, text: &str) -> Result<AnyPatch, String> {
        match format {
            PatchFormat::Xml => topoplan_xmlpatch::Patch::parse(text)
                .map(AnyPatch::Xml)
                .map_err(|e| e.to_string()),
            PatchFormat::Json => topoplan_jsonpatch::Patch::parse(text)
                .map(AnyPatch::Json)
                .map_err(|e| e.to_string()),
        }
    }

    pub fn apply(&self, target: &str) -> Result<String, String> {
        match self {
            AnyPatch::Xml(p) => p.apply(target).map_err(|e| e.to_string()),
            AnyPatch::Json(p) => p.apply(target).map_err(|e| e.to_string()),
        }
    }

    pub fn drift(&self, target: &str) -> Result<Vec<Drift>, String> {
        match self {
            AnyPatch::Xml(p) => p
                .drift(target)
                .map(|d| {
                    d.into_iter()
                        .map(|d| (d.selector, d.expected, d.found))
                        .collect()
                })
                .map_err(|e| e.to_string()),
            AnyPatch::Json(p) => p
                .drift(target)
                .map(|d| {
                    d.into_iter()
                        .map(|d| (d.pointer, d.expected, d.found))
                        .collect()
                })
                .map_err(|e| e.to_string()),
        }
    }
}
