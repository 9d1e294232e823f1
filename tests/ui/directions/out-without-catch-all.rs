fn main() {
    let _ = fwdsl::firewall! {
        allow ssh;
        drop all;
        allow out established;
        allow out tcp 443;
        allow forward tcp 80;
        drop forward all;
        allow forward tcp 81;
    };
}
