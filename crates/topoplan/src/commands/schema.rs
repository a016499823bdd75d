//! `topoplan schema`: the JSON Schema of the topology format, for the products of the templates.

use crate::output::out;
use crate::session;
use crate::status::ExitStatus;
use anyhow::Result;
use topoplan_render::TemplateSet;

pub fn run(templates: &TemplateSet) -> Result<ExitStatus> {
    let schema = topoplan_model::schema::topology_schema(&session::profiles(templates)?);
    out(&format!("{}\n", serde_json::to_string_pretty(&schema)?))?;
    Ok(ExitStatus::Success)
}
