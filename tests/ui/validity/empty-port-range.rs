fn main() {
    let _ = fwdsl::firewall! { allow tcp 22; allow tcp 1000-900; drop all; };
}
