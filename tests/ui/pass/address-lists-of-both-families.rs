fn main() {
    // A list of both families is one rule per family.
    let policy = fwdsl::firewall! { allow ssh; drop src [198.51.100.7, 2001:db8::7, 203.0.113.9]; drop all; };
    let texts: Vec<&str> = policy.rules().iter().map(|r| r.text.as_ref()).collect();
    assert_eq!(policy.rules().len(), 4, "{texts:?}");
    assert_eq!(policy.rules()[1].matches.src.len(), 2);
    assert_eq!(policy.rules()[2].matches.src.len(), 1);
}
