//! The files a bundle holds beside the overlays, rendered: each node's start script, each
//! cluster front end's load-balancer configuration and each database's setup script. Every
//! value passes the filter of the language it lands in ([`shell_safe`], [`nginx_safe`]).

use crate::{RenderError, TemplateSet};
use std::collections::BTreeMap;
use topoplan_solver::Plan;

/// Where the nginx configuration template is, in the templates folder.
pub const LOAD_BALANCER_TEMPLATE: &str = "load-balancers/nginx.conf.tera";

/// `load-balancers/<cluster>.nginx.conf` for each cluster with a front end and members to
/// forward to, from [`LOAD_BALANCER_TEMPLATE`]; every value it prints passes [`nginx_safe`].
pub fn load_balancer_configs(
    set: &TemplateSet,
    plan: &Plan,
) -> Result<Vec<(String, String)>, RenderError> {
    #[derive(serde::Serialize)]
    struct Front<'a> {
        address: &'a str,
        server_name: String,
        lb_host: Option<&'a str>,
        http_port: u32,
        https_port: u32,
    }
    #[derive(serde::Serialize)]
    struct Member<'a> {
        node: &'a str,
        url_host: String,
        backends: &'a BTreeMap<String, u32>,
    }
    #[derive(serde::Serialize)]
    struct Cluster<'a> {
        name: &'a str,
        frontend: Front<'a>,
        members: Vec<Member<'a>>,
    }
    let mut out = Vec::new();
    let Some(src) = set.files.get(LOAD_BALANCER_TEMPLATE) else {
        return Ok(out);
    };
    let mut tera = crate::engine();
    tera.autoescape_on(vec![".tera"]);
    tera.set_escape_fn(nginx_safe);
    tera.add_raw_template(LOAD_BALANCER_TEMPLATE, src)
        .map_err(|e| crate::template_error(LOAD_BALANCER_TEMPLATE, &e))?;
    for c in &plan.clusters {
        let Some(f) = &c.frontend else { continue };
        if c.members.iter().all(|m| m.backends.is_empty()) {
            continue;
        }
        let cluster = Cluster {
            name: &c.name,
            frontend: Front {
                address: &f.address,
                server_name: topoplan_model::url_host(&f.address),
                lb_host: f.lb_host.as_deref(),
                http_port: f.http_port,
                https_port: f.https_port,
            },
            members: c
                .members
                .iter()
                .map(|m| Member {
                    node: &m.node,
                    url_host: topoplan_model::url_host(&m.address),
                    backends: &m.backends,
                })
                .collect(),
        };
        let mut ctx = tera::Context::new();
        ctx.insert(
            "deployment",
            &serde_json::json!({"name": plan.deployment, "product": plan.product}),
        );
        ctx.insert("cluster", &cluster);
        let text = tera
            .render(LOAD_BALANCER_TEMPLATE, &ctx)
            .map_err(|e| crate::template_error(LOAD_BALANCER_TEMPLATE, &e))?;
        out.push((format!("load-balancers/{}.nginx.conf", c.name), text));
    }
    Ok(out)
}

/// A value for an nginx configuration: letters, digits and `.:-_[]` pass (names and
/// addresses are validated before, this is the second wall); anything nginx could read as
/// syntax (spaces, `;`, braces, quotes, `$`, `#`, line breaks) becomes `_`.
pub fn nginx_safe(s: &str) -> String {
    keep_only(s, ".:-_[]")
}

/// The setup script of each `[[database]]`, `databases/<name>/setup.sh`, from the profile's
/// `databases/<engine>-setup.sh.tera`; every value it prints passes [`shell_safe`]. A server
/// whose engine has no template gets none (the docs then say what to create by hand).
pub fn database_scripts(
    set: &TemplateSet,
    plan: &Plan,
) -> Result<Vec<(String, String)>, RenderError> {
    #[derive(serde::Serialize)]
    struct Deployment<'a> {
        name: &'a str,
        product: &'a str,
    }
    let mut out = Vec::new();
    for db in &plan.databases {
        let name = format!("{}/databases/{}-setup.sh.tera", plan.product, db.engine);
        let Some(src) = set.files.get(&name) else {
            continue;
        };
        let tera = shell_template(&name, src)?;
        let mut ctx = tera::Context::new();
        ctx.insert(
            "deployment",
            &Deployment {
                name: &plan.deployment,
                product: &plan.product,
            },
        );
        ctx.insert("database", db);
        let text = tera
            .render(&name, &ctx)
            .map_err(|e| crate::template_error(&name, &e))?;
        out.push((format!("databases/{}/setup.sh", db.name), text));
    }
    Ok(out)
}

/// The profile's start script template (`<product>/start.sh.tera`), if it has one.
pub const START_TEMPLATE: &str = "start.sh.tera";

/// The profile's start script template, parsed once. Every value it prints passes
/// [`shell_safe`], so no name can add shell syntax, whatever the template does with it (names
/// are validated before, this is the second wall).
pub struct StartScript {
    name: String,
    tera: tera::Tera,
}

impl StartScript {
    /// The start script template of the plan's product, if its profile has one.
    pub fn new(set: &TemplateSet, plan: &Plan) -> Result<Option<StartScript>, RenderError> {
        let name = format!("{}/{START_TEMPLATE}", plan.product);
        let Some(src) = set.files.get(&name) else {
            return Ok(None);
        };
        let tera = shell_template(&name, src)?;
        Ok(Some(StartScript { name, tera }))
    }

    /// The start script of the node whose context `ctx` is ([`crate::context`]).
    pub fn render(&self, ctx: &tera::Context) -> Result<String, RenderError> {
        self.tera
            .render(&self.name, ctx)
            .map_err(|e| crate::template_error(&self.name, &e))
    }
}

/// A shell script template: every value it prints passes [`shell_safe`].
fn shell_template(name: &str, src: &str) -> Result<tera::Tera, RenderError> {
    let mut tera = crate::engine();
    tera.autoescape_on(vec![".tera"]);
    tera.set_escape_fn(shell_safe);
    tera.add_raw_template(name, src)
        .map_err(|e| crate::template_error(name, &e))?;
    Ok(tera)
}

/// The start script of `node` (`None` when the profile has no `start.sh.tera`).
#[cfg(test)]
fn start_sh(
    set: &TemplateSet,
    plan: &Plan,
    node: &topoplan_solver::NodePlan,
) -> Result<Option<String>, RenderError> {
    StartScript::new(set, plan)?
        .map(|s| s.render(&crate::context(plan, node)?))
        .transpose()
}

/// A value for a shell script: letters, digits and `._,:@/+=-` and spaces pass; anything the
/// shell could read as syntax (quotes, `$`, backticks, `;`, `&`, `|`, redirections, globs,
/// line breaks) becomes `_`.
pub fn shell_safe(s: &str) -> String {
    keep_only(s, "._,:@/+=- ")
}

/// `s` with every character but ASCII letters, digits and `also` written `_`.
fn keep_only(s: &str, also: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || also.contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Text for a comment line (shell, YAML): no line breaks or other control characters,
/// whatever the caller validated before.
pub fn comment_safe(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> Plan {
        let profiles: BTreeMap<String, topoplan_model::Profile> = [(
            "appm-1.2.0".to_string(),
            topoplan_model::Profile::parse(include_str!(
                "../../../templates/appm-1.2.0/profile.toml"
            ))
            .unwrap(),
        )]
        .into();
        let topo = topoplan_model::parse(
            "[deployment]\nname = \"d\"\nproduct = \"appm-1.2.0\"\n[[host]]\nname = \"h\"\n[[node]]\nname = \"n\"\nroles = [\"all\"]\nhost = \"h\"\noffset = 3\n",
            &profiles,
        )
        .unwrap();
        topoplan_solver::solve(&topo, &profiles["appm-1.2.0"]).unwrap()
    }

    #[test]
    fn start_script_gives_the_shell_only_the_offset() {
        let mut p = plan();
        // Even a name that slipped past validation stays inside its comment line.
        p.deployment = "x\nrm -rf / #$(reboot)".into();
        let node = p.nodes[0].clone();
        let mut set = TemplateSet::default();
        set.add_dir(std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../templates"
        )))
        .unwrap();
        let script = start_sh(&set, &p, &node).unwrap().unwrap();
        let code: Vec<&str> = script.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(
            code,
            [
                "set -eu",
                ": \"${CARBON_HOME:?set CARBON_HOME to the product home on this host}\"",
                "exec \"$CARBON_HOME/bin/wso2server.sh\" -DportOffset=3 \"$@\"",
            ]
        );
    }
}
