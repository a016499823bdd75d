//! The checks of a parsed profile, one function per table: the product, names, kinds, ports,
//! references, manual steps and Ansible variables. Each reports every problem it finds at its
//! path in the file, so `profile check` lists them all at once.

use super::{is_colour, is_ident, is_relative_inside, Profile, Providers, Seg};
use super::{ManualDef, PortRule, ReferenceDef};
use std::collections::BTreeSet;
use Seg::{Index as I, Key as K};

/// Where each problem goes: a path in the file and a message.
type Report<'r> = &'r mut dyn FnMut(&[Seg], String);

/// The names a profile declares, to check references to them.
struct Declared<'p> {
    roles: BTreeSet<&'p str>,
    modes: BTreeSet<&'p str>,
    kinds: BTreeSet<&'p str>,
    ports: BTreeSet<&'p str>,
    refs: BTreeSet<&'p str>,
}

impl Profile {
    pub(super) fn check(&self, report: Report) {
        let names = Declared {
            roles: self.role.iter().map(|r| r.name.as_str()).collect(),
            modes: self.mode.iter().map(|m| m.name.as_str()).collect(),
            kinds: self.kind.iter().map(|k| k.name.as_str()).collect(),
            ports: self.port.iter().map(|p| p.name.as_str()).collect(),
            refs: self.reference.iter().map(|r| r.name.as_str()).collect(),
        };
        self.check_product(report);
        self.check_names(report);
        self.check_ports(&names, report);
        for (i, r) in self.reference.iter().enumerate() {
            self.check_reference(i, r, &names, report);
        }
        for (i, m) in self.manual.iter().enumerate() {
            check_manual(i, m, &names, report);
        }
        self.check_ansible_vars(&names, report);
        self.check_databases(&names, report);
        self.check_roles(&names, report);
    }

    /// `[[role]]` cluster settings: a manager or front ports only on a role that may be
    /// clustered, front ports by `http`/`https` naming listening ports.
    fn check_roles(&self, names: &Declared, report: Report) {
        for (i, r) in self.role.iter().enumerate() {
            let at = |k| [K("role"), I(i), K(k)];
            let n = &r.name;
            if r.cluster.is_none() && (r.manager.is_some() || !r.front_ports.is_empty()) {
                report(
                    &at("cluster"),
                    format!("role `{n}`: `manager` and `front_ports` need a `cluster` group"),
                );
            }
            for (front, port) in &r.front_ports {
                if front != "http" && front != "https" {
                    report(
                        &at("front_ports"),
                        format!(
                            "role `{n}`: `front_ports` keys are `http` and `https`, not `{front}`"
                        ),
                    );
                }
                if !names.ports.contains(port.as_str()) {
                    report(
                        &at("front_ports"),
                        format!(
                            "role `{n}`: `front_ports` names unknown port `{port}`{}",
                            port_hint(port, names)
                        ),
                    );
                }
            }
        }
    }

    /// `[[engine]]` and `[[datasource]]`: unique names, evidence, a supported engine's
    /// driver and URL, known reader roles, files and scripts inside the home.
    fn check_databases(&self, names: &Declared, report: Report) {
        unique(
            "engine",
            self.engine.iter().map(|e| &*e.name).collect(),
            report,
        );
        unique(
            "datasource",
            self.datasource.iter().map(|d| &*d.name).collect(),
            report,
        );
        for (i, e) in self.engine.iter().enumerate() {
            let at = |k| [K("engine"), I(i), K(k)];
            if e.evidence.trim().is_empty() {
                report(
                    &at("evidence"),
                    format!("engine `{}` has no evidence", e.name),
                );
            }
            if e.refused.is_none() && (e.driver.is_empty() || !e.url.contains("{database}")) {
                report(
                    &at("url"),
                    format!(
                        "engine `{}` needs a `driver` and a `url` with `{{database}}`",
                        e.name
                    ),
                );
            }
        }
        for (i, d) in self.datasource.iter().enumerate() {
            let at = |k| [K("datasource"), I(i), K(k)];
            for r in d
                .readers
                .iter()
                .filter(|r| !names.roles.contains(r.as_str()))
            {
                report(
                    &at("readers"),
                    format!("datasource `{}` names unknown role `{r}`", d.name),
                );
            }
            if d.evidence.trim().is_empty() {
                report(
                    &at("evidence"),
                    format!("datasource `{}` has no evidence", d.name),
                );
            }
            let paths = d.files.iter().chain(d.scripts.values().flatten());
            for p in paths.filter(|p| !is_relative_inside(p)) {
                report(
                    &at("files"),
                    format!(
                        "datasource `{}`: `{p}` must be a relative path inside the home",
                        d.name
                    ),
                );
            }
            for e in d.scripts.keys().filter(|e| self.engine(e).is_none()) {
                report(
                    &at("scripts"),
                    format!("datasource `{}` names unknown engine `{e}`", d.name),
                );
            }
        }
    }

    /// `[product]`: the port range, paths inside the home, an absolute home base.
    fn check_product(&self, report: Report) {
        let [lo, hi] = self.product.port_range;
        if lo == 0 || lo > hi || hi > 65535 {
            report(
                &[K("product"), K("port_range")],
                format!("`port_range` [{lo}, {hi}] is not a range within 1..=65535"),
            );
        }
        let home = &self.product.home;
        for (key, path) in [("marker", &home.marker), ("file", &home.file)] {
            if !is_relative_inside(path) {
                report(
                    &[K("product"), K("home"), K(key)],
                    format!("`{key}` must be a relative path inside the home"),
                );
            }
        }
        let base = &self.product.home_base;
        if !base.starts_with('/') || base.chars().any(|c| c.is_control()) {
            report(
                &[K("product"), K("home_base")],
                "`home_base` must be an absolute path".into(),
            );
        }
        if has_jinja(base) {
            report(
                &[K("product"), K("home_base")],
                JINJA_REFUSED.replace("{}", "home_base"),
            );
        }
        if let Some(l) = &self.product.launcher {
            if !is_relative_inside(&l.script) {
                report(
                    &[K("product"), K("launcher"), K("script")],
                    "`script` must be a relative path inside the home".into(),
                );
            }
        }
        if self.role.is_empty() {
            report(&[K("product")], "the profile declares no `[[role]]`".into());
        }
    }

    /// Names of every table: unique, identifiers where the engine uses them as such, `all`
    /// never a role, colours `#rrggbb`.
    fn check_names(&self, report: Report) {
        unique("role", self.role.iter().map(|r| &*r.name).collect(), report);
        unique("mode", self.mode.iter().map(|r| &*r.name).collect(), report);
        unique("kind", self.kind.iter().map(|r| &*r.name).collect(), report);
        unique("port", self.port.iter().map(|r| &*r.name).collect(), report);
        let refs = self.reference.iter().map(|r| &*r.name).collect();
        unique("reference", refs, report);
        unique(
            "manual",
            self.manual.iter().map(|r| &*r.name).collect(),
            report,
        );
        let vars = self.ansible_var.iter().map(|r| &*r.name).collect();
        unique("ansible_var", vars, report);
        for (i, r) in self.role.iter().enumerate() {
            if r.name == "all" {
                report(
                    &[K("role"), I(i), K("name")],
                    "`all` is reserved: in a topology it means every role".into(),
                );
            }
        }
        for (i, k) in self.kind.iter().enumerate() {
            if !is_colour(&k.colour) {
                report(
                    &[K("kind"), I(i), K("colour")],
                    format!("colour `{}` is not `#rrggbb`", k.colour),
                );
            }
        }
    }

    /// `[[port]]`: known roles and modes, evidence, listening ports inside the range.
    fn check_ports(&self, names: &Declared, report: Report) {
        let [lo, hi] = self.product.port_range;
        for (i, p) in self.port.iter().enumerate() {
            let at = |k| [K("port"), I(i), K(k)];
            for r in p.roles.iter().filter(|r| !names.roles.contains(r.as_str())) {
                report(
                    &at("roles"),
                    format!("port `{}` names unknown role `{r}`", p.name),
                );
            }
            for m in p.modes.iter().filter(|m| !names.modes.contains(m.as_str())) {
                report(
                    &at("modes"),
                    format!("port `{}` names unknown mode `{m}`", p.name),
                );
            }
            if p.evidence.trim().is_empty() {
                report(
                    &at("evidence"),
                    format!("port `{}` has no evidence", p.name),
                );
            }
            if p.listens && (p.base < lo || p.base > hi) {
                report(
                    &at("base"),
                    format!(
                        "port `{}` listens on {} outside `port_range` [{lo}, {hi}]",
                        p.name, p.base
                    ),
                );
            }
            if p.clustered && p.rule != PortRule::PerNode {
                report(
                    &at("clustered"),
                    format!(
                        "port `{}`: a `clustered` port needs `rule = \"per-node\"` (each member gets its own)",
                        p.name
                    ),
                );
            }
            if p.rule == PortRule::PerNode && !p.listens {
                report(
                    &at("rule"),
                    format!("port `{}`: `per-node` needs `listens = true`", p.name),
                );
            }
        }
    }

    /// One `[[reference]]`: known kind, port, roles and modes; a listening port; readers;
    /// evidence; a file inside the home.
    fn check_reference(&self, i: usize, r: &ReferenceDef, names: &Declared, report: Report) {
        let at = |k| [K("reference"), I(i), K(k)];
        let n = &r.name;
        let mut say = |k: &'static str, message: String| report(&at(k), message);
        if !names.kinds.contains(r.kind.as_str()) {
            say(
                "kind",
                format!("reference `{n}` names unknown kind `{}`", r.kind),
            );
        }
        match self.port(&r.port) {
            None => say(
                "port",
                format!(
                    "reference `{n}` names unknown port `{}`{}",
                    r.port,
                    port_hint(&r.port, names)
                ),
            ),
            Some(port) if !port.listens => say(
                "port",
                format!(
                    "reference `{n}` carries port `{}`, which does not listen",
                    r.port
                ),
            ),
            Some(_) => {}
        }
        if r.readers.is_empty() {
            say("readers", format!("reference `{n}` names no reader role"));
        }
        for role in r
            .readers
            .iter()
            .filter(|x| !names.roles.contains(x.as_str()))
        {
            say(
                "readers",
                format!("reference `{n}` names unknown role `{role}`"),
            );
        }
        if !names.roles.contains(r.provider.as_str()) {
            say(
                "provider",
                format!("reference `{n}` names unknown role `{}`", r.provider),
            );
        }
        for role in r.required_for.iter().filter(|x| !r.readers.contains(x)) {
            say(
                "required_for",
                format!("reference `{n}`: `required_for` role `{role}` is not one of its readers"),
            );
        }
        for m in r.modes.iter().filter(|m| !names.modes.contains(m.as_str())) {
            say("modes", format!("reference `{n}` names unknown mode `{m}`"));
        }
        if r.unserved.is_some() && r.providers != Providers::Each {
            say(
                "unserved",
                format!("reference `{n}`: `unserved` needs `providers = \"each\"`"),
            );
        }
        self.check_reference_clusters(r, &mut say);
        if !is_relative_inside(&r.file) {
            say(
                "file",
                format!("reference `{n}`: `file` must be a relative path inside the home"),
            );
        }
        if r.evidence.trim().is_empty() {
            say("evidence", format!("reference `{n}` has no evidence"));
        }
        if r.readers_evidence.trim().is_empty() {
            say(
                "readers_evidence",
                format!("reference `{n}` has no `readers_evidence`"),
            );
        }
    }

    /// A reference's cluster keys: `manager` needs a provider role with a manager, `served_by`
    /// an `each` reference of the same provider, `front` an HTTP(S) port.
    fn check_reference_clusters(
        &self,
        r: &ReferenceDef,
        say: &mut dyn FnMut(&'static str, String),
    ) {
        let n = &r.name;
        if r.manager && self.role(&r.provider).is_none_or(|d| d.manager.is_none()) {
            say(
                "manager",
                format!("reference `{n}`: `manager` needs a provider role with a `manager`"),
            );
        }
        if let Some(src) = &r.derived_from {
            // An earlier reference (wired first), of the same provider and port, read by every
            // reader of this one, under every mode this one is read in, and not derived itself.
            let before = self.reference.iter().take_while(|x| x.name != r.name);
            let ok = before.clone().any(|x| {
                &x.name == src
                    && x.derived_from.is_none()
                    && x.provider == r.provider
                    && x.port == r.port
                    && x.providers == r.providers
                    && r.readers.iter().all(|c| x.readers.contains(c))
                    && (x.modes.is_empty()
                        || r.modes.iter().all(|m| x.modes.contains(m)) && !r.modes.is_empty())
            });
            if !ok {
                say(
                    "derived_from",
                    format!("reference `{n}`: `derived_from` must name an earlier, written reference of the same provider, port and providers that every reader of `{n}` reads, in every mode `{n}` is read in"),
                );
            }
        }
        if let Some(list) = &r.served_by {
            let ok = self.reference.iter().any(|x| {
                &x.name == list && x.providers == Providers::Each && x.provider == r.provider
            });
            if !ok {
                say(
                    "served_by",
                    format!("reference `{n}`: `served_by` must name an `each` reference of provider `{}`", r.provider),
                );
            }
        }
        if r.front
            && self
                .port(&r.port)
                .is_some_and(|p| !matches!(p.protocol.as_str(), "http" | "https"))
        {
            say(
                "front",
                format!("reference `{n}`: `front` needs an `http` or `https` port (a front end serves those)"),
            );
        }
    }

    /// `[[ansible_var]]`: a variable name, and references that exist.
    fn check_ansible_vars(&self, names: &Declared, report: Report) {
        for (i, v) in self.ansible_var.iter().enumerate() {
            let mut c = v.name.chars();
            let first_ok = c
                .next()
                .is_some_and(|f| f.is_ascii_alphabetic() || f == '_');
            if !first_ok || !c.all(|x| x.is_ascii_alphanumeric() || x == '_') {
                report(
                    &[K("ansible_var"), I(i), K("name")],
                    format!(
                        "ansible variable `{}` is not a variable name (letters, digits, `_`)",
                        v.name
                    ),
                );
            }
            if has_jinja(&v.suffix) {
                report(
                    &[K("ansible_var"), I(i), K("suffix")],
                    JINJA_REFUSED.replace("{}", "suffix"),
                );
            }
            for r in v
                .references
                .iter()
                .filter(|r| !names.refs.contains(r.as_str()))
            {
                report(
                    &[K("ansible_var"), I(i), K("references")],
                    format!(
                        "ansible variable `{}` names unknown reference `{r}`",
                        v.name
                    ),
                );
            }
        }
    }
}

/// Names of one table: each once; identifiers for the tables whose names the engine and the
/// topology use as identifiers.
/// `; did you mean …?` for a port name close to a declared one (`servlet_https`, the name as
/// templates print it, for `servlet-https`).
fn port_hint(got: &str, names: &Declared) -> String {
    let dashed = got.replace('_', "-");
    if dashed != got && names.ports.contains(dashed.as_str()) {
        return format!("; port names use `-` (`{dashed}`); templates see them with `_`");
    }
    crate::topology::did_you_mean(got, names.ports.iter().copied())
        .map_or(String::new(), |h| format!("; {h}"))
}

/// Jinja markers: a string holding one would be templated by Ansible on the controller (a
/// `lookup('pipe', …)` runs a command) when it reaches `topoplan export ansible`.
pub(crate) fn has_jinja(s: &str) -> bool {
    ["{{", "{%", "{#"].iter().any(|m| s.contains(m))
}

const JINJA_REFUSED: &str = "`{}` holds a Jinja marker (`{{`, `{%` or `{#`): Ansible would run it on the controller when it reads the export";

fn unique(table: &'static str, names: Vec<&str>, report: Report) {
    let free_form = matches!(table, "reference" | "manual" | "ansible_var");
    let mut seen = BTreeSet::new();
    for (i, n) in names.into_iter().enumerate() {
        if !free_form && !is_ident(n) {
            report(
                &[K(table), I(i), K("name")],
                format!("{table} name `{n}` must be lower-case letters, digits and `-`, starting with a letter"),
            );
        }
        if !seen.insert(n) {
            report(
                &[K(table), I(i), K("name")],
                format!("duplicate {table} `{n}`"),
            );
        }
    }
}

/// One `[[manual]]` step: not a reference's name, known port and roles, a port to point at
/// when it names a provider, evidence.
fn check_manual(i: usize, m: &ManualDef, names: &Declared, report: Report) {
    let at = |k| [K("manual"), I(i), K(k)];
    let n = &m.name;
    let mut say = |k: &'static str, message: String| report(&at(k), message);
    if names.refs.contains(m.name.as_str()) {
        say("name", format!("manual step `{n}` has a reference's name"));
    }
    if let Some(port) = m
        .port
        .as_ref()
        .filter(|p| !names.ports.contains(p.as_str()))
    {
        say(
            "port",
            format!(
                "manual step `{n}` names unknown port `{port}`{}",
                port_hint(port, names)
            ),
        );
    }
    if m.provider.is_some() && m.port.is_none() {
        say(
            "provider",
            format!("manual step `{n}`: `provider` needs the `port` to point at"),
        );
    }
    let roles = m.readers.iter().chain(m.provider.as_ref());
    for role in roles.filter(|x| !names.roles.contains(x.as_str())) {
        say(
            "readers",
            format!("manual step `{n}` names unknown role `{role}`"),
        );
    }
    if m.evidence.trim().is_empty() {
        say("evidence", format!("manual step `{n}` has no evidence"));
    }
}
