#![deny(warnings)]

fn main() {
    let _ = fwdsl::firewall! {
        allow ssh;
        allow udp sport 53;
        allow established; drop all;
    };
}
