#![deny(deprecated)]

fn main() {
    let _ = fwdsl::firewall! {
        allow ssh;
        allow src 127.0.0.1;
        allow established; drop all;
    };
}
