// The forms of the rate-limit and matches issue, exactly as written there.
fn main() {
    let policy = fwdsl::firewall! {
        service app = tcp 8000-8010, udp 9000;
        drop invalid;
        log prefix "fw-drop: " limit 5/min;
        allow ssh limit 6/30s;
        allow tcp 80 limit 100/s burst 200;
        allow new tcp 2222;
        allow icmp echo-request;   allow icmp destination-unreachable;
        allow in "veth+";
        allow www;  allow ntp;  allow submission;
        allow app;
        allow proto esp;  allow proto 47;
        allow established;
        drop all log;
    };
    assert!(policy.rules().iter().any(|r| r.text == "allow ssh limit 6/30s"));
    // `icmp 8` is `icmp echo-request` on IPv4: one policy cannot have both.
    let numeric = fwdsl::firewall! { allow ssh; allow icmp 8; drop all; };
    assert_eq!(numeric.rules()[1].text, "allow icmp 8");
}
