fn main() {
    let policy = fwdsl::firewall! { ssh none; allow tcp 80; drop all; };
    assert_eq!(policy.access(), &fwdsl::Access::Console);
}
