fn main() {
    let _ = fwdsl::firewall! {
        drop tcp 1-1024 dst 192.0.2.10;
        allow ssh;
        drop all;
    };
}
