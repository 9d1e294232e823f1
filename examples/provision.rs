//! A provisioning binary in the style fwdsl is made for: the host's policy is Rust code,
//! checked when this binary is compiled. By default it only plans: it prints what it
//! would install and how the policy decides a few packets, which needs no root.
//!
//! ```text
//! cargo run --example provision
//! ```

use fwdsl::{Family, Packet, Policy};

/// The web server of the reference VPS guide, with its holes closed: replies come in
/// through `established` rather than trusting source ports 25 and 53.
fn policy() -> Policy {
    fwdsl::firewall! {
        allow established;
        allow in lo;
        allow ssh;
        allow http;
        allow https;
        allow smtp;
        allow icmp;
        drop all;
    }
}

fn main() {
    let policy = policy();
    println!("# fwdsl plan: {} rules\n", policy.rules().len());
    for family in [Family::V4, Family::V6] {
        let tool = match family {
            Family::V4 => "iptables-restore --noflush",
            Family::V6 => "ip6tables-restore --noflush",
        };
        println!("# {tool}");
        print!("{}", policy.to_restore(family));
        println!();
    }
    println!("# how the policy decides");
    let probes = [
        ("ssh from anywhere", Packet::tcp([198, 51, 100, 7], 22)),
        ("web", Packet::tcp([198, 51, 100, 7], 443)),
        ("mysql from outside", Packet::tcp([198, 51, 100, 7], 3306)),
        (
            "dns reply",
            Packet::udp([192, 0, 2, 53], 41000).sport(53).established(),
        ),
        (
            "forged dns 'reply'",
            Packet::udp([192, 0, 2, 53], 41000).sport(53),
        ),
    ];
    for (what, packet) in probes {
        let d = policy.decide(&packet);
        println!(
            "{what:<20} -> {:?} by rule {} `{}`",
            d.action(),
            d.index + 1,
            d.rule.text
        );
    }
}
