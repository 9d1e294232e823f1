fn main() {
    let _ = fwdsl::firewall! { allow ssh; allow src 10.0.0.0/8 dst ::1; drop all; };
}
