//! `topoplan init`: a commented starter topology per preset, for an operator who has not read
//! docs/topology.md yet. Every preset plans without errors (tested for every product).

use crate::Preset;

pub fn starter(product: &str, preset: Preset) -> String {
    let mut s = format!(
        "# A topoplan topology (docs/topology.md). Plan it with `topoplan plan <this file>`.\n\
# Hosts are machines; nodes are product installations on them, each with roles; topoplan\n\
# chooses every port offset and points every node at its peers. For completion and checks in\n\
# taplo-based editors: `topoplan schema > topology.schema.json`, then make the first line\n\
# `#:schema ./topology.schema.json`.\n\
[deployment]\n\
name = \"my-deployment\"\n\
product = \"{product}\"\n"
    );
    if product == "appm-1.1.0" {
        s.push_str("# key_validation = \"thrift\"  # 1.1.0: thrift (default) or ws\n");
    }
    let host = |name: &str, address: &str, note: &str| {
        format!("\n[[host]]\nname = \"{name}\"\naddress = \"{address}\"   # {note}\n# reserved_ports = [3306]   # ports other software holds here\n")
    };
    let node = |name: &str, roles: &str, host: &str| {
        format!("\n[[node]]\nname = \"{name}\"\nroles = [{roles}]\nhost = \"{host}\"\n# offset = 0   # pin the offset; topoplan chooses the others around it\n")
    };
    match preset {
        Preset::AllInOne => {
            s += &host(
                "appm",
                "127.0.0.1",
                "host name, IPv4 or IPv6, as clients reach it",
            );
            s += &node("appm", "\"all\"", "appm");
        }
        Preset::Distributed => {
            s += &host("dmz", "10.0.1.10", "the gateway's host");
            s += &host("core", "10.0.2.10", "key manager, store and publisher");
            s += &node("gw", "\"gateway\"", "dmz");
            s += &node("km", "\"key-manager\"", "core");
            s += &node("store", "\"store\"", "core");
            s += &node("publisher", "\"publisher\"", "core");
        }
        Preset::Ha => {
            s += &host("dmz1", "10.0.1.11", "first gateway");
            s += &host("dmz2", "10.0.1.12", "second gateway");
            s += &host("core", "10.0.2.10", "key managers, store and publisher");
            s += &node("gw1", "\"gateway\"", "dmz1");
            s += &node("gw2", "\"gateway\"", "dmz2");
            s += &node("km1", "\"key-manager\"", "core");
            s += &node("km2", "\"key-manager\"", "core");
            s += &node("store-pub", "\"store\", \"publisher\"", "core");
            s += "\n# Each gateway validates keys against one key manager: say which.\n[[link]]\nfrom = \"gw1\"\nto = \"km1\"\n\n[[link]]\nfrom = \"gw2\"\nto = \"km2\"\n\n# Store and publisher: one identity provider for both.\n[[link]]\nfrom = \"store-pub\"\nto = \"km1\"\n";
        }
    }
    s
}
