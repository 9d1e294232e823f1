fn main() {
    let _ = fwdsl::firewall! { allow tcp 22; allow src 10.0.0.300; drop all; };
}
