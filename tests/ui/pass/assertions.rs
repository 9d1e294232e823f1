use fwdsl::{Action, Expect, Packet};

fwdsl::rules! {
    database {
        ssh 22 from 10.0.0.0/8;
        assert closed tcp 3306, 5432;
        assert open ssh src 10.0.0.0/8;
        allow established;
        allow ssh src 10.0.0.0/8;
    }
}

fn main() {
    let policy = fwdsl::firewall! {
        use database;
        assert open tcp 443;
        assert closed out tcp 25;
        allow https;
        allow tcp 5432 src 10.0.0.0/8 dst 192.0.2.1 in lo;
        drop all;
        allow out established;
        allow out dns;
        allow out tcp 443;
        drop out all;
    };
    let kept: Vec<(Expect, &str)> = policy.assertions().iter().map(|a| (a.expect, a.text.as_ref())).collect();
    assert_eq!(kept.len(), 4, "{kept:?}");
    assert_eq!(kept[0], (Expect::Closed, "assert closed tcp 3306,5432"));
    assert_eq!(policy.decide(&Packet::tcp([203, 0, 113, 9], 5432)).action(), Action::Drop);
}
