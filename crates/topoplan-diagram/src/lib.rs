#![warn(missing_docs, clippy::print_stdout, clippy::print_stderr)]
//! topoplan-diagram: the deployment diagram of a [`Plan`], as an architect reads it.
//!
//! A diagram is a picture of the deployment, not of the solver's dependency graph: one cluster
//! per host (name and address), one box per node (name, roles, offset, the ports people type
//! into browsers and load balancers), and one edge per (consumer, provider, link kind) labelled
//! with the provider port the consumer is configured to reach.
//!
//! [`Diagram::from_plan`] builds that picture once; the printers ([`Diagram::dot`],
//! [`Diagram::mermaid`], [`Diagram::svg`]) only draw it, so the three formats can never
//! disagree about what is connected to what. The SVG is laid out and drawn in-process by a
//! layout written for this picture ([`svg`]), so nothing needs to be installed to get one.

use std::fmt::Write;

mod svg;
use topoplan_solver::{nodes_by_host, NodePlan, Plan, SharedStr};

/// Boxes stop being readable long before the layout gets slow (it takes milliseconds): above
/// this many nodes the review and `graph --format svg` draw one box per host instead (node
/// counts per role, links aggregated between hosts). Per-node detail stays in the tables, and
/// `graph --format dot` still draws every node for Graphviz.
pub const DRAW_UP_TO: usize = 40;

/// Above this many hosts even the per-host summary is a wall of boxes: the review keeps its
/// tables, and `graph --format svg` points to DOT.
pub const SUMMARY_UP_TO: usize = 250;

/// What a plan is drawn as, decided here for `graph --format svg` and the review alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Picture {
    /// Up to [`DRAW_UP_TO`] nodes: every node.
    Nodes,
    /// More nodes on up to [`SUMMARY_UP_TO`] hosts: one box per host ([`Diagram::summary`]).
    Hosts,
    /// More hosts: no drawing, the tables (and DOT for Graphviz).
    Tables,
}

impl Picture {
    /// The picture `plan` gets, by its number of nodes and hosts.
    pub fn of(plan: &Plan) -> Picture {
        if plan.nodes.len() <= DRAW_UP_TO {
            Picture::Nodes
        } else if plan.hosts.len() <= SUMMARY_UP_TO {
            Picture::Hosts
        } else {
            Picture::Tables
        }
    }
}

/// One host and the nodes that run on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cluster {
    /// The host's name.
    pub host: String,
    /// Its address.
    pub address: String,
    /// Its nodes, by offset.
    pub nodes: Vec<NodeBox>,
}

/// What a node box shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeBox {
    /// The node's name (a host's, in a summary).
    pub name: String,
    /// Its roles.
    pub roles: Vec<String>,
    /// Its port offset.
    pub offset: u32,
    /// Whether the topology pins the offset.
    pub pinned: bool,
    /// The ports of the profile's columns that the node opens: (column title, port).
    pub ports: Vec<(String, u32)>,
    /// In a summary drawing, the box stands for a whole host: its node count per role.
    pub summary: Option<String>,
}

impl NodeBox {
    /// Box text, one entry per line.
    pub fn lines(&self) -> Vec<String> {
        if let Some(s) = &self.summary {
            let mut l = vec![self.name.clone()];
            l.extend(s.lines().map(str::to_string));
            return l;
        }
        let mut l = vec![self.name.clone(), self.roles.join(", ")];
        l.push(format!(
            "offset {}{}",
            self.offset,
            if self.pinned { " (pinned)" } else { "" }
        ));
        l.extend(self.ports.iter().map(|(title, p)| format!("{title} {p}")));
        l
    }
}

/// One edge: every link of one kind from a consumer to a provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edge {
    /// The consumer (a host, in a summary).
    pub from: String,
    /// The provider (a host, in a summary).
    pub to: String,
    /// The link kind (a profile `[[kind]]`).
    pub kind: String,
    /// Distinct provider ports the links of this kind carry, ascending.
    pub ports: Vec<u32>,
    /// How many node-to-node edges this one stands for (summary drawings; 1 otherwise).
    pub count: usize,
}

impl Edge {
    /// `kind port[, port]`: what the edge is and which port it needs open.
    pub fn label(&self) -> String {
        let ports: Vec<String> = self.ports.iter().map(u32::to_string).collect();
        let mut l = format!("{} {}", kind_label(&self.kind), ports.join(", "));
        if self.count > 1 {
            l.push_str(&format!(" ×{}", self.count));
        }
        l
    }
}

/// Short edge names; the review's legend spells them out.
fn kind_label(kind: &str) -> String {
    kind.replace('-', " ")
}

/// The colour of edges whose kind the profile does not colour.
pub const DEFAULT_COLOUR: &str = "#475569";

/// The deployment diagram of a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagram {
    /// The deployment's name.
    pub title: String,
    /// One per host.
    pub clusters: Vec<Cluster>,
    /// Every arrow.
    pub edges: Vec<Edge>,
    /// Edge colour per link kind (the profile's `[[kind]]`), shared by every format so a
    /// reader who learned one picture can read the others.
    pub colours: std::collections::BTreeMap<String, String>,
    /// Arrows a summary left out because there were too many to read ([`SUMMARY_ARROWS`]).
    pub omitted_edges: usize,
}

/// A summary with more host-to-host arrows than this draws the hosts alone: past a few
/// hundred the arrows are a solid mesh (every store of an estate is every gateway's CORS
/// origin), and the firewall matrix lists them better.
pub const SUMMARY_ARROWS: usize = 300;

impl Diagram {
    /// The picture of every node, in a box per host, and every link between nodes.
    pub fn from_plan(plan: &Plan) -> Diagram {
        let by_host = nodes_by_host(plan);
        let clusters = plan
            .hosts
            .iter()
            .map(|h| Cluster {
                host: h.name.clone(),
                address: h.address.clone(),
                nodes: by_host
                    .get(h.name.as_str())
                    .into_iter()
                    .flatten()
                    .map(|n| node_box(plan, n))
                    .collect(),
            })
            .collect();
        // One edge per (consumer, provider, kind), gathered in a map: thousands of links.
        // A node that provides a reference to itself needs no arrow: nothing crosses a wire.
        let mut grouped: Grouped<SharedStr> = Default::default();
        for l in plan.all_links().filter(|l| l.from != l.to) {
            gather(
                &mut grouped,
                (l.from.clone(), l.to.clone(), l.kind.clone()),
                l.port,
            );
        }
        // Between nodes, an edge is one arrow however many references it carries.
        let edges = edges_of(grouped, false);
        Diagram {
            title: plan.deployment.clone(),
            clusters,
            edges,
            colours: colours(plan),
            omitted_edges: 0,
        }
    }

    /// The edges [`Diagram::from_plan`] draws at `node`, to it and from it, without drawing
    /// the rest: what `explain` shows of one node of an estate.
    pub fn edges_at(plan: &Plan, node: &str) -> Vec<Edge> {
        let mut grouped: Grouped<SharedStr> = Default::default();
        let mut add = |l: &topoplan_solver::LinkPlan| {
            gather(
                &mut grouped,
                (l.from.clone(), l.to.clone(), l.kind.clone()),
                l.port,
            );
        };
        for l in plan.links_of(node).iter().filter(|l| l.to != node) {
            add(l);
        }
        for l in plan.links.iter().filter(|l| l.to == node && l.from != node) {
            add(l);
        }
        for list in &plan.lists {
            let Some(e) = list.entries.iter().find(|e| e.to == node) else {
                continue;
            };
            for r in list.readers.iter().filter(|r| r.node != node) {
                add(&list.link(&r.node, e));
            }
        }
        edges_of(grouped, false)
    }

    /// The picture of a large plan: one box per host (its node count per role) and one edge
    /// per (source host, destination host, link kind), with its ports and how many node
    /// links it stands for. Same-host links stay in the tables. Per-node detail is in the
    /// plan's tables; this shows the shape of the estate.
    pub fn summary(plan: &Plan) -> Diagram {
        let host_of: std::collections::HashMap<&str, &str> = plan
            .nodes
            .iter()
            .map(|n| (n.name.as_str(), n.host.as_str()))
            .collect();
        let roles = role_counts(plan);
        // Every host box in one group: each box is already a host, and one group lets the
        // layout stand them in columns (a grid) instead of a row of one-box clusters.
        let boxes = plan
            .hosts
            .iter()
            .map(|h| {
                let text = roles.get(h.name.as_str()).cloned().unwrap_or_default();
                NodeBox {
                    name: h.name.clone(),
                    roles: Vec::new(),
                    offset: 0,
                    pinned: false,
                    ports: Vec::new(),
                    summary: Some(format!(
                        "{} · {} node(s)\n{}",
                        h.address,
                        h.nodes.len(),
                        wrap(&text, 30)
                    )),
                }
            })
            .collect();
        let clusters = vec![Cluster {
            host: plan.deployment.clone(),
            address: format!("{} hosts", plan.hosts.len()),
            nodes: boxes,
        }];
        let mut grouped: Grouped<&str> = Default::default();
        for l in plan.all_links() {
            let (Some(&a), Some(&b)) = (host_of.get(l.from.as_str()), host_of.get(l.to.as_str()))
            else {
                continue;
            };
            if a == b {
                continue;
            }
            let Some(kind) = plan.kinds.iter().find(|k| k.name == l.kind.as_str()) else {
                continue;
            };
            gather(&mut grouped, (a, b, kind.name.as_str()), l.port);
        }
        let mut edges = edges_of(grouped, true);
        let omitted_edges = if edges.len() > SUMMARY_ARROWS {
            std::mem::take(&mut edges).len()
        } else {
            0
        };
        Diagram {
            title: format!("{} (summary)", plan.deployment),
            clusters,
            edges,
            colours: colours(plan),
            omitted_edges,
        }
    }

    /// The colour of a link kind's edges.
    pub fn colour(&self, kind: &str) -> &str {
        self.colours
            .get(kind)
            .map_or(DEFAULT_COLOUR, String::as_str)
    }

    /// Graphviz DOT: `dot -Tsvg` draws it with real clusters.
    pub fn dot(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "digraph {} {{", dot_id(&self.title));
        let _ = writeln!(
            s,
            "  graph [rankdir=LR, fontname=\"Helvetica\", fontsize=12, nodesep=0.4, ranksep=1.2, label={}, labelloc=t];",
            dot_id(&format!("deployment {}", self.title))
        );
        let _ = writeln!(
            s,
            "  node [shape=box, style=\"rounded,filled\", fillcolor=\"#f8fafc\", color=\"#94a3b8\", fontname=\"Helvetica\", fontsize=11];"
        );
        let _ = writeln!(s, "  edge [fontname=\"Helvetica\", fontsize=10];");
        for (i, c) in self.clusters.iter().enumerate() {
            let _ = writeln!(s, "  subgraph cluster_{i} {{");
            let _ = writeln!(
                s,
                "    label={}; style=\"rounded,filled\"; fillcolor=\"#f1f5f9\"; color=\"#cbd5e1\";",
                dot_id(&format!("{} ({})", c.host, c.address))
            );
            for n in &c.nodes {
                let _ = writeln!(
                    s,
                    "    {} [label={}];",
                    dot_id(&n.name),
                    dot_id(&n.lines().join("\n"))
                );
            }
            let _ = writeln!(s, "  }}");
        }
        for e in &self.edges {
            let colour = self.colour(&e.kind);
            let _ = writeln!(
                s,
                "  {} -> {} [label={}, color=\"{colour}\", fontcolor=\"{colour}\"];",
                dot_id(&e.from),
                dot_id(&e.to),
                dot_id(&e.label())
            );
        }
        s.push_str("}\n");
        s
    }

    /// Mermaid `flowchart`, one `subgraph` per host; GitHub renders it in Markdown.
    pub fn mermaid(&self) -> String {
        let ids = self.mermaid_ids();
        let mut s = String::from("flowchart LR\n");
        for (i, c) in self.clusters.iter().enumerate() {
            let _ = writeln!(
                s,
                "  subgraph h{i}[\"{}\"]",
                mermaid_text(&format!("{} · {}", c.host, c.address))
            );
            // Hosts left to right, a host's nodes stacked: compact, and the traffic between
            // hosts reads left to right as in a network diagram.
            s.push_str("    direction TB\n");
            for n in &c.nodes {
                let text: Vec<String> = n.lines().iter().map(|l| mermaid_text(l)).collect();
                let _ = writeln!(s, "    {}[\"{}\"]", ids(&n.name), text.join("<br/>"));
            }
            let _ = writeln!(s, "  end");
        }
        for e in &self.edges {
            let _ = writeln!(
                s,
                "  {} -- \"{}\" --> {}",
                ids(&e.from),
                mermaid_text(&e.label()),
                ids(&e.to)
            );
        }
        for (i, e) in self.edges.iter().enumerate() {
            let colour = self.colour(&e.kind);
            let _ = writeln!(s, "  linkStyle {i} stroke:{colour},color:{colour}");
        }
        s
    }

    /// Mermaid identifiers: `n<k>` by position, since node names may hold `.` and `-`,
    /// which Mermaid reads as syntax.
    fn mermaid_ids(&self) -> impl Fn(&str) -> String + '_ {
        let at: std::collections::HashMap<&str, usize> = self
            .clusters
            .iter()
            .flat_map(|c| c.nodes.iter())
            .enumerate()
            .map(|(k, n)| (n.name.as_str(), k))
            .collect();
        move |name: &str| format!("n{}", at.get(name).copied().unwrap_or(usize::MAX))
    }

    /// A standalone SVG, laid out and drawn in-process (no Graphviz, no browser) by a layout
    /// written for this picture ([`svg`] module docs): milliseconds, and the same bytes for
    /// the same plan on every machine.
    pub fn svg(&self) -> String {
        svg::draw(self)
    }
}

/// Per host, its nodes counted per role (`2 gateway, 1 key-manager`), for summaries.
pub fn role_counts(plan: &Plan) -> std::collections::BTreeMap<&str, String> {
    let mut counts: std::collections::BTreeMap<&str, std::collections::BTreeMap<&str, usize>> =
        Default::default();
    for n in &plan.nodes {
        let c = counts.entry(n.host.as_str()).or_default();
        for r in &n.roles {
            *c.entry(r.as_str()).or_default() += 1;
        }
    }
    counts
        .into_iter()
        .map(|(h, c)| {
            let text: Vec<String> = c.iter().map(|(r, k)| format!("{k} {r}")).collect();
            (h, text.join(", "))
        })
        .collect()
}

/// `a, b, c` broken after a comma wherever a line would pass `width` characters.
fn wrap(list: &str, width: usize) -> String {
    let mut out = String::new();
    let mut line = 0;
    for (k, item) in list.split(", ").enumerate() {
        if k > 0 {
            if line + 2 + item.chars().count() > width {
                out.push_str(",\n");
                line = 0;
            } else {
                out.push_str(", ");
                line += 2;
            }
        }
        out.push_str(item);
        line += item.chars().count();
    }
    out
}

/// Links gathered per (from, to, kind): their distinct ports and how many there are.
/// Links gathered per (from, to, kind): their ports and how many there are.
type Grouped<K> = std::collections::BTreeMap<(K, K, K), (Vec<u32>, usize)>;

/// One link into its group: its port once, and the count of links the group stands for.
fn gather<K: Ord>(grouped: &mut Grouped<K>, key: (K, K, K), port: u32) {
    let e = grouped.entry(key).or_default();
    if !e.0.contains(&port) {
        e.0.push(port);
    }
    e.1 += 1;
}

/// The edges of gathered links, ports ascending; `counted` keeps how many links each stands
/// for (the summary's host-to-host arrows), else each is one.
fn edges_of<K: std::fmt::Display + Ord>(grouped: Grouped<K>, counted: bool) -> Vec<Edge> {
    grouped
        .into_iter()
        .map(|((from, to, kind), (mut ports, count))| {
            ports.sort_unstable();
            Edge {
                from: from.to_string(),
                to: to.to_string(),
                kind: kind.to_string(),
                ports,
                count: if counted { count } else { 1 },
            }
        })
        .collect()
}

/// Edge colour per link kind, from the plan's (the profile's) kinds.
fn colours(plan: &Plan) -> std::collections::BTreeMap<String, String> {
    plan.kinds
        .iter()
        .map(|k| (k.name.clone(), k.colour.clone()))
        .collect()
}

fn node_box(plan: &Plan, n: &NodePlan) -> NodeBox {
    NodeBox {
        name: n.name.to_string(),
        roles: n.roles.clone(),
        offset: n.offset,
        pinned: n.pinned,
        ports: plan
            .columns
            .iter()
            .filter_map(|c| Some((c.title.clone(), n.port(&c.port)?)))
            .collect(),
        summary: None,
    }
}

/// A DOT double-quoted string: `"` and `\` escaped, newlines as DOT's centred `\n`.
fn dot_id(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Text inside a Mermaid `"..."` label: quotes and angle brackets as Mermaid entity codes.
fn mermaid_text(s: &str) -> String {
    s.replace('"', "#quot;")
        .replace('<', "#lt;")
        .replace('>', "#gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Diagram {
        let node = |name: &str, roles: &[&str], offset| NodeBox {
            name: name.into(),
            roles: roles.iter().map(|r| r.to_string()).collect(),
            offset,
            pinned: false,
            ports: vec![
                ("https".to_string(), 9443 + offset),
                ("pt-ssl".to_string(), 8243 + offset),
            ],
            summary: None,
        };
        Diagram {
            title: "say \"hi\"".into(),
            clusters: vec![
                Cluster {
                    host: "dmz".into(),
                    address: "10.0.0.1".into(),
                    nodes: vec![node("gw.1", &["gateway"], 0)],
                },
                Cluster {
                    host: "core".into(),
                    address: "[fd00::2]".into(),
                    nodes: vec![node("km-1", &["key-manager"], 2)],
                },
            ],
            edges: vec![Edge {
                from: "gw.1".into(),
                to: "km-1".into(),
                kind: "oauth".into(),
                ports: vec![9445],
                count: 1,
            }],
            colours: [("oauth".to_string(), "#c2410c".to_string())].into(),
            omitted_edges: 0,
        }
    }

    #[test]
    fn dot_quotes_every_identifier_and_escapes_quotes() {
        let dot = sample().dot();
        assert!(dot.starts_with("digraph \"say \\\"hi\\\"\" {"), "{dot}");
        assert!(dot.contains("subgraph cluster_0 {"));
        assert!(dot.contains("label=\"core ([fd00::2])\""));
        assert!(dot.contains("\"gw.1\" -> \"km-1\" [label=\"oauth 9445\""));
        assert!(
            dot.contains(
                "\"km-1\" [label=\"km-1\\nkey-manager\\noffset 2\\nhttps 9445\\npt-ssl 8245\"]"
            ),
            "{dot}"
        );
    }

    #[test]
    fn mermaid_uses_positional_ids_and_escapes_labels() {
        let mut d = sample();
        d.clusters[0].address = "a\"<b>".into();
        let m = d.mermaid();
        assert!(m.starts_with("flowchart LR\n"));
        assert!(m.contains("subgraph h0[\"dmz · a#quot;#lt;b#gt;\"]"), "{m}");
        assert!(m.contains("    n0[\"gw.1<br/>gateway<br/>offset 0"), "{m}");
        assert!(m.contains("  n0 -- \"oauth 9445\" --> n1\n"), "{m}");
        assert!(m.contains("linkStyle 0 stroke:#c2410c"), "{m}");
    }

    #[test]
    fn svg_is_well_formed_and_names_every_node() {
        let svg = sample().svg();
        let doc = roxmltree::Document::parse(&svg).unwrap();
        let text: Vec<&str> = doc.descendants().filter_map(|n| n.text()).collect();
        for want in ["gw.1", "km-1", "oauth 9445", "dmz · 10.0.0.1"] {
            assert!(text.contains(&want), "{want} missing from {text:?}");
        }
        assert_eq!(svg, sample().svg(), "same diagram, same bytes");
    }

    /// A plan of `hosts` hosts: a key manager on the first, a gateway on each other, each
    /// gateway linked to that key manager (several link kinds cross every host pair).
    fn hub_plan(hosts: usize) -> Plan {
        let profile = topoplan_model::Profile::parse(include_str!(
            "../../../templates/appm-1.1.0/profile.toml"
        ))
        .unwrap();
        let mut t = String::from("[deployment]\nname = \"hub\"\nproduct = \"appm-1.1.0\"\n");
        for h in 0..hosts {
            let role = if h == 0 { "key-manager" } else { "gateway" };
            t += &format!(
                "[[host]]\nname = \"h{h}\"\naddress = \"10.2.0.{}\"\n[[node]]\nname = \"n{h}\"\nroles = [\"{role}\"]\nhost = \"h{h}\"\n",
                h + 1
            );
        }
        let profiles = [("appm-1.1.0".to_string(), profile.clone())].into();
        let topo = topoplan_model::parse(&t, &profiles).unwrap();
        topoplan_solver::solve(&topo, &profile).unwrap()
    }

    #[test]
    fn a_summary_draws_its_arrows_until_they_are_too_many_to_read() {
        let few = Diagram::summary(&hub_plan(12));
        assert!(!few.edges.is_empty() && few.omitted_edges == 0);
        // Every arrow is between two hosts and counts its links.
        assert!(few.edges.iter().all(|e| e.from != e.to && e.count >= 1));
        let svg = few.svg();
        assert!(svg.contains("class=\"edge\""));
        let many = Diagram::summary(&hub_plan(120));
        assert!(
            many.omitted_edges > SUMMARY_ARROWS,
            "{}",
            many.omitted_edges
        );
        assert!(many.edges.is_empty());
        // The hosts are still drawn, every one.
        let svg = many.svg();
        assert!(!svg.contains("class=\"edge\""));
        assert_eq!(svg.matches("class=\"node\"").count(), 120);
    }

    #[test]
    fn summary_lists_wrap_after_a_comma() {
        assert_eq!(
            wrap("2 gateway, 1 key-manager, 1 publisher, 1 store", 30),
            "2 gateway, 1 key-manager,\n1 publisher, 1 store"
        );
        assert_eq!(wrap("1 store", 3), "1 store");
    }

    #[test]
    fn pinned_offsets_and_column_ports_show_in_the_box() {
        let mut n = sample().clusters[1].nodes[0].clone();
        n.pinned = true;
        n.ports.push(("srv".into(), 10397));
        let lines = n.lines();
        assert!(lines.contains(&"offset 2 (pinned)".to_string()));
        assert_eq!(lines.last().unwrap(), "srv 10397");
    }
}
