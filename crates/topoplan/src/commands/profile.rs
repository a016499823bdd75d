//! `topoplan profile check DIR [--home PRODUCT_HOME]`: every problem of a product profile
//! folder in one run, each with its file, line and column, source and caret (the renderer every
//! topology diagnostic uses: [`crate::diagnostics::Sources`]).
//!
//! What a profile author gets wrong, and nothing else would catch before a plan runs on a host:
//! - the profile itself ([`Profile::parse_lenient`]): unknown roles, modes, kinds and ports,
//!   missing evidence, a `port_range` that does not hold the ports, duplicates;
//! - a reference whose file has no template, and a template no reference or port names;
//! - a reader role the templates forget: for each mode, a plan with one node per role, each on
//!   a host of its own, is rendered, and each reader's overlay must carry its provider's
//!   address and port;
//! - every shipped preset must plan;
//! - with `--home`, every selector and pointer of every rendered overlay, applied one at a time
//!   to the real product files, must match exactly one thing.

use crate::diagnostics::Sources;
use crate::status::ExitStatus;
use anyhow::{Context, Result};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use topoplan_model::{Code, Diagnostic, Profile, Seg};
use topoplan_patch::Patch;
use topoplan_render::{PatchFormat, TemplateSet};
use topoplan_solver::Plan;

/// Every problem found, each a diagnostic (`invalid-profile`, or a preset's own code) in one
/// of the profile folder's files: the profile, a template, a preset.
#[derive(Default)]
struct Found {
    sources: Sources,
    problems: Vec<(usize, Diagnostic)>,
}

impl Found {
    /// A problem in the file shown as `file`, whose text is `text`; once, however many of the
    /// checked plans (one per mode, one per preset) run into it.
    fn push(&mut self, file: &str, text: &str, d: Diagnostic) {
        let id = self.sources.add(file, text);
        if !self.problems.iter().any(|(f, seen)| *f == id && *seen == d) {
            self.problems.push((id, d));
        }
    }

    /// A problem in a template (`key` in `set`): at the first line that holds `needle` (the
    /// selector or pointer the problem is about, when the template writes it literally), or
    /// at its first line.
    fn in_template(&mut self, set: &TemplateSet, key: &str, needle: &str, message: String) {
        let text = set.files.get(key).map_or("", String::as_str);
        let start = (!needle.is_empty())
            .then(|| text.find(needle))
            .flatten()
            .map_or(0, |at| text[..at].rfind('\n').map_or(0, |nl| nl + 1));
        let end = text[start..].find('\n').map_or(text.len(), |nl| start + nl);
        let start = start + (text[start..end].len() - text[start..end].trim_start().len());
        self.push(&set.display_path(key), text, problem(start..end, message));
    }

    /// A problem a template causes in a product file: at the template, naming the file.
    fn in_product_file(
        &mut self,
        set: &TemplateSet,
        key: &str,
        needle: &str,
        target: &Path,
        message: impl std::fmt::Display,
    ) {
        let message = format!("`{}`: {message}", target.display());
        self.in_template(set, key, needle, message);
    }

    fn is_empty(&self) -> bool {
        self.problems.is_empty()
    }
}

/// A problem of the profile folder at `span` of its file.
fn problem(span: std::ops::Range<usize>, message: String) -> Diagnostic {
    Diagnostic::new(Code::InvalidProfile, message).at(span, "")
}

/// What the check looked at, for the summary line.
#[derive(Default)]
struct Counts {
    readers: usize,
    selectors: usize,
    presets: usize,
}

#[derive(clap::Subcommand)]
pub enum Command {
    /// Report every problem of a profile folder, each as file:line:col.
    #[command(
        after_help = "Examples:\n  topoplan profile check templates/<product>\n  topoplan profile check my-product/ --home /srv/product/unpacked-home"
    )]
    Check {
        /// The profile folder: profile.toml, overlay/, presets/, start.sh.tera.
        dir: PathBuf,
        /// A home of the product, unchanged: every selector and pointer of every overlay must
        /// match exactly one thing in its files.
        #[arg(long, value_name = "PRODUCT_HOME")]
        home: Option<PathBuf>,
    },
    /// Print the JSON Schema of profile.toml (for `#:schema` in taplo-based editors).
    #[command(after_help = "Examples:\n  topoplan profile schema > profile.schema.json")]
    Schema,
}

pub fn run(cmd: Command) -> Result<ExitStatus> {
    match cmd {
        Command::Check { dir, home } => {
            check(&dir, home.as_deref())?;
        }
        Command::Schema => {
            let schema = topoplan_model::profile_schema();
            crate::output::out(&format!("{}\n", serde_json::to_string_pretty(&schema)?))?;
        }
    }
    Ok(ExitStatus::Success)
}

fn check(dir: &Path, home: Option<&Path>) -> Result<()> {
    let profile_path = dir.join("profile.toml");
    let src = std::fs::read_to_string(&profile_path)
        .with_context(|| format!("reading `{}`", profile_path.display()))?;
    let shown = profile_path.display().to_string();
    let mut found = Found::default();
    let (profile, problems) = Profile::parse_lenient(&src);
    for d in problems {
        found.push(&shown, &src, d);
    }
    let Some(profile) = profile else {
        return finish(&shown, found, None);
    };
    let product = profile.product.name.clone();
    let set = profile_files(dir, &product)?;
    let folder = Folder {
        profile: &profile,
        set: &set,
        src: &src,
        shown: &shown,
    };
    unwritten_references(&folder, &mut found);
    let overlays = set.overlays(&product);
    unused_templates(&profile, &set, &overlays, &mut found);
    unused_templates(&profile, &set, &set.checks(&product), &mut found);
    let mut counts = Counts::default();
    if found.is_empty() {
        if let Some(Err(m)) =
            home.map(|h| topoplan_patch::apply::home_is(h, &profile.product.home, &product))
        {
            // The home `apply` would accept: the same identity check.
            folder.problem(
                &mut found,
                &[Seg::Key("product"), Seg::Key("home")],
                format!("`--home` is not a home `apply` accepts for this profile: {m}"),
            );
        }
        check_templates(&folder, home, &mut found, &mut counts)?;
    } else {
        eprintln!(
            "note: the template checks (reader roles, presets, --home selectors) run once the problems below are fixed"
        );
    }
    finish(&shown, found, Some(&counts))
}

/// A reference whose file no template writes (or, for a value the product derives, no check
/// template verifies): a problem at its `file`.
fn unwritten_references(s: &Folder, found: &mut Found) {
    let product = &s.profile.product.name;
    let templated: BTreeSet<String> = (s.set.overlays(product).into_iter())
        .map(|(p, _, _)| p)
        .collect();
    let checked: BTreeSet<String> = (s.set.checks(product).into_iter())
        .map(|(p, _, _)| p)
        .collect();
    for (i, r) in s.profile.reference.iter().enumerate() {
        let message = if r.written() && !templated.contains(&r.file) {
            format!(
                "reference `{}`: no template `overlay/{}.patch.xml.tera` (or `.patch.json.tera`) writes its file",
                r.name, r.file
            )
        } else if !r.written() && !checked.contains(&r.file) {
            format!(
                "reference `{}` is derived by the product: no template `checks/{}.patch.xml.tera` (or `.patch.json.tera`) says what `check` verifies in its file",
                r.name, r.file
            )
        } else {
            continue;
        };
        s.problem(
            found,
            &[Seg::Key("reference"), Seg::Index(i), Seg::Key("file")],
            message,
        );
    }
}

/// The files of a profile folder, as a template set of product `product` (read as any
/// `--templates` folder is: regular files inside it, capped).
fn profile_files(dir: &Path, product: &str) -> Result<TemplateSet> {
    let mut folder = TemplateSet::default();
    folder
        .add_dir(dir)
        .with_context(|| format!("reading `{}`", dir.display()))?;
    let mut set = TemplateSet::default();
    for (rel, text) in folder.files {
        let key = format!("{product}/{rel}");
        if let Some(origin) = folder.origin.get(&rel) {
            set.origin.insert(key.clone(), origin.clone());
        }
        set.files.insert(key, text);
    }
    Ok(set)
}

/// A template whose product file no reference, port, datasource or `product.home` names is
/// never used: a problem at the template.
fn unused_templates(
    profile: &Profile,
    set: &TemplateSet,
    overlays: &[(String, String, PatchFormat)],
    found: &mut Found,
) {
    let named: BTreeSet<&str> = profile
        .reference
        .iter()
        .map(|r| r.file.as_str())
        .chain(profile.port.iter().map(|p| p.file.as_str()))
        .chain([profile.product.home.file.as_str()])
        .chain(
            profile
                .datasource
                .iter()
                .flat_map(|d| d.files.iter().map(String::as_str)),
        )
        .collect();
    for (path, name, _) in overlays {
        if !named.contains(path.as_str()) {
            let message = format!(
                "template patches `{path}`, which no reference, port, datasource or `product.home` names: it is never used"
            );
            found.in_template(set, name, "", message);
        }
    }
}

/// A sound profile and its templates, as `check` read them.
struct Folder<'a> {
    profile: &'a Profile,
    set: &'a TemplateSet,
    src: &'a str,
    shown: &'a str,
}

impl Folder<'_> {
    /// A problem at `path` of the profile (its whole file when `path` is empty).
    fn problem(&self, found: &mut Found, path: &[Seg], message: String) {
        let span = topoplan_model::locate(self.src, path);
        found.push(self.shown, self.src, problem(span, message));
    }
}

/// The template checks of a sound profile: per mode, a plan with one node per role (readers,
/// and with `--home` every operation against the real files); then every preset's plan, which
/// has what one node per role does not (shared databases, clusters), against the files too.
fn check_templates(
    s: &Folder,
    home: Option<&Path>,
    found: &mut Found,
    counts: &mut Counts,
) -> Result<()> {
    let mut plans = Vec::new();
    for mode in s.profile.mode_names() {
        match synthetic_plan(s.profile, &mode) {
            Ok(plan) => plans.push(plan),
            Err(e) => s.problem(
                found,
                &[Seg::Key("mode")],
                format!("mode `{mode}`: a plan with one node per role fails: {e}"),
            ),
        }
    }
    for plan in &plans {
        check_readers(s, plan, found, counts)?;
        if let Some(home) = home {
            check_home(s.set, plan, home, found, counts)?;
        }
    }
    for plan in check_presets(s, found, counts) {
        if let Some(home) = home {
            check_home(s.set, &plan, home, found, counts)?;
        }
    }
    Ok(())
}

fn finish(shown: &str, found: Found, counts: Option<&Counts>) -> Result<()> {
    if found.is_empty() {
        let c = counts.expect("checked");
        crate::output::out(&format!(
            "`{shown}`: no problems ({} reader values rendered, {} selectors matched, {} presets planned)\n",
            c.readers, c.selectors, c.presets
        ))?;
        return Ok(());
    }
    let problems: Vec<(usize, &Diagnostic)> = found.problems.iter().map(|(f, d)| (*f, d)).collect();
    eprint!("{}", found.sources.render(&problems, shown));
    Err(crate::status::Reported.into())
}

/// One node per role, each alone on a host, so every value a reader holds crosses hosts and
/// names its provider's address.
fn synthetic_plan(profile: &Profile, mode: &str) -> Result<Plan, String> {
    let mut src = format!(
        "[deployment]\nname = \"profile-check\"\nproduct = {:?}\n",
        profile.product.name
    );
    if !profile.mode.is_empty() {
        src += &format!("key_validation = {mode:?}\n");
    }
    for (k, role) in profile.role.iter().enumerate() {
        src += &format!(
            "\n[[host]]\nname = \"h{k}\"\naddress = \"10.77.{}.{}\"\n\n[[node]]\nname = \"n-{}\"\nroles = [{:?}]\nhost = \"h{k}\"\n",
            k / 250,
            k % 250 + 1,
            role.name,
            role.name
        );
    }
    let profiles = BTreeMap::from([(profile.product.name.clone(), profile.clone())]);
    let topo = topoplan_model::parse(&src, &profiles).map_err(|d| {
        d.iter()
            .map(|d| format!("{}: {}", d.code, d.message))
            .collect::<Vec<_>>()
            .join("; ")
    })?;
    topoplan_solver::solve(&topo, profile).map_err(|d| {
        d.iter()
            .map(|d| format!("{}: {}", d.code, d.message))
            .collect::<Vec<_>>()
            .join("; ")
    })
}

/// Every reader role's overlay of a reference's file depends on the reference: rendering the
/// reader without that link must change the file's patch. (Comparing with the provider's
/// address would not do: several references of one file often point at the same port.)
fn check_readers(s: &Folder, plan: &Plan, found: &mut Found, counts: &mut Counts) -> Result<()> {
    // The templates are parsed once; each reader is rendered with and without one link.
    let renderer = match topoplan_render::Renderer::new(s.set, &plan.product) {
        Ok(r) => r,
        Err(e) => {
            s.problem(found, &[], format!("loading the templates: {e}"));
            return Ok(());
        }
    };
    let checker = topoplan_render::Renderer::checks(s.set, &plan.product)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let renderers = [&renderer, &checker];
    let patch_of = |plan: &Plan, node: &str, r: &topoplan_model::ReferenceDef| {
        file_patch(renderers, plan, node, r)
    };
    for (i, r) in s.profile.reference.iter().enumerate() {
        if !r.in_mode(&plan.mode) {
            continue;
        }
        for role in &r.readers {
            let node = format!("n-{role}");
            if !plan.holds(&node, &r.name) {
                continue;
            }
            let without = plan.without(&node, &r.name);
            counts.readers += 1;
            let (with_text, without_text) =
                match (patch_of(plan, &node, r), patch_of(&without, &node, r)) {
                    (Ok(a), Ok(b)) => (a, b),
                    (Err(e), _) | (_, Err(e)) => {
                        s.problem(found, &[], format!("rendering `{node}`: {e}"));
                        continue;
                    }
                };
            if with_text == without_text {
                let what = if r.written() {
                    "the templates write nothing of it into"
                } else {
                    "the check templates (`checks/`) verify nothing of it in"
                };
                s.problem(
                    found,
                    &[Seg::Key("reference"), Seg::Index(i), Seg::Key("readers")],
                    format!(
                        "reference `{}` is read by `{role}`, but {what} `{}` of a `{role}` node (mode `{}`): use `links.{}`",
                        r.name, r.file, plan.mode, r.name
                    ),
                );
            }
        }
    }
    Ok(())
}

/// The patch a node's templates make of a reference's file: its overlays' for a written value,
/// its check templates' (`[overlays, checks]`) for a derived one.
fn file_patch(
    renderers: [&topoplan_render::Renderer; 2],
    plan: &Plan,
    node: &str,
    r: &topoplan_model::ReferenceDef,
) -> Result<String, String> {
    let n = plan.node(node).ok_or_else(|| format!("no node `{node}`"))?;
    let renderer = renderers[usize::from(!r.written())];
    let overlays = renderer.render(plan, n).map_err(|e| e.to_string())?;
    Ok(overlays
        .iter()
        .filter(|o| o.path == r.file)
        .map(|o| o.patch.clone())
        .collect())
}

/// Each operation of each overlay alone against the real file: it must find exactly one
/// target, so a selector that matches nothing fails here, not on a production host.
fn check_home(
    set: &TemplateSet,
    plan: &Plan,
    home: &Path,
    found: &mut Found,
    counts: &mut Counts,
) -> Result<()> {
    let mut seen = BTreeSet::new();
    // Template errors are reported by the reader check; here there is nothing to apply.
    let Ok(renderer) = topoplan_render::Renderer::new(set, &plan.product) else {
        return Ok(());
    };
    check_derivations(set, plan, home, found, counts)?;
    for n in &plan.nodes {
        let Ok(overlays) = renderer.render(plan, n) else {
            continue;
        };
        for o in overlays {
            let target = topoplan_safefs::resolve_inside(home, Path::new(&o.path))?;
            let template = template_key(&plan.product, "overlay", &o);
            let Ok(text) = std::fs::read_to_string(&target) else {
                if seen.insert((o.path.clone(), String::new())) {
                    let message = format!("`{}` is not in the product home", target.display());
                    found.in_template(set, &template, "", message);
                }
                continue;
            };
            twice(set, &template, &target, &o, &text, found);
            for (op, one) in single_ops(o.format, &o.patch) {
                if !seen.insert((o.path.clone(), op.what.clone())) {
                    continue;
                }
                counts.selectors += 1;
                let result = Patch::parse(o.format, &one).and_then(|p| p.apply(&text));
                if let Err(e) = result {
                    let message = format!("{}: {e}", op.what);
                    found.in_product_file(set, &template, &op.at, &target, message);
                }
            }
        }
    }
    Ok(())
}

/// Each check template (`checks/`, values the product derives) against the shipped file: the
/// derivation it verifies must be there as shipped, or every `check` would report it.
fn check_derivations(
    set: &TemplateSet,
    plan: &Plan,
    home: &Path,
    found: &mut Found,
    counts: &mut Counts,
) -> Result<()> {
    let Ok(checker) = topoplan_render::Renderer::checks(set, &plan.product) else {
        return Ok(());
    };
    let mut seen = BTreeSet::new();
    for n in &plan.nodes {
        for o in checker.render(plan, n).unwrap_or_default() {
            if !seen.insert(o.path.clone()) {
                continue;
            }
            counts.selectors += 1;
            let template = template_key(&plan.product, "checks", &o);
            let target = topoplan_safefs::resolve_inside(home, Path::new(&o.path))?;
            let drift = topoplan_safefs::read_regular(&target)
                .map_err(|e| e.to_string())
                .and_then(|text| {
                    Patch::parse(o.format, &o.patch)
                        .and_then(|p| p.drift(&text))
                        .map_err(|e| e.to_string())
                });
            let (message, at) = match drift {
                Ok(d) if d.is_empty() => continue,
                Ok(d) => (
                    (d.iter())
                        .map(|d| {
                            format!(
                                "{}: the check expects {:?}, the shipped file has {:?}",
                                d.at, d.expected, d.found
                            )
                        })
                        .collect::<Vec<_>>()
                        .join("; "),
                    d[0].at.clone(),
                ),
                Err(e) => (e, String::new()),
            };
            found.in_product_file(set, &template, &at, &target, message);
        }
    }
    Ok(())
}

/// The template of a rendered patch (`folder`: `overlay` or `checks`), as a key of its set.
fn template_key(product: &str, folder: &str, o: &topoplan_render::Overlay) -> String {
    format!("{product}/{folder}/{}{}.tera", o.path, o.format.suffix())
}

/// The node's whole patch of one file, applied as `apply` does, and then again: the second
/// must change nothing (an `<add>` the upsert cannot find again appends a copy every time).
fn twice(
    set: &TemplateSet,
    template: &str,
    target: &Path,
    o: &topoplan_render::Overlay,
    text: &str,
    found: &mut Found,
) {
    let Ok(patch) = Patch::parse(o.format, &o.patch) else {
        return;
    };
    let Ok(once) = patch.apply(text) else {
        return;
    };
    if patch.apply(&once).is_ok_and(|again| again != once) {
        found.in_product_file(
            set,
            template,
            "",
            target,
            "applying the patch a second time changes the file again: not idempotent (an `<add>` whose element a second apply does not find, e.g. in another namespace)",
        );
    }
}

/// One operation of a rendered patch: what it addresses as a message shows it, and its
/// selector or pointer as a template writes it (to find its line).
struct Op {
    what: String,
    at: String,
}

/// The operations of a rendered patch, each as a patch of its own.
fn single_ops(format: PatchFormat, patch: &str) -> Vec<(Op, String)> {
    match format {
        PatchFormat::Json => {
            let Ok(serde_json::Value::Array(ops)) = serde_json::from_str(patch) else {
                return Vec::new();
            };
            ops.iter()
                .map(|op| {
                    let path = op["path"].as_str().unwrap_or("").to_string();
                    let what = format!("{} {path}", op["op"].as_str().unwrap_or(""));
                    (Op { what, at: path }, format!("[{op}]"))
                })
                .collect()
        }
        PatchFormat::Xml => {
            let Ok(doc) = roxmltree::Document::parse(patch) else {
                return Vec::new();
            };
            let ops: Vec<roxmltree::Node> = doc
                .root_element()
                .children()
                .filter(|c| c.is_element())
                .collect();
            ops.iter()
                .enumerate()
                .map(|(k, op)| {
                    // The patch text without every other operation: same prefix, namespaces
                    // and closing tag.
                    let mut text = String::new();
                    let mut from = 0;
                    for (j, other) in ops.iter().enumerate() {
                        if j != k {
                            text.push_str(&patch[from..other.range().start]);
                            from = other.range().end;
                        }
                    }
                    text.push_str(&patch[from..]);
                    let sel = op.attribute("sel").unwrap_or("");
                    let what = format!("<{} sel=\"{sel}\">", op.tag_name().name());
                    (
                        Op {
                            what,
                            at: sel.to_string(),
                        },
                        text,
                    )
                })
                .collect()
        }
    }
}

/// Every preset of the profile plans; returns their plans (for the `--home` check).
fn check_presets(s: &Folder, found: &mut Found, counts: &mut Counts) -> Vec<Plan> {
    let product = &s.profile.product.name;
    let profiles = BTreeMap::from([(product.to_string(), s.profile.clone())]);
    let mut plans = Vec::new();
    for preset in super::init::presets(s.set, product) {
        let key = format!("{product}/presets/{preset}.toml");
        let src = &s.set.files[&key];
        counts.presets += 1;
        let result = topoplan_model::parse(src, &profiles)
            .and_then(|t| topoplan_solver::solve(&t, s.profile));
        match result {
            Ok(plan) => plans.push(plan),
            // Each with its own code and places, in the preset.
            Err(diags) => {
                for mut d in diags {
                    d.message = format!("preset `{preset}` does not plan: {}", d.message);
                    found.push(&s.set.display_path(&key), src, d);
                }
            }
        }
    }
    plans
}
