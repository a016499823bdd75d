//! topoplan-render: per-node overlays from tera templates, and the bundle writer.
//!
//! Templates live in `templates/<product>/overlay/<path under product home>.patch.xml.tera`,
//! so the file a template patches is its own path: adding an overlay for another product file
//! means adding a template, not code. Templates receive a deliberate view-model ([`NodeView`]),
//! never the solver's structs, so the plan can change shape without breaking templates.
//!
//! Bundles are assembled completely in memory first; only then is anything written, each file
//! through a temporary file and a rename, so a failure never leaves a half-written bundle.

pub mod bundle;

use serde::Serialize;
use std::collections::BTreeMap;
use topoplan_solver::{NodePlan, Plan};

pub use bundle::{write_bundle, Bundle, BundleFile};

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("template `{name}`: {message}")]
    Template { name: String, message: String },
    #[error("no templates for product `{0}`")]
    NoTemplates(String),
    #[error("node `{0}` is not in the plan")]
    UnknownNode(String),
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// Template files by path relative to the templates root (`appm-1.2.0/overlay/...`).
#[derive(Debug, Clone, Default)]
pub struct TemplateSet {
    pub files: BTreeMap<String, String>,
}

const OVERLAY_SUFFIX: &str = ".patch.xml.tera";

impl TemplateSet {
    /// Overlay templates of one product: (product file path, template name).
    fn overlays(&self, product: &str) -> Vec<(String, String)> {
        let prefix = format!("{product}/overlay/");
        self.files
            .keys()
            .filter_map(|k| {
                let rel = k.strip_prefix(&prefix)?.strip_suffix(OVERLAY_SUFFIX)?;
                Some((rel.to_string(), k.clone()))
            })
            .collect()
    }
}

/// One rendered overlay: an RFC 5261 patch for one product file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Overlay {
    /// Product file, relative to the product home.
    pub path: String,
    /// The `<diff>` document.
    pub patch: String,
}

/// What a template sees.
#[derive(Debug, Serialize)]
pub struct NodeView<'a> {
    pub deployment: DeploymentView<'a>,
    pub node: NodeInfo<'a>,
    /// Effective ports of this node by name (`-` replaced by `_`).
    pub ports: BTreeMap<String, u32>,
    /// Resolved references of this node by profile reference name.
    pub links: BTreeMap<String, LinkView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thrift: Option<&'a topoplan_solver::ThriftPlan>,
}

#[derive(Debug, Serialize)]
pub struct DeploymentView<'a> {
    pub name: &'a str,
    pub product: &'a str,
    pub key_validation: &'a str,
}

#[derive(Debug, Serialize)]
pub struct NodeInfo<'a> {
    pub name: &'a str,
    pub host: &'a str,
    pub address: &'a str,
    pub offset: u32,
    pub roles: &'a [String],
}

#[derive(Debug, Serialize)]
pub struct LinkView {
    /// Provider node name.
    pub to: String,
    pub address: String,
    pub port: u32,
    /// `scheme://address:port`, when the port speaks HTTP(S).
    pub url: Option<String>,
    /// All effective ports of the provider, by name with `_`.
    pub ports: BTreeMap<String, u32>,
}

fn port_map(n: &NodePlan) -> BTreeMap<String, u32> {
    n.ports
        .iter()
        .map(|p| (p.name.replace('-', "_"), p.effective))
        .collect()
}

/// Builds the view-model of one node.
pub fn view<'a>(plan: &'a Plan, node: &'a NodePlan) -> NodeView<'a> {
    let links = plan
        .links
        .iter()
        .filter(|l| l.from == node.name)
        .filter_map(|l| {
            let to = plan.node(&l.to)?;
            Some((
                l.reference.clone(),
                LinkView {
                    to: to.name.clone(),
                    address: to.address.clone(),
                    port: l.port,
                    url: l.url.clone(),
                    ports: port_map(to),
                },
            ))
        })
        .collect();
    NodeView {
        deployment: DeploymentView {
            name: &plan.deployment,
            product: &plan.product,
            key_validation: &plan.key_validation,
        },
        node: NodeInfo {
            name: &node.name,
            host: &node.host,
            address: &node.address,
            offset: node.offset,
            roles: &node.roles,
        },
        ports: port_map(node),
        links,
        thrift: node.thrift.as_ref(),
    }
}

/// Renders every overlay of one node. Templates that render no operation are dropped.
pub fn render_node(
    set: &TemplateSet,
    plan: &Plan,
    node_name: &str,
) -> Result<Vec<Overlay>, RenderError> {
    let node = plan
        .node(node_name)
        .ok_or_else(|| RenderError::UnknownNode(node_name.to_string()))?;
    let overlays = set.overlays(&plan.product);
    if overlays.is_empty() {
        return Err(RenderError::NoTemplates(plan.product.clone()));
    }
    let mut tera = tera::Tera::default();
    // Overlays are XML we write on purpose; values are validated addresses and numbers.
    tera.autoescape_on(vec![]);
    tera.add_raw_templates(
        overlays
            .iter()
            .map(|(_, name)| (name.as_str(), set.files[name].as_str())),
    )
    .map_err(|e| template_error("(loading)", &e))?;
    let ctx = tera::Context::from_serialize(view(plan, node))
        .map_err(|e| template_error("(context)", &e))?;
    let mut out = Vec::new();
    for (path, name) in overlays {
        let text = tera
            .render(&name, &ctx)
            .map_err(|e| template_error(&name, &e))?;
        if ["<replace", "<add", "<remove"]
            .iter()
            .any(|op| text.contains(op))
        {
            out.push(Overlay { path, patch: text });
        }
    }
    Ok(out)
}

fn template_error(name: &str, e: &tera::Error) -> RenderError {
    RenderError::Template {
        name: name.to_string(),
        message: topoplan_model::error_chain(e),
    }
}
