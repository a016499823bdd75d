//! (c) topology text -> plan -> Ansible inventory and playbook. See
//! topoplan_fuzzing::export_ansible.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| topoplan_fuzzing::export_ansible(data));
