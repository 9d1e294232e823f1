#![deny(warnings)]

fn main() {
    // Dropping a named source before `allow ssh` is a deliberate ban, not a lockout.
    let policy = fwdsl::firewall! { drop src 198.51.100.0/24; allow ssh; allow established; drop all; };
    assert_eq!(policy.rules().len(), 4);
}
