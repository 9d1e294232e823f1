fn main() {
    let _ = fwdsl::firewall! { allow ssh; allow udp dns; drop all; };
}
