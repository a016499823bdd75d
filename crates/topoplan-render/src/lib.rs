#![warn(missing_docs, clippy::print_stdout, clippy::print_stderr)]
//! topoplan-render: per-node overlays from tera templates, and the bundle writer.
//!
//! Templates live in `templates/<product>/overlay/<path under product home>.patch.xml.tera`
//! (RFC 5261 XML patches) or `.patch.json.tera` (RFC 6902 JSON patches, for the Jaggery apps'
//! JSON configs),
//! so the file a template patches is its own path: adding an overlay for another product file
//! means adding a template, not code. Templates receive a deliberate view-model ([`NodeView`]),
//! never the solver's structs, so the plan can change shape without breaking templates.
//!
//! Bundles are assembled completely in memory first; only then is anything written, each file
//! through a temporary file and a rename, so a failure never leaves a half-written bundle.

pub mod ansible;
pub mod files;

use serde::Serialize;
use std::collections::BTreeMap;
use topoplan_model::FileProblems;
use topoplan_solver::{NodePlan, Plan};

pub use files::{comment_safe, shell_safe, START_TEMPLATE};

/// Why a template could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// A template failed to parse or render.
    #[error("template `{name}`: {message}")]
    Template {
        /// The template's name (its path, or where it came from).
        name: String,
        /// Tera's message, every cause included.
        message: String,
    },
    /// The templates have no profile for the product.
    #[error("no templates for product `{0}`")]
    NoTemplates(String),
    /// A node the plan does not have.
    #[error("node `{0}` is not in the plan")]
    UnknownNode(String),
}

/// Template files by path relative to the templates root (`appm-1.2.0/overlay/...`).
#[derive(Debug, Clone, Default)]
pub struct TemplateSet {
    /// Every file's text, by its path relative to the templates root.
    pub files: BTreeMap<String, String>,
    /// Where a file came from, for messages: its path on disk when it was read from a
    /// `--templates` folder (built-in files are named by their relative path).
    pub origin: BTreeMap<String, String>,
}

/// The two overlay formats, by the product file's syntax.
pub use topoplan_patch::{
    escape_json_string, fill_secrets, secret_marker, secret_vars, PatchFormat, SecretError,
};

/// The product file a template patches and its format, from its name
/// (`<product file>.patch.xml.tera`).
fn of_template(name: &str) -> Option<(&str, PatchFormat)> {
    PatchFormat::of_bundle_path(name.strip_suffix(".tera")?)
}

/// One file of a templates folder: a regular file (no FIFO, device or socket: a template is
/// read whole, and `/dev/zero` would never end), at most [`topoplan_safefs::MAX_READ`] bytes,
/// reached through links only when they stay inside the folder (a link to a root-only file
/// would copy it into every bundle).
fn read_template(dir: &std::path::Path, f: &std::path::Path) -> std::io::Result<String> {
    let refuse = |why: String| std::io::Error::new(std::io::ErrorKind::InvalidInput, why);
    let root = dir.canonicalize()?;
    let real = f
        .canonicalize()
        .map_err(|e| refuse(format!("`{}`: {e}", f.display())))?;
    if !real.starts_with(&root) {
        return Err(refuse(format!(
            "`{}` is a link to `{}`, outside the templates folder `{}`; templates are read only from inside it",
            f.display(),
            real.display(),
            dir.display()
        )));
    }
    topoplan_safefs::read_regular(&real).map_err(|e| refuse(e.to_string()))
}

impl TemplateSet {
    /// Adds (or overrides, by relative path) every file under `dir`.
    pub fn add_dir(&mut self, dir: &std::path::Path) -> std::io::Result<()> {
        let mut found = Vec::new();
        topoplan_safefs::walk_files(dir, &mut found)?;
        for f in found {
            let rel = f
                .strip_prefix(dir)
                .expect("walked under dir")
                .to_string_lossy()
                .replace('\\', "/");
            let text = read_template(dir, &f)?;
            self.origin.insert(rel.clone(), f.display().to_string());
            self.files.insert(rel, text);
        }
        Ok(())
    }

    /// How to name a file of the set in a message.
    pub fn display_path(&self, rel: &str) -> String {
        self.origin
            .get(rel)
            .cloned()
            .unwrap_or_else(|| format!("templates/{rel}"))
    }

    /// The products that have a profile (`<product>/profile.toml`), by name.
    pub fn products(&self) -> Vec<String> {
        self.files
            .keys()
            .filter_map(|p| p.strip_suffix("/profile.toml"))
            .filter(|p| !p.contains('/'))
            .map(str::to_string)
            .collect()
    }

    /// One product's profile, checked; its problems in its file, every one at once.
    pub fn profile(&self, product: &str) -> Result<topoplan_model::Profile, FileProblems> {
        use topoplan_model::{Code, Diagnostic, Seg};
        let path = format!("{product}/profile.toml");
        let shown = self.display_path(&path);
        let problems = |source: &str, diagnostics| FileProblems {
            file: shown.clone(),
            source: source.to_string(),
            diagnostics,
        };
        let Some(text) = self.files.get(&path) else {
            let missing = Diagnostic::new(Code::InvalidProfile, format!("no profile `{path}`"));
            return Err(problems("", vec![missing]));
        };
        let p = topoplan_model::Profile::parse(text).map_err(|mut d| {
            if let Some(first) = d.first_mut() {
                first.notes.push(format!(
                    "the product profile is broken; `topoplan profile check {}` lists every problem, its templates' too",
                    shown.strip_suffix("/profile.toml").unwrap_or(&shown)
                ));
            }
            problems(text, d)
        })?;
        if p.product.name != product {
            let span = topoplan_model::locate(text, &[Seg::Key("product"), Seg::Key("name")]);
            let d = Diagnostic::new(
                Code::InvalidProfile,
                format!(
                    "the profile names product `{}`, but its folder is `{product}`",
                    p.product.name
                ),
            )
            .at(span, "");
            return Err(problems(text, vec![d]));
        }
        Ok(p)
    }

    /// Every product profile in the set, checked; the problems of all of them at once.
    pub fn profiles(&self) -> Result<BTreeMap<String, topoplan_model::Profile>, Vec<FileProblems>> {
        let mut m = BTreeMap::new();
        let mut errors = Vec::new();
        for product in self.products() {
            match self.profile(&product) {
                Ok(p) => {
                    m.insert(product, p);
                }
                Err(e) => errors.push(e),
            }
        }
        if errors.is_empty() {
            Ok(m)
        } else {
            Err(errors)
        }
    }

    /// Overlay templates of one product: (product file path, template name, format).
    pub fn overlays(&self, product: &str) -> Vec<(String, String, PatchFormat)> {
        self.patches_in(product, "overlay")
    }

    /// Check templates of one product (`checks/`): patches `check` evaluates and `apply` never
    /// writes, for values the product derives from others (a reference's `derived_from`): they
    /// hold what the shipped file must still say for the derivation to work.
    pub fn checks(&self, product: &str) -> Vec<(String, String, PatchFormat)> {
        self.patches_in(product, "checks")
    }

    fn patches_in(&self, product: &str, folder: &str) -> Vec<(String, String, PatchFormat)> {
        let prefix = format!("{product}/{folder}/");
        self.files
            .keys()
            .filter_map(|k| {
                let (rel, f) = of_template(k.strip_prefix(&prefix)?)?;
                Some((rel.to_string(), k.clone(), f))
            })
            .collect()
    }
}

/// A tera engine for templates of a templates folder, which may come from anyone
/// (`--templates`): tera's `get_env` is replaced by one that refuses, so no template copies
/// root's environment (secrets, tokens) into a bundle.
pub fn engine() -> tera::Tera {
    let mut tera = tera::Tera::default();
    tera.register_function("get_env", refuse_get_env);
    tera
}

fn refuse_get_env(_: &std::collections::HashMap<String, tera::Value>) -> tera::Result<tera::Value> {
    Err(tera::Error::msg(
        "`get_env` is not available to topoplan templates: a bundle never carries the environment of the user who wrote it",
    ))
}

/// XML text and attribute content (the one escaper, [`topoplan_model::xml::escape`]). A value
/// keeps its `--` (a punycode host name); inside comments, where templates name nodes,
/// [`comment_dashes`] splits it after rendering.
pub use topoplan_model::xml::escape as escape_xml;

/// A rendered XML patch with every `--` inside a comment (not allowed there) written `- -`.
/// Values cannot end a comment early: `>` is always escaped, so `-->` only ever comes from the
/// template itself.
pub fn comment_dashes(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find("<!--") {
        let body_start = open + 4;
        let Some(close) = rest[body_start..].find("-->") else {
            break;
        };
        let body = &rest[body_start..body_start + close];
        out.push_str(&rest[..body_start]);
        let mut fixed = body.to_string();
        while fixed.contains("--") {
            fixed = fixed.replace("--", "- -");
        }
        // A body ending in `-` would make `--->`.
        if fixed.ends_with('-') {
            fixed.push(' ');
        }
        out.push_str(&fixed);
        out.push_str("-->");
        rest = &rest[body_start + close + 3..];
    }
    out.push_str(rest);
    out
}

/// One rendered overlay: a patch for one product file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Overlay {
    /// Product file, relative to the product home.
    pub path: String,
    /// Its patch format.
    pub format: PatchFormat,
    /// The `<diff>` document or the JSON Patch array.
    pub patch: String,
}

impl Overlay {
    /// Where the overlay goes in a node bundle.
    pub fn bundle_path(&self) -> String {
        format!("overlay/{}{}", self.path, self.format.suffix())
    }
}

/// What a template sees.
#[derive(Debug, Serialize)]
pub struct NodeView<'a> {
    /// `deployment.*`: the deployment's name, product and mode.
    pub deployment: DeploymentView<'a>,
    /// `node.*`: the node itself.
    pub node: NodeInfo<'a>,
    /// Effective ports of this node by name (`-` replaced by `_`).
    pub ports: BTreeMap<String, u32>,
    /// Resolved references of this node by profile reference name: one [`LinkView`], or a
    /// list of them (best first) for references with `providers = "each"`.
    pub links: BTreeMap<String, Links>,
    /// The values of the deployment's mode (the profile's `[[mode]] values`).
    pub mode: &'a BTreeMap<String, String>,
    /// The shared datasources this node reads, by the profile's name (`apps`, `users`, …).
    pub datasources: BTreeMap<&'a str, DatasourceView<'a>>,
    /// The `[[cluster]]` this node is a member of.
    pub cluster: Option<ClusterView<'a>>,
}

/// A node's cluster as a template writes it (Hazelcast membership, worker flags, front end).
#[derive(Debug, Serialize)]
pub struct ClusterView<'a> {
    /// The cluster's name.
    pub name: &'a str,
    /// The Hazelcast domain.
    pub domain: &'a str,
    /// This node's own cluster member port (`localMemberPort`).
    pub member_port: Option<u32>,
    /// This node is the cluster's manager.
    pub manager: bool,
    /// This node is a worker (a member other than the manager of a cluster with one).
    pub worker: bool,
    /// The load balancer sends the front end's traffic to this node (every member of a
    /// fronted cluster but a manager with workers): its `HostName` is the front end.
    pub behind_front: bool,
    /// What the load balancer forwards to on this node, by the front end's `http` and
    /// `https` (empty when it takes no front-end traffic).
    pub backends: &'a BTreeMap<String, u32>,
    /// What this node's start script passes as a worker (empty for others).
    pub worker_options: &'a [String],
    /// Every member (this node too), in the topology's order.
    pub members: Vec<MemberView<'a>>,
    /// The cluster's front end, when it has one.
    pub front: Option<FrontView>,
}

/// One member of a cluster.
#[derive(Debug, Serialize)]
pub struct MemberView<'a> {
    /// The member node.
    pub node: &'a str,
    /// Bare address (IPv6 unbracketed).
    pub address: &'a str,
    /// Its cluster member port.
    pub member_port: Option<u32>,
}

/// A cluster's front end: the address and ports browsers use instead of a member's.
#[derive(Debug, Serialize, Clone)]
pub struct FrontView {
    /// The cluster's name.
    pub cluster: String,
    /// Bare address (IPv6 unbracketed).
    pub address: String,
    /// The address as a URL's host part (IPv6 bracketed).
    pub url_host: String,
    /// The port the load balancer takes HTTP on.
    pub http_port: u32,
    /// The port the load balancer takes HTTPS on.
    pub https_port: u32,
    /// The provider's ports as the front end serves them, by name with `_`: every `https`
    /// port is the front end's HTTPS port, every `http` port its HTTP port.
    pub ports: BTreeMap<String, u32>,
}

/// A shared datasource as a template writes it. `password` is a marker, never the password:
/// `apply` puts the value of the database's `password_env` in its place ([`fill_secrets`]).
#[derive(Debug, Serialize)]
pub struct DatasourceView<'a> {
    /// Its `<name>` in the datasources file.
    pub datasource: &'a str,
    /// Its JNDI name.
    pub jndi: &'a str,
    /// The JDBC URL.
    pub url: &'a str,
    /// The database user.
    pub user: &'a str,
    /// The password's secret marker (the variable's name; `apply` puts the value in its place).
    pub password: String,
    /// The JDBC driver class.
    pub driver: &'a str,
    /// The pool's validation query.
    pub validation_query: &'a str,
    /// Whether the shipped file has it (rewired) or it is added.
    pub shipped: bool,
    /// The `[[database]]` it is on.
    pub server: &'a str,
}

#[derive(Debug, Serialize)]
/// `deployment.*` in templates.
pub struct DeploymentView<'a> {
    /// The deployment's name.
    pub name: &'a str,
    /// The product profile.
    pub product: &'a str,
    /// The profile mode in force, `deployment.key_validation` in templates.
    #[serde(rename = "key_validation")]
    pub mode: &'a str,
}

#[derive(Debug, Serialize)]
/// `node.*` in templates.
pub struct NodeInfo<'a> {
    /// The node's name.
    pub name: &'a str,
    /// Its host's name.
    pub host: &'a str,
    /// Bare address (IPv6 unbracketed), for `HostName` and other host-only elements.
    pub address: &'a str,
    /// The address as a URL's host part (IPv6 bracketed).
    pub url_host: String,
    /// Its port offset.
    pub offset: u32,
    /// Its roles, `all` expanded.
    pub roles: &'a [String],
}

/// A reference's provider, or its list of providers.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Links {
    /// A single provider (`providers = "one"`).
    One(LinkView),
    /// Every provider, the product's default first (`providers = "each"`).
    Each(Vec<LinkView>),
}

#[derive(Debug, Serialize)]
/// One provider as a template sees it (`links.<reference>`).
pub struct LinkView {
    /// Provider node name.
    pub to: topoplan_solver::SharedStr,
    /// Provider host address, bare (IPv6 unbracketed): for elements that hold a host alone.
    pub address: topoplan_solver::SharedStr,
    /// Provider host as a URL's host part (IPv6 bracketed).
    pub url_host: String,
    /// The provider's port the reference names (the front end's, through one).
    pub port: u32,
    /// `scheme://address:port`, when the port speaks HTTP(S).
    pub url: Option<topoplan_solver::SharedStr>,
    /// All effective ports of the provider, by name with `_` (the front end's, for a value
    /// through a front end).
    pub ports: BTreeMap<String, u32>,
    /// The cluster whose front end this value names (`address`, `url_host`, `port`, `url` and
    /// `ports` are then the front end's).
    pub via: Option<topoplan_solver::SharedStr>,
    /// The provider's cluster front end, when it has one, for values that name the front end
    /// in part (a gateway environment's `GatewayEndpoint` beside its manager's `ServerURL`).
    pub front: Option<FrontView>,
}

/// `node`'s cluster front end, with `node`'s ports as the front end serves them.
fn front_view(plan: &Plan, node: &NodePlan) -> Option<FrontView> {
    let c = plan.cluster_of(node)?;
    let f = c.frontend.as_ref()?;
    Some(FrontView {
        cluster: c.name.clone(),
        address: f.address.clone(),
        url_host: topoplan_model::url_host(&f.address),
        http_port: f.http_port,
        https_port: f.https_port,
        ports: node
            .ports
            .iter()
            .filter_map(|p| Some((p.name.replace('-', "_"), f.port_for(&p.protocol)?)))
            .collect(),
    })
}

fn cluster_view<'a>(plan: &'a Plan, node: &'a NodePlan) -> Option<ClusterView<'a>> {
    let c = plan.cluster_of(node)?;
    let me = c.members.iter().find(|m| m.node == node.name.as_str())?;
    Some(ClusterView {
        name: &c.name,
        domain: &c.domain,
        member_port: me.member_port,
        manager: c.manager.as_deref() == Some(node.name.as_str()),
        worker: me.worker,
        behind_front: !me.backends.is_empty(),
        backends: &me.backends,
        worker_options: if me.worker { &plan.worker_options } else { &[] },
        members: c
            .members
            .iter()
            .map(|m| MemberView {
                node: &m.node,
                address: &m.address,
                member_port: m.member_port,
            })
            .collect(),
        front: front_view(plan, node),
    })
}

fn port_map(n: &NodePlan) -> BTreeMap<String, u32> {
    n.ports
        .iter()
        .map(|p| (p.name.replace('-', "_"), p.effective))
        .collect()
}

/// Builds the view-model of one node.
pub fn view<'a>(plan: &'a Plan, node: &'a NodePlan) -> NodeView<'a> {
    let mut links: BTreeMap<String, Links> = BTreeMap::new();
    for l in plan.links_of(&node.name) {
        let Some(to) = plan.node(&l.to) else { continue };
        let front = front_view(plan, to);
        let v = match front.as_ref().filter(|_| l.via.is_some()) {
            Some(f) => LinkView {
                to: to.name.clone(),
                address: f.address.as_str().into(),
                url_host: f.url_host.clone(),
                port: l.port,
                url: l.url.clone(),
                ports: f.ports.clone(),
                via: l.via.clone(),
                front,
            },
            None => LinkView {
                to: to.name.clone(),
                address: to.address.clone(),
                url_host: topoplan_model::url_host(&to.address),
                port: l.port,
                url: l.url.clone(),
                ports: port_map(to),
                via: None,
                front,
            },
        };
        if l.each {
            match links
                .entry(l.reference.to_string())
                .or_insert_with(|| Links::Each(Vec::new()))
            {
                Links::Each(list) => list.push(v),
                Links::One(_) => {}
            }
        } else {
            links.insert(l.reference.to_string(), Links::One(v));
        }
    }
    NodeView {
        deployment: DeploymentView {
            name: &plan.deployment,
            product: &plan.product,
            mode: &plan.mode,
        },
        node: NodeInfo {
            name: &node.name,
            host: &node.host,
            address: &node.address,
            url_host: topoplan_model::url_host(&node.address),
            offset: node.offset,
            roles: &node.roles,
        },
        ports: port_map(node),
        links,
        mode: &plan.mode_values,
        datasources: plan
            .datasources_of(node)
            .map(|(db, ds)| {
                let view = DatasourceView {
                    datasource: &ds.datasource,
                    jndi: &ds.jndi,
                    url: &ds.url,
                    user: &db.user,
                    password: secret_marker(&db.password_env),
                    driver: &db.driver,
                    validation_query: &db.validation_query,
                    shipped: ds.shipped,
                    server: &db.name,
                };
                (ds.name.as_str(), view)
            })
            .collect(),
        cluster: cluster_view(plan, node),
    }
}

/// The template context of one node: its [`view`], as every template reads it.
pub fn context(plan: &Plan, node: &NodePlan) -> Result<tera::Context, RenderError> {
    tera::Context::from_serialize(view(plan, node)).map_err(|e| template_error("(context)", &e))
}

/// Renders every overlay of one node. Templates that render no operation are dropped.
pub fn render_node(
    set: &TemplateSet,
    plan: &Plan,
    node_name: &str,
) -> Result<Vec<Overlay>, RenderError> {
    Renderer::new(set, &plan.product)?.render(plan, node_of(plan, node_name)?)
}

/// Renders every check template (`checks/`) of one node: what `check` verifies of values the
/// product derives, never written by `apply`.
pub fn render_checks(
    set: &TemplateSet,
    plan: &Plan,
    node_name: &str,
) -> Result<Vec<Overlay>, RenderError> {
    Renderer::checks(set, &plan.product)?.render(plan, node_of(plan, node_name)?)
}

fn node_of<'p>(plan: &'p Plan, name: &str) -> Result<&'p NodePlan, RenderError> {
    plan.node(name)
        .ok_or_else(|| RenderError::UnknownNode(name.to_string()))
}

/// A product's overlay templates, parsed once: a bundle of thousands of nodes renders each
/// node with the same engines.
pub struct Renderer {
    overlays: Vec<(String, String, PatchFormat)>,
    /// One engine per format, each escaping every `{{ }}` for its syntax, so no name or
    /// address can add markup to a patch whatever a template does with it.
    engines: Vec<(PatchFormat, tera::Tera)>,
}

impl Renderer {
    /// The engines of `product`'s overlay templates, each parsed once.
    pub fn new(set: &TemplateSet, product: &str) -> Result<Renderer, RenderError> {
        let overlays = set.overlays(product);
        if overlays.is_empty() {
            return Err(RenderError::NoTemplates(product.to_string()));
        }
        Renderer::with(set, overlays)
    }

    /// A renderer of the check templates of `product` (there may be none).
    pub fn checks(set: &TemplateSet, product: &str) -> Result<Renderer, RenderError> {
        Renderer::with(set, set.checks(product))
    }

    fn with(
        set: &TemplateSet,
        overlays: Vec<(String, String, PatchFormat)>,
    ) -> Result<Renderer, RenderError> {
        let mut engines = Vec::new();
        for format in [PatchFormat::Xml, PatchFormat::Json] {
            let mut tera = engine();
            tera.autoescape_on(vec![".tera"]);
            tera.set_escape_fn(format.escape_fn());
            tera.add_raw_templates(
                overlays
                    .iter()
                    .filter(|(_, _, f)| *f == format)
                    .map(|(_, name, _)| (name.as_str(), set.files[name].as_str())),
            )
            .map_err(|e| template_error("(loading)", &e))?;
            engines.push((format, tera));
        }
        Ok(Renderer { overlays, engines })
    }

    /// Every overlay of `node`; templates that render no operation are dropped.
    pub fn render(&self, plan: &Plan, node: &NodePlan) -> Result<Vec<Overlay>, RenderError> {
        self.render_with(&context(plan, node)?)
    }

    /// [`Renderer::render`] with the node's context made once by [`context`] (a bundle renders
    /// the start script from the same one: a node of an estate lists thousands of providers).
    pub fn render_with(&self, ctx: &tera::Context) -> Result<Vec<Overlay>, RenderError> {
        let mut out = Vec::new();
        for (path, name, format) in &self.overlays {
            let (_, tera) = self
                .engines
                .iter()
                .find(|(f, _)| f == format)
                .expect("an engine per format");
            let text = tera
                .render(name, ctx)
                .map_err(|e| template_error(name, &e))?;
            if format.has_operation(&text) {
                let patch = match format {
                    PatchFormat::Xml => comment_dashes(&text),
                    PatchFormat::Json => text,
                };
                out.push(Overlay {
                    path: path.clone(),
                    format: *format,
                    patch,
                });
            }
        }
        Ok(out)
    }
}

pub(crate) fn template_error(name: &str, e: &tera::Error) -> RenderError {
    RenderError::Template {
        name: name.to_string(),
        message: topoplan_model::error_chain(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_keep_their_dashes_and_comments_never_hold_two() {
        assert_eq!(escape_xml("xn--bcher-kva.example"), "xn--bcher-kva.example");
        let rendered = "<!-- node gw--1 and a--- b- --><diff><replace sel=\"/a/text()\">xn--x</replace></diff><!---->";
        let fixed = comment_dashes(rendered);
        assert!(
            roxmltree::Document::parse(&format!("<r>{fixed}</r>")).is_ok(),
            "{fixed}"
        );
        assert!(fixed.contains(">xn--x<"), "{fixed}");
        assert!(
            fixed.starts_with("<!-- node gw- -1 and a- - - b- -->"),
            "{fixed}"
        );
    }
}
