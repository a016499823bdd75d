//! The HTML review: one self-contained page (inline SVG and CSS, no scripts, no fonts to
//! fetch) rendered from a tera template, so a site can restyle it with `--templates`.
//!
//! The template sees the plan as is plus a few views computed here once (node summary, port
//! map per host, firewall matrix, legend), so templates never recompute facts.

use crate::{cells, FirewallRow};
use serde::Serialize;
use topoplan_diagram::{Diagram, Picture, DRAW_UP_TO};
use topoplan_model::error_chain;
use topoplan_solver::{nodes_by_host, Plan};

/// Name of the review template under the templates root.
pub const TEMPLATE: &str = "review/review.html.tera";

/// Why the HTML review could not be produced.
#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    /// The review template failed, with tera's message.
    #[error("template `{TEMPLATE}`: {0}")]
    Template(String),
}

/// Tera keeps the useful part of a message in the source chain: flatten it once, here.
impl From<tera::Error> for ReviewError {
    fn from(e: tera::Error) -> Self {
        ReviewError::Template(error_chain(&e))
    }
}

/// The plan as the template sees it: everything but the links, which come as
/// [`crate::aggregate::link_rows`] (an estate's lists would otherwise be copied into the
/// template's context entry by entry).
#[derive(Serialize)]
struct PlanHead<'a> {
    deployment: &'a str,
    product: &'a str,
    mode: &'a str,
    columns: &'a [topoplan_solver::Column],
    hosts: &'a [topoplan_solver::HostPlan],
    nodes: &'a [topoplan_solver::NodePlan],
    warnings: &'a [topoplan_solver::Warning],
    manual: &'a [topoplan_solver::ManualStep],
    changes: &'a Option<Vec<topoplan_solver::PlanChange>>,
    databases: &'a [topoplan_solver::DatabasePlan],
    clusters: &'a [topoplan_solver::ClusterPlan],
}

#[derive(Serialize)]
struct Context<'a> {
    version: &'static str,
    plan: PlanHead<'a>,
    links: Vec<crate::aggregate::LinkRow>,
    link_count: usize,
    /// The drawn diagram, or empty above [`DRAW_UP_TO`] nodes.
    svg: String,
    /// Above [`DRAW_UP_TO`] nodes: one row per host with its nodes counted per role.
    summary: Vec<HostSummary>,
    draw_up_to: usize,
    list_up_to: usize,
    /// Host-to-host arrows the summary leaves out (too many to read).
    omitted_arrows: usize,
    legend: Vec<LegendRow>,
    nodes: Vec<NodeRow>,
    hosts: Vec<HostMap>,
    firewall: Vec<FirewallRow>,
}

#[derive(Serialize)]
struct HostSummary {
    name: String,
    address: String,
    nodes: usize,
    roles: String,
}

#[derive(Serialize)]
struct LegendRow {
    kind: String,
    meaning: String,
    colour: String,
}

#[derive(Serialize)]
struct NodeRow {
    name: String,
    host: String,
    address: String,
    roles: Vec<String>,
    offset: u32,
    pinned: bool,
    /// The cells of the plan's port columns.
    cells: Vec<String>,
}

#[derive(Serialize)]
struct HostMap {
    name: String,
    address: String,
    span: u32,
    span_minimal: bool,
    reserved_ports: Vec<u32>,
    ports: Vec<PortRow>,
}

#[derive(Serialize)]
struct PortRow {
    effective: u32,
    node: String,
    name: String,
    protocol: String,
    base: u32,
    follows_offset: bool,
}

/// Renders the review page of `plan` with `template` (the text of [`TEMPLATE`]).
pub fn html(plan: &Plan, template: &str) -> Result<String, ReviewError> {
    let mut bytes = Vec::new();
    write_html(plan, template, &mut bytes)?;
    Ok(String::from_utf8(bytes).expect("tera writes UTF-8"))
}

/// [`html`], written to `w`.
pub fn write_html(
    plan: &Plan,
    template: &str,
    w: &mut dyn std::io::Write,
) -> Result<(), ReviewError> {
    let picture = Picture::of(plan);
    let mut omitted_arrows = 0;
    let svg = match picture {
        Picture::Nodes => Diagram::from_plan(plan).svg(),
        Picture::Hosts => {
            let s = Diagram::summary(plan);
            omitted_arrows = s.omitted_edges;
            s.svg()
        }
        Picture::Tables => String::new(),
    };
    let summary = if picture == Picture::Nodes {
        Vec::new()
    } else {
        host_summaries(plan)
    };
    // The legend lists the kinds of the links between nodes, whatever is drawn (a shared list
    // always is: its readers are never its entries).
    let linked: std::collections::BTreeSet<&str> = (plan.links.iter())
        .filter(|l| l.from != l.to)
        .map(|l| l.kind.as_str())
        .chain(plan.lists.iter().map(|l| l.kind.as_str()))
        .collect();
    let legend = plan
        .kinds
        .iter()
        .filter(|k| linked.contains(k.name.as_str()))
        .map(|k| LegendRow {
            kind: k.name.clone(),
            meaning: k.legend.clone(),
            colour: k.colour.clone(),
        })
        .collect();
    let context = Context {
        version: env!("CARGO_PKG_VERSION"),
        plan: PlanHead {
            deployment: &plan.deployment,
            product: &plan.product,
            mode: &plan.mode,
            columns: &plan.columns,
            hosts: &plan.hosts,
            nodes: &plan.nodes,
            warnings: &plan.warnings,
            manual: &plan.manual,
            changes: &plan.changes,
            databases: &plan.databases,
            clusters: &plan.clusters,
        },
        links: crate::aggregate::link_rows(plan),
        link_count: plan.link_count(),
        svg,
        summary,
        draw_up_to: DRAW_UP_TO,
        list_up_to: crate::aggregate::LIST_UP_TO,
        omitted_arrows,
        legend,
        nodes: node_rows(plan),
        hosts: host_maps(plan),
        firewall: crate::aggregate::firewall_rows(plan),
    };
    render_to(&context, template, w)
}

/// The review template rendered with `context` into `w`: autoescaping on (plan strings come
/// from a user's file), and no `get_env` (a review template may come from anyone's
/// `--templates`).
fn render_to(
    context: &Context,
    template: &str,
    w: &mut dyn std::io::Write,
) -> Result<(), ReviewError> {
    let ctx = tera::Context::from_serialize(context)?;
    let mut tera = tera::Tera::default();
    tera.register_function(
        "get_env",
        |_: &std::collections::HashMap<String, tera::Value>| {
            Err(tera::Error::msg(
                "`get_env` is not available to topoplan templates",
            ))
        },
    );
    tera.register_filter("code", code_filter);
    tera.add_raw_template("review.html", template)?;
    Ok(tera.render_to("review.html", &ctx, w)?)
}

/// One row per host: its node count and roles (the picture of a large estate).
fn host_summaries(plan: &Plan) -> Vec<HostSummary> {
    let roles = topoplan_diagram::role_counts(plan);
    plan.hosts
        .iter()
        .map(|h| HostSummary {
            name: h.name.clone(),
            address: h.address.clone(),
            nodes: h.nodes.len(),
            roles: roles.get(h.name.as_str()).cloned().unwrap_or_default(),
        })
        .collect()
}

fn node_rows(plan: &Plan) -> Vec<NodeRow> {
    plan.nodes
        .iter()
        .map(|n| NodeRow {
            name: n.name.to_string(),
            host: n.host.to_string(),
            address: n.address.to_string(),
            roles: n.roles.clone(),
            offset: n.offset,
            pinned: n.pinned,
            cells: cells(plan, n),
        })
        .collect()
}

/// Per host, every listening port of its nodes, by port number.
fn host_maps(plan: &Plan) -> Vec<HostMap> {
    let by_host = nodes_by_host(plan);
    plan.hosts
        .iter()
        .map(|h| {
            let mut ports: Vec<PortRow> = by_host
                .get(h.name.as_str())
                .into_iter()
                .flatten()
                .flat_map(|n| {
                    n.ports.iter().map(|p| PortRow {
                        effective: p.effective,
                        node: n.name.to_string(),
                        name: p.name.to_string(),
                        protocol: p.protocol.to_string(),
                        base: p.base,
                        follows_offset: p.follows_offset,
                    })
                })
                .collect();
            ports.sort_by(|a, b| (a.effective, &a.node).cmp(&(b.effective, &b.node)));
            HostMap {
                name: h.name.clone(),
                address: h.address.clone(),
                span: h.max_offset,
                span_minimal: h.max_offset_minimal,
                reserved_ports: h.reserved_ports.clone(),
                ports,
            }
        })
        .collect()
}

/// `{{ text | code | safe }}`: escapes the text, then shows `quoted` names as `<code>`, as
/// the plan's sentences quote node and host names that way.
fn code_filter(
    value: &tera::Value,
    _: &std::collections::HashMap<String, tera::Value>,
) -> tera::Result<tera::Value> {
    let text = value
        .as_str()
        .ok_or_else(|| tera::Error::msg("`code` takes a string"))?;
    let mut out = String::new();
    for (i, part) in tera::escape_html(text).split('`').enumerate() {
        if i % 2 == 1 {
            out.push_str("<code>");
            out.push_str(part);
            out.push_str("</code>");
        } else {
            out.push_str(part);
        }
    }
    // An odd number of backticks leaves the last one open: show the text as it was.
    if text.matches('`').count() % 2 == 1 {
        out = tera::escape_html(text);
    }
    Ok(tera::Value::String(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(s: &str) -> String {
        let v = code_filter(&tera::Value::String(s.into()), &Default::default()).unwrap();
        v.as_str().unwrap().to_string()
    }

    #[test]
    fn code_filter_escapes_before_marking_names() {
        assert_eq!(
            code("`gw<1>` & `km`"),
            "<code>gw&lt;1&gt;</code> &amp; <code>km</code>"
        );
        assert_eq!(code("odd ` <b>"), "odd ` &lt;b&gt;");
    }
}
