fn main() {
    let from_macro = fwdsl::firewall! { allow ssh; allow tcp 80, 443 src 10.0.0.0/8; reject udp 53; drop all; };
    let from_text = fwdsl::Policy::parse("allow ssh;\nallow tcp 80, 443 src 10.0.0.0/8;\nreject udp 53;\ndrop all;").unwrap();
    let strip = |p: &fwdsl::Policy| p.rules().iter().map(|r| (r.action, r.matches.clone(), r.text.to_string())).collect::<Vec<_>>();
    assert_eq!(strip(&from_macro), strip(&from_text));
}
