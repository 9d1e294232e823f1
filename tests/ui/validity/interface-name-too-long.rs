fn main() {
    let _ = fwdsl::firewall! { allow ssh; allow in "a-very-long-interface-name"; drop all; };
}
