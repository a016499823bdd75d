//! `topoplan init`: a commented starter topology, for an operator who has not read
//! docs/topology.md yet. The starters are product data (`<product>/presets/<preset>.toml` in
//! the templates), so a new profile brings its own; every shipped one plans without errors
//! (tested for every product and preset).

use crate::output::out;
use crate::status::ExitStatus;
use anyhow::Result;
use std::path::PathBuf;
use topoplan_render::TemplateSet;

#[derive(clap::Args)]
pub struct Args {
    /// The product profile [default: with `--templates`, the folder's own product (the last
    /// by name when it has several); else the last built-in product by name].
    #[arg(long)]
    product: Option<String>,
    /// The shape of the deployment: a preset of the product.
    #[arg(long, default_value = "distributed")]
    preset: String,
    /// Write to this file (refused if it exists) instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    out: Option<PathBuf>,
}

pub fn run(
    args: Args,
    templates: &TemplateSet,
    dir: Option<&std::path::Path>,
) -> Result<ExitStatus> {
    let text = starter(templates, args.product.as_deref(), &args.preset)?;
    let Some(f) = args.out else {
        out(&text)?;
        return Ok(ExitStatus::Success);
    };
    anyhow::ensure!(
        std::fs::symlink_metadata(&f).is_err(),
        "`{}` exists; topoplan init does not overwrite files",
        f.display()
    );
    topoplan_safefs::write_atomic(&f, text.as_bytes())?;
    // The next command reads the same templates, or the product is unknown to it.
    let with = dir.map_or(String::new(), |d| {
        format!(
            "--templates {} ",
            crate::diagnostics::visible(&d.display().to_string())
        )
    });
    out(&format!(
        "wrote `{}`; next: topoplan {with}plan {}\n",
        f.display(),
        f.display()
    ))?;
    Ok(ExitStatus::Success)
}

/// The presets a product ships, by name.
pub fn presets(set: &TemplateSet, product: &str) -> Vec<String> {
    let prefix = format!("{product}/presets/");
    set.files
        .keys()
        .filter_map(|k| k.strip_prefix(&prefix)?.strip_suffix(".toml"))
        .filter(|p| !p.contains('/'))
        .map(str::to_string)
        .collect()
}

/// The starter topology of `preset` for `product` (the last product by name when `None`).
fn starter(set: &TemplateSet, product: Option<&str>, preset: &str) -> Result<String> {
    let products = set.products();
    // A `--templates` folder's own products first: its author means one of those.
    let own: Vec<&String> = products
        .iter()
        .filter(|p| set.origin.contains_key(&format!("{p}/profile.toml")))
        .collect();
    let product = match product {
        Some(p) => p.to_string(),
        None => own
            .last()
            .copied()
            .or(products.last())
            .cloned()
            .ok_or_else(|| anyhow::anyhow!("no product profiles in the templates"))?,
    };
    anyhow::ensure!(
        products.contains(&product),
        "unknown product `{product}`; known: {}",
        products.join(", ")
    );
    let known = presets(set, &product);
    set.files
        .get(&format!("{product}/presets/{preset}.toml"))
        .cloned()
        .ok_or_else(|| {
            anyhow::anyhow!(
                "`{product}` has no preset `{preset}`; its presets: {}",
                known.join(", ")
            )
        })
}
