fn main() {
    let _ = fwdsl::firewall! { allow tcp 80; drop all; };
}
