fn main() {
    let _ = fwdsl::firewall! { allow tcp 22; allow icmp dport 8; drop all; };
}
