fn main() {
    let _ = fwdsl::firewall! {
        allow ssh;
        allow tcp 0;
        allow src 10.0.0.1/8;
        allow postgres;
        drop all;
    };
}
