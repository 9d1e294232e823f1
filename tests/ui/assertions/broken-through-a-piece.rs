fwdsl::rules! {
    /// Every database host: the admin network reaches SSH, nothing reaches the
    /// database ports, whatever the role adds.
    database {
        ssh 22 from 10.0.0.0/8;
        assert closed tcp 3306, 5432;
        assert open ssh src 10.0.0.0/8;
        allow established;
        allow ssh src 10.0.0.0/8;
    }
}

fn main() {
    // A role that keeps the piece's invariants compiles.
    let _ = fwdsl::firewall! { use database; allow https; drop all; };
    // One that opens MySQL after the piece breaks the piece's assertion: the error is
    // at the assertion, in the piece, and at the rule, in the role.
    let _ = fwdsl::firewall! { use database; allow tcp 3306; drop all; };
}
