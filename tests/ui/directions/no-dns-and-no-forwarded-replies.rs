#![deny(deprecated)]

fn main() {
    let _ = fwdsl::firewall! {
        allow ssh;
        allow established; drop all;
        allow out established;
        allow out tcp 443;
        drop out all;
        // The published port's replies come from the container, not from 203.0.113.0/24.
        allow forward tcp 8080 src 203.0.113.0/24;
        drop forward all;
    };
}
