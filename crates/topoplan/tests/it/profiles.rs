//! Product knowledge is data: the engine names no product, a profile with every role and link
//! kind renamed gives the same product files, `profile check` passes the shipped profiles and
//! reports the mistakes a profile author makes, and the profile schema stays in sync.

use crate::common::{copy_tree, fixtures, root, toml_files, tool, topoplan, tree};
use std::path::Path;

/// Every `.rs` file of the engine crates' sources, without test modules and comment lines.
fn engine_code() -> Vec<(String, Vec<(usize, String)>)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(root().join("crates")).unwrap() {
        let krate = entry.unwrap().path();
        // The fuzzing crate is test support: its seeds are real topologies.
        if krate.ends_with("topoplan-fuzzing") || !krate.join("src").is_dir() {
            continue;
        }
        let mut files = Vec::new();
        walk(&krate.join("src"), &mut files);
        for f in files
            .into_iter()
            .filter(|f| f.extension().is_some_and(|e| e == "rs"))
        {
            let text = std::fs::read_to_string(&f).unwrap();
            out.push((f.display().to_string(), non_test_lines(&text)));
        }
    }
    out
}

/// Every line of a source file outside comments and `#[cfg(test)]` items: the item after each
/// `#[cfg(test)]` is skipped to its closing brace, and scanning goes on after it (a test
/// module in the middle of a file hides nothing below it).
fn non_test_lines(text: &str) -> Vec<(usize, String)> {
    let mut lines = Vec::new();
    let mut skipping = false;
    let (mut depth, mut opened) = (0i64, false);
    for (i, l) in text.lines().enumerate() {
        let t = l.trim_start();
        if t.starts_with("#[cfg(test)]") {
            (skipping, depth, opened) = (true, 0, false);
            continue;
        }
        if skipping {
            let code = t.split("//").next().unwrap_or("");
            depth += code.matches('{').count() as i64 - code.matches('}').count() as i64;
            opened |= code.contains('{');
            if (opened && depth <= 0) || (!opened && code.trim_end().ends_with(';')) {
                skipping = false;
            }
            continue;
        }
        if !t.starts_with("//") {
            lines.push((i + 1, l.to_string()));
        }
    }
    lines
}

/// A line with its string literals and backticked names emptied.
fn strip_literals(line: &str) -> String {
    let mut out = String::new();
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for c in line.chars() {
        match quote {
            Some(_) if escaped => escaped = false,
            Some('"') if c == '\\' => escaped = true,
            Some(q) if c == q => {
                quote = None;
                out.push(c);
            }
            Some(_) => {}
            None if c == '"' || c == '`' => {
                quote = Some(c);
                out.push(c);
            }
            None => out.push(c),
        }
    }
    out
}

#[test]
fn test_items_are_skipped_and_the_rest_is_scanned() {
    assert_eq!(strip_literals(r#"a("x\"y", `k`) b"#), r#"a("", ``) b"#);
    let src = "fn a() {}\n#[cfg(test)]\nmod t {\n    fn x() { \"gateway\" }\n}\nfn b() {}\n// c\n";
    let kept: Vec<_> = non_test_lines(src).into_iter().map(|(n, _)| n).collect();
    assert_eq!(kept, [1, 6]);
}

fn walk(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            walk(&p, out);
        } else {
            out.push(p);
        }
    }
}

/// Role and kind names of the shipped profiles, read from the profiles themselves.
fn shipped_names() -> (Vec<String>, Vec<String>) {
    let mut roles = Vec::new();
    let mut kinds = Vec::new();
    for v in &crate::common::shipped_products() {
        let text = std::fs::read_to_string(root().join(format!("templates/{v}/profile.toml")));
        let p = topoplan_model::Profile::parse(&text.unwrap()).unwrap();
        roles.extend(p.role.iter().map(|r| r.name.clone()));
        kinds.extend(p.kind.iter().map(|k| k.name.clone()));
    }
    roles.sort();
    roles.dedup();
    kinds.sort();
    kinds.dedup();
    (roles, kinds)
}

#[test]
fn the_engine_names_no_product_role_or_kind() {
    let (roles, kinds) = shipped_names();
    assert!(roles.len() >= 4 && kinds.len() >= 8, "{roles:?} {kinds:?}");
    // Quoted literals of every role and kind; product and vendor words anywhere in code.
    let quoted: Vec<String> = roles
        .iter()
        .chain(&kinds)
        .map(|n| format!("\"{n}\""))
        .collect();
    let words = [
        "wso2",
        "app manager",
        "appm",
        "carbon",
        "jaggery",
        "synapse",
        "gateway",
        "key manager",
        "key-manager",
        "publisher",
        "thrift",
        "key_validation",
        "java",
        "jvm",
    ];
    let mut found = Vec::new();
    for (file, lines) in engine_code() {
        for (n, line) in lines {
            let low = line.to_lowercase();
            for q in quoted.iter().filter(|q| line.contains(q.as_str())) {
                found.push(format!("{file}:{n}: {q}: {}", line.trim()));
            }
            // The format's own key names (`key_validation` in topologies and plans) may be
            // quoted; as an identifier, the profile calls it a mode.
            let code = strip_literals(&low);
            for w in words.iter().filter(|w| {
                if w.contains('_') {
                    code.contains(*w)
                } else {
                    low.contains(*w)
                }
            }) {
                found.push(format!("{file}:{n}: {w}: {}", line.trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "product names in engine code:\n{}",
        found.join("\n")
    );
}

/// A copy of the shipped templates with every role and link kind renamed in the profiles,
/// presets and examples.
fn renamed_copy(dir: &Path) -> std::path::PathBuf {
    let (roles, kinds) = shipped_names();
    let templates = dir.join("templates");
    copy_tree(&root().join("templates"), &templates);
    let role_map: Vec<(String, String)> = roles
        .iter()
        .enumerate()
        .map(|(i, r)| (format!("\"{r}\""), format!("\"role{i}\"")))
        .collect();
    let kind_map: Vec<(String, String)> = kinds
        .iter()
        .enumerate()
        .map(|(i, k)| (format!("\"{k}\""), format!("\"kind{i}\"")))
        .collect();
    let rename_roles = |line: &str| {
        let mut l = line.to_string();
        for (a, b) in &role_map {
            l = l.replace(a, b);
        }
        l
    };
    // A topology's `roles = [...]` and a link's `kinds = [...]` lines (node names stay).
    let rename_topology = |text: &str| {
        let lines: Vec<String> = text
            .lines()
            .map(|l| {
                if l.starts_with("roles = ") {
                    rename_roles(l)
                } else if l.starts_with("kinds = ") {
                    let mut l = l.to_string();
                    for (a, b) in &kind_map {
                        l = l.replace(a, b);
                    }
                    l
                } else {
                    l.to_string()
                }
            })
            .collect();
        lines.join("\n") + "\n"
    };
    for v in &crate::common::shipped_products() {
        let p = templates.join(v).join("profile.toml");
        let text = std::fs::read_to_string(&p).unwrap();
        let mut table = String::new();
        let mut out = String::new();
        for line in text.lines() {
            if line.starts_with('[') {
                table = line.to_string();
            }
            let mut l = rename_roles(line);
            let kind_line =
                line.starts_with("kind = ") || (table == "[[kind]]" && line.starts_with("name = "));
            if kind_line {
                for (a, b) in &kind_map {
                    l = l.replace(a, b);
                }
            }
            out.push_str(&l);
            out.push('\n');
        }
        assert_ne!(out, text);
        std::fs::write(&p, out).unwrap();
        for preset in std::fs::read_dir(templates.join(v).join("presets")).unwrap() {
            let f = preset.unwrap().path();
            let t = std::fs::read_to_string(&f).unwrap();
            std::fs::write(&f, rename_topology(&t)).unwrap();
        }
    }
    let topologies = dir.join("topologies");
    std::fs::create_dir_all(&topologies).unwrap();
    for f in toml_files("topologies") {
        let t = std::fs::read_to_string(root().join(&f)).unwrap();
        let name = Path::new(&f).file_name().unwrap();
        std::fs::write(topologies.join(name), rename_topology(&t)).unwrap();
    }
    templates
}

/// The product files of every node of every example after `bundle` + `apply`.
fn applied(
    fx: &Path,
    templates: Option<&Path>,
    topology: &Path,
    work: &Path,
) -> Vec<(String, Vec<u8>)> {
    let plan = |args: &[&str]| {
        let mut c = topoplan();
        if let Some(t) = templates {
            c.arg("--templates").arg(t);
        }
        c.args(args);
        c
    };
    let out = plan(&["plan", topology.to_str().unwrap(), "--format", "json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let p: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let product = p["product"].as_str().unwrap().to_string();
    let bundle = work.join("bundle");
    plan(&[
        "bundle",
        topology.to_str().unwrap(),
        "-o",
        bundle.to_str().unwrap(),
    ])
    .assert()
    .success();
    let mut files = Vec::new();
    for n in p["nodes"].as_array().unwrap() {
        let name = n["name"].as_str().unwrap();
        let home = work.join("homes").join(name);
        copy_tree(&fx.join(&product), &home);
        crate::common::apply_ok(&bundle.join(name), &home);
        for (path, bytes) in tree(&home) {
            let rel = path
                .strip_prefix(&home)
                .unwrap_or(&path)
                .display()
                .to_string();
            if !rel.starts_with(".topoplan") {
                files.push((format!("{name}/{rel}"), bytes));
            }
        }
    }
    files
}

#[test]
fn renaming_every_role_and_kind_gives_the_same_product_files() {
    let Some(fx) = fixtures() else { return };
    let dir = tempfile::tempdir().unwrap();
    let templates = renamed_copy(dir.path());
    let mut compared = 0;
    for f in toml_files("topologies") {
        let name = Path::new(&f).file_name().unwrap();
        let original = applied(&fx, None, &root().join(&f), &dir.path().join("a"));
        let renamed = applied(
            &fx,
            Some(&templates),
            &dir.path().join("topologies").join(name),
            &dir.path().join("b"),
        );
        assert_eq!(original.len(), renamed.len(), "{f}");
        for ((pa, a), (pb, b)) in original.iter().zip(&renamed) {
            assert_eq!(pa, pb, "{f}");
            assert!(a == b, "{f}: {pa} differs with renamed roles and kinds");
        }
        compared += original.len();
        std::fs::remove_dir_all(dir.path().join("a")).unwrap();
        std::fs::remove_dir_all(dir.path().join("b")).unwrap();
    }
    assert!(compared > 100, "compared only {compared} files");
    // The renamed profiles are still sound, presets included.
    for v in &crate::common::shipped_products() {
        topoplan()
            .args(["profile", "check"])
            .arg(templates.join(v))
            .assert()
            .success();
    }
}

#[test]
fn shipped_profiles_pass_profile_check_against_the_real_files() {
    let Some(fx) = fixtures() else { return };
    for v in &crate::common::shipped_products() {
        let out = topoplan()
            .args(["profile", "check"])
            .arg(root().join("templates").join(v))
            .arg("--home")
            .arg(fx.join(v))
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{v}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.contains("no problems"), "{stdout}");
    }
}

fn edit(path: &Path, from: &str, to: &str) {
    let t = std::fs::read_to_string(path).unwrap();
    assert!(t.contains(from), "{} lacks {from:?}", path.display());
    std::fs::write(path, t.replacen(from, to, 1)).unwrap();
}

#[test]
fn profile_check_reports_every_planted_mistake_with_its_place() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("broken");
    copy_tree(&root().join("templates/appm-1.1.0"), &p);
    let toml = p.join("profile.toml");
    // 1. A port_range that does not hold the ports.
    edit(
        &toml,
        "home_base = ",
        "port_range = [1024, 9000]\nhome_base = ",
    );
    // 2. An unknown role.
    edit(&toml, "readers = [\"gateway\"]", "readers = [\"gatway\"]");
    // 3. An unknown kind.
    edit(&toml, "kind = \"oauth\"", "kind = \"oauht\"");
    // 4. A missing evidence line.
    edit(&toml, "evidence = \"appm-1.2.0/PORTS.md (same values in 1.1.0, appm-1.1.0/PORTS.md): JMXServerManager.java L218-233 (same code)\"\n", "");
    // 5. A colour that is not one.
    edit(&toml, "colour = \"#c2410c\"", "colour = \"orange\"");
    // 6. A reference naming an unknown port.
    edit(
        &toml,
        "port = \"thrift-key-validation\"",
        "port = \"thrift-key-validaton\"",
    );
    // 7. A duplicate port.
    edit(&toml, "name = \"kdc\"", "name = \"embedded-ldap\"");
    // 8. A reference whose file has no template.
    std::fs::remove_file(p.join("overlay/repository/deployment/server/synapse-configs/default/api/_RevokeAPI_.xml.patch.xml.tera")).unwrap();
    // 9. A template that nothing uses.
    std::fs::write(
        p.join("overlay/repository/conf/unused.xml.patch.xml.tera"),
        "<diff/>\n",
    )
    .unwrap();
    let out = topoplan()
        .args(["profile", "check"])
        .arg(&p)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    for want in [
        "outside `port_range` [1024, 9000]",
        "names unknown role `gatway`",
        "names unknown kind `oauht`",
        "port `jmx-rmi-server` has no evidence",
        "colour `orange` is not `#rrggbb`",
        "names unknown port `thrift-key-validaton`",
        "duplicate port `embedded-ldap`",
        "reference `revoke_api`: no template",
        "error[invalid-profile]: template patches `repository/conf/unused.xml`",
        "unused.xml.patch.xml.tera:1:1\n",
    ] {
        assert!(stderr.contains(want), "missing {want:?} in\n{stderr}");
    }
    // Each at its line and column, with the source and a caret, as a topology's problems are.
    let toml_shown = format!("┌─ {}:", toml.display());
    let located = stderr
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix(&toml_shown))
        .filter(|rest| {
            let mut parts = rest.splitn(3, ':');
            parts.next().is_some_and(|x| x.parse::<usize>().is_ok())
                && parts.next().is_some_and(|x| x.parse::<usize>().is_ok())
        })
        .count();
    assert!(located >= 8, "{located} located problems in\n{stderr}");
}

#[test]
fn profile_check_finds_a_forgotten_reader_and_a_selector_that_matches_nothing() {
    let Some(fx) = fixtures() else { return };
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("p");
    copy_tree(&root().join("templates/appm-1.2.0"), &p);
    let am = p.join("overlay/repository/conf/app-manager.xml.patch.xml.tera");
    // The template forgets the entitlement URL, and misspells the IdP element.
    edit(
        &am,
        "{%- if links.entitlement is defined %}",
        "{%- if false %}",
    );
    edit(
        &am,
        "SSOConfiguration/IdentityProviderUrl/text()",
        "SSOConfiguration/IdentityProviderURL/text()",
    );
    let out = topoplan()
        .args(["profile", "check"])
        .arg(&p)
        .arg("--home")
        .arg(fx.join("appm-1.2.0"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    for role in ["gateway", "store", "publisher"] {
        assert!(
            stderr.contains(&format!(
                "reference `entitlement` is read by `{role}`, but the templates write nothing"
            )),
            "{role}: {stderr}"
        );
    }
    assert!(
        stderr.contains("IdentityProviderURL/text()\">: selector")
            && stderr.contains("matches nothing"),
        "{stderr}"
    );
}

#[test]
fn the_profile_schema_is_in_sync_and_taplo_accepts_the_shipped_profiles() {
    let out = topoplan().args(["profile", "schema"]).output().unwrap();
    assert!(out.status.success());
    let path = root().join("docs/profile.schema.json");
    let generated = String::from_utf8(out.stdout).unwrap();
    if std::env::var_os("TOPOPLAN_BLESS").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "docs/profile.schema.json is stale: run `topoplan profile schema > docs/profile.schema.json` (or TOPOPLAN_BLESS=1 cargo test)"
    );
    let schema: serde_json::Value = serde_json::from_str(&generated).unwrap();
    for key in [
        "product",
        "role",
        "mode",
        "kind",
        "port",
        "reference",
        "manual",
        "ansible_var",
    ] {
        assert!(
            schema["properties"][key].is_object(),
            "schema lacks `{key}`"
        );
    }
    let Some(taplo) = tool("TAPLO", &["taplo"]) else {
        return;
    };
    let profiles = [
        "templates/appm-1.1.0/profile.toml",
        "templates/appm-1.2.0/profile.toml",
    ];
    for f in profiles {
        let text = std::fs::read_to_string(root().join(f)).unwrap();
        assert!(
            text.starts_with("#:schema ../../docs/profile.schema.json\n"),
            "{f}"
        );
    }
    let st = std::process::Command::new(&taplo)
        .arg("check")
        .args(profiles)
        .current_dir(root())
        .output()
        .unwrap();
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    let d = tempfile::tempdir_in(root().join("templates")).unwrap();
    let bad = d.path().join("profile.toml");
    let text = std::fs::read_to_string(root().join(profiles[0])).unwrap();
    std::fs::write(&bad, text.replacen("listens = true", "listen = true", 1)).unwrap();
    let st = std::process::Command::new(&taplo)
        .arg("check")
        .arg(&bad)
        .output()
        .unwrap();
    assert!(!st.status.success(), "taplo accepted a misspelt key");
    assert!(String::from_utf8_lossy(&st.stderr).contains("listen"));
}

/// The code blocks of a Markdown section, in order.
fn code_blocks(md: &str, after_heading: &str) -> Vec<String> {
    let section = &md[md.find(after_heading).expect("heading present")..];
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in section.lines() {
        match (&mut current, line.starts_with("```")) {
            (None, true) => current = Some(String::new()),
            (Some(b), true) => {
                blocks.push(std::mem::take(b));
                current = None;
            }
            (Some(b), false) => {
                b.push_str(line);
                b.push('\n');
            }
            (None, false) => {}
        }
    }
    blocks
}

/// The walkthrough of docs/profiles.md, as a new user follows it: a product the project does
/// not ship, from the page alone, checked, planned, bundled and applied.
#[test]
fn the_docs_walkthrough_adds_a_product_that_plans_bundles_and_applies() {
    let md = std::fs::read_to_string(root().join("docs/profiles.md")).unwrap();
    let blocks = code_blocks(&md, "## Walkthrough");
    let [server_xml, profile, template, site, ..] = blocks.as_slice() else {
        panic!("the walkthrough lost a code block: {blocks:?}");
    };
    let d = tempfile::tempdir().unwrap();
    let templates = d.path().join("my-templates");
    let product = templates.join("example-1.0");
    std::fs::create_dir_all(product.join("overlay/conf")).unwrap();
    std::fs::write(product.join("profile.toml"), profile).unwrap();
    std::fs::write(
        product.join("overlay/conf/server.xml.patch.xml.tera"),
        template,
    )
    .unwrap();
    let pristine = d.path().join("pristine");
    std::fs::create_dir_all(pristine.join("conf")).unwrap();
    std::fs::write(pristine.join("conf/server.xml"), server_xml).unwrap();
    let site_path = d.path().join("site.toml");
    std::fs::write(&site_path, site).unwrap();

    topoplan()
        .args(["profile", "check"])
        .arg(&product)
        .arg("--home")
        .arg(&pristine)
        .assert()
        .success();
    let out = topoplan()
        .arg("--templates")
        .arg(&templates)
        .args(["plan", site_path.to_str().unwrap(), "--format", "json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let offsets: Vec<u64> = plan["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["offset"].as_u64().unwrap())
        .collect();
    assert_eq!(offsets, [0, 1, 2], "back, front1, front2");
    let bundle = d.path().join("out");
    topoplan()
        .arg("--templates")
        .arg(&templates)
        .args([
            "bundle",
            site_path.to_str().unwrap(),
            "-o",
            bundle.to_str().unwrap(),
        ])
        .assert()
        .success();
    let home = d.path().join("front1");
    copy_tree(&pristine, &home);
    for _ in 0..2 {
        crate::common::apply_ok(&bundle.join("front1"), &home);
    }
    let text = std::fs::read_to_string(home.join("conf/server.xml")).unwrap();
    assert_eq!(
        text,
        server_xml
            .replace("<Offset>0</Offset>", "<Offset>1</Offset>")
            .replace("https://localhost:9443/api", "https://10.9.0.5:9443/api")
    );
}

/// A broken profile of one product never stops plans of another, and names its own file: its
/// problems shown as a topology's are, at their place with a caret (exit 1, problems).
#[test]
fn plan_loads_only_the_profile_it_needs_and_a_broken_one_names_its_file() {
    let d = tempfile::tempdir().unwrap();
    let templates = d.path().join("t");
    std::fs::create_dir_all(templates.join("appm-1.2.0")).unwrap();
    let good = std::fs::read_to_string(root().join("templates/appm-1.2.0/profile.toml")).unwrap();
    std::fs::write(
        templates.join("appm-1.2.0/profile.toml"),
        good.replacen("kind = \"oauth\"", "kind = \"oath\"", 1),
    )
    .unwrap();
    let plan = |topology: &str| {
        topoplan()
            .arg("--templates")
            .arg(&templates)
            .args(["plan", topology])
            .output()
            .unwrap()
    };
    assert!(plan("topologies/guide-gateway-km.toml").status.success());
    let out = plan("topologies/all-in-one.toml");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let shown = format!(
        "┌─ {}:",
        templates.join("appm-1.2.0/profile.toml").display()
    );
    assert!(stderr.contains(&shown), "{stderr}");
    assert!(
        stderr.contains("error[invalid-profile]: reference `token_api` names unknown kind `oath`"),
        "{stderr}"
    );
    assert!(stderr.contains("^^^^^^"), "{stderr}");
}

/// `profile check --home` checks what `apply` will do: the whole patch of a file applied twice
/// must change nothing the second time, and the home must be one `apply` accepts.
#[test]
fn profile_check_finds_a_non_idempotent_template_and_a_foreign_home() {
    let Some(fx) = fixtures() else { return };
    let d = tempfile::tempdir().unwrap();
    let templates = d.path().join("templates");
    copy_tree(&root().join("templates"), &templates);
    let carbon = templates.join("appm-1.2.0/overlay/repository/conf/carbon.xml.patch.xml.tera");
    let text = std::fs::read_to_string(&carbon).unwrap();
    // Two elements in one <add>: no upsert key, so every apply appends them again.
    std::fs::write(
        &carbon,
        text.replace(
            "</diff>",
            "  <add sel=\"/c:Server\"><A>1</A><B>2</B></add>\n</diff>",
        ),
    )
    .unwrap();
    let check = |home: &str| {
        topoplan()
            .args(["profile", "check"])
            .arg(templates.join("appm-1.2.0"))
            .arg("--home")
            .arg(fx.join(home))
            .output()
            .unwrap()
    };
    let o = check("appm-1.2.0");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{err}");
    assert!(
        err.contains("carbon.xml.patch.xml.tera:1:1") && err.contains("not idempotent"),
        "{err}"
    );
    std::fs::write(&carbon, &text).unwrap();
    assert!(check("appm-1.2.0").status.success());
    let o = check("appm-1.1.0");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("not a home `apply` accepts"), "{err}");
}

/// `init` with a `--templates` folder starts from that folder's product, and its "next" hint
/// carries `--templates`, so the hint works as printed; `unknown-product` names the option.
#[test]
fn init_keeps_the_templates_folder_and_its_product() {
    let d = tempfile::tempdir().unwrap();
    let templates = d.path().join("templates");
    let own = templates.join("aa-appm");
    copy_tree(&root().join("templates/appm-1.2.0"), &own);
    for f in ["profile.toml", "presets/distributed.toml"] {
        let p = own.join(f);
        let text = std::fs::read_to_string(&p).unwrap();
        std::fs::write(&p, text.replacen("\"appm-1.2.0\"", "\"aa-appm\"", 1)).unwrap();
    }
    let site = d.path().join("site.toml");
    let o = topoplan()
        .arg("--templates")
        .arg(&templates)
        .arg("init")
        .arg("-o")
        .arg(&site)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(std::fs::read_to_string(&site)
        .unwrap()
        .contains("product = \"aa-appm\""));
    let hint = String::from_utf8_lossy(&o.stdout).into_owned();
    let next = hint.split("next: topoplan ").nth(1).unwrap().trim();
    assert!(next.starts_with("--templates "), "{hint}");
    let args: Vec<&str> = next.split(' ').collect();
    let plan = topoplan().args(&args).output().unwrap();
    assert!(
        plan.status.success(),
        "{}",
        String::from_utf8_lossy(&plan.stderr)
    );
    // Without the folder, the product is unknown, and the help says how to give it.
    let plan = topoplan().arg("plan").arg(&site).output().unwrap();
    let err = String::from_utf8_lossy(&plan.stderr);
    assert!(
        err.contains("unknown-product") && err.contains("--templates"),
        "{err}"
    );
}
