fn main() {
    let _ = fwdsl::firewall! {
        allow ssh;
        drop tcp 1-1024;
        allow tcp 80;
        drop all;
    };
}
