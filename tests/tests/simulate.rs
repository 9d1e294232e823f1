//! The simulator, as users unit-test their rule sets without root: which rule decides
//! a packet, on the card's example and on policies that exercise every match.

use fwdsl::{Action, Packet};
use std::net::{IpAddr, Ipv6Addr};

// The card's own example, as written: its IPv4-only loopback rule is warned about
// (`::1` is dropped), which this test shows too.
#[allow(deprecated)]
#[test]
fn card_example() {
    let policy = fwdsl::firewall! { allow tcp 22; allow tcp 80; allow src 127.0.0.1; drop all; };
    let internet = [203, 0, 113, 50];
    let d = policy.decide(&Packet::tcp(internet, 22));
    assert_eq!(
        (d.action(), d.index, d.rule.text.as_ref()),
        (Action::Allow, 0, "allow tcp 22")
    );
    assert_eq!(policy.decide(&Packet::tcp(internet, 80)).index, 1);
    assert_eq!(
        policy
            .decide(&Packet::tcp(Ipv6Addr::LOCALHOST, 6379))
            .action(),
        Action::Drop,
        "what the loopback warning is about"
    );
    assert_eq!(
        policy.decide(&Packet::tcp(internet, 443)).action(),
        Action::Drop
    );
    assert_eq!(policy.decide(&Packet::udp([127, 0, 0, 1], 5353)).index, 2);
    // 127.0.0.1 is IPv4: the IPv6 loopback is not let in by that rule.
    assert_eq!(
        policy
            .decide(&Packet::udp(Ipv6Addr::LOCALHOST, 5353))
            .action(),
        Action::Drop
    );
    assert_eq!(policy.decide(&Packet::icmp(internet)).rule.text, "drop all");
}

#[test]
fn every_match_kind_decides_as_iptables_would() {
    let policy = fwdsl::firewall! {
        drop src 203.0.113.0/24;
        allow established;
        allow in lo;
        allow ssh;
        allow tcp 80, 443;
        allow tcp 6000-6010 src 10.0.0.0/8;
        allow tcp 8443 dst 192.0.2.10;
        allow dns;
        allow src "2001:db8:1e::1";
        reject tcp 113;
        allow icmp;
        drop all;
    };
    let outside: IpAddr = [198, 51, 100, 1].into();
    let v6: IpAddr = "2001:db8:1e::1".parse().unwrap();
    let cases: Vec<(Packet, Action, usize)> = vec![
        (Packet::tcp([203, 0, 113, 9], 22), Action::Drop, 0),
        (Packet::tcp(outside, 5000).established(), Action::Allow, 1),
        (Packet::udp(outside, 9999).iface("lo"), Action::Allow, 2),
        (Packet::udp(outside, 9999).iface("eth0"), Action::Drop, 11),
        (Packet::tcp(outside, 22), Action::Allow, 3),
        (Packet::tcp(outside, 443), Action::Allow, 4),
        (Packet::tcp([10, 9, 8, 7], 6005), Action::Allow, 5),
        (Packet::tcp(outside, 6005), Action::Drop, 11),
        (Packet::tcp([10, 9, 8, 7], 6011), Action::Drop, 11),
        (
            Packet::tcp(outside, 8443).dst([192, 0, 2, 10]),
            Action::Allow,
            6,
        ),
        (
            Packet::tcp(outside, 8443).dst([192, 0, 2, 11]),
            Action::Drop,
            11,
        ),
        (Packet::udp(outside, 53), Action::Allow, 7),
        (Packet::tcp(outside, 53), Action::Allow, 7),
        (Packet::udp(v6, 1234), Action::Allow, 8),
        (Packet::tcp(outside, 113), Action::Reject, 9),
        (Packet::icmp(outside), Action::Allow, 10),
        (Packet::udp(outside, 80), Action::Drop, 11),
    ];
    for (packet, action, index) in cases {
        let d = policy.decide(&packet);
        assert_eq!(
            (d.action(), d.index),
            (action, index),
            "{packet:?} went to `{}`",
            d.rule.text
        );
    }
}

#[test]
fn rules_keep_their_source_text_and_line() {
    let policy = fwdsl::firewall! {
        allow ssh;
        allow tcp 5432 src 10.0.0.0/8;
        drop all;
    };
    let second = &policy.rules()[1];
    assert_eq!(second.text, "allow tcp 5432 src 10.0.0.0/8");
    assert_eq!(second.line, policy.rules()[0].line + 1);
}

fwdsl::rules! {
    /// SSH for the admin network only.
    admin_ssh {
        ssh 22 from 192.0.2.0/24;
        allow ssh src 192.0.2.0/24;
    }
}

#[test]
fn a_policy_built_from_pieces_is_checked_as_one() {
    use tests::base;
    let web = fwdsl::firewall! { use base; allow https; drop all; };
    assert_eq!(web.rules()[0].text, "allow ssh src 10.0.0.0/8");
    assert_eq!(
        web.decide(&Packet::tcp([10, 1, 2, 3], 22)).action(),
        Action::Allow
    );
    assert_eq!(
        web.decide(&Packet::tcp([198, 51, 100, 7], 22)).action(),
        Action::Drop
    );
    assert_eq!(web.decide(&Packet::tcp([198, 51, 100, 7], 443)).index, 2);
    // A piece of this crate, used in the middle of a policy.
    let db = fwdsl::firewall! { allow established; use admin_ssh; allow tcp 5432 src 192.0.2.0/24; drop all; };
    assert_eq!(db.rules()[1].text, "allow ssh src 192.0.2.0/24");
    assert_eq!(db.rules().len(), 4);
}

#[test]
fn a_reviewer_sees_exactly_what_a_change_opens() {
    use fwdsl::Query;
    use tests::base;
    let before = fwdsl::firewall! { use base; allow http; drop all; };
    let after = fwdsl::firewall! { use base; allow http; allow https; allow tcp 8080 src 10.0.0.0/8; drop all; };
    let opened = after.opens_beyond(&before);
    let rules: Vec<&str> = opened.openings.iter().map(|o| o.rule.0.as_str()).collect();
    assert_eq!(
        rules,
        ["allow https", "allow tcp 8080 src 10.0.0.0/8"],
        "{opened}"
    );
    for o in &opened.openings {
        assert_eq!(after.decide(&o.witness).action(), Action::Allow);
        assert_eq!(before.decide(&o.witness).action(), Action::Drop);
    }
    assert!(before.opens_beyond(&after).is_empty());
    // "Is any port but SSH and the web's reachable from the Internet?"
    let others = Query::parse("tcp 1-21, 23-79, 81-442, 444-65535 src 0.0.0.0/0").unwrap();
    let w = after.accepts(&others).expect("10/8 reaches 8080");
    assert_eq!(w.dport, 8080);
    assert!(Query::parse("tcp 0").is_err());
}

#[test]
#[should_panic(expected = "the new policy opens what the old one did not")]
fn assert_opens_nothing_fails_with_the_openings() {
    let old = fwdsl::firewall! { allow ssh; drop all; };
    let new = fwdsl::firewall! { allow ssh; allow mysql; drop all; };
    fwdsl::assert_opens_nothing!(new, old);
}

/// Neighbour discovery from the link (hop limit 255) is taken ahead of the policy in
/// the input and `out` chains, as fwdsl renders it; from off the link, or forwarded,
/// it meets the policy's rules. The large-policy index says the same.
#[test]
fn neighbour_discovery_is_decided_ahead_of_the_policy() {
    let neighbour: IpAddr = "fe80::2".parse().unwrap();
    let solicitation = Packet::icmp(neighbour).icmp_type(135).invalid();
    let mut text = String::from("ssh none;\ndrop icmp;\n");
    for i in 0..100 {
        text.push_str(&format!("allow tcp {} src 10.0.{i}.0/24;\n", 1000 + i));
    }
    text.push_str("drop all;\ndrop out all;\ndrop forward all;\n");
    let small =
        fwdsl::Policy::parse("ssh none;\ndrop icmp;\ndrop all;\ndrop out all;\ndrop forward all;")
            .unwrap();
    let large = fwdsl::Policy::parse(&text).unwrap();
    for policy in [&small, &large] {
        for packet in [solicitation.clone(), solicitation.clone().outgoing()] {
            let d = policy.decide(&packet.clone().hop_limit(255));
            assert_eq!(
                d.builtin,
                Some(fwdsl::Builtin::NeighbourDiscovery),
                "{packet:?}"
            );
            assert_eq!((d.action(), d.number()), (Action::Allow, None));
            let expected = match packet.direction {
                fwdsl::Direction::Out => "drop out all",
                _ => "drop icmp",
            };
            assert_eq!(policy.decide(&packet).rule.text, expected, "hop limit 64");
        }
        let forwarded = solicitation.clone().hop_limit(255).forwarded();
        assert_eq!(policy.decide(&forwarded).rule.text, "drop forward all");
        // An echo request is no neighbour discovery, whatever its hop limit.
        let echo = Packet::icmp(neighbour).hop_limit(255);
        assert_eq!(policy.decide(&echo).rule.text, "drop icmp");
    }
    // A policy without `out` rules leaves outgoing packets to the host: nothing decides.
    let input_only = fwdsl::firewall! { ssh none; drop all; };
    assert!(input_only
        .try_decide(&solicitation.hop_limit(255).outgoing())
        .is_none());
}
