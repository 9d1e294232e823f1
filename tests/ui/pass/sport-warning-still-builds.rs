fn main() {
    // The reference guide's `--sport 53` rule: a warning, never an error.
    let policy = fwdsl::firewall! { allow ssh; allow udp sport 53; drop all; };
    assert_eq!(policy.rules().len(), 3);
}
