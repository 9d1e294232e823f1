fn main() {
    // Dead: the forward rules drop every connection it sends on.
    let _ = fwdsl::firewall! {
        allow ssh; drop all;
        allow forward established; drop forward all;
        dnat tcp 8080 to 10.0.0.5:80;
    };
    // Dead: the input rules drop the port it redirects to.
    let _ = fwdsl::firewall! { allow ssh; allow tcp 80; drop all; redirect tcp 80 to 8080; };
    // What NAT cannot say.
    let _ = fwdsl::firewall! {
        allow ssh; drop all;
        masquerade src 10.8.0.0/24 via eth0 to 203.0.113.5;
        dnat tcp 8080 established to 10.0.0.5;
        dnat tcp 8080;
    };
    // Closed here, open behind this host.
    let _ = fwdsl::firewall! {
        assert closed tcp 3306;
        allow ssh; drop all;
        allow forward established; allow forward tcp 13306; drop forward all;
        dnat tcp 13306 to 10.0.0.5:3306;
    };
    // Exemptions and `local`: what they cannot say.
    let _ = fwdsl::firewall! {
        allow ssh; drop all;
        no masquerade src 10.8.0.0/24;
        no dnat tcp 8080 to 10.0.0.5;
        masquerade local src 10.8.0.0/24;
    };
}
