fn main() {
    let _ = fwdsl::firewall! { allow tcp 22; allow udp 70000; drop all; };
}
