//! One patch document of either format, so `apply` and `check` dispatch on the format in one
//! place: RFC 5261 for XML product files, RFC 6902 for JSON ones.

use topoplan_render::PatchFormat;

pub enum AnyPatch {
    Xml(topoplan_xmlpatch::Patch),
    Json(topoplan_jsonpatch::Patch),
}

/// One value that differs from the plan: (selector or pointer, expected, found).
pub type Drift = (String, String, String);

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
