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
    topoplan_patch::fill_secrets(text, format, env_secret)
}

/// A secret's value from this run's environment.
pub fn env_secret(var: &str) -> Option<String> {
    std::env::var(var).ok()
}
