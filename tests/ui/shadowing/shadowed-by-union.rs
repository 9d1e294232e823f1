fn main() {
    // Neither earlier rule covers 50-150 alone; together they decide all of it.
    let _ = fwdsl::firewall! {
        allow ssh;
        allow tcp 1-100;
        drop tcp 101-200;
        allow tcp 50-150;
        drop all;
    };
}
