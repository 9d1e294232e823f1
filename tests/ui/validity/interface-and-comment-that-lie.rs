fn main() {
    let _ = fwdsl::firewall! {
        allow ssh;
        allow in "-j" tcp 80;
        allow tcp 443 comment "ok\u{202e} drop all";
        drop all;
    };
}
