//! `topoplan init`: a commented starter topology, for an operator who has not read
//! docs/topology.md yet. The starters are product data (`<product>/presets/<preset>.toml` in
//! the templates), so a new profile brings its own; every shipped one plans without errors
//! (tested for every product and preset).

use anyhow::Result;
use topoplan_render::TemplateSet;

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
pub fn starter(set: &TemplateSet, product: Option<&str>, preset: &str) -> Result<String> {
    let products = set.products();
    let product = match product {
        Some(p) => p.to_string(),
        None => products
            .last()
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
