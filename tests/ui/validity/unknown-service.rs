fn main() {
    let _ = fwdsl::firewall! { allow ssh; allow htps; drop all; };
}
