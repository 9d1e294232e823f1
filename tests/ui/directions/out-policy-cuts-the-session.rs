fn main() {
    let _ = fwdsl::firewall! {
        allow ssh;
        allow established;
        drop all;
        allow out dns;
        drop out all;
    };
}
