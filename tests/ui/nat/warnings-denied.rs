#![deny(deprecated)]

fn main() {
    let _ = fwdsl::firewall! {
        allow ssh;
        allow tcp 8080;
        allow established; drop all;
        allow forward established;
        allow forward tcp 80 dst 10.0.0.5;
        allow forward tcp 8080 dst 10.0.0.5;
        drop forward all;
        dnat tcp 8080 to 10.0.0.5:80;
    };
}
