#![deny(warnings)]

fn main() {
    let policy = fwdsl::firewall! {
        drop src 203.0.113.0/24;
        allow ssh;
        allow tcp 80;
        allow tcp 1-1024 src 10.0.0.0/8;
        allow established; drop all;
    };
    let banned = fwdsl::Packet::tcp([203, 0, 113, 7], 22);
    assert_eq!(policy.decide(&banned).index, 0);
}
