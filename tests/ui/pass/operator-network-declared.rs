#![deny(warnings)]

fn main() {
    let policy = fwdsl::firewall! {
        ssh 2222 from 10.0.0.0/8;
        allow tcp 2222 src 10.0.0.0/8;
        allow established; drop all;
    };
    let operator = fwdsl::Packet::tcp([10, 1, 2, 3], 2222);
    assert_eq!(policy.decide(&operator).action(), fwdsl::Action::Allow);
}
