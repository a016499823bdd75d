//! Steps 2 and 3, per host: offsets (the smallest span with pins and locked values kept, fixed ports out of
//! the way) and per-node ports (a free value per node that opens one).

use crate::offsets::HostProblem;
use std::collections::{BTreeMap, BTreeSet};
use topoplan_model::Code;
use topoplan_model::{Diagnostic, Lock, PortDef, PortRule, Profile, Topology};

/// Per-host solution facts kept for the plan.
#[derive(Debug, Clone)]
pub(crate) struct HostInfo {
    /// The host's nodes (indices into `topo.nodes`), in name order: found once here, read by
    /// the per-node ports and the plan.
    pub(crate) members: Vec<usize>,
    /// The largest offset on the host.
    pub(crate) max_offset: u32,
    pub(crate) minimal: bool,
    pub(crate) lower_bound: u32,
}

pub(crate) fn offset_bases(profile: &Profile, mode: &str) -> Vec<u32> {
    let mut b: Vec<u32> = profile.offset_ports(mode).map(|p| p.base).collect();
    b.sort_unstable();
    b.dedup();
    b
}

/// Ports a node opens at their base whatever its offset (`rule = "every"`, not following the
/// offset).
pub(crate) fn fixed_ports<'p>(
    profile: &'p Profile,
    mode: &'p str,
    node: &'p topoplan_model::Node,
) -> impl Iterator<Item = &'p PortDef> + 'p {
    profile
        .opens(mode, &node.roles, node.cluster.is_some())
        .filter(|p| p.rule == PortRule::Every && !p.follows_offset)
}

/// Per host, the fixed ports its nodes open. Two nodes opening one is an error: nothing can
/// move it. The rest are kept out of the offset search's way like reserved ports.
pub(crate) fn host_fixed_ports(
    topo: &Topology,
    profile: &Profile,
    members: &[usize],
    diags: &mut Vec<Diagnostic>,
) -> BTreeSet<u32> {
    let mut by_port: BTreeMap<u32, Vec<(usize, &PortDef)>> = BTreeMap::new();
    for &i in members {
        for p in fixed_ports(profile, &topo.mode, &topo.nodes[i]) {
            by_port.entry(p.base).or_default().push((i, p));
        }
    }
    for (port, users) in &by_port {
        if users.len() < 2 {
            continue;
        }
        let (first, def) = users[0];
        let host = &topo.hosts[topo.nodes[first].host];
        let mut d = Diagnostic::new(
            Code::FixedPortCollision,
            format!(
                "{} nodes on host `{}` listen on port {port} ({}), which the offset does not move",
                users.len(),
                host.name,
                def.name
            ),
        )
        .at(topo.nodes[first].name_span.clone(), format!("opens {port}"));
        for &(i, _) in &users[1..] {
            d = d.also(
                topo.nodes[i].name_span.clone(),
                format!("also opens {port}"),
            );
        }
        diags.push(d.note(format!(
            "{} ({}) is the same on every node; put these nodes on different hosts",
            def.file, def.element
        )));
    }
    by_port.into_keys().collect()
}

pub(crate) fn assign_offsets(
    topo: &Topology,
    profile: &Profile,
    locked: &[Option<u32>],
    moved: &mut BTreeMap<String, String>,
) -> Result<(Vec<u32>, Vec<HostInfo>), Vec<Diagnostic>> {
    let bases = offset_bases(profile, &topo.mode);
    let range = (profile.product.port_range[0], profile.product.port_range[1]);
    let by_host = host_members(topo);
    let mut offsets = vec![0u32; topo.nodes.len()];
    let mut info = Vec::new();
    let mut diags = Vec::new();
    for (host, members) in topo.hosts.iter().zip(by_host) {
        let members = &members;
        let mut pins: Vec<Option<u32>> = members
            .iter()
            .map(|&i| topo.nodes[i].pin.as_ref().map(|p| p.0))
            .collect();
        let mut reserved: BTreeSet<u32> = host.reserved_ports.iter().map(|r| r.0).collect();
        reserved.extend(host_fixed_ports(topo, profile, members, &mut diags));
        let explicit = pins.clone();
        let check = HostProblem {
            bases: &bases,
            reserved: &reserved,
            range,
            pins: &explicit,
        };
        keep_locks(topo, host, members, locked, &check, &mut pins, moved);
        let problem = HostProblem {
            bases: &bases,
            reserved: &reserved,
            range,
            pins: &pins,
        };
        let solved = problem.solve().or_else(|| {
            // Keeping every lock leaves no room: drop them, say so.
            for (k, &i) in members.iter().enumerate() {
                if pins[k].is_some() && explicit[k].is_none() {
                    moved.insert(
                        topo.nodes[i].name.clone(),
                        "no assignment keeps every locked offset on the host".into(),
                    );
                }
            }
            check.solve()
        });
        match solved {
            Some(sol) => {
                for (k, &i) in members.iter().enumerate() {
                    offsets[i] = sol.offsets[k];
                }
                info.push(HostInfo {
                    members: members.clone(),
                    max_offset: sol.span,
                    minimal: sol.minimal,
                    lower_bound: sol.lower_bound,
                });
            }
            None => {
                diags.push(unsatisfiable_host(topo, host, members, range, &bases));
                info.push(HostInfo {
                    members: members.clone(),
                    max_offset: 0,
                    minimal: false,
                    lower_bound: 0,
                });
            }
        }
    }
    if diags.is_empty() {
        Ok((offsets, info))
    } else {
        Err(diags)
    }
}

/// Locked offsets become pins, in name order, as long as each still fits beside the explicit
/// pins and the locks kept before it; the rest move, with the reason (in `moved`).
fn keep_locks(
    topo: &Topology,
    host: &topoplan_model::Host,
    members: &[usize],
    locked: &[Option<u32>],
    check: &HostProblem,
    pins: &mut [Option<u32>],
    moved: &mut BTreeMap<String, String>,
) {
    for (k, &i) in members.iter().enumerate() {
        let Some(o) = locked[i] else { continue };
        let why = if !check.fits(o) {
            let (lo, hi) = check.bounds();
            Some(
                match check
                    .bases
                    .iter()
                    .find(|b| check.reserved.contains(&(*b + o)))
                {
                    Some(b) => format!("port {} is now reserved on `{}`", b + o, host.name),
                    None => format!("offset {o} is outside {lo}..={hi}"),
                },
            )
        } else {
            members.iter().enumerate().find_map(|(j, &other)| {
                let p = pins[j].filter(|_| j != k)?;
                check.shared_port(o, p).map(|port| {
                    format!(
                        "`{}` now holds offset {p} and port {port}",
                        topo.nodes[other].name
                    )
                })
            })
        };
        match why {
            Some(w) => {
                moved.insert(topo.nodes[i].name.clone(), w);
            }
            None => pins[k] = Some(o),
        }
    }
}

/// `unsatisfiable`: no offsets keep the ports of a host's nodes distinct.
fn unsatisfiable_host(
    topo: &Topology,
    host: &topoplan_model::Host,
    members: &[usize],
    range: (u32, u32),
    bases: &[u32],
) -> Diagnostic {
    let mut d = Diagnostic::new(
        Code::Unsatisfiable,
        format!(
            "no offsets keep the ports of {} nodes on host `{}` distinct within {}..={}",
            members.len(),
            host.name,
            range.0,
            range.1
        ),
    )
    .at(host.span.clone(), "this host");
    // The first few nodes are shown; a list of hundreds would bury the message.
    const SHOWN: usize = 3;
    for &i in members.iter().take(SHOWN) {
        d = d.also(topo.nodes[i].name_span.clone(), "placed on it");
    }
    if members.len() > SHOWN {
        d = d.note(format!(
            "and {} more node(s) placed on this host",
            members.len() - SHOWN
        ));
    }
    d.note(format!(
        "every node listens on {} + its offset; move nodes to another host, drop pins, or free reserved ports",
        bases.iter().map(|b| b.to_string()).collect::<Vec<_>>().join(", ")
    ))
}

/// Per node, the values of its `per-node` ports (only those it opens), by port name.
pub(crate) type PerNode = Vec<BTreeMap<String, u32>>;

/// Gives each node that opens a `per-node` port a value of its own on its host: the locked
/// value while it is still free, else the first free one from the base (+ offset) up.
pub(crate) fn assign_per_node(
    topo: &Topology,
    profile: &Profile,
    offsets: &[u32],
    host_info: &[HostInfo],
    lock: Option<&Lock>,
    moved: &mut BTreeMap<String, String>,
) -> Result<PerNode, Vec<Diagnostic>> {
    let mode = topo.mode.as_str();
    let mut ports: PerNode = vec![BTreeMap::new(); topo.nodes.len()];
    let defs: Vec<&PortDef> = profile
        .port
        .iter()
        .filter(|p| p.listens && p.rule == PortRule::PerNode && p.in_mode(mode))
        .collect();
    if defs.is_empty() {
        return Ok(ports);
    }
    let bases = offset_bases(profile, mode);
    let hi_limit = profile.product.port_range[1];
    for (host, info) in topo.hosts.iter().zip(host_info) {
        let on_host = &info.members;
        let mut used: BTreeSet<u32> = host.reserved_ports.iter().map(|r| r.0).collect();
        for &i in on_host.iter() {
            used.extend(bases.iter().map(|b| b + offsets[i]));
            used.extend(fixed_ports(profile, mode, &topo.nodes[i]).map(|p| p.base));
        }
        for def in &defs {
            let openers: Vec<usize> = on_host
                .iter()
                .copied()
                .filter(|&i| {
                    let n = &topo.nodes[i];
                    def.opened_by(&n.roles, n.cluster.is_some())
                })
                .collect();
            // Locked values first, while still free; readers already point at them.
            let mut rest = Vec::new();
            for i in openers {
                let n = &topo.nodes[i];
                let locked = lock
                    .and_then(|l| l.nodes.get(&n.name))
                    .filter(|l| l.host == host.name)
                    .and_then(|l| l.ports.get(&def.name).copied());
                match locked {
                    Some(p) if !used.contains(&p) && p <= hi_limit => {
                        used.insert(p);
                        ports[i].insert(def.name.clone(), p);
                    }
                    Some(p) => {
                        moved.insert(
                            format!("{}#{}", n.name, def.name),
                            format!("port {p} is now taken on `{}`", host.name),
                        );
                        rest.push(i);
                    }
                    None => rest.push(i),
                }
            }
            for i in rest {
                let from = if def.follows_offset {
                    def.base + offsets[i]
                } else {
                    def.base
                };
                let Some(p) = (from..=hi_limit).find(|p| !used.contains(p)) else {
                    return Err(vec![no_free_port(topo, def, i, &host.name)]);
                };
                used.insert(p);
                ports[i].insert(def.name.clone(), p);
            }
        }
    }
    Ok(ports)
}

/// `unsatisfiable`: no port of the range is free on the host for node `i`'s per-node port.
fn no_free_port(topo: &Topology, def: &PortDef, i: usize, host: &str) -> Diagnostic {
    let node = &topo.nodes[i];
    Diagnostic::new(
        Code::Unsatisfiable,
        format!(
            "no free `{}` port for `{}` on host `{host}`",
            def.name, node.name
        ),
    )
    .at(node.name_span.clone(), "this node opens it")
}

/// Nodes per host (indices into `topo.nodes`), each list in name order: built once, so no
/// step scans every node for every host.
pub(crate) fn host_members(topo: &Topology) -> Vec<Vec<usize>> {
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); topo.hosts.len()];
    for (i, n) in topo.nodes.iter().enumerate() {
        members[n.host].push(i);
    }
    for m in &mut members {
        m.sort_by(|&a, &b| topo.nodes[a].name.cmp(&topo.nodes[b].name));
    }
    members
}
