//! Address lists kept in files: read by `firewall!` at compile time (relative to this
//! crate's Cargo.toml) and by `Policy::from_file` at run time (relative to the policy
//! file), to the same policy.

use fwdsl::{Packet, Policy};

fn compiled() -> Policy {
    fwdsl::firewall! {
        drop src [file "lists/drop.txt"];
        allow ssh;
        drop all;
    }
}

#[test]
fn a_list_file_reads_the_same_at_compile_and_run_time() {
    let policy = compiled();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/lists/web.policy");
    let read = Policy::from_file(path).unwrap();
    // The same rules (their lines differ: one is in this file, one in the policy file).
    for family in [fwdsl::Family::V4, fwdsl::Family::V6] {
        assert_eq!(policy.to_restore(family), read.to_restore(family));
    }
    assert!(policy
        .to_restore(fwdsl::Family::V4)
        .contains("203.0.113.0/24"));
    for (source, listed) in [
        ([198, 51, 100, 7], true),
        ([203, 0, 113, 9], true),
        ([198, 51, 100, 8], false),
    ] {
        let d = policy.decide(&Packet::tcp(source, 22));
        assert_eq!(
            d.rule.text.starts_with("drop src"),
            listed,
            "{source:?}: {}",
            d.rule.text
        );
    }
}
