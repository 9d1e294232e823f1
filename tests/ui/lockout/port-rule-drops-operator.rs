fn main() {
    let _ = fwdsl::firewall! {
        ssh 22 from 198.51.100.0/24;
        allow tcp 22 src 10.0.0.0/8;
        reject tcp 22;
        drop all;
    };
}
