fn main() {
    let policy = fwdsl::firewall! {
        ssh 22;
        allow ssh;
        allow udp 53;
        allow tcp 80, 443;
        allow tcp 6000-6010;
        allow tcp 5432 src 10.0.0.0/8;
        allow tcp 8443 dst 192.0.2.10;
        allow src "2001:db8:1e::1";
        allow src 2001:db8:2::/48;
        allow src ::1;
        allow icmp;
        allow established;
        allow ftp-data; allow ftp; allow smtp; allow dns; allow http; allow pop3; allow imap;
        allow imap3; allow ldap; allow https; allow smtps; allow imaps; allow cvspserver;
        allow mysql src 10.1.0.0/16; allow postgresql src 10.2.0.0/16; allow svn; allow webcache;
        allow in lo;
        allow udp 60000-61000 in eth0 comment "mosh";
        reject tcp 113;
        drop udp 137-139;
        drop all;
    };
    assert_eq!(policy.rules().last().unwrap().text, "drop all");
}
