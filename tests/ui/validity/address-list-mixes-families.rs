fn main() {
    let _ = fwdsl::firewall! { allow ssh; drop src [198.51.100.7, 2001:db8::7, 203.0.113.9]; drop all; };
}
