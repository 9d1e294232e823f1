//! The policies compiled into this binary, one per role of the fleet: every one of them
//! was checked by `firewall!` when the binary was built, so a rollout cannot ship a
//! policy with a shadowed rule, one that locks out SSH, or one that breaks the
//! invariants written in it (`assert …;`, listed by `provision` in plan mode).

use fwdsl::Policy;

/// The role names, in the order `--help` and the module's errors list them.
pub const NAMES: &[&str] = &["web", "db", "bastion"];

/// The policy of a role.
pub fn policy(name: &str) -> Option<Policy> {
    Some(match name {
        // The web server of the reference VPS guide, with its holes closed: replies come
        // in through `established` rather than trusting source ports 25 and 53.
        "web" => fwdsl::firewall! {
            assert open tcp 80, 443;
            assert closed tcp 3306, 5432;
            allow established;
            allow in lo;
            allow ssh;
            allow http;
            allow https;
            allow smtp;
            allow icmp;
            drop all;
        },
        // PostgreSQL only from the private network; SSH from anywhere (the admins').
        "db" => fwdsl::firewall! {
            assert open tcp 5432 src 10.0.0.0/8;
            assert closed tcp 5432 src 192.168.0.0/16;
            assert closed tcp 3306;
            allow established;
            allow in lo;
            allow ssh;
            allow tcp 5432 src 10.0.0.0/8;
            allow icmp;
            drop all;
        },
        // Nothing but SSH and ping.
        "bastion" => fwdsl::firewall! {
            assert open ssh;
            assert closed tcp 1-21, 23-65535;
            assert closed udp 1-65535;
            allow established;
            allow in lo;
            allow ssh;
            allow icmp;
            drop all;
        },
        _ => return None,
    })
}
