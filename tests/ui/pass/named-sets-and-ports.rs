// The spellings: named sets and port lists inside a policy.
fn main() {
    let policy = fwdsl::firewall! {
        set admins = [10.0.0.0/8, 192.0.2.0/24];
        ports web = 80, 443;
        ssh 22 from 10.0.0.0/8;
        allow tcp $web;
        allow ssh src $admins;
        drop all;
    };
    assert_eq!(policy.rules()[0].text, "allow tcp 80,443");
}
