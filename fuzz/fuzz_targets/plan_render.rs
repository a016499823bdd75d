//! (a) topology text -> plan -> render. See topoplan_fuzzing::plan_and_render.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| topoplan_fuzzing::plan_and_render(data));
