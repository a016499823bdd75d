//! The plan as JSON (`docs/plan-json.md`).

use topoplan_solver::Plan;

/// The JSON document, written as it is produced.
pub fn write_json(plan: &Plan, w: &mut impl std::io::Write) -> std::io::Result<()> {
    serde_json::to_writer_pretty(&mut *w, plan)?;
    w.write_all(b"\n")
}

/// The JSON document as one string.
pub fn json(plan: &Plan) -> String {
    let mut s = serde_json::to_string_pretty(plan).expect("plan types serialise");
    s.push('\n');
    s
}
