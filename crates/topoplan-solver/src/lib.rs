#![warn(missing_docs, clippy::print_stdout, clippy::print_stderr)]
//! topoplan-solver: from a validated topology to a [`Plan`].
//!
//! Three steps, in this order because each needs the one before:
//! 1. **wiring**: a petgraph graph with one vertex per node and one edge per profile reference
//!    a node consumes (consumer -> provider). Providers are chosen by rule: the node itself if it
//!    has the role, else an explicit `[[link]]`, else the only candidate; a reader the profile
//!    marks `required_for` that cannot pick a provider is an error, other ambiguous picks prefer
//!    the same host and warn.
//! 2. **offsets**: per host, the smallest span with pins kept ([`offsets`]); ports that listen
//!    without following the offset are kept out of the way, and collide if two nodes open one.
//! 3. **per-node ports** (`rule = "per-node"` in the profile, e.g. a Thrift server the offset
//!    never moves): each node that opens one gets a value free on its host, and every reference
//!    to it carries the provider's value. A cluster member port (Hazelcast's, `clustered` in
//!    the profile) is one of these, opened by `[[cluster]]` members only.
//!
//! Clusters shape the wiring too: candidates of one cluster are one provider, a list names a
//! cluster once (by its manager, or through its front end), and a value a browser follows
//! (`front`) to a fronted cluster is the front end's address and port.
//!
//! The engine names no product, role or link kind: all of that is the profile's.
//!
//! Everything is sorted so that identical input gives byte-identical plans.

mod assemble;
mod clusters;
mod hosts;
mod lock;
pub mod offsets;
pub mod plan;
mod reasons;
mod warnings;
mod wiring;

pub use plan::{
    port_set, ClusterPlan, Column, DatabasePlan, FrontEndPlan, HostPlan, LinkPlan, ListEntry,
    ListPlan, ListReader, ManualStep, ManualValue, MemberPlan, NodePlan, Plan, PlanChange,
    PortPlan, SharedDatasource, SharedStr, Warning,
};

use assemble::*;
use hosts::*;
pub use lock::lock_of;
use lock::*;
use petgraph::graph::DiGraph;
use std::collections::BTreeMap;
use topoplan_model::{Diagnostic, Lock, Profile, Topology};
use wiring::*;

/// One dependency: `consumer` holds `reference` pointing at `provider`.
#[derive(Debug, Clone)]
pub struct Dependency {
    /// Index of the reference in the profile's `reference` list.
    pub reference: usize,
    /// How the provider was chosen.
    pub why: String,
}

/// The dependency graph: vertices are indices into `Topology::nodes`.
pub type DependencyGraph = DiGraph<usize, Dependency>;

/// Solves a topology against its profile.
pub fn solve(topo: &Topology, profile: &Profile) -> Result<Plan, Vec<Diagnostic>> {
    solve_locked(topo, profile, None)
}

/// Solves a topology, keeping what `lock` assigned wherever that is still possible, and
/// records in the plan what changed against the lock (and why a locked value moved).
pub fn solve_locked(
    topo: &Topology,
    profile: &Profile,
    lock: Option<&Lock>,
) -> Result<Plan, Vec<Diagnostic>> {
    let mut warnings = Vec::new();
    let (wired, mut diags) = wire_locked(topo, profile, lock, &mut warnings);
    let mut moved: BTreeMap<String, String> = BTreeMap::new();
    let locked = locked_offsets(topo, lock);
    let offsets = match assign_offsets(topo, profile, &locked, &mut moved) {
        Ok(o) => Some(o),
        Err(d) => {
            diags.extend(d);
            None
        }
    };
    if !diags.is_empty() {
        diags.sort_by_key(Diagnostic::position);
        return Err(diags);
    }
    let (offsets, host_info) = offsets.expect("no diagnostics means offsets were found");
    let per_node = assign_per_node(topo, profile, &offsets, &host_info, lock, &mut moved)?;
    let mut plan = build_plan(
        topo, profile, &wired, &offsets, &host_info, &per_node, warnings,
    );
    if let Some(lock) = lock {
        let index: std::collections::HashMap<&str, usize> = topo
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (n.name.as_str(), i))
            .collect();
        for n in plan.nodes.iter_mut() {
            if let Some(why) = moved.get(n.name.as_str()) {
                n.offset_reason = format!("{} (moved from the lock: {why})", n.offset_reason);
            } else if index
                .get(n.name.as_str())
                .is_some_and(|&i| locked[i].is_some())
            {
                n.offset_reason = format!("kept from the lock ({})", n.offset);
            }
        }
        plan.changes = Some(changes(lock, &plan, &moved));
    }
    Ok(plan)
}

/// Nodes grouped by host name, each group by offset then name; used by printers.
pub fn nodes_by_host(plan: &Plan) -> BTreeMap<&str, Vec<&NodePlan>> {
    let mut m: BTreeMap<&str, Vec<&NodePlan>> = BTreeMap::new();
    for n in &plan.nodes {
        m.entry(n.host.as_str()).or_default().push(n);
    }
    for v in m.values_mut() {
        v.sort_by(|a, b| (a.offset, &a.name).cmp(&(b.offset, &b.name)));
    }
    m
}
