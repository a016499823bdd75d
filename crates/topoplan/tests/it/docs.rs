//! `docs/ports.md` is generated from the shipped profiles, so the reference can never drift
//! from what topoplan does: every port, every rewired reference with the roles that read it,
//! and every site left to the operator with the reason. Run with `TOPOPLAN_BLESS=1` to rewrite
//! the file after changing a profile.

use crate::common::root;
use std::fmt::Write;
use topoplan_model::{PortRule, Profile, Providers};

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

fn code(s: &str) -> String {
    format!("`{}`", cell(s))
}

fn product_section(p: &Profile, out: &mut String) {
    let name = &p.product.name;
    let _ = writeln!(out, "## {} (`{name}`)\n", p.product.title);
    let _ = writeln!(out, "### Ports\n");
    let _ = writeln!(
        out,
        "| name | base | listens | follows offset | set by | evidence |\n|---|---|---|---|---|---|"
    );
    for port in &p.port {
        let listens = match (port.rule, port.listens) {
            (PortRule::PerNode, _) => format!(
                "{} only (assigned per node by topoplan){}",
                port.roles.join(", "),
                if port.modes.is_empty() {
                    String::new()
                } else {
                    format!(", key validation `{}`", port.modes.join("`, `"))
                }
            ),
            (_, true) => "yes".to_string(),
            (_, false) => "no".to_string(),
        };
        let _ = writeln!(
            out,
            "| {} | {} | {listens} | {} | {} {} | {} |",
            port.name,
            port.base,
            if port.follows_offset { "yes" } else { "no" },
            code(&port.file),
            cell(&port.element),
            cell(&port.evidence)
        );
    }
    let _ = writeln!(
        out,
        "\nOnly listening ports take part in collision checks; topoplan lists them in each node's `ports[]`.\n"
    );

    let _ = writeln!(out, "### Written on every node\n");
    let _ = writeln!(
        out,
        "- `repository/conf/carbon.xml` `Ports/Offset`: the node's offset. The Jaggery apps read only this element, not `-DportOffset` (App Manager: appm-1.2.0/PORTS.md caveat 1; the same Jaggery runtime in API Manager), and `bin/start.sh` passes the same value."
    );
    let _ = writeln!(
        out,
        "- `repository/conf/carbon.xml` `HostName`, `MgtHostName`: the host's address (IPv6 bracketed, as Carbon pastes it into `%https.host%` URLs); added where the release ships them commented out (kernel 4.4.3). Every node reads them (App Manager: PORTS.md \"Readers\", `carbon.xml` L45)."
    );
    let overlays = root().join("templates").join(name).join("overlay");
    if overlays
        .join("repository/conf/tomcat/catalina-server.xml.patch.xml.tera")
        .exists()
    {
        let _ = writeln!(
            out,
            "- `repository/conf/tomcat/catalina-server.xml` HTTP `Connector@redirectPort`: the node's HTTPS port; the kernel does not offset it (appm-1.2.0/PORTS.md, catalina-server.xml L30)."
        );
    }
    if let Some(thrift) = p
        .port
        .iter()
        .find(|x| x.rule == PortRule::PerNode && !x.clustered)
    {
        let _ = writeln!(
            out,
            "- {} `{}`, and beside it `KeyValidatorClientType` (the mode), `ThriftClientPort` and `ThriftServerHost` (the gateway's key manager, bare address): `EnableThriftServer` true on key managers only, `ThriftServerPort` unique on the host. See [thrift.md](thrift.md).",
            code(&thrift.file),
            cell(&thrift.element)
        );
    }

    let _ = writeln!(out, "\n### Cross-node references (rewired by topoplan)\n");
    let _ = writeln!(
        out,
        "Each value is written into **every node whose role reads it**, once per node however many of those roles it has. \
\"one\" takes a single provider (the node itself, else its `[[link]]`, else the only candidate, else the same host, else the first by name); \
\"each\" lists every provider the node serves (those its links name, else all).\n"
    );
    let _ = writeln!(
        out,
        "| reference | kind | read by | points at | port | file : element | shipped value | who reads it (evidence) | why it must be rewired (evidence) |\n|---|---|---|---|---|---|---|---|---|"
    );
    for r in &p.reference {
        let providers = match r.providers {
            Providers::One => format!("one {}", r.provider),
            Providers::Each => format!("each {}", r.provider),
        };
        let mut kind = if r.modes.is_empty() {
            r.kind.clone()
        } else {
            format!("{} (key validation `{}`)", r.kind, r.modes.join("`, `"))
        };
        if let Some(src) = &r.derived_from {
            kind.push_str(&format!(
                "; derived by the product from `{src}`: not written, verified by `check`"
            ));
        }
        let _ = writeln!(
            out,
            "| `{}` | {kind} | {} | {providers} | {} | {} {} | {} | {} | {} |",
            r.name,
            r.readers.join(", "),
            r.port,
            code(&r.file),
            cell(&r.element),
            code(&r.default),
            cell(&r.readers_evidence),
            cell(&r.evidence)
        );
    }

    let _ = writeln!(out, "\n### Sites left to the operator\n");
    let _ = writeln!(
        out,
        "Each also appears, with the value to set, in the README of every node that reads it and in the review's \"Manual steps\".\n"
    );
    let _ = writeln!(
        out,
        "| site | file : element | read by | shipped value | what to do, and why topoplan leaves it | evidence |\n|---|---|---|---|---|---|"
    );
    for m in &p.manual {
        let readers = if m.readers.is_empty() {
            "no node of the deployment".to_string()
        } else {
            m.readers.join(", ")
        };
        let _ = writeln!(
            out,
            "| `{}` | {} {} | {readers} | {} | {} | {} |",
            m.name,
            code(&m.file),
            cell(&m.element),
            code(&m.default),
            cell(&m.action),
            cell(&m.evidence)
        );
    }
    out.push('\n');
}

fn generate() -> String {
    let mut out = String::from(
        "# Ports reference\n\n\
<!-- Generated from templates/*/profile.toml by crates/topoplan/tests/it/docs.rs; edit the profiles, then run\n     `TOPOPLAN_BLESS=1 cargo test -p topoplan --test it docs::`. -->\n\n\
Every entry comes from a product profile (`templates/<product>/profile.toml`), whose every line cites its \
evidence: for App Manager `../shared/fixtures/<product>/PORTS.md`, where each fact is traced to the product code; for \
API Manager the real files in `../shared/fixtures/apim-1.10.0/` and the product code by file and line. N is the node's offset. \
Every hard-coded site that PORTS.md lists is either rewired (a reference below, with the roles that read it) or \
left to the operator with the reason.\n\n",
    );
    for product in ["appm-1.2.0", "appm-1.1.0", "apim-1.10.0"] {
        let src =
            std::fs::read_to_string(root().join("templates").join(product).join("profile.toml"))
                .unwrap();
        product_section(&Profile::parse(&src).unwrap(), &mut out);
    }
    out.truncate(out.trim_end().len());
    out.push('\n');
    out
}

#[test]
fn ports_reference_matches_the_profiles() {
    let path = root().join("docs/ports.md");
    let want = generate();
    if std::env::var_os("TOPOPLAN_BLESS").is_some() {
        std::fs::write(&path, &want).unwrap();
    }
    let have = std::fs::read_to_string(&path).unwrap();
    assert!(
        have == want,
        "docs/ports.md is out of date with the profiles: run `TOPOPLAN_BLESS=1 cargo test -p topoplan --test docs`"
    );
}
