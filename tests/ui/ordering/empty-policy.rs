fn main() {
    let _ = fwdsl::firewall! {};
}
