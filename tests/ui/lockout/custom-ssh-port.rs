fn main() {
    let _ = fwdsl::firewall! {
        ssh 2222 from 10.0.0.0/8;
        allow ssh;
        drop all;
    };
}
