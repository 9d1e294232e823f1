fn main() {
    let _ = fwdsl::firewall! {
        allow ssh;
        allow icmp echo-requst;
        allow proto 6;
        allow proto chaos;
        allow in "l+";
        drop all;
    };
}
