//! The binary's side of the patch layer (`topoplan-patch`): secrets come from its
//! environment.

use topoplan_patch::PatchFormat;

/// A patch with its secret markers filled from the environment (the database passwords a
/// bundle names only by variable), and the values filled, so that printers can mask them.
/// `Err` names the variable that is not set, or whose value the file cannot carry.
pub fn fill_secrets(
    format: PatchFormat,
    text: &str,
) -> Result<(String, Vec<String>), topoplan_patch::SecretError> {
    let mut values = Vec::new();
    let filled = topoplan_patch::fill_secrets(text, format, |var| {
        let v = std::env::var(var).ok()?;
        // As written in the file, too: escaped for its format.
        values.push(topoplan_model::xml::escape(&v));
        values.push(topoplan_patch::escape_json_string(&v));
        values.push(v.clone());
        Some(v)
    })?;
    Ok((filled, values))
}
