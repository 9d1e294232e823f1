fn main() {
    let _ = fwdsl::firewall! { allow ssh comment "operator's way in"; drop all; };
}
