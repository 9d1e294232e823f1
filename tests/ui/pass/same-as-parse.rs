//! The macro and `Policy::parse` build the same policy, clause for clause and
//! statement for statement (everything but the lines, which are the macro's own).

fn main() {
    let from_macro = fwdsl::firewall! {
        ssh 22 from 10.0.0.0/8 in eth0;
        service app = tcp 8000-8010, udp 9000;
        set admins = [10.0.0.0/8, 192.168.0.0/16];
        set banned dynamic;
        ports web = 80, 443;
        assert closed tcp 3306;
        assert open tcp 22 src 10.0.0.0/8 in eth0;
        drop src $banned;
        drop invalid;
        allow established;
        allow in lo;
        allow tcp 22 src $admins in eth0;
        allow tcp $web;
        allow app src 192.168.0.0/16;
        allow udp sport 53 dport 1024-65535 src 10.0.0.0/8;
        allow icmp echo-request;
        allow proto esp;
        allow tcp 2222 limit 6/30s burst 10;
        log tcp 25 prefix "smtp: " limit 5/min;
        reject tcp 113 comment "ident";
        allow dst "2001:db8::1" tcp 8443;
        drop all log;
        allow out established;
        allow out dns;
        allow out tcp 443 via eth0;
        drop out all;
        allow forward established;
        allow forward tcp 8080 dst 10.0.0.5;
        allow forward in wg0 via eth0;
        drop forward all;
        no dnat local in docker0;
        dnat tcp 8080 in eth0 to 10.0.0.5:80;
        dnat local tcp 8443 to 10.0.0.5;
        redirect tcp 80 to 8080;
        no snat dst 10.8.0.0/24;
        masquerade src 10.8.0.0/24 via eth0;
        snat src 10.9.0.0/24 via eth0 to 203.0.113.5;
    };
    // The same, as text.
    let from_text = fwdsl::Policy::parse(r#"
ssh 22 from 10.0.0.0/8 in eth0;
service app = tcp 8000-8010, udp 9000;
set admins = [10.0.0.0/8, 192.168.0.0/16];
set banned dynamic;
ports web = 80, 443;
assert closed tcp 3306;
assert open tcp 22 src 10.0.0.0/8 in eth0;
drop src $banned;
drop invalid;
allow established;
allow in lo;
allow tcp 22 src $admins in eth0;
allow tcp $web;
allow app src 192.168.0.0/16;
allow udp sport 53 dport 1024-65535 src 10.0.0.0/8;
allow icmp echo-request;
allow proto esp;
allow tcp 2222 limit 6/30s burst 10;
log tcp 25 prefix "smtp: " limit 5/min;
reject tcp 113 comment "ident";
allow dst "2001:db8::1" tcp 8443;
drop all log;
allow out established;
allow out dns;
allow out tcp 443 via eth0;
drop out all;
allow forward established;
allow forward tcp 8080 dst 10.0.0.5;
allow forward in wg0 via eth0;
drop forward all;
no dnat local in docker0;
dnat tcp 8080 in eth0 to 10.0.0.5:80;
dnat local tcp 8443 to 10.0.0.5;
redirect tcp 80 to 8080;
no snat dst 10.8.0.0/24;
masquerade src 10.8.0.0/24 via eth0;
snat src 10.9.0.0/24 via eth0 to 203.0.113.5;
"#)
    .unwrap();
    let rules = |p: &fwdsl::Policy| {
        p.rules()
            .iter()
            .map(|r| (r.action, r.direction, r.matches.clone(), r.limit, r.log.clone(), r.text.to_string(), r.comment.clone()))
            .collect::<Vec<_>>()
    };
    let nat = |p: &fwdsl::Policy| {
        p.nat().iter().map(|n| (n.kind, n.matches.clone(), n.text.to_string(), n.local)).collect::<Vec<_>>()
    };
    let assertions = |p: &fwdsl::Policy| {
        p.assertions().iter().map(|a| (a.expect, a.text.to_string())).collect::<Vec<_>>()
    };
    assert_eq!(rules(&from_macro), rules(&from_text));
    assert_eq!(nat(&from_macro), nat(&from_text));
    assert_eq!(assertions(&from_macro), assertions(&from_text));
    assert_eq!(from_macro.access(), from_text.access());
    assert_eq!((from_macro.rules().len(), from_macro.nat().len()), (24, 7));
}
