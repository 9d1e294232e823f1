fn main() {
    let _ = fwdsl::firewall! { allow tcp 22; allow 80; drop all; };
}
