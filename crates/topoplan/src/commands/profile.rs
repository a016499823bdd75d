//! `topoplan profile check DIR [--home PRODUCT_HOME]`: every problem of a product profile
//! folder in one run, each as `file:line:col: message`.
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

use crate::status::ExitStatus;
use anyhow::{Context, Result};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use topoplan_model::{Profile, Seg};
use topoplan_patch::Patch;
use topoplan_render::{PatchFormat, TemplateSet};
use topoplan_solver::Plan;

/// One problem: where (`file:line:col`) and what.
struct Problem {
    at: String,
    message: String,
}

impl Problem {
    /// A problem a template causes in a product file: at the template, naming the file.
    fn in_template(template: &str, target: &Path, message: impl std::fmt::Display) -> Problem {
        Problem {
            at: format!("{template}:1:1"),
            message: format!("{}: {message}", target.display()),
        }
    }
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
    let at = |span: std::ops::Range<usize>| {
        let (l, c) = topoplan_model::line_col(&src, span.start);
        format!("{shown}:{l}:{c}")
    };
    let locate = |path: &[Seg]| at(topoplan_model::locate(&src, path));
    let mut problems: Vec<Problem> = Vec::new();
    let (profile, found) = Profile::parse_lenient(&src);
    for d in found {
        problems.push(Problem {
            at: at(d.position()..d.position()),
            message: d.message,
        });
    }
    let Some(profile) = profile else {
        return finish(&shown, problems, None);
    };
    let product = profile.product.name.clone();
    let set = profile_files(dir, &product)?;
    let overlays = set.overlays(&product);
    let templated: BTreeSet<&str> = overlays.iter().map(|(p, _, _)| p.as_str()).collect();
    let checks = set.checks(&product);
    let checked: BTreeSet<&str> = checks.iter().map(|(p, _, _)| p.as_str()).collect();
    for (i, r) in profile.reference.iter().enumerate() {
        let message = if r.written() && !templated.contains(r.file.as_str()) {
            format!(
                "reference `{}`: no template `overlay/{}.patch.xml.tera` (or `.patch.json.tera`) writes its file",
                r.name, r.file
            )
        } else if !r.written() && !checked.contains(r.file.as_str()) {
            format!(
                "reference `{}` is derived by the product: no template `checks/{}.patch.xml.tera` (or `.patch.json.tera`) says what `check` verifies in its file",
                r.name, r.file
            )
        } else {
            continue;
        };
        problems.push(Problem {
            at: locate(&[Seg::Key("reference"), Seg::Index(i), Seg::Key("file")]),
            message,
        });
    }
    unused_templates(&profile, &set, &overlays, &mut problems);
    unused_templates(&profile, &set, &checks, &mut problems);
    let mut counts = Counts::default();
    if problems.is_empty() {
        let home_problem = home.and_then(|h| {
            // The home `apply` would accept: the same identity check.
            super::apply::home_is(h, &profile.product.home, &product)
                .err()
                .map(|m| Problem {
                    at: locate(&[Seg::Key("product"), Seg::Key("home")]),
                    message: format!(
                        "`--home` is not a home `apply` accepts for this profile: {m}"
                    ),
                })
        });
        problems.extend(home_problem);
        let sources = Sources {
            profile: &profile,
            set: &set,
            src: &src,
            shown: &shown,
        };
        check_templates(&sources, home, &mut problems, &mut counts)?;
    } else {
        eprintln!(
            "note: the template checks (reader roles, presets, --home selectors) run once the problems below are fixed"
        );
    }
    finish(&shown, problems, Some(&counts))
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
    problems: &mut Vec<Problem>,
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
            problems.push(Problem {
                at: format!("{}:1:1", set.display_path(name)),
                message: format!(
                    "template patches `{path}`, which no reference, port, datasource or `product.home` names: it is never used"
                ),
            });
        }
    }
}

/// A sound profile and its templates, as `check` read them.
struct Sources<'a> {
    profile: &'a Profile,
    set: &'a TemplateSet,
    src: &'a str,
    shown: &'a str,
}

/// The template checks of a sound profile: per mode, a plan with one node per role (readers,
/// and with `--home` every operation against the real files); then every preset's plan, which
/// has what one node per role does not (shared databases, clusters), against the files too.
fn check_templates(
    s: &Sources,
    home: Option<&Path>,
    problems: &mut Vec<Problem>,
    counts: &mut Counts,
) -> Result<()> {
    let mut plans = Vec::new();
    for mode in s.profile.mode_names() {
        match synthetic_plan(s.profile, &mode) {
            Ok(plan) => plans.push(plan),
            Err(e) => problems.push(Problem {
                at: s.shown.to_string(),
                message: format!("mode `{mode}`: a plan with one node per role fails: {e}"),
            }),
        }
    }
    for plan in &plans {
        check_readers(s.profile, s.set, plan, s.src, s.shown, problems, counts)?;
        if let Some(home) = home {
            check_home(s.set, plan, home, problems, counts)?;
        }
    }
    let product = &s.profile.product.name;
    for plan in check_presets(s.set, product, s.profile, problems, counts) {
        if let Some(home) = home {
            check_home(s.set, &plan, home, problems, counts)?;
        }
    }
    Ok(())
}

fn finish(shown: &str, problems: Vec<Problem>, counts: Option<&Counts>) -> Result<()> {
    if problems.is_empty() {
        let c = counts.expect("checked");
        println!(
            "`{shown}`: no problems ({} reader values rendered, {} selectors matched, {} presets planned)",
            c.readers, c.selectors, c.presets
        );
        return Ok(());
    }
    for p in &problems {
        eprintln!(
            "{}: error: {}",
            p.at,
            crate::diagnostics::visible(&p.message)
        );
    }
    eprintln!("error: `{shown}` has {} problem(s)", problems.len());
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
fn check_readers(
    profile: &Profile,
    set: &TemplateSet,
    plan: &Plan,
    src: &str,
    shown: &str,
    problems: &mut Vec<Problem>,
    counts: &mut Counts,
) -> Result<()> {
    // The templates are parsed once; each reader is rendered with and without one link.
    let renderer = match topoplan_render::Renderer::new(set, &plan.product) {
        Ok(r) => r,
        Err(e) => {
            problems.push(Problem {
                at: shown.to_string(),
                message: format!("loading the templates: {e}"),
            });
            return Ok(());
        }
    };
    let checker = topoplan_render::Renderer::checks(set, &plan.product)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let renderers = [&renderer, &checker];
    let patch_of = |plan: &Plan, node: &str, r: &topoplan_model::ReferenceDef| {
        file_patch(renderers, plan, node, r)
    };
    for (i, r) in profile.reference.iter().enumerate() {
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
                        problems.push(Problem {
                            at: shown.to_string(),
                            message: format!("rendering `{node}`: {e}"),
                        });
                        continue;
                    }
                };
            if with_text == without_text {
                let span = topoplan_model::locate(
                    src,
                    &[Seg::Key("reference"), Seg::Index(i), Seg::Key("readers")],
                );
                let (line, col) = topoplan_model::line_col(src, span.start);
                let what = if r.written() {
                    "the templates write nothing of it into"
                } else {
                    "the check templates (`checks/`) verify nothing of it in"
                };
                problems.push(Problem {
                    at: format!("{shown}:{line}:{col}"),
                    message: format!(
                        "reference `{}` is read by `{role}`, but {what} `{}` of a `{role}` node (mode `{}`): use `links.{}`",
                        r.name, r.file, plan.mode, r.name
                    ),
                });
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
    problems: &mut Vec<Problem>,
    counts: &mut Counts,
) -> Result<()> {
    let mut seen = BTreeSet::new();
    // Template errors are reported by the reader check; here there is nothing to apply.
    let Ok(renderer) = topoplan_render::Renderer::new(set, &plan.product) else {
        return Ok(());
    };
    check_derivations(set, plan, home, problems, counts)?;
    for n in &plan.nodes {
        let Ok(overlays) = renderer.render(plan, n) else {
            continue;
        };
        for o in overlays {
            let target = topoplan_safefs::resolve_inside(home, Path::new(&o.path))?;
            let template = template_of(set, &plan.product, "overlay", &o);
            let Ok(text) = std::fs::read_to_string(&target) else {
                if seen.insert((o.path.clone(), String::new())) {
                    problems.push(Problem {
                        at: format!("{template}:1:1"),
                        message: format!("`{}` is not in the product home", target.display()),
                    });
                }
                continue;
            };
            twice(&template, &target, &o, &text, problems);
            for (what, one) in single_ops(o.format, &o.patch) {
                if !seen.insert((o.path.clone(), what.clone())) {
                    continue;
                }
                counts.selectors += 1;
                let result = Patch::parse(o.format, &one).and_then(|p| p.apply(&text));
                if let Err(e) = result {
                    problems.push(Problem::in_template(
                        &template,
                        &target,
                        format!("{what}: {e}"),
                    ));
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
    problems: &mut Vec<Problem>,
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
            let template = template_of(set, &plan.product, "checks", &o);
            let target = topoplan_safefs::resolve_inside(home, Path::new(&o.path))?;
            let drift = topoplan_safefs::read_regular(&target)
                .map_err(|e| e.to_string())
                .and_then(|text| {
                    Patch::parse(o.format, &o.patch)
                        .and_then(|p| p.drift(&text))
                        .map_err(|e| e.to_string())
                });
            let message = match drift {
                Ok(d) if d.is_empty() => continue,
                Ok(d) => d
                    .iter()
                    .map(|d| {
                        format!(
                            "{}: the check expects {:?}, the shipped file has {:?}",
                            d.at, d.expected, d.found
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("; "),
                Err(e) => e,
            };
            problems.push(Problem::in_template(&template, &target, message));
        }
    }
    Ok(())
}

/// Where the template of a rendered patch is (`folder`: `overlay` or `checks`), for messages.
fn template_of(
    set: &TemplateSet,
    product: &str,
    folder: &str,
    o: &topoplan_render::Overlay,
) -> String {
    set.display_path(&format!(
        "{product}/{folder}/{}{}.tera",
        o.path,
        o.format.suffix()
    ))
}

/// The node's whole patch of one file, applied as `apply` does, and then again: the second
/// must change nothing (an `<add>` the upsert cannot find again appends a copy every time).
fn twice(
    template: &str,
    target: &Path,
    o: &topoplan_render::Overlay,
    text: &str,
    problems: &mut Vec<Problem>,
) {
    let Ok(patch) = Patch::parse(o.format, &o.patch) else {
        return;
    };
    let Ok(once) = patch.apply(text) else {
        return;
    };
    if patch.apply(&once).is_ok_and(|again| again != once) {
        problems.push(Problem::in_template(
            template,
            target,
            "applying the patch a second time changes the file again: not idempotent (an `<add>` whose element a second apply does not find, e.g. in another namespace)",
        ));
    }
}

/// The operations of a rendered patch, each as a patch of its own: (what it addresses, patch).
fn single_ops(format: PatchFormat, patch: &str) -> Vec<(String, String)> {
    match format {
        PatchFormat::Json => {
            let Ok(serde_json::Value::Array(ops)) = serde_json::from_str(patch) else {
                return Vec::new();
            };
            ops.iter()
                .map(|op| {
                    let path = op["path"].as_str().unwrap_or("").to_string();
                    (
                        format!("{} {path}", op["op"].as_str().unwrap_or("")),
                        format!("[{op}]"),
                    )
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
                    (
                        format!(
                            "<{} sel=\"{}\">",
                            op.tag_name().name(),
                            op.attribute("sel").unwrap_or("")
                        ),
                        text,
                    )
                })
                .collect()
        }
    }
}

/// Every preset of the profile plans; returns their plans (for the `--home` check).
fn check_presets(
    set: &TemplateSet,
    product: &str,
    profile: &Profile,
    problems: &mut Vec<Problem>,
    counts: &mut Counts,
) -> Vec<Plan> {
    let profiles = BTreeMap::from([(product.to_string(), profile.clone())]);
    let mut plans = Vec::new();
    for preset in super::init::presets(set, product) {
        let key = format!("{product}/presets/{preset}.toml");
        let src = &set.files[&key];
        counts.presets += 1;
        let result =
            topoplan_model::parse(src, &profiles).and_then(|t| topoplan_solver::solve(&t, profile));
        let diags = match result {
            Ok(plan) => {
                plans.push(plan);
                continue;
            }
            Err(diags) => diags,
        };
        for d in diags {
            let start = d
                .labels
                .iter()
                .find(|l| l.primary)
                .map_or(0, |l| l.span.start);
            let (line, col) = topoplan_model::line_col(src, start);
            problems.push(Problem {
                at: format!("{}:{line}:{col}", set.display_path(&key)),
                message: format!("preset `{preset}` does not plan: {}: {}", d.code, d.message),
            });
        }
    }
    plans
}
