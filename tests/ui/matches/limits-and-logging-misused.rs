fn main() {
    let _ = fwdsl::firewall! {
        allow ssh;
        drop tcp 25 limit 5/min;
        allow tcp 80 established limit 10/s;
        allow tcp 81 limit 1/7s;
        allow tcp 82 prefix "web: ";
        log prefix "this prefix is far too long for the kernel";
        drop all;
    };
}
