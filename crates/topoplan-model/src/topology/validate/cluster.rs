//! `[[cluster]]` tables: members that exist and are in no other cluster, roles of one cluster
//! group (profile data), a manager exactly where the roles have one, and a front end that is
//! an address without a port, with the load balancer's ports.

use super::super::{Cluster, ClusterWire, FrontEnd, Host, Node};
use super::{
    address_diagnostic, is_safe_name, name_diagnostic, unknown_node, HostIndex, Validator,
};
use crate::address::parse_address;
use crate::diag::{Code, Diagnostic, Span};
use crate::profile::Profile;
use std::collections::{BTreeMap, HashMap};
use toml::Spanned;

/// The load balancer's ports when a cluster gives none.
pub const DEFAULT_HTTP_PORT: u32 = 80;
pub const DEFAULT_HTTPS_PORT: u32 = 443;

impl Validator<'_> {
    /// Every `[[cluster]]`, each node in one at most; sets [`Node::cluster`].
    pub(super) fn clusters(
        &mut self,
        wire: &[Spanned<ClusterWire>],
        nodes: &mut [Node],
        names: &BTreeMap<String, Span>,
        hosts: &HostIndex,
    ) -> Vec<Cluster> {
        let position: HashMap<String, usize> = nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (n.name.clone(), i))
            .collect();
        let mut out: Vec<Cluster> = Vec::new();
        let mut seen: BTreeMap<String, Span> = BTreeMap::new();
        let mut member_of: HashMap<usize, Span> = HashMap::new();
        for c in wire {
            let cw = c.get_ref();
            let name = cw.name.get_ref().clone();
            if !is_safe_name(&name) {
                self.diags
                    .push(name_diagnostic("cluster", &name, cw.name.span()));
            }
            if let Some(first) = seen.get(&name) {
                self.diags
                    .push(duplicate_cluster(&name, cw.name.span(), first.clone()));
                continue;
            }
            seen.insert(name.clone(), cw.name.span());
            let members = self.members(cw, &position, names, &mut member_of);
            let manager = self.manager(cw, &members, nodes, &position);
            let frontend = self.frontend(cw, hosts);
            if let Some(p) = self.profile {
                if let Some(d) = mixed_roles(p, cw, &members, nodes) {
                    self.diags.push(d);
                }
            }
            let index = out.len();
            for &m in &members {
                nodes[m].cluster = Some(index);
            }
            out.push(Cluster {
                name,
                nodes: members,
                manager: manager.flatten(),
                frontend,
                span: c.span(),
            });
        }
        out
    }

    /// The members, known and each in this cluster only.
    fn members(
        &mut self,
        cw: &ClusterWire,
        position: &HashMap<String, usize>,
        names: &BTreeMap<String, Span>,
        member_of: &mut HashMap<usize, Span>,
    ) -> Vec<usize> {
        if cw.nodes.get_ref().is_empty() {
            self.diags.push(
                Diagnostic::new(Code::InvalidValue, "a cluster without members")
                    .at(cw.nodes.span(), "name the nodes of this cluster"),
            );
        }
        let mut members = Vec::new();
        for n in cw.nodes.get_ref() {
            let Some(&i) = position.get(n.get_ref()) else {
                if !names.contains_key(n.get_ref()) {
                    self.diags.push(unknown_node("cluster", n, names));
                }
                continue;
            };
            if let Some(first) = member_of.get(&i) {
                self.diags
                    .push(clustered_twice(n.get_ref(), n.span(), first.clone()));
                continue;
            }
            member_of.insert(i, n.span());
            members.push(i);
        }
        members
    }

    /// `Some(manager)` when the members' roles have one and it is a member; `None` on error.
    fn manager(
        &mut self,
        cw: &ClusterWire,
        members: &[usize],
        nodes: &[Node],
        position: &HashMap<String, usize>,
    ) -> Option<Option<usize>> {
        let p = self.profile?;
        if members.is_empty() {
            // Its members were refused already: nothing to judge a manager by.
            return Some(None);
        }
        let needs: Option<&str> = members
            .iter()
            .flat_map(|&m| &nodes[m].roles)
            .find(|r| p.role(r).is_some_and(|d| d.manager.is_some()))
            .map(String::as_str);
        match (&cw.manager, needs) {
            (None, None) => Some(None),
            (None, Some(role)) => {
                self.diags
                    .push(missing_manager(p, cw, role, members, nodes));
                None
            }
            (Some(m), None) => {
                self.diags.push(needless_manager(m));
                None
            }
            (Some(m), Some(_)) => match position.get(m.get_ref()) {
                Some(i) if members.contains(i) => Some(Some(*i)),
                _ => {
                    self.diags.push(manager_not_member(m, cw.nodes.span()));
                    None
                }
            },
        }
    }

    /// The front end: an address without a port, an optional load-balancer host, the ports.
    fn frontend(&mut self, cw: &ClusterWire, hosts: &HostIndex) -> Option<FrontEnd> {
        let http = self.lb_port(&cw.http_port, DEFAULT_HTTP_PORT);
        let https = self.lb_port(&cw.https_port, DEFAULT_HTTPS_PORT);
        let lb_host = cw
            .lb_host
            .as_ref()
            .and_then(|h| match hosts.get(h.get_ref()) {
                Some((i, _)) => Some(*i),
                None => {
                    self.diags.push(unknown_lb_host(h, hosts));
                    None
                }
            });
        let Some(f) = &cw.frontend else {
            if let Some(extra) = [
                cw.lb_host.as_ref().map(|s| s.span()),
                cw.http_port.as_ref().map(|s| s.span()),
                cw.https_port.as_ref().map(|s| s.span()),
            ]
            .into_iter()
            .flatten()
            .next()
            {
                self.diags.push(no_frontend(extra));
            }
            return None;
        };
        match parse_address(f.get_ref()) {
            Ok(address) => Some(FrontEnd {
                address,
                lb_host,
                http_port: http?,
                https_port: https?,
            }),
            Err(e) => {
                self.diags
                    .push(address_diagnostic(f.get_ref(), &e, f.span(), false));
                None
            }
        }
    }

    fn lb_port(&mut self, v: &Option<Spanned<i64>>, default: u32) -> Option<u32> {
        let Some(v) = v else { return Some(default) };
        match u32::try_from(*v.get_ref())
            .ok()
            .filter(|p| (1..=65535).contains(p))
        {
            Some(p) => Some(p),
            None => {
                self.diags.push(
                    Diagnostic::new(
                        Code::InvalidPort,
                        format!("load-balancer port {} is not a TCP port", v.get_ref()),
                    )
                    .at(v.span(), "expected 1..=65535"),
                );
                None
            }
        }
    }
}

/// The load balancer listens on its host: its ports are reserved there, so no node takes them.
pub(super) fn place_clusters(clusters: &[Cluster], hosts: &mut [Host]) {
    for c in clusters {
        let Some(f) = &c.frontend else { continue };
        let Some(h) = f.lb_host else { continue };
        let reserved = &mut hosts[h].reserved_ports;
        for port in [f.http_port, f.https_port] {
            if !reserved.iter().any(|(p, _)| *p == port) {
                reserved.push((port, c.span.clone()));
            }
        }
    }
}

// Messages: one function per problem, named after it.

fn duplicate_cluster(name: &str, span: Span, first: Span) -> Diagnostic {
    Diagnostic::new(
        Code::DuplicateCluster,
        format!("duplicate cluster name `{name}`"),
    )
    .at(span, "defined again here")
    .also(first, "first defined here")
}

fn clustered_twice(node: &str, span: Span, first: Span) -> Diagnostic {
    Diagnostic::new(
        Code::ClusteredTwice,
        format!("node `{node}` is in two clusters"),
    )
    .at(span, "listed again here")
    .also(first, "first listed here")
    .note("a node runs one Hazelcast member with one domain: keep it in one `[[cluster]]`")
}

/// Members whose roles belong to different cluster groups, or to none.
fn mixed_roles(
    p: &Profile,
    cw: &ClusterWire,
    members: &[usize],
    nodes: &[Node],
) -> Option<Diagnostic> {
    let mut groups: BTreeMap<Option<&str>, Vec<&str>> = BTreeMap::new();
    for &m in members {
        for r in &nodes[m].roles {
            let g = p.role(r).and_then(|d| d.cluster.as_deref());
            let list = groups.entry(g).or_default();
            if !list.contains(&r.as_str()) {
                list.push(r);
            }
        }
    }
    let lonely = groups.get(&None).cloned();
    if groups.len() <= 1 && lonely.is_none() {
        return None;
    }
    let together: Vec<String> = {
        let mut by_group: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for r in &p.role {
            if let Some(g) = &r.cluster {
                by_group.entry(g).or_default().push(&r.name);
            }
        }
        by_group
            .values()
            .map(|roles| format!("[{}]", roles.join(", ")))
            .collect()
    };
    let what = match lonely {
        Some(roles) => format!("role(s) {} are never clustered", roles.join(", ")),
        None => {
            let sets: Vec<String> = groups.values().map(|r| r.join("+")).collect();
            format!(
                "its roles belong to different clusters: {}",
                sets.join(" and ")
            )
        }
    };
    Some(
        Diagnostic::new(
            Code::ClusterRoles,
            format!("cluster `{}` cannot hold these nodes: {what}", cw.name.get_ref()),
        )
        .at(cw.nodes.span(), "these members")
        .note(format!(
            "one front end and one Hazelcast domain serve one kind of node; roles that may share a cluster: {}",
            together.join(", ")
        )),
    )
}

fn missing_manager(
    p: &Profile,
    cw: &ClusterWire,
    role: &str,
    members: &[usize],
    nodes: &[Node],
) -> Diagnostic {
    let why = p
        .role(role)
        .and_then(|d| d.manager.clone())
        .unwrap_or_default();
    let first = members.first().map_or("…", |&m| nodes[m].name.as_str());
    Diagnostic::new(
        Code::ClusterManager,
        format!(
            "cluster `{}` of `{role}` nodes has no manager",
            cw.name.get_ref()
        ),
    )
    .at(cw.name.span(), "add `manager = \"...\"`")
    .note(why)
    .note(format!(
        "name the member that takes admin calls, e.g. `manager = \"{first}\"`"
    ))
}

fn needless_manager(m: &Spanned<String>) -> Diagnostic {
    Diagnostic::new(
        Code::ClusterManager,
        "this cluster's roles have no manager",
    )
    .at(m.span(), "remove `manager`")
    .note("every member of such a cluster is alike; only roles whose profile has a manager take one")
}

fn manager_not_member(m: &Spanned<String>, nodes: Span) -> Diagnostic {
    Diagnostic::new(
        Code::ClusterManager,
        format!("manager `{}` is not a member of the cluster", m.get_ref()),
    )
    .at(m.span(), "not in `nodes`")
    .also(nodes, "the members")
}

fn unknown_lb_host(h: &Spanned<String>, hosts: &HostIndex) -> Diagnostic {
    let mut d = Diagnostic::new(
        Code::UnknownHost,
        format!(
            "load-balancer host `{}` is not a host of the topology",
            h.get_ref()
        ),
    )
    .at(h.span(), "no `[[host]]` has this name");
    if let Some(hint) = super::did_you_mean(h.get_ref(), hosts.keys().map(String::as_str)) {
        d = d.note(hint);
    }
    d.note("leave `lb_host` out when the load balancer runs outside the topology")
}

fn no_frontend(span: Span) -> Diagnostic {
    Diagnostic::new(
        Code::InvalidValue,
        "load-balancer settings without a `frontend`",
    )
    .at(span, "this needs a front end")
    .note("add `frontend = \"apps.example.com\"` (the load-balanced address), or remove the load-balancer keys")
}
