fn main() {
    let _ = fwdsl::firewall! {
        allow ssh;
        drop all;
        allow tcp 80;
    };
}
