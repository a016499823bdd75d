//! A node bundle's `README.md` (Markdown, beside the review's): what an operator on the node's
//! host reads first.

use topoplan_solver::{NodePlan, Plan};

/// Longest shared list a node README shows entry by entry.
const README_LIST_UP_TO: usize = 8;

/// A node bundle's `README.md`: the node, how to apply, the files it changes, its ports, its
/// cluster and shared databases, manual steps, and every value it holds.
pub fn node_readme(plan: &Plan, node: &NodePlan, files: &[&str], start_script: bool) -> String {
    let mut s = format!(
        "# Node `{}` of `{}`\n\nRoles: {}. Host: `{}` ({}). Port offset: **{}** ({}).\n\n",
        node.name,
        plan.deployment,
        node.roles.join(", "),
        node.host,
        node.address,
        node.offset,
        node.offset_reason
    );
    s.push_str("## On the host\n\n```sh\n");
    s.push_str(
        "topoplan apply . --home /path/to/product/home --dry-run   # review the change\n\
topoplan apply . --home /path/to/product/home             # originals go to <home>/.topoplan/backup/\n",
    );
    if start_script {
        s.push_str(&format!(
            "./bin/start.sh                                           # starts {} with offset {} (see its header)\n",
            plan.product, node.offset
        ));
    }
    s.push_str("```\n\n");
    s.push_str("## Files changed\n\n");
    for f in files {
        s.push_str(&format!("- `{f}`\n"));
    }
    s.push_str(
        "\n## Listening ports\n\n| port | name | base | follows offset |\n|---|---|---|---|\n",
    );
    for p in &node.ports {
        s.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            p.effective,
            p.name,
            p.base,
            if p.follows_offset { "yes" } else { "no" }
        ));
    }
    readme_cluster(&mut s, plan, node);
    readme_databases(&mut s, plan, node);
    let manual: Vec<_> = plan.manual_for(&node.name).collect();
    if !manual.is_empty() {
        s.push_str("\n## Manual steps\n\nSites topoplan does not rewrite on this node, and the value each should take.\n\n");
        for m in manual {
            s.push_str(&crate::markdown::manual_step(m, Some(&node.name)));
            s.push('\n');
        }
    }
    readme_uses(&mut s, plan, node);
    s
}

/// The node's cluster: its part in it, its member port, the members, the front end.
/// The README's "Uses" table: every value the node holds, a long shared list in one row
/// (node.json lists every entry).
fn readme_uses(s: &mut String, plan: &Plan, node: &NodePlan) {
    let (mut uses, lists) = plan.held_by(&node.name, |l| l.entries.len() > README_LIST_UP_TO);
    uses.retain(|l| l.to != node.name);
    if !uses.is_empty() || !lists.is_empty() {
        s.push_str("\n## Uses\n\n| reference | node | port |\n|---|---|---|\n");
        for (l, r) in lists {
            let first: Vec<String> = l
                .ordered(r)
                .take(3)
                .map(|e| format!("`{}`", e.to))
                .collect();
            let ports = l.ports();
            s.push_str(&format!(
                "| {} ({}) | {} nodes: {}, … (node.json lists them all) | {ports} |\n",
                l.reference,
                l.kind,
                l.entries.len(),
                first.join(", ")
            ));
        }
        for l in uses {
            s.push_str(&format!(
                "| {} ({}) | `{}` | {} |\n",
                l.reference,
                l.kind,
                l.via.as_ref().map_or(l.to.to_string(), |c| format!(
                    "{} (through the front end of cluster `{c}`)",
                    l.to
                )),
                l.port
            ));
        }
    }
}

fn readme_cluster(s: &mut String, plan: &Plan, node: &NodePlan) {
    let Some(c) = plan.cluster_of(node) else {
        return;
    };
    let Some(me) = c.members.iter().find(|m| m.node == node.name.as_str()) else {
        return;
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
    s.push_str(&format!(
        "\n## Cluster `{}`\n\nThis node is {part}. Hazelcast domain `{}`, member port {} (not offset).\n",
        c.name,
        c.domain,
        me.member_port.map_or("-".into(), |p| p.to_string())
    ));
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
    s.push_str(&format!("Members: {}.\n", others.join(", ")));
    if let Some(f) = &c.frontend {
        s.push_str(&format!(
            "Front end: `{}` (http {}, https {}){}; browsers reach this node through it{}.\n",
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
        ));
    }
}

/// The shared datasources this node reads, the variable `apply` needs for their password, and
/// what to install first.
fn readme_databases(s: &mut String, plan: &Plan, node: &NodePlan) {
    let used: Vec<_> = plan.datasources_of(node).collect();
    if used.is_empty() {
        return;
    }
    s.push_str("\n## Shared databases\n\n| datasource | JNDI | URL | user |\n|---|---|---|---|\n");
    for (db, ds) in &used {
        s.push_str(&format!(
            "| `{}` | `{}` | `{}` | `{}` |\n",
            ds.datasource, ds.jndi, ds.url, db.user
        ));
    }
    let mut vars: Vec<&str> = used
        .iter()
        .map(|(db, _)| db.password_env.as_str())
        .collect();
    vars.sort_unstable();
    vars.dedup();
    s.push_str(&format!(
        "\n`apply` writes the password from the environment: set `{}` first (the bundle does not hold it).\n",
        vars.join("`, `")
    ));
    let mut notes: Vec<&str> = used.iter().map(|(db, _)| db.driver_note.as_str()).collect();
    notes.sort_unstable();
    notes.dedup();
    for n in notes.iter().filter(|n| !n.is_empty()) {
        s.push_str(&format!("On this node: {n}.\n"));
    }
}
