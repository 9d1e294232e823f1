#![deny(deprecated)]

fn main() {
    let _ = fwdsl::firewall! {
        ports web = 80, 443;
        allow ssh;
        allow established; drop all;
    };
}
