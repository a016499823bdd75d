//! CLI cases as files, one per diagnostic and warning code the examples under
//! `topologies/invalid/` do not already show: `tests/cmd/<case>.toml` holds the command and
//! its exit status, `<case>.stderr` what a user sees, `<case>.in/` the files it reads.
//! `TRYCMD=overwrite cargo test -p topoplan --test it cmd::` rewrites the expected output after a deliberate
//! change.

#[test]
fn cli_cases() {
    trycmd::TestCases::new()
        .register_bin(
            "topoplan",
            std::path::Path::new(env!("CARGO_BIN_EXE_topoplan")),
        )
        .case("tests/cmd/*.toml");
}

/// Every error and warning code is shown to a user somewhere in the CLI cases: an error by an
/// example `topologies/invalid/<code>.toml` (snapshotted by `tests/cli.rs`) or a case
/// `tests/cmd/error-<code>.toml`, a warning by a case `tests/cmd/warning-<code>.toml`
/// (`single-<role>` by `warning-single-role`).
#[test]
fn every_code_has_a_case() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let cmd = root.join("tests/cmd");
    let invalid = root.join("../../topologies/invalid");
    let mut missing = Vec::new();
    for code in topoplan_model::Code::ALL {
        let name = code.name().replace("<role>", "role");
        let found = match code.severity() {
            topoplan_model::Severity::Error => {
                invalid.join(format!("{name}.toml")).is_file()
                    || cmd.join(format!("error-{name}.toml")).is_file()
            }
            topoplan_model::Severity::Warning => cmd.join(format!("warning-{name}.toml")).is_file(),
        };
        if !found {
            missing.push(code.name());
        }
    }
    assert!(missing.is_empty(), "codes with no CLI case: {missing:?}");
}
