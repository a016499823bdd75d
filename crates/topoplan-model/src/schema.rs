//! The topology format as a JSON Schema (draft-07), for taplo-based editors (`#:schema`).
//!
//! The keys and which are required come from the same tables the parser checks files against
//! ([`crate::topology::DEPLOYMENT_KEYS`] and the others), so the schema cannot drift from what
//! `plan` accepts; a test compares every key with them. Products and roles come from the
//! profiles, so a new profile extends the schema without code.

use crate::topology::{
    CLUSTER_KEYS, DATABASE_KEYS, DEPLOYMENT_KEYS, HOST_KEYS, LINK_KEYS, NODE_KEYS,
};
use crate::Profile;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

const NAME_PATTERN: &str = "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$";

/// The value sets the profiles give: products, roles, modes and warning codes.
struct Lists {
    products: Vec<String>,
    roles: Vec<String>,
    modes: Vec<String>,
    warnings: Vec<String>,
}

fn property(table: &str, key: &str, lists: &Lists) -> Value {
    let Lists {
        products,
        roles,
        modes,
        warnings,
    } = lists;
    match (table, key) {
        ("deployment", "allow") => {
            json!({"type": "array", "items": {"type": "string", "enum": warnings}, "description": "Warning codes to silence for this topology (docs/diagnostics.md)."})
        }
        ("deployment", "name") => {
            json!({"type": "string", "pattern": NAME_PATTERN, "description": "Deployment name, shown in plans and bundles."})
        }
        ("deployment", "product") => {
            json!({"type": "string", "enum": products, "description": "Product profile (a folder under templates/)."})
        }
        ("deployment", "key_validation") => {
            json!({"type": "string", "enum": modes, "description": "The product mode (the profile's `[[mode]]`s, e.g. how keys are validated); default: the profile's first mode."})
        }
        ("host", "name") => {
            json!({"type": "string", "pattern": NAME_PATTERN, "description": "Unique host name, referenced by nodes; the address when `address` is absent."})
        }
        ("host", "address") => {
            json!({"type": "string", "minLength": 1, "description": "RFC 1123 host name, IPv4 or IPv6 address (no port): goes into every URL pointing at this host."})
        }
        ("host", "reserved_ports") => {
            json!({"type": "array", "items": {"type": "integer", "minimum": 1, "maximum": 65535}, "description": "Ports other software holds on this host."})
        }
        ("node", "name") => {
            json!({"type": "string", "pattern": NAME_PATTERN, "not": {"enum": crate::topology::RESERVED_NODE_NAMES}, "description": "Unique node name; becomes the bundle folder."})
        }
        ("node", "roles") => {
            json!({"type": "array", "minItems": 1, "items": {"type": "string", "enum": roles}, "description": "Roles of the node; `all` means every role."})
        }
        ("node", "host") => json!({"type": "string", "description": "A [[host]] name."}),
        ("node", "offset") => {
            json!({"type": "integer", "minimum": 0, "maximum": 65535, "description": "Pin the port offset; topoplan chooses the others around it."})
        }
        ("link", "from") => {
            json!({"type": "string", "description": "The node that reads the value (consumer)."})
        }
        ("link", "to") => {
            json!({"type": "string", "description": "The node it should point at (provider)."})
        }
        ("link", "kinds") => {
            json!({"type": "array", "items": {"type": "string"}, "description": "The link kinds (the profile's [[kind]]s) this link decides, e.g. [\"access-url\"]; default: every value `from` reads from `to`."})
        }
        ("database", "name") => {
            json!({"type": "string", "pattern": NAME_PATTERN, "description": "Unique database server name; bundles write `out/databases/<name>/setup.sh`."})
        }
        ("database", "engine") => {
            json!({"type": "string", "description": "An engine of the product (the profile's `[[engine]]`s); default: the first it runs on."})
        }
        ("database", "host") => {
            json!({"type": "string", "description": "The [[host]] the server runs on: its address is used and `port` is reserved there."})
        }
        ("database", "address") => {
            json!({"type": "string", "minLength": 1, "description": "Instead of `host`: a server outside the topology (host name, IPv4, IPv6)."})
        }
        ("database", "port") => {
            json!({"type": "integer", "minimum": 1, "maximum": 65535, "description": "The server's port; default: the engine's."})
        }
        ("database", "user") => {
            json!({"type": "string", "minLength": 1, "description": "The login every node uses; default: the deployment name."})
        }
        ("database", "password_env") => {
            json!({"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]*$", "description": "The environment variable `apply` reads the password from (default TOPOPLAN_DB_PASSWORD); the password is never written in the topology."})
        }
        ("database", "datasources") => {
            json!({"type": "array", "items": {"type": "string"}, "description": "Which of the product's shared datasources live here (default: all)."})
        }
        ("cluster", "name") => {
            json!({"type": "string", "pattern": NAME_PATTERN, "description": "Unique cluster name; also its Hazelcast domain and `out/load-balancers/<name>.nginx.conf`."})
        }
        ("cluster", "nodes") => {
            json!({"type": "array", "items": {"type": "string"}, "minItems": 1, "description": "The members: nodes of roles that may share a cluster, each in one cluster only."})
        }
        ("cluster", "manager") => {
            json!({"type": "string", "description": "The member that takes admin calls (for roles whose profile has a manager); the others are workers."})
        }
        ("cluster", "frontend") => {
            json!({"type": "string", "minLength": 1, "description": "The load-balanced address browsers and other nodes use (host name, IPv4, IPv6; no port)."})
        }
        ("cluster", "lb_host") => {
            json!({"type": "string", "description": "The [[host]] that runs the load balancer: its ports are reserved there."})
        }
        ("cluster", "http_port") => {
            json!({"type": "integer", "minimum": 1, "maximum": 65535, "description": "The load balancer's HTTP port (default 80)."})
        }
        ("cluster", "https_port") => {
            json!({"type": "integer", "minimum": 1, "maximum": 65535, "description": "The load balancer's HTTPS port (default 443)."})
        }
        _ => json!({}),
    }
}

fn table(name: &str, keys: &[(&str, bool)], lists: &Lists) -> Value {
    let mut props = Map::new();
    for (k, _) in keys {
        props.insert(k.to_string(), property(name, k, lists));
    }
    let required: Vec<&str> = keys.iter().filter(|k| k.1).map(|k| k.0).collect();
    json!({"type": "object", "additionalProperties": false, "required": required, "properties": props})
}

/// The schema for the given profiles.
pub fn topology_schema(profiles: &BTreeMap<String, Profile>) -> Value {
    let products: Vec<String> = profiles.keys().cloned().collect();
    let mut roles: Vec<String> = profiles.values().flat_map(|p| p.role_names()).collect();
    roles.push("all".into());
    roles.sort();
    roles.dedup();
    let mut modes: Vec<String> = profiles.values().flat_map(|p| p.mode_names()).collect();
    modes.sort();
    modes.dedup();
    let mut warnings: Vec<String> = profiles.values().flat_map(crate::warning_codes).collect();
    warnings.sort();
    warnings.dedup();
    let lists = Lists {
        products,
        roles,
        modes,
        warnings,
    };
    let list = |name: &str, keys: &[(&str, bool)]| json!({"type": "array", "items": table(name, keys, &lists)});
    json!({
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "topoplan topology",
        "description": "Hosts, nodes with roles, optional pins and links of a distributed deployment (docs/topology.md).",
        "type": "object",
        "additionalProperties": false,
        "required": ["deployment"],
        "properties": {
            "deployment": table("deployment", DEPLOYMENT_KEYS, &lists),
            "host": list("host", HOST_KEYS),
            "node": list("node", NODE_KEYS),
            "link": list("link", LINK_KEYS),
            "database": list("database", DATABASE_KEYS),
            "cluster": list("cluster", CLUSTER_KEYS),
        }
    })
}
