//! The binary's side of the shared pipeline (`topoplan-session`, re-exported here): the
//! built-in templates every command plans with.

use crate::embedded;
use anyhow::{Context, Result};
use std::path::Path;
use topoplan_render::TemplateSet;
pub use topoplan_session::*;

/// Built-in templates, overridden file by file from `dir`.
pub fn load_templates(dir: Option<&Path>) -> Result<TemplateSet> {
    let mut set = TemplateSet::default();
    for (path, text) in embedded::EMBEDDED {
        set.files.insert((*path).to_string(), (*text).to_string());
    }
    if let Some(dir) = dir {
        set.add_dir(dir)
            .with_context(|| format!("reading templates folder `{}`", dir.display()))?;
    }
    Ok(set)
}
