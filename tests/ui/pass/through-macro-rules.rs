macro_rules! with_web {
    ($port:literal) => {
        fwdsl::firewall! { allow ssh; allow tcp $port; drop all; }
    };
}

fn main() {
    let policy = with_web!(8080);
    assert_eq!(policy.rules()[1].text, "allow tcp 8080");
}
