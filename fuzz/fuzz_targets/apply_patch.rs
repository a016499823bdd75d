//! (b) product file + patch document -> apply. See topoplan_fuzzing::apply_patch.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| topoplan_fuzzing::apply_patch(data));
