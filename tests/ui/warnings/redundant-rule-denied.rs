#![deny(deprecated)]

fn main() {
    let _ = fwdsl::firewall! {
        allow tcp 22;
        allow tcp 80-90;
        allow tcp 85;
        allow established; drop all;
    };
}
