fn main() {
    let _ = fwdsl::firewall! { allow tcp 22; drop all dport 80; drop all; };
}
