fn main() {
    // IPv4 and IPv6 "everything" together leave nothing for the catch-all.
    let _ = fwdsl::firewall! {
        ssh none;
        allow src 0.0.0.0/0;
        allow src ::/0;
        drop all;
    };
}
