fn main() {
    let _ = fwdsl::firewall! { allow tcp 22; allow src 10.0.0.1/8; drop all; };
}
