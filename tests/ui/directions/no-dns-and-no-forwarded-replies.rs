#![deny(deprecated)]

fn main() {
    let _ = fwdsl::firewall! {
        allow ssh;
        drop all;
        allow out established;
        allow out tcp 443;
        drop out all;
        allow forward tcp 8080;
        drop forward all;
    };
}
