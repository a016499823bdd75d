//! Architecture-review outputs as a reviewer uses them: diagrams that real renderers accept
//! (Graphviz, a browser), and a review page that holds the facts the review is about.

use crate::common::{root, stem, toml_files, tool, topoplan};
use serde_json::Value;
use std::path::Path;
use std::time::Duration;

fn stdout(args: &[&str]) -> String {
    let out = topoplan().args(args).output().unwrap();
    assert!(
        out.status.success(),
        "topoplan {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn plan_json(topology: &str) -> Value {
    serde_json::from_str(&stdout(&["plan", topology, "--format", "json"])).unwrap()
}

fn node_names(plan: &Value) -> Vec<String> {
    plan["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["name"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn diagrams_and_markdown_reviews_are_stable() {
    for f in toml_files("topologies") {
        let dot = stdout(&["graph", &f, "--format", "dot"]);
        insta::assert_snapshot!(format!("graph-dot-{}", stem(&f)), dot);
        let mermaid = stdout(&["graph", &f, "--format", "mermaid"]);
        insta::assert_snapshot!(format!("graph-mermaid-{}", stem(&f)), mermaid);
        let md = stdout(&["review", &f, "--format", "markdown"]);
        insta::assert_snapshot!(format!("review-md-{}", stem(&f)), md);
    }
}

#[test]
fn mermaid_is_a_flowchart_with_a_subgraph_per_host() {
    for f in toml_files("topologies") {
        let plan = plan_json(&f);
        let m = stdout(&["graph", &f, "--format", "mermaid"]);
        assert!(m.starts_with("flowchart"), "{f}: {m}");
        let hosts = plan["hosts"].as_array().unwrap();
        assert_eq!(m.matches("\n  subgraph ").count(), hosts.len(), "{f}");
        for h in hosts {
            let title = format!(
                "{} · {}",
                h["name"].as_str().unwrap(),
                h["address"].as_str().unwrap()
            );
            assert!(m.contains(&title), "{f}: no subgraph titled {title}");
        }
    }
}

#[test]
fn graphviz_renders_the_dot_output() {
    let Some(dot) = tool("TOPOPLAN_DOT", &["dot"]) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    for f in toml_files("topologies") {
        let plan = plan_json(&f);
        let src = tmp.path().join(format!("{}.dot", stem(&f)));
        std::fs::write(&src, stdout(&["graph", &f, "--format", "dot"])).unwrap();
        let out = std::process::Command::new(&dot)
            .arg("-Tsvg")
            .arg(&src)
            .output()
            .unwrap();
        assert!(
            out.status.success() && out.stderr.is_empty(),
            "{f}: dot said {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let svg = String::from_utf8(out.stdout).unwrap();
        assert_eq!(
            svg.matches("class=\"cluster\"").count(),
            plan["hosts"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|h| !h["nodes"].as_array().unwrap().is_empty())
                .count(),
            "{f}: one cluster per host with nodes"
        );
        let text = svg_text(&svg);
        for n in node_names(&plan) {
            assert!(text.lines().any(|l| l == n), "{f}: {n} not drawn");
        }
    }
}

/// All text of an SVG document, joined by newlines.
fn svg_text(svg: &str) -> String {
    // Graphviz starts its SVG with a DOCTYPE; allow it, entities are still checked.
    let options = roxmltree::ParsingOptions {
        allow_dtd: true,
        ..Default::default()
    };
    let doc = roxmltree::Document::parse_with_options(svg, options).expect("well-formed SVG");
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    doc.descendants()
        .filter_map(|n| n.text())
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn svg_is_drawn_in_process_with_every_node_and_edge_label() {
    for f in toml_files("topologies") {
        let plan = plan_json(&f);
        let svg = stdout(&["graph", &f, "--format", "svg"]);
        let text = svg_text(&svg);
        for n in node_names(&plan) {
            assert!(text.lines().any(|l| l == n), "{f}: node {n} missing");
        }
        // Every cross-node link appears as a label naming its kind and port.
        for l in &crate::common::every_link(&plan) {
            if l["from"] == l["to"] {
                continue;
            }
            let kind = l["kind"].as_str().unwrap().replace('-', " ");
            let port = l["port"].to_string();
            assert!(
                text.lines()
                    .any(|t| t.starts_with(&kind) && t.contains(&port)),
                "{f}: no edge label for {kind} {port}"
            );
        }
    }
}

/// A rectangle: x, y, width, height.
type Rect = (f64, f64, f64, f64);

/// The box drawn behind each text whose first line is one of `titles` (the renderer draws a
/// shape, then its label).
fn boxes_behind(svg: &str, titles: &[String]) -> Vec<(String, Rect)> {
    let doc = roxmltree::Document::parse(svg).unwrap();
    let mut last_rect: Option<Rect> = None;
    let mut found = Vec::new();
    for n in doc.descendants().filter(|n| n.is_element()) {
        let attr = |a: &str| n.attribute(a).and_then(|v| v.parse::<f64>().ok());
        match n.tag_name().name() {
            "rect" => {
                if let (Some(x), Some(y), Some(w), Some(h)) =
                    (attr("x"), attr("y"), attr("width"), attr("height"))
                {
                    last_rect = Some((x, y, w, h));
                }
            }
            "text" => {
                let first = n
                    .descendants()
                    .find_map(|t| t.text())
                    .unwrap_or_default()
                    .to_string();
                if titles.contains(&first) {
                    found.push((first, last_rect.expect("a shape before its label")));
                }
            }
            _ => {}
        }
    }
    found
}

#[test]
fn svg_nodes_do_not_overlap_and_sit_inside_their_host() {
    let overlap =
        |a: Rect, b: Rect| a.0 < b.0 + b.2 && b.0 < a.0 + a.2 && a.1 < b.1 + b.3 && b.1 < a.1 + a.3;
    let inside = |a: Rect, b: Rect| {
        a.0 >= b.0 && a.1 >= b.1 && a.0 + a.2 <= b.0 + b.2 && a.1 + a.3 <= b.1 + b.3
    };
    for f in toml_files("topologies") {
        let plan = plan_json(&f);
        let svg = stdout(&["graph", &f, "--format", "svg"]);
        let names = node_names(&plan);
        let nodes = boxes_behind(&svg, &names);
        assert_eq!(nodes.len(), names.len(), "{f}: a box per node");
        for (i, (a, ra)) in nodes.iter().enumerate() {
            for (b, rb) in &nodes[i + 1..] {
                assert!(!overlap(*ra, *rb), "{f}: {a} and {b} overlap");
            }
        }
        let hosts: Vec<(String, String)> = plan["hosts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| {
                let name = h["name"].as_str().unwrap().to_string();
                (format!("{name} · {}", h["address"].as_str().unwrap()), name)
            })
            .collect();
        let titles: Vec<String> = hosts.iter().map(|h| h.0.clone()).collect();
        let clusters = boxes_behind(&svg, &titles);
        assert_eq!(clusters.len(), hosts.len(), "{f}: a cluster per host");
        for (name, rect) in &nodes {
            let node = plan["nodes"]
                .as_array()
                .unwrap()
                .iter()
                .find(|n| n["name"] == name.as_str())
                .unwrap();
            let title = &hosts
                .iter()
                .find(|h| node["host"] == h.1.as_str())
                .unwrap()
                .0;
            let cluster = clusters.iter().find(|c| &c.0 == title).unwrap().1;
            assert!(
                inside(*rect, cluster),
                "{f}: {name} is drawn outside {title}"
            );
        }
    }
}

/// The table rows (`<tr>` up to `</tr>`) of one `<h2 id=...>` section of the page.
fn rows<'a>(html: &'a str, section: &str) -> Vec<&'a str> {
    let Some(start) = html.find(&format!("<h2 id=\"{section}\">")) else {
        return Vec::new();
    };
    let end = html[start + 1..]
        .find("<h2 ")
        .map_or(html.len(), |e| start + 1 + e);
    html[start..end]
        .split("<tr")
        .skip(1)
        .filter_map(|r| r.find("</tr>").map(|e| &r[..e]))
        .collect()
}

#[test]
fn html_review_holds_every_node_https_port_and_cross_host_thrift_opening() {
    let tmp = tempfile::tempdir().unwrap();
    let mut cross_host_thrift = 0;
    for f in toml_files("topologies") {
        let plan = plan_json(&f);
        let page = tmp.path().join(format!("{}.html", stem(&f)));
        topoplan()
            .args(["review", &f, "-o"])
            .arg(&page)
            .assert()
            .success();
        let html = std::fs::read_to_string(&page).unwrap();
        for bad in ["<script", "<link", " src=", "@import", "url("] {
            assert!(
                !html.contains(bad),
                "{f}: review is not self-contained ({bad})"
            );
        }
        assert!(html.contains("<svg"), "{f}: diagram not inline");
        for n in plan["nodes"].as_array().unwrap() {
            let name = n["name"].as_str().unwrap();
            let https = n["ports"]
                .as_array()
                .unwrap()
                .iter()
                .find(|p| p["name"] == "servlet-https")
                .unwrap()["effective"]
                .to_string();
            let r = rows(&html, "nodes")
                .into_iter()
                .find(|r| r.starts_with(&format!("><td><code>{name}</code></td>")))
                .unwrap_or_else(|| panic!("{f}: no node row for {name}"));
            assert!(
                r.contains(&format!(">{https}<")),
                "{f}: {name} row lacks HTTPS {https}: {r}"
            );
        }
        let node = |name: &Value| {
            plan["nodes"]
                .as_array()
                .unwrap()
                .iter()
                .find(|n| n["name"] == *name)
                .unwrap()
                .clone()
        };
        for l in &crate::common::every_link(&plan) {
            let (gw, km) = (node(&l["from"]), node(&l["to"]));
            if l["kind"] != "thrift" || gw["host"] == km["host"] {
                continue;
            }
            cross_host_thrift += 1;
            // Source host, then destination host (address):port and the protocol.
            let source = format!("><td>{}</td>", gw["host"].as_str().unwrap());
            let dest = format!(
                "<td>{} ({}):{}</td><td>thrift</td>",
                km["host"].as_str().unwrap(),
                km["address"].as_str().unwrap(),
                l["port"]
            );
            let r = rows(&html, "firewall")
                .into_iter()
                .find(|r| r.starts_with(&source) && r.contains(&dest));
            assert!(
                r.is_some(),
                "{f}: no firewall row {} -> {}:{}",
                gw["host"],
                km["host"],
                l["port"]
            );
        }
    }
    assert!(
        cross_host_thrift > 0,
        "no example has a gateway and its key manager on different hosts"
    );
}

#[test]
fn chromium_renders_the_review_with_every_node_name() {
    let Some(chromium) = tool(
        "TOPOPLAN_CHROMIUM",
        &["chromium", "chromium-browser", "google-chrome"],
    ) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    for f in [
        "topologies/thrift-cross-host.toml",
        "topologies/multi-host-ha.toml",
    ] {
        let plan = plan_json(f);
        let page = tmp.path().join(format!("{}.html", stem(f)));
        topoplan()
            .args(["review", f, "-o"])
            .arg(&page)
            .assert()
            .success();
        let url = format!("file://{}", page.display());
        let browser = |extra: &[String]| {
            let profile = tempfile::tempdir().unwrap();
            let out = assert_cmd::Command::new(&chromium)
                .args([
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--no-first-run",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                ])
                .arg(format!("--user-data-dir={}", profile.path().display()))
                .args(extra)
                .arg(&url)
                .timeout(Duration::from_secs(120))
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "chromium: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            out.stdout
        };
        // The DOM after the page loaded: the browser parsed it and its text holds every node.
        let dom = String::from_utf8(browser(&["--dump-dom".into()])).unwrap();
        assert!(dom.contains("<svg"), "{f}: no diagram in the rendered DOM");
        for n in node_names(&plan) {
            assert!(
                dom.contains(&format!("<code>{n}</code>")),
                "{f}: {n} not in the page"
            );
        }
        // The screenshot: the page painted, with more than a blank background.
        let png = tmp.path().join(format!("{}.png", stem(f)));
        browser(&[
            format!("--screenshot={}", png.display()),
            "--window-size=1280,1600".into(),
            "--hide-scrollbars".into(),
        ]);
        let (w, h, colours) = png_stats(&png);
        assert_eq!((w, h), (1280, 1600), "{f}: screenshot size");
        assert!(
            colours > 50,
            "{f}: the screenshot looks blank ({colours} colours)"
        );
    }
}

/// Width, height and number of distinct colours of a PNG.
fn png_stats(path: &Path) -> (u32, u32, usize) {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let px = info.color_type.samples();
    let colours: std::collections::BTreeSet<&[u8]> = buf[..info.buffer_size()].chunks(px).collect();
    (info.width, info.height, colours.len())
}

#[test]
fn explain_prints_one_node_and_rejects_unknown_names() {
    let f = "topologies/thrift-cross-host.toml";
    insta::assert_snapshot!("explain-gw-edge-1", stdout(&["explain", f, "gw-edge-1"]));
    let out = topoplan().args(["explain", f, "nope"]).assert().code(2);
    let err = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(err.contains("no node `nope`"), "{err}");
    assert!(
        err.contains("gw-edge-1, gw-edge-2, km1, km2, store-pub"),
        "{err}"
    );
}

#[test]
fn review_format_comes_from_the_file_name_or_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let f = root().join("topologies/all-in-one.toml");
    let md = tmp.path().join("r.md");
    topoplan()
        .arg("review")
        .arg(&f)
        .arg("-o")
        .arg(&md)
        .assert()
        .success();
    assert!(std::fs::read_to_string(&md)
        .unwrap()
        .starts_with("# Deployment review"));
    let txt = tmp.path().join("r.txt");
    let out = topoplan()
        .arg("review")
        .arg(&f)
        .arg("-o")
        .arg(&txt)
        .assert()
        .code(2);
    assert!(String::from_utf8_lossy(&out.get_output().stderr).contains("--format html|markdown"));
    assert!(!txt.exists(), "nothing written on a usage error");
}

/// Above the drawing limit the review counts nodes per host instead of drawing them, so a
/// large estate's review costs milliseconds, not minutes; every node is still in the tables.
#[test]
fn large_plans_get_a_host_summary_instead_of_a_node_drawing() {
    let hosts = 10;
    let per_host = topoplan_report::DRAW_UP_TO / hosts + 1;
    let mut t = String::from("[deployment]\nname = \"big\"\nproduct = \"appm-1.2.0\"\n");
    for h in 0..hosts {
        t += &format!("[[host]]\nname = \"h{h}\"\naddress = \"10.9.{h}.1\"\n");
    }
    let roles = ["key-manager", "gateway", "store", "publisher", "gateway"];
    for h in 0..hosts {
        for k in 0..per_host {
            t += &format!(
                "[[node]]\nname = \"n{h}-{k}\"\nroles = [\"{}\"]\nhost = \"h{h}\"\n",
                roles[k % roles.len()]
            );
        }
        t += &format!("[[link]]\nfrom = \"n{h}-1\"\nto = \"n{h}-0\"\n");
        if per_host > 4 {
            t += &format!("[[link]]\nfrom = \"n{h}-4\"\nto = \"n{h}-0\"\n");
        }
    }
    let d = tempfile::tempdir().unwrap();
    let topo = d.path().join("big.toml");
    std::fs::write(&topo, t).unwrap();
    let html = d.path().join("review.html");
    let o = topoplan()
        .arg("review")
        .arg(&topo)
        .arg("-o")
        .arg(&html)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let page = std::fs::read_to_string(&html).unwrap();
    // Not the node drawing: the per-host summary (one box per host).
    let svg = &page[page.find("<svg").expect("a summary drawing")..page.find("</svg>").unwrap()];
    assert!(!svg.contains("n0-0"), "a node box above the limit");
    assert!(svg.contains(">h0<"), "host boxes");
    assert!(page.contains("Each box is a host"));
    assert!(page.contains("counts the nodes per host"));
    for h in 0..hosts {
        assert!(
            page.contains(&format!(
                "<td><code>h{h}</code></td><td>10.9.{h}.1</td><td class=\"num\">{per_host}</td>"
            )),
            "h{h} row"
        );
        for k in 0..per_host {
            assert!(page.contains(&format!("n{h}-{k}")), "node n{h}-{k} missing");
        }
    }
}

/// Above 40 nodes, `graph --format svg` and the review draw one box per host (node counts
/// per role) and the links between hosts with their counts; DOT keeps every node.
#[test]
fn large_plans_draw_a_per_host_summary() {
    let d = tempfile::tempdir().unwrap();
    let t = d.path().join("estate.toml");
    let out = topoplan()
        .args([
            "generate",
            "--product",
            "appm-1.1.0",
            "--hosts",
            "12",
            "--per-host",
            "5",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    std::fs::write(&t, &out.stdout).unwrap();
    let svg_path = d.path().join("g.svg");
    let o = topoplan()
        .args([
            "graph",
            t.to_str().unwrap(),
            "--format",
            "svg",
            "-o",
            svg_path.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stderr).contains("one box per host"));
    let svg = std::fs::read_to_string(&svg_path).unwrap();
    let doc = roxmltree::Document::parse(&svg).unwrap();
    let text: Vec<&str> = doc.descendants().filter_map(|n| n.text()).collect();
    assert!(
        text.iter().any(|t| t.contains("10.0.0.1 · 5 node(s)")),
        "{text:?}"
    );
    assert!(
        text.iter().any(|t| t.contains("2 gateway, 1 key-manager,")),
        "{text:?}"
    );
    assert!(
        text.iter().any(|t| t.contains("1 publisher, 1 store")),
        "{text:?}"
    );
    // Hosts link to nothing but themselves in this estate: no arrow crosses hosts, and no node
    // box is drawn.
    assert!(!text.iter().any(|t| t.starts_with("n0-")), "{text:?}");
    let html = d.path().join("r.html");
    topoplan()
        .args(["review", t.to_str().unwrap(), "-o", html.to_str().unwrap()])
        .assert()
        .success();
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(
        page.contains("Each box is a host") && page.contains("<svg"),
        "summary drawing missing"
    );
    let dot = topoplan()
        .args(["graph", t.to_str().unwrap(), "--format", "dot"])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&dot.stdout).contains("\"n11-4\""),
        "DOT keeps every node"
    );
}

/// An estate whose lists no link scopes (every publisher serves every gateway): the review
/// still names every node, and folds each long list into one row that says its size.
#[test]
fn the_review_of_an_unscoped_estate_names_every_node_and_the_list_sizes() {
    let d = tempfile::tempdir().unwrap();
    let topo = d.path().join("estate.toml");
    let g = crate::common::topoplan()
        .args([
            "generate",
            "--product",
            "appm-1.2.0",
            "--hosts",
            "30",
            "--per-host",
            "5",
            "--unscoped",
        ])
        .output()
        .unwrap();
    assert!(g.status.success());
    std::fs::write(&topo, &g.stdout).unwrap();
    let plan = plan_json(topo.to_str().unwrap());
    let gateways = plan["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| {
            n["roles"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r == "gateway")
        })
        .count();
    assert!(
        plan["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|w| w["code"] != "long-lists"),
        "60 is not long"
    );
    for name in ["review.md", "review.html"] {
        let out = d.path().join(name);
        let o = crate::common::topoplan()
            .arg("review")
            .arg(&topo)
            .arg("-o")
            .arg(&out)
            .output()
            .unwrap();
        assert!(o.status.success());
        let text = std::fs::read_to_string(&out).unwrap();
        for n in plan["nodes"].as_array().unwrap() {
            assert!(
                text.contains(n["name"].as_str().unwrap()),
                "{name} lacks {}",
                n["name"]
            );
        }
        assert!(
            text.contains(&format!("{gateways} gateway nodes: ")),
            "{name}: no folded list"
        );
        // One row per publisher list instead of one per gateway: the table is small.
        let rows = text.matches("gateway_env").count();
        assert!(rows < 100, "{name}: {rows} gateway_env rows");
        // The firewall: from each publisher's host one opening per gateway port to the hosts
        // whose gateway listens on it, with how many links it stands for, not a row per host.
        assert!(
            text.contains(" hosts: h0, h1, h10, …"),
            "{name}: no folded opening"
        );
        assert!(
            text.lines()
                .any(|l| l.contains("publish n0-3→n0-0") && l.contains(" more")),
            "{name}: no count"
        );
    }
    // The bundle: a publisher's README folds its environments into one row; its node.json
    // names every gateway, its own host's first, and its product file lists them all.
    let out = d.path().join("out");
    assert!(crate::common::bundle_to(&topo, &out).status.success());
    let readme = std::fs::read_to_string(out.join("n0-3/README.md")).unwrap();
    let row = readme
        .lines()
        .find(|l| l.starts_with("| gateway_env (publish) |"))
        .expect("one row for the environments");
    assert!(
        row.contains(&format!("{gateways} nodes: `n0-0`, `n0-4`, ")),
        "{row}"
    );
    let slice: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("n0-3/node.json")).unwrap())
            .unwrap();
    let to = slice["lists"][0]["to"].as_array().unwrap();
    assert_eq!((to.len(), &to[0]), (gateways, &serde_json::json!("n0-0")));
    let patch =
        std::fs::read_to_string(out.join("n0-3/overlay/repository/conf/app-manager.xml.patch.xml"))
            .unwrap();
    assert_eq!(
        patch.matches("<Environment type=\"hybrid\"").count(),
        gateways - 1
    );
}
