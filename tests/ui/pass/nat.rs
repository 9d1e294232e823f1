fn main() {
    let gateway = fwdsl::firewall! {
        allow ssh;
        allow established;
        drop all;
        allow forward established;
        allow forward tcp 8080 dst 10.0.0.5;
        allow forward in wg0 via eth0;
        drop forward all;
        dnat tcp 8080 in eth0 to 10.0.0.5:80;
        masquerade src 10.8.0.0/24 via eth0;
    };
    assert_eq!(gateway.nat().len(), 2);
}
