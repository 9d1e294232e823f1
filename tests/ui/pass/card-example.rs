use fwdsl::{Action, Packet};

fn main() {
    let policy: fwdsl::Policy = fwdsl::firewall! { allow tcp 22; allow tcp 80; allow src 127.0.0.1; drop all; };
    assert_eq!(policy.rules().len(), 4);
    assert_eq!(policy.decide(&Packet::tcp([192, 0, 2, 1], 22)).action(), Action::Allow);
    assert_eq!(policy.decide(&Packet::tcp([192, 0, 2, 1], 3306)).action(), Action::Drop);
}
