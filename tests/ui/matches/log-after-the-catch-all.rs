fn main() {
    let _ = fwdsl::firewall! {
        allow ssh;
        drop all;
        log tcp 80;
    };
}
