//! The command line: global options and one variant per command, each with its own `Args`
//! beside its `run` in `commands/`.

use crate::commands::{
    apply, bundle, check, completions, explain, export, generate, graph, init, lock, plan, profile,
    review,
};
use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// Plans port offsets, key-validation pairs and cross-node URLs for distributed WSO2 Carbon
/// deployments (the products of templates/<product>/), and applies them to the real product files.
#[derive(Parser)]
#[command(name = "topoplan", version, about, long_about = None)]
pub struct Cli {
    /// Read product profiles and templates from this folder instead of the built-in ones
    /// (files found there override built-in files of the same path).
    #[arg(long, global = true, value_name = "DIR")]
    pub templates: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Solve a topology and print the plan: offsets, ports, links, warnings.
    ///
    /// When `<topology>.lock` exists beside it (`topologies/x.toml` -> `topologies/x.lock`), its
    /// offsets and fixed ports are kept and the plan shows what changed against it.
    #[command(
        after_help = "Examples:\n  topoplan plan site.toml\n  topoplan plan site.toml --format json | jq .nodes\n  topoplan plan site.toml --detailed-exitcode   # 0 unchanged, 2 changed against site.lock, 1 problems or errors"
    )]
    Plan(plan::Args),
    /// Plan and write `<topology>.lock`, so later plans keep today's offsets and ports.
    #[command(
        after_help = "Examples:\n  topoplan lock site.toml          # writes site.lock; commit it beside site.toml"
    )]
    Lock(lock::Args),
    /// Write one bundle folder per node (overlays, start script, README) plus plan.json and review.md.
    #[command(
        after_help = "Examples:\n  topoplan bundle site.toml -o out/\n  scp -r out/km km-host:/tmp/ && ssh km-host topoplan apply /tmp/km --home /srv/product/km"
    )]
    Bundle(bundle::Args),
    /// Draw the deployment: a cluster per host, a box per node, an edge per link kind.
    #[command(
        after_help = "Examples:\n  topoplan graph site.toml | dot -Tsvg > site.svg\n  topoplan graph site.toml --format svg -o site.svg\n  topoplan graph site.toml --format mermaid"
    )]
    Graph(graph::Args),
    /// Write the architecture review: diagram, port maps, links, firewall matrix, reasons,
    /// warnings. One self-contained file.
    #[command(
        after_help = "Examples:\n  topoplan review site.toml -o review.html\n  topoplan review site.toml -o review.md"
    )]
    Review(review::Args),
    /// Explain one node: its offset and why, its ports, what it points at and what points at it.
    #[command(after_help = "Examples:\n  topoplan explain site.toml gw1")]
    Explain(explain::Args),
    /// Check installed nodes against the plan: every value `apply` would write, and any offset
    /// option in the product's start script or its environment. Reads only; exit 1 when
    /// anything drifted.
    #[command(
        after_help = "Examples:\n  topoplan check site.toml --home km=/srv/product/km --home gw1=/srv/product/gw1\n  topoplan check site.toml --homes-file homes.txt --format json"
    )]
    Check(check::Args),
    /// Write a commented starter topology that plans without errors.
    #[command(
        after_help = "Examples:\n  topoplan init --product <product> --preset distributed -o site.toml\n  topoplan init --preset all-in-one\n\nProducts are the folders of the templates with a profile.toml; presets are the files of their\npresets/ folder (the shipped products have all-in-one, distributed and ha)."
    )]
    Init(init::Args),
    /// Print shell completions (bash, zsh, fish, elvish, powershell) on standard output.
    #[command(
        after_help = "Examples:\n  source <(topoplan completions bash)\n  topoplan completions zsh > ~/.zfunc/_topoplan"
    )]
    Completions(completions::Args),
    /// Export the plan for a deployment tool: `ansible` writes inventory.yml, site.yml and
    /// bundles/ into a folder that `ansible-playbook -i inventory.yml site.yml` runs as is.
    #[command(
        after_help = "Examples:\n  topoplan export ansible site.toml -o deploy/\n  ansible-playbook -i deploy/inventory.yml deploy/site.yml --check --diff\n  ansible-playbook -i deploy/inventory.yml deploy/site.yml -e topoplan_home_base=/srv/product"
    )]
    Export(export::Args),
    /// Print the JSON Schema of the topology format (for `#:schema` in taplo-based editors).
    #[command(
        after_help = "Examples:\n  topoplan schema > topology.schema.json\n  # then, as the first line of a topology: #:schema ./topology.schema.json"
    )]
    Schema,
    /// Print a seeded generated topology (for benchmarks and scale tests).
    #[command(hide = true)]
    Generate(generate::Args),
    /// Work on product profiles (docs/profiles.md).
    #[command(
        subcommand,
        after_help = "Examples:\n  topoplan profile check templates/<product> --home /srv/product/unpacked-home\n  topoplan profile schema > profile.schema.json"
    )]
    Profile(profile::Command),
    /// Print the manual page (roff) on standard output.
    #[command(after_help = "Examples:\n  topoplan man > topoplan.1 && man ./topoplan.1")]
    Man,
    /// Apply one node's bundle to a product home: only the selected values change.
    #[command(
        after_help = "Examples:\n  topoplan apply out/km --home /srv/product/km --dry-run\n  topoplan apply out/km --home /srv/product/km"
    )]
    Apply(apply::Args),
}
