//! A node bundle's `README.md` (Markdown, beside the review's): what an operator on the node's
//! host reads first.

use std::io::{self, Write};
use topoplan_solver::{NodePlan, Plan};

/// Longest shared list a node README shows entry by entry.
const README_LIST_UP_TO: usize = 8;

/// A node bundle's `README.md`: the node, how to apply, the files it changes, its ports, its
/// cluster and shared databases, manual steps, and every value it holds.
pub fn node_readme(plan: &Plan, node: &NodePlan, files: &[&str], start_script: bool) -> String {
    crate::to_string(|w| write_node_readme(plan, node, files, start_script, w))
}

/// [`node_readme`], written to `w`.
pub fn write_node_readme(
    plan: &Plan,
    node: &NodePlan,
    files: &[&str],
    start_script: bool,
    w: &mut dyn Write,
) -> io::Result<()> {
    write!(
        w,
        "# Node `{}` of `{}`\n\nRoles: {}. Host: `{}` ({}). Port offset: **{}** ({}).\n\n",
        node.name,
        plan.deployment,
        node.roles.join(", "),
        node.host,
        node.address,
        node.offset,
        node.offset_reason
    )?;
    w.write_all("## On the host\n\n```sh\n".as_bytes())?;
    w.write_all("topoplan apply . --home /path/to/product/home --dry-run   # review the change\n\
topoplan apply . --home /path/to/product/home             # originals go to <home>/.topoplan/backup/\n".as_bytes())?;
    if start_script {
        writeln!(w, "./bin/start.sh                                           # starts {} with offset {} (see its header)",
            plan.product, node.offset)?;
    }
    w.write_all("```\n\n".as_bytes())?;
    w.write_all("## Files changed\n\n".as_bytes())?;
    for f in files {
        writeln!(w, "- `{f}`")?;
    }
    w.write_all(
        "\n## Listening ports\n\n| port | name | base | follows offset |\n|---|---|---|---|\n"
            .as_bytes(),
    )?;
    for p in &node.ports {
        writeln!(
            w,
            "| {} | {} | {} | {} |",
            p.effective,
            p.name,
            p.base,
            if p.follows_offset { "yes" } else { "no" }
        )?;
    }
    readme_cluster(w, plan, node)?;
    readme_databases(w, plan, node)?;
    let manual: Vec<_> = plan.manual_for(&node.name).collect();
    if !manual.is_empty() {
        w.write_all("\n## Manual steps\n\nSites topoplan does not rewrite on this node, and the value each should take.\n\n".as_bytes())?;
        for m in manual {
            w.write_all(crate::markdown::manual_step(m, Some(&node.name)).as_bytes())?;
            writeln!(w)?;
        }
    }
    readme_uses(w, plan, node)
}

/// The node's cluster: its part in it, its member port, the members, the front end.
/// The README's "Uses" table: every value the node holds, a long shared list in one row
/// (node.json lists every entry).
fn readme_uses(w: &mut dyn Write, plan: &Plan, node: &NodePlan) -> io::Result<()> {
    let (mut uses, lists) = plan.held_by(&node.name, |l| l.entries.len() > README_LIST_UP_TO);
    uses.retain(|l| l.to != node.name);
    if !uses.is_empty() || !lists.is_empty() {
        w.write_all("\n## Uses\n\n| reference | node | port |\n|---|---|---|\n".as_bytes())?;
        for (l, r) in lists {
            let first: Vec<String> = l
                .ordered(r)
                .take(3)
                .map(|e| format!("`{}`", e.to))
                .collect();
            let ports = l.ports();
            writeln!(
                w,
                "| {} ({}) | {} nodes: {}, … (node.json lists them all) | {ports} |",
                l.reference,
                l.kind,
                l.entries.len(),
                first.join(", ")
            )?;
        }
        for l in uses {
            writeln!(
                w,
                "| {} ({}) | `{}` | {} |",
                l.reference,
                l.kind,
                l.via.as_ref().map_or(l.to.to_string(), |c| format!(
                    "{} (through the front end of cluster `{c}`)",
                    l.to
                )),
                l.port
            )?;
        }
    }
    Ok(())
}

fn readme_cluster(w: &mut dyn Write, plan: &Plan, node: &NodePlan) -> io::Result<()> {
    let Some(c) = plan.cluster_of(node) else {
        return Ok(());
    };
    let Some(me) = c.members.iter().find(|m| m.node == node.name.as_str()) else {
        return Ok(());
    };
    let part = if c.manager.as_deref() == Some(node.name.as_str()) {
        "its manager: publishes go here".to_string()
    } else if me.worker {
        format!(
            "a worker: it starts with `{}`, mounts the shared registry read-only and refuses admin calls",
            plan.worker_options.join(" ")
        )
    } else {
        "a member".to_string()
    };
    writeln!(w, "\n## Cluster `{}`\n\nThis node is {part}. Hazelcast domain `{}`, member port {} (not offset).",
        c.name,
        c.domain,
        me.member_port.map_or("-".into(), |p| p.to_string()))?;
    // A README of one member of a large cluster does not list every other one.
    const SHOWN: usize = 8;
    let mut others: Vec<String> = c
        .members
        .iter()
        .take(SHOWN)
        .map(|m| {
            format!(
                "`{}` ({}:{})",
                m.node,
                m.address,
                m.member_port.map_or("-".into(), |p| p.to_string())
            )
        })
        .collect();
    if c.members.len() > SHOWN {
        others.push(format!(
            "and {} more (review.md lists them all)",
            c.members.len() - SHOWN
        ));
    }
    writeln!(w, "Members: {}.", others.join(", "))?;
    if let Some(f) = &c.frontend {
        writeln!(
            w,
            "Front end: `{}` (http {}, https {}){}; browsers reach this node through it{}.",
            f.address,
            f.http_port,
            f.https_port,
            f.lb_host
                .as_ref()
                .map_or(String::new(), |h| format!(", load balancer on host `{h}`")),
            if me.backends.is_empty() {
                " only for what the workers serve"
            } else {
                ""
            }
        )?;
    }
    Ok(())
}

/// The shared datasources this node reads, the variable `apply` needs for their password, and
/// what to install first.
fn readme_databases(w: &mut dyn Write, plan: &Plan, node: &NodePlan) -> io::Result<()> {
    let used: Vec<_> = plan.datasources_of(node).collect();
    if used.is_empty() {
        return Ok(());
    }
    w.write_all(
        "\n## Shared databases\n\n| datasource | JNDI | URL | user |\n|---|---|---|---|\n"
            .as_bytes(),
    )?;
    for (db, ds) in &used {
        writeln!(
            w,
            "| `{}` | `{}` | `{}` | `{}` |",
            ds.datasource, ds.jndi, ds.url, db.user
        )?;
    }
    let mut vars: Vec<&str> = used
        .iter()
        .map(|(db, _)| db.password_env.as_str())
        .collect();
    vars.sort_unstable();
    vars.dedup();
    writeln!(w, "\n`apply` writes the password from the environment: set `{}` first (the bundle does not hold it).",
        vars.join("`, `"))?;
    let mut notes: Vec<&str> = used.iter().map(|(db, _)| db.driver_note.as_str()).collect();
    notes.sort_unstable();
    notes.dedup();
    for n in notes.iter().filter(|n| !n.is_empty()) {
        writeln!(w, "On this node: {n}.")?;
    }
    Ok(())
}
