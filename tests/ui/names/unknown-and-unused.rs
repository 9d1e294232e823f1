#![deny(deprecated)]

fn main() {
    let _ = fwdsl::firewall! {
        set admins = [10.0.0.0/8];
        ports web = 80, 443;
        ssh none;
        allow ssh src $admns;
        drop all;
    };
}
