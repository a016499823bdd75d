//! `topoplan`: the binary. Parses arguments, calls the library crates, prints diagnostics and
//! maps outcomes to exit codes (0 ok, 1 the input or plan has problems, 2 usage or I/O error).

mod apply;
mod check;
mod diagnostics;
mod embedded;
mod export;
mod generate;
mod init;
mod patch;
mod profile_check;

use anyhow::{Context, Result};
use clap::{CommandFactory, Parser, Subcommand, ValueEnum};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use topoplan_model::{Profile, Topology};
use topoplan_render::{Bundle, TemplateSet};
use topoplan_solver::Plan;

/// Plans port offsets, Thrift pairs and cross-node URLs for distributed WSO2 Carbon
/// deployments (App Manager 1.1.0 and 1.2.0), and applies them to the real product files.
#[derive(Parser)]
#[command(name = "topoplan", version, about, long_about = None)]
struct Cli {
    /// Read product profiles and templates from this folder instead of the built-in ones
    /// (files found there override built-in files of the same path).
    #[arg(long, global = true, value_name = "DIR")]
    templates: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Solve a topology and print the plan: offsets, ports, links, warnings.
    ///
    /// When `<topology>.lock` exists beside it (`topologies/x.toml` -> `topologies/x.lock`), its
    /// offsets and fixed ports are kept and the plan shows what changed against it.
    #[command(
        after_help = "Examples:\n  topoplan plan site.toml\n  topoplan plan site.toml --format json | jq .nodes\n  topoplan plan site.toml --detailed-exitcode   # 0 unchanged, 2 changed against site.lock"
    )]
    Plan {
        /// The topology file (TOML).
        topology: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
        format: PlanFormat,
        /// Write the lock file after planning (atomically).
        #[arg(long)]
        write_lock: bool,
        /// Exit 0 when nothing changed against the lock, 2 when something did (or there is no
        /// lock yet), 1 for problems.
        #[arg(long)]
        detailed_exitcode: bool,
    },
    /// Plan and write `<topology>.lock`, so later plans keep today's offsets and ports.
    #[command(
        after_help = "Examples:\n  topoplan lock site.toml          # writes site.lock; commit it beside site.toml"
    )]
    Lock { topology: PathBuf },
    /// Write one bundle folder per node (overlays, start script, README) plus plan.json and review.md.
    #[command(
        after_help = "Examples:\n  topoplan bundle site.toml -o out/\n  scp -r out/km km-host:/tmp/ && ssh km-host topoplan apply /tmp/km --home /srv/product/km"
    )]
    Bundle {
        topology: PathBuf,
        /// Output folder; node folders in it are replaced.
        #[arg(short, long, value_name = "DIR")]
        out: PathBuf,
    },
    /// Draw the deployment: a cluster per host, a box per node, an edge per link kind.
    #[command(
        after_help = "Examples:\n  topoplan graph site.toml | dot -Tsvg > site.svg\n  topoplan graph site.toml --format svg -o site.svg\n  topoplan graph site.toml --format mermaid"
    )]
    Graph {
        topology: PathBuf,
        /// `dot` for Graphviz, `mermaid` for Markdown (GitHub renders it), `svg` drawn by
        /// topoplan itself (nothing to install).
        #[arg(long, value_enum, default_value_t = GraphFormat::Dot)]
        format: GraphFormat,
        /// Write to this file (atomically) instead of standard output.
        #[arg(short, long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Write the architecture review: diagram, port maps, links, firewall matrix, reasons,
    /// warnings. One self-contained file.
    #[command(
        after_help = "Examples:\n  topoplan review site.toml -o review.html\n  topoplan review site.toml -o review.md"
    )]
    Review {
        topology: PathBuf,
        /// Output file; `.html` gives the HTML page, `.md` Markdown. Standard output (Markdown)
        /// when absent.
        #[arg(short, long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Format, when the file name does not tell.
        #[arg(long, value_enum)]
        format: Option<ReviewFormat>,
    },
    /// Explain one node: its offset and why, its ports, what it points at and what points at it.
    #[command(after_help = "Examples:\n  topoplan explain site.toml gw1")]
    Explain {
        topology: PathBuf,
        /// The node's name in the topology.
        node: String,
    },
    /// Check installed nodes against the plan: every value `apply` would write, and any
    /// `-DportOffset` in bin/wso2server.sh or JAVA_OPTS. Reads only; exit 1 when anything drifted.
    #[command(
        after_help = "Examples:\n  topoplan check site.toml --home km=/srv/product/km --home gw1=/srv/product/gw1\n  topoplan check site.toml --homes-file homes.txt --format json"
    )]
    Check {
        topology: PathBuf,
        /// A node and its product home, `NODE=DIR`; repeat for more nodes.
        #[arg(long = "home", value_name = "NODE=DIR")]
        homes: Vec<String>,
        /// A file of `NODE=DIR` lines, for many nodes.
        #[arg(long, value_name = "FILE")]
        homes_file: Option<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = CheckFormat::Text)]
        format: CheckFormat,
    },
    /// Write a commented starter topology that plans without errors.
    #[command(
        after_help = "Examples:\n  topoplan init --product <product> --preset distributed -o site.toml\n  topoplan init --preset all-in-one\n\nProducts are the folders of the templates with a profile.toml; presets are the files of their\npresets/ folder (the shipped products have all-in-one, distributed and ha)."
    )]
    Init {
        /// The product profile [default: the last product by name].
        #[arg(long)]
        product: Option<String>,
        /// The shape of the deployment: a preset of the product.
        #[arg(long, default_value = "distributed")]
        preset: String,
        /// Write to this file (refused if it exists) instead of standard output.
        #[arg(short, long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Print shell completions (bash, zsh, fish, elvish, powershell) on standard output.
    #[command(
        after_help = "Examples:\n  source <(topoplan completions bash)\n  topoplan completions zsh > ~/.zfunc/_topoplan"
    )]
    Completions { shell: clap_complete::Shell },
    /// Export the plan for a deployment tool: `ansible` writes inventory.yml, site.yml and
    /// bundles/ into a folder that `ansible-playbook -i inventory.yml site.yml` runs as is.
    #[command(
        after_help = "Examples:\n  topoplan export ansible site.toml -o deploy/\n  ansible-playbook -i deploy/inventory.yml deploy/site.yml --check --diff\n  ansible-playbook -i deploy/inventory.yml deploy/site.yml -e topoplan_home_base=/srv/product"
    )]
    Export {
        /// The tool to export for.
        #[arg(value_enum)]
        tool: ExportTool,
        topology: PathBuf,
        /// Output folder.
        #[arg(short, long, value_name = "DIR")]
        out: PathBuf,
    },
    /// Print the JSON Schema of the topology format (for `#:schema` in taplo-based editors).
    #[command(
        after_help = "Examples:\n  topoplan schema > topology.schema.json\n  # then, as the first line of a topology: #:schema ./topology.schema.json"
    )]
    Schema,
    /// Print a seeded generated topology (for benchmarks and scale tests).
    #[command(hide = true)]
    Generate {
        /// The product profile.
        #[arg(long)]
        product: String,
        /// Number of hosts (`estate`).
        #[arg(long, default_value_t = 10)]
        hosts: usize,
        /// Nodes per host.
        #[arg(long, default_value_t = 5)]
        per_host: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// One host with `--per-host` nodes of every role, instead of an estate.
        #[arg(long)]
        dense: bool,
    },
    /// Work on product profiles (docs/profiles.md).
    #[command(
        subcommand,
        after_help = "Examples:\n  topoplan profile check templates/<product> --home /srv/product/unpacked-home\n  topoplan profile schema > profile.schema.json"
    )]
    Profile(ProfileCommand),
    /// Print the manual page (roff) on standard output.
    #[command(after_help = "Examples:\n  topoplan man > topoplan.1 && man ./topoplan.1")]
    Man,
    /// Apply one node's bundle to a product home: only the selected values change.
    #[command(
        after_help = "Examples:\n  topoplan apply out/km --home /srv/product/km --dry-run\n  topoplan apply out/km --home /srv/product/km"
    )]
    Apply {
        /// The node's bundle folder (`out/<node>`).
        bundle: PathBuf,
        /// The product home on this host (holds `repository/`).
        #[arg(long, value_name = "DIR")]
        home: PathBuf,
        /// Print a unified diff of what would change and write nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum PlanFormat {
    Text,
    Json,
    Markdown,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum ExportTool {
    /// An Ansible inventory and playbook around the bundles.
    Ansible,
}

#[derive(Subcommand)]
enum ProfileCommand {
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

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum CheckFormat {
    Text,
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
enum GraphFormat {
    Dot,
    Mermaid,
    Svg,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum ReviewFormat {
    Html,
    Markdown,
}

/// The review format: `--format`, else the output file's extension, else Markdown.
fn review_format(explicit: Option<ReviewFormat>, out: Option<&Path>) -> Result<ReviewFormat> {
    if let Some(f) = explicit {
        return Ok(f);
    }
    let Some(out) = out else {
        return Ok(ReviewFormat::Markdown);
    };
    match out.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
        Some("html" | "htm") => Ok(ReviewFormat::Html),
        Some("md" | "markdown") => Ok(ReviewFormat::Markdown),
        _ => anyhow::bail!(
            "cannot tell the review format from `{}`: name it .html or .md, or pass --format html|markdown",
            out.display()
        ),
    }
}

/// Every node's bundle plus the reviews beside them: what `bundle` and `export` both write.
fn build_bundle(plan: &Plan, templates: &TemplateSet) -> Result<Bundle> {
    let reviews = vec![
        ("review.md".to_string(), topoplan_report::markdown(plan)),
        ("review.html".to_string(), review_html(plan, templates)?),
    ];
    Ok(Bundle::build(templates, plan, reviews)?)
}

/// This build of topoplan, for the digest of a bundle's inputs: the version, and the size and
/// modification time of the executable, so a rebuilt program never trusts a bundle an older
/// one rendered. `None` (no way to tell) turns the shortcut off.
fn program_id() -> Option<String> {
    let exe = std::env::current_exe().ok()?;
    let m = std::fs::metadata(exe).ok()?;
    let t = m
        .modified()
        .ok()?
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?;
    Some(format!(
        "topoplan {} {} {}.{:09}",
        env!("CARGO_PKG_VERSION"),
        m.len(),
        t.as_secs(),
        t.subsec_nanos()
    ))
}

fn review_html(plan: &Plan, templates: &TemplateSet) -> Result<String> {
    let template = templates
        .files
        .get(topoplan_report::HTML_TEMPLATE)
        .with_context(|| format!("no template `{}`", topoplan_report::HTML_TEMPLATE))?;
    Ok(topoplan_report::html(plan, template)?)
}

/// A spinner with the current step, on standard error, shown only when that is a terminal and
/// the work has taken over a second (indicatif hides it otherwise), so scripts and short runs
/// stay quiet.
struct Progress {
    bar: indicatif::ProgressBar,
}

impl Progress {
    fn start(step: &str) -> Progress {
        let bar =
            indicatif::ProgressBar::with_draw_target(None, indicatif::ProgressDrawTarget::hidden());
        bar.set_message(step.to_string());
        let shown = bar.clone();
        std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_secs(1));
            if !shown.is_finished() {
                shown.set_draw_target(indicatif::ProgressDrawTarget::stderr());
                shown.enable_steady_tick(std::time::Duration::from_millis(120));
            }
        });
        Progress { bar }
    }

    fn step(&self, step: String) {
        self.bar.set_message(step);
    }

    fn done(&self) {
        self.bar.finish_and_clear();
    }
}

impl Drop for Progress {
    /// An error on the way clears the line before it is printed.
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}

/// A failure that has already been reported to the user, with its exit code.
#[derive(Debug)]
struct Reported(u8);

impl std::fmt::Display for Reported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "reported (exit {})", self.0)
    }
}

impl std::error::Error for Reported {}

/// A plan of 100,000 nodes is millions of small values made and dropped; glibc's allocator
/// spent a fifth of `plan` in `malloc`, `free` and consolidation. mimalloc halves the run of
/// 10,000 nodes and lowers the peak (docs/benchmarks.md).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if let Some(r) = e.downcast_ref::<Reported>() {
                return ExitCode::from(r.0);
            }
            if e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) {
                return ExitCode::SUCCESS;
            }
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    let templates = load_templates(cli.templates.as_deref())?;
    match cli.command {
        Command::Plan {
            topology,
            format,
            write_lock,
            detailed_exitcode,
        } => {
            let plan = plan_file(&topology, &templates)?;
            if write_lock {
                write_lock_file(&topology, &plan)?;
            }
            let fmt = match format {
                PlanFormat::Text => topoplan_report::Format::Text,
                PlanFormat::Json => topoplan_report::Format::Json,
                PlanFormat::Markdown => topoplan_report::Format::Markdown,
            };
            if !matches!(format, PlanFormat::Text) {
                print_warnings(&topology, &plan);
            }
            if fmt == topoplan_report::Format::Json {
                // Streamed: a plan of 100,000 nodes is hundreds of megabytes of JSON.
                let mut w = std::io::BufWriter::with_capacity(1 << 20, std::io::stdout().lock());
                topoplan_report::write_json(&plan, &mut w)?;
                w.flush()?;
            } else {
                out(&topoplan_report::print(&plan, fmt))?;
            }
            let changed = plan.changes.as_ref().is_none_or(|c| !c.is_empty());
            // The process ends here: freeing a plan of millions of values one by one would
            // only delay the exit (a tenth of the run for 100,000 nodes).
            std::mem::forget(plan);
            if detailed_exitcode && changed && !write_lock {
                return Err(Reported(2).into());
            }
            Ok(())
        }
        Command::Lock { topology } => {
            let plan = plan_file(&topology, &templates)?;
            let path = write_lock_file(&topology, &plan)?;
            print_warnings(&topology, &plan);
            out(&format!(
                "locked {} node(s) and {} link(s) in `{}`\n",
                plan.nodes.len(),
                plan.links.len(),
                path.display()
            ))
        }
        Command::Bundle { topology, out: dir } => {
            let progress = Progress::start("planning");
            let program = program_id();
            // A folder that holds, untouched, the bundle of these very inputs (the topology,
            // its lock, the templates, this program) needs no plan, render or compare: one
            // digest and one `stat` per file. Planning is a function of those inputs, so the
            // plan's warnings, recorded with the bundle, are printed again as they were.
            let sources = read_sources(&topology)?;
            let digest = program
                .as_ref()
                .zip(sources.texts())
                .map(|(p, texts)| topoplan_render::inputs_digest(&texts, &templates, p));
            if let Some(digest) = &digest {
                if let Some(rec) = topoplan_render::untouched(&dir).filter(|r| r.digest == *digest)
                {
                    progress.done();
                    for note in &rec.notes {
                        print_recorded_warning(&topology, note);
                    }
                    return out(&format!(
                        "`{}` already holds the bundle of this topology, untouched: nothing written\n",
                        dir.display()
                    ));
                }
            }
            let plan = plan_texts(&topology, &sources, &templates)?;
            let inputs = digest.map(|digest| topoplan_render::Inputs {
                digest,
                notes: plan
                    .warnings
                    .iter()
                    .filter_map(|w| serde_json::to_string(w).ok())
                    .collect(),
            });
            progress.step(format!("rendering {} node bundle(s)", plan.nodes.len()));
            let bundle = build_bundle(&plan, &templates)?;
            progress.step(format!("writing {} file(s)", bundle.files.len()));
            let report = topoplan_render::write_bundle(&dir, &bundle, inputs.as_ref())?;
            progress.done();
            print_warnings(&topology, &plan);
            let mut text = if report.changed == 0 {
                format!(
                    "`{}` already holds this plan's {} node bundle(s): nothing written\n",
                    dir.display(),
                    plan.nodes.len()
                )
            } else {
                format!(
                    "wrote {} node bundle(s) to `{}` ({} file(s) new or changed, {} kept): {}\n",
                    plan.nodes.len(),
                    dir.display(),
                    report.changed,
                    report.unchanged,
                    node_names(&plan)
                )
            };
            if !report.removed_nodes.is_empty() {
                text.push_str(&format!(
                    "removed the bundles of nodes no longer in the plan: {}\n",
                    report.removed_nodes.join(", ")
                ));
            }
            out(&text)
        }
        Command::Graph {
            topology,
            format,
            out: file,
        } => {
            let plan = plan_file(&topology, &templates)?;
            print_warnings(&topology, &plan);
            use topoplan_diagram::Diagram;
            use topoplan_report::{Picture, SUMMARY_UP_TO};
            let text = match format {
                GraphFormat::Dot => Diagram::from_plan(&plan).dot(),
                GraphFormat::Mermaid => Diagram::from_plan(&plan).mermaid(),
                // Above the size where boxes stay readable (and the in-process layout stays
                // fast), the picture is the per-host summary; DOT keeps every node.
                GraphFormat::Svg => match Picture::of(&plan) {
                    Picture::Nodes => Diagram::from_plan(&plan).svg(),
                    Picture::Hosts => {
                        eprintln!(
                            "{} nodes: drawing one box per host (node counts per role) and the links between hosts; `--format dot` has every node",
                            plan.nodes.len()
                        );
                        let d = Diagram::summary(&plan);
                        if d.omitted_edges > 0 {
                            eprintln!(
                                "{} host-to-host arrows are too many to read: drawing the hosts alone; `topoplan review` lists every opening",
                                d.omitted_edges
                            );
                        }
                        d.svg()
                    }
                    Picture::Tables => anyhow::bail!(
                        "{} nodes on {} hosts are too many to draw in-process (above {SUMMARY_UP_TO} hosts even the per-host summary is unreadable); use `--format dot` and Graphviz (`dot -Tsvg`), or `topoplan review`'s per-host table",
                        plan.nodes.len(),
                        plan.hosts.len(),
                    ),
                },
            };
            to_file_or_stdout(file.as_deref(), &text)
        }
        Command::Review {
            topology,
            out: file,
            format,
        } => {
            let format = review_format(format, file.as_deref())?;
            let plan = plan_file(&topology, &templates)?;
            print_warnings(&topology, &plan);
            let text = match format {
                ReviewFormat::Html => review_html(&plan, &templates)?,
                ReviewFormat::Markdown => topoplan_report::markdown(&plan),
            };
            to_file_or_stdout(file.as_deref(), &text)
        }
        Command::Explain { topology, node } => {
            let plan = plan_file(&topology, &templates)?;
            match topoplan_report::explain(&plan, &node) {
                Some(text) => out(&text),
                None => anyhow::bail!(
                    "no node `{node}` in `{}`; its nodes are: {}",
                    topology.display(),
                    node_names(&plan)
                ),
            }
        }
        Command::Check {
            topology,
            homes,
            homes_file,
            format,
        } => {
            let plan = plan_file(&topology, &templates)?;
            let homes = check::homes(&homes, homes_file.as_deref())?;
            check::run(&templates, &plan, &homes, format == CheckFormat::Json)
        }
        Command::Init {
            product,
            preset,
            out: file,
        } => {
            let text = init::starter(&templates, product.as_deref(), &preset)?;
            match file {
                Some(f) => {
                    anyhow::ensure!(
                        std::fs::symlink_metadata(&f).is_err(),
                        "`{}` exists; topoplan init does not overwrite files",
                        f.display()
                    );
                    topoplan_safefs::write_atomic(&f, text.as_bytes())?;
                    out(&format!(
                        "wrote `{}`; next: topoplan plan {}\n",
                        f.display(),
                        f.display()
                    ))
                }
                None => out(&text),
            }
        }
        Command::Completions { shell } => {
            let mut buf = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "topoplan", &mut buf);
            out(&String::from_utf8_lossy(&buf))
        }
        Command::Export {
            tool: ExportTool::Ansible,
            topology,
            out: dir,
        } => {
            let plan = plan_file(&topology, &templates)?;
            let bundle = build_bundle(&plan, &templates)?;
            let profile = templates
                .profile(&plan.product)
                .map_err(|e| profile_error(&e))?;
            export::write(
                &dir,
                &plan,
                &profile,
                &topology.display().to_string(),
                &bundle,
            )?;
            print_warnings(&topology, &plan);
            out(&format!(
                "wrote `{}`: inventory.yml ({} host(s)), site.yml, bundles/ ({} node(s))\nrun: ansible-playbook -i {}/inventory.yml {}/site.yml\n",
                dir.display(),
                plan.hosts.len(),
                plan.nodes.len(),
                dir.display(),
                dir.display()
            ))
        }
        Command::Schema => {
            let schema = topoplan_model::schema::topology_schema(&profiles(&templates)?);
            out(&format!("{}\n", serde_json::to_string_pretty(&schema)?))
        }
        Command::Generate {
            product,
            hosts,
            per_host,
            seed,
            dense,
        } => {
            let profile = templates.profile(&product).map_err(|e| profile_error(&e))?;
            out(&generate::topology(&generate::Shape {
                profile: &profile,
                hosts,
                per_host,
                seed,
                dense,
            }))
        }
        Command::Profile(ProfileCommand::Check { dir, home }) => {
            profile_check::run(&dir, home.as_deref())
        }
        Command::Profile(ProfileCommand::Schema) => {
            let schema = topoplan_model::profile_schema();
            out(&format!("{}\n", serde_json::to_string_pretty(&schema)?))
        }
        Command::Man => {
            let mut buf = Vec::new();
            clap_mangen::Man::new(Cli::command()).render(&mut buf)?;
            out(&String::from_utf8_lossy(&buf))
        }
        Command::Apply {
            bundle,
            home,
            dry_run,
        } => apply::run(&bundle, &home, dry_run),
    }
}

fn out(s: &str) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(s.as_bytes())?;
    stdout.flush()?;
    Ok(())
}

/// Writes `text` to `file` atomically (temp + rename), or to standard output.
fn to_file_or_stdout(file: Option<&Path>, text: &str) -> Result<()> {
    match file {
        Some(f) => {
            topoplan_safefs::write_atomic(f, text.as_bytes())?;
            eprintln!("wrote `{}`", f.display());
            Ok(())
        }
        None => out(text),
    }
}

/// The plan's node names, comma-separated, for messages.
fn node_names(plan: &Plan) -> String {
    const SHOWN: usize = 12;
    let names: Vec<&str> = plan.nodes.iter().map(|n| n.name.as_str()).collect();
    if names.len() <= SHOWN {
        names.join(", ")
    } else {
        format!(
            "{}, ... ({} more)",
            names[..SHOWN].join(", "),
            names.len() - SHOWN
        )
    }
}

/// `warning[code]: file:line:col: message`, as cargo prints a located warning.
fn print_warnings(topology: &Path, plan: &Plan) {
    for w in &plan.warnings {
        print_warning(topology, &w.code, w.line.zip(w.column), &w.message);
    }
}

fn print_warning(topology: &Path, code: &str, at: Option<(usize, usize)>, message: &str) {
    let at = match at {
        Some((l, c)) => format!("{}:{l}:{c}", topology.display()),
        None => topology.display().to_string(),
    };
    eprintln!(
        "warning[{}]: {}: {}",
        diagnostics::visible(code),
        diagnostics::visible(&at),
        diagnostics::visible(message)
    );
}

/// A plan warning as a bundle recorded it (its JSON, `docs/plan-json.md`).
fn print_recorded_warning(topology: &Path, note: &str) {
    let Ok(w) = serde_json::from_str::<serde_json::Value>(note) else {
        return;
    };
    let num = |k: &str| w[k].as_u64().and_then(|n| usize::try_from(n).ok());
    print_warning(
        topology,
        w["code"].as_str().unwrap_or("warning"),
        num("line").zip(num("column")),
        w["message"].as_str().unwrap_or_default(),
    );
}

/// Built-in templates, overridden file by file from `dir`.
fn load_templates(dir: Option<&Path>) -> Result<TemplateSet> {
    let mut set = TemplateSet::default();
    for (path, text) in embedded::EMBEDDED {
        set.files.insert((*path).to_string(), (*text).to_string());
    }
    if let Some(dir) = dir {
        set.add_dir(dir)
            .with_context(|| format!("reading templates folder `{}`", dir.display()))?;
    }
    Ok(set)
}

/// Every profile of the set (for the schema and `init`); a broken one names its file.
fn profiles(set: &TemplateSet) -> Result<BTreeMap<String, Profile>> {
    set.profiles().map_err(|e| profile_error(&e))
}

fn profile_error(problems: &[String]) -> anyhow::Error {
    anyhow::anyhow!(
        "the product profile is broken (`topoplan profile check` lists every problem):\n{}",
        problems.join("\n")
    )
}

/// The product a topology names, read leniently: only so that `plan` loads that one profile
/// (a broken profile of another product never stops it). The full parse reports any error.
fn product_of(src: &str) -> Option<String> {
    // The usual layout, found without parsing the whole file (a large topology is megabytes):
    // `product = "…"` in the `[deployment]` table. Anything else takes the full parse.
    let mut in_deployment = false;
    for line in src.lines().map(str::trim) {
        if line.starts_with('[') {
            in_deployment = line == "[deployment]";
        } else if in_deployment {
            if let Some(v) = line.strip_prefix("product") {
                let v = v.trim_start().strip_prefix('=')?.trim();
                let v = v.split('#').next()?.trim();
                let name = v.strip_prefix('"')?.strip_suffix('"')?;
                if !name.contains(['\\', '"']) {
                    return Some(name.to_string());
                }
            }
        }
    }
    let t: toml::Table = toml::from_str(src).ok()?;
    Some(t.get("deployment")?.get("product")?.as_str()?.to_string())
}

/// The lock file of a topology: `x.toml` -> `x.lock`, beside it.
fn lock_path(topology: &Path) -> PathBuf {
    topology.with_extension("lock")
}

fn write_lock_file(topology: &Path, plan: &Plan) -> Result<PathBuf> {
    let path = lock_path(topology);
    let text = topoplan_solver::lock_of(plan).to_toml();
    topoplan_safefs::write_atomic(&path, text.as_bytes())?;
    Ok(path)
}

/// Reads, validates and solves a topology; diagnostics are printed and become exit code 1.
fn plan_file(path: &Path, templates: &TemplateSet) -> Result<Plan> {
    plan_texts(path, &read_sources(path)?, templates)
}

/// What a plan of a topology is made from, read once: its text and its lock's. The bundle
/// digests exactly these texts, then plans from them.
struct Sources {
    topology: String,
    /// The lock's text, `None` without a lock; a read error is reported where the lock is
    /// used, after the topology's own problems.
    lock: std::io::Result<Option<String>>,
}

impl Sources {
    /// The texts, for a digest; `None` when the lock could not be read.
    fn texts(&self) -> Option<Vec<&str>> {
        let lock = self.lock.as_ref().ok()?;
        Some(
            std::iter::once(self.topology.as_str())
                .chain(lock.as_deref())
                .collect(),
        )
    }
}

/// Reads the topology (a non-UTF-8 file is a located error) and its lock, if any.
fn read_sources(path: &Path) -> Result<Sources> {
    let bytes =
        std::fs::read(path).with_context(|| format!("reading topology `{}`", path.display()))?;
    let name = path.display().to_string();
    let src = match String::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => {
            // Show where: everything before the first bad byte is intact in the lossy text.
            let at = e.utf8_error().valid_up_to();
            let shown = String::from_utf8_lossy(e.as_bytes()).into_owned();
            let end = shown[at..].chars().next().map_or(at, |c| at + c.len_utf8());
            let d = topoplan_model::Diagnostic::error("toml-syntax", "the file is not UTF-8")
                .at(at..end, "this byte does not start a UTF-8 character")
                .note("TOML files are UTF-8; re-save the file as UTF-8");
            eprint!("{}", diagnostics::render(&name, &shown, &[d]));
            return Err(Reported(1).into());
        }
    };
    let lock = match std::fs::read_to_string(lock_path(path)) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    };
    Ok(Sources {
        topology: src,
        lock,
    })
}

/// Plans `path` from its texts, read by [`read_sources`].
fn plan_texts(path: &Path, sources: &Sources, templates: &TemplateSet) -> Result<Plan> {
    let name = path.display().to_string();
    let src = &sources.topology;
    let mut profiles = BTreeMap::new();
    if let Some(product) = product_of(src).filter(|p| templates.products().contains(p)) {
        let p = templates.profile(&product).map_err(|e| profile_error(&e))?;
        profiles.insert(product, p);
    }
    let topo: Topology = match topoplan_model::parse_with(src, &templates.products(), &profiles) {
        Ok(t) => t,
        Err(diags) => {
            eprint!("{}", diagnostics::render(&name, src, &diags));
            return Err(Reported(1).into());
        }
    };
    let profile = &profiles[&topo.product];
    let lock_file = lock_path(path);
    let lock = match &sources.lock {
        Ok(Some(text)) => match topoplan_model::Lock::parse(text, &topo.name, &topo.product) {
            Ok(l) => Some(l),
            Err(diags) => {
                eprint!(
                    "{}",
                    diagnostics::render(&lock_file.display().to_string(), text, &diags)
                );
                return Err(Reported(1).into());
            }
        },
        Ok(None) => None,
        Err(e) => {
            return Err(std::io::Error::new(e.kind(), e.to_string()))
                .with_context(|| format!("reading `{}`", lock_file.display()))
        }
    };
    let mut plan =
        topoplan_solver::solve_locked(&topo, profile, lock.as_ref()).map_err(|diags| {
            eprint!("{}", diagnostics::render(&name, src, &diags));
            anyhow::Error::from(Reported(1))
        })?;
    let lines = diagnostics::LineIndex::new(src);
    for w in &mut plan.warnings {
        if let Some(span) = &w.span {
            let (line, col) = lines.line_col(span.start);
            w.line = Some(line);
            w.column = Some(col);
        }
    }
    Ok(plan)
}
