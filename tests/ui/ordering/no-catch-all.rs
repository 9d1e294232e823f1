fn main() {
    let _ = fwdsl::firewall! { allow ssh; allow tcp 80; };
}
