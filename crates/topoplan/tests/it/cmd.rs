//! CLI cases as files: one per example under `topologies/invalid/` (`tests/cmd/invalid/`, run
//! from the project root as a user would), and one per diagnostic and warning code those do not
//! show (`tests/cmd/`): `<case>.toml` holds the command and its exit status, `<case>.stderr`
//! what a user sees, `<case>.in/` the files it reads. (trycmd shows a `\` as `/` on both
//! sides; that control characters are shown escaped, never raw, is `safety.rs`'s to check.)
//! `TRYCMD=overwrite cargo test -p topoplan --test it cmd::` rewrites the expected output after a deliberate
//! change.

#[test]
fn cli_cases() {
    trycmd::TestCases::new()
        .register_bin(
            "topoplan",
            std::path::Path::new(env!("CARGO_BIN_EXE_topoplan")),
        )
        .case("tests/cmd/*.toml")
        .case("tests/cmd/invalid/*.toml");
}

/// Every error and warning code is shown to a user in a CLI case: an error by the case of its
/// example `tests/cmd/invalid/<code>.toml` (for `topologies/invalid/<code>.toml`) or a case
/// `tests/cmd/error-<code>.toml`, a warning by a case `tests/cmd/warning-<code>.toml`
/// (`single-<role>` by `warning-single-role`); and every invalid example has its case.
#[test]
fn every_code_has_a_case() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let cmd = root.join("tests/cmd");
    let invalid = cmd.join("invalid");
    let mut missing = Vec::new();
    for example in crate::common::toml_files("topologies/invalid") {
        let case = invalid.join(format!("{}.toml", crate::common::stem(&example)));
        if !case.is_file() {
            missing.push(example);
        }
    }
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
            missing.push(code.name().to_string());
        }
    }
    assert!(
        missing.is_empty(),
        "codes and examples with no CLI case: {missing:?}"
    );
}
