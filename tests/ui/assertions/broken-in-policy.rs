fn main() {
    // The database port is open to one network: the assertion fails at itself, and
    // the rule that breaks it is named at its own span.
    let _ = fwdsl::firewall! {
        ssh 22 from 10.0.0.0/8;
        assert closed tcp 3306, 5432;
        assert open tcp 443;
        allow established;
        allow ssh src 10.0.0.0/8;
        allow tcp 5432 src 10.20.0.0/16;
        allow https src 10.0.0.0/8;
        drop all;
    };
}
