// The forms of the directions issue, exactly as written there.
fn main() {
    let policy = fwdsl::firewall! {
        allow ssh;
        drop all;
        allow out tcp 443;            allow out dns;          allow out established;
        allow out udp 123 dst 192.0.2.10;
        reject out tcp 25;
        allow out tcp 587 via eth0;
        drop out all;
        allow forward tcp 8080 src 203.0.113.0/24;
        allow forward tcp 80 dst 172.17.0.2;
        allow forward in eth0 via docker0 tcp 8443;
        allow forward in docker0;
        allow forward established;
        drop forward all;
    };
    assert_eq!(policy.directions().len(), 3);
    assert_eq!(policy.rules()[2].text, "allow out tcp 443");
}
