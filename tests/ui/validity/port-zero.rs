fn main() {
    let _ = fwdsl::firewall! { allow tcp 22; allow tcp 0; drop all; };
}
