use fwdsl::{Action, Family, Packet};

fn main() {
    let policy = fwdsl::firewall! {
        drop src [198.51.100.7, 203.0.113.0/24, 192.0.2.99,];
        allow ssh;
        drop all;
    };
    assert_eq!(policy.rules()[0].text, "drop src [198.51.100.7, 203.0.113.0/24, 192.0.2.99]");
    assert_eq!(policy.decide(&Packet::tcp([203, 0, 113, 5], 22)).action(), Action::Drop);
    assert_eq!(policy.decide(&Packet::tcp([198, 51, 100, 8], 22)).action(), Action::Allow);
    // Three addresses: one iptables rule each, no ipset.
    assert_eq!(policy.iptables_rules(Family::V4).iter().filter(|r| r.rule == Some(0)).count(), 3);
    assert!(policy.ipsets(Family::V4).is_empty());
}
