#![deny(warnings)]

// A user who wants the redundant rule anyway silences the warning deliberately.
#[allow(deprecated)]
fn main() {
    let policy = fwdsl::firewall! { allow ssh; allow tcp 80-90; allow tcp 85; drop all; };
    assert_eq!(policy.rules().len(), 4);
}
