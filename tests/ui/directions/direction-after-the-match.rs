fn main() {
    let _ = fwdsl::firewall! {
        allow ssh;
        allow tcp 443 out;
        allow output tcp 80;
        allow on eth0;
        allow out in eth0 tcp 25;
        allow via eth0;
        drop all;
    };
}
