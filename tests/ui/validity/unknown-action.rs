fn main() {
    let _ = fwdsl::firewall! { allow ssh; deny tcp 23; drop all; };
}
