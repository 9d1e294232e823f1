//! Proof that the analysis is exact: on random policies its verdicts (reachable,
//! redundant, shadowed, after the catch-all, lockout) equal those of brute-force
//! first-match evaluation over every packet that could tell them apart.
//!
//! Rules draw their ports and networks from small pools, so the finite set of "lower
//! corners" (each dimension's minimum, every interval's start and every end + 1) holds
//! a packet of every cell the rules carve the packet space into: if some packet reaches
//! a rule, one of these does.

use fwdsl_core::{
    analyze, decide, Access, Action, Assertion, ConnState, Direction, Expect, Family, IcmpType,
    Lockout, Log, Matches, Packet, PortRange, Proto, ProtoSet, Rate, Reach, Rule,
};
use ipnet::IpNet;
use proptest::prelude::*;
use std::borrow::Cow;
use std::net::IpAddr;

const PORT_EDGES: [u16; 3] = [20, 22, 25];
const V4_SRC: [&str; 6] = [
    "10.0.0.0/8",
    "10.1.0.0/16",
    "10.1.2.3/32",
    "0.0.0.0/1",
    "128.0.0.0/1",
    "0.0.0.0/0",
];
const V6_SRC: [&str; 3] = ["2001:db8::/32", "2001:db8::1/128", "::/0"];
const V4_DST: [&str; 2] = ["192.0.2.0/24", "10.1.2.3/32"];
const V6_DST: [&str; 1] = ["2001:db8::1/128"];
const IFACES: [&str; 3] = ["eth0", "lo", "eth+"];
/// ICMP types as (ICMP, ICMPv6): echo-request, destination-unreachable, `icmp 8`.
const ICMP: [(Option<u8>, Option<u8>); 3] =
    [(Some(8), Some(128)), (Some(3), Some(1)), (Some(8), None)];
/// The witnesses' ICMP types: each type rules use, and the next one.
const ICMP_WITNESSES: [u8; 7] = [1, 2, 3, 4, 8, 9, 128];
const SSH_PORTS: [u16; 2] = [22, 23];

fn net(s: &str) -> IpNet {
    s.parse().unwrap()
}

fn ports() -> impl Strategy<Value = Vec<PortRange>> {
    let range = (0..PORT_EDGES.len(), 0..PORT_EDGES.len())
        .prop_map(|(a, b)| PortRange::new(PORT_EDGES[a.min(b)], PORT_EDGES[a.max(b)]));
    // Mostly no ports: rules that leave dimensions open are the ones that cover others.
    prop::option::weighted(0.4, prop::collection::vec(range, 1..3))
        .prop_map(Option::unwrap_or_default)
}

/// No address (half the time), one, or a list of up to six drawn from a pool of nested
/// networks: members overlap, contain each other and repeat, as in published blocklists.
fn pick(pool: &'static [&'static str]) -> impl Strategy<Value = Vec<IpNet>> {
    prop::option::weighted(
        0.5,
        prop::collection::vec(prop::sample::select(pool).prop_map(net), 1..7),
    )
    .prop_map(Option::unwrap_or_default)
}

fn rule() -> impl Strategy<Value = Rule> {
    // Limited `allow` rules and `log` rules decide only some or none of their packets.
    let action = prop_oneof![
        4 => Just((Action::Allow, false)),
        1 => Just((Action::Allow, true)),
        4 => Just((Action::Drop, false)),
        2 => Just((Action::Reject, false)),
        1 => Just((Action::Log, false)),
    ];
    let protocols = prop_oneof![
        3 => Just(ProtoSet::ALL),
        2 => Just(ProtoSet::TCP),
        1 => Just(ProtoSet::UDP),
        1 => Just(ProtoSet::TCP_UDP),
        1 => Just(ProtoSet::ICMP),
        1 => Just(ProtoSet::OTHER)
    ];
    // Addresses of one rule share a family.
    let addresses = prop_oneof![
        2 => Just((vec![], vec![])),
        1 => (pick(&V4_SRC), pick(&V4_DST)),
        1 => (pick(&V6_SRC), pick(&V6_DST)),
    ];
    (
        action,
        protocols,
        ports(),
        ports(),
        addresses,
        prop::option::weighted(0.25, prop::sample::select(&IFACES[..])),
        prop_oneof![
            6 => Just(None),
            1 => Just(Some(ConnState::New)),
            2 => Just(Some(ConnState::Established)),
            1 => Just(Some(ConnState::Invalid)),
        ],
        prop::bool::weighted(0.1),
        (
            prop_oneof![3 => Just(Direction::In), 1 => Just(Direction::Out), 1 => Just(Direction::Forward)],
            prop::option::weighted(0.25, prop::sample::select(&IFACES[..])),
            prop::option::weighted(0.5, prop::sample::select(&ICMP[..])),
            prop::bool::weighted(0.15),
        ),
    )
        .prop_map(
            |((action, limited), protocols, dports, sports, (src, dst), iface, state, catch_all, (direction, oface, icmp, dynamic))| {
                // As the grammar allows: no output interface in, no input interface out.
                let iface = iface.filter(|_| direction != Direction::Out);
                let oface = oface.filter(|_| direction != Direction::In);
                let family = src.first().or(dst.first()).map(Family::of);
                let has_ports = ProtoSet::TCP_UDP.contains(protocols);
                let matches = if catch_all {
                    Matches::ANY
                } else {
                    Matches {
                        protocols,
                        dports: Cow::Owned(if has_ports { dports } else { vec![] }),
                        sports: Cow::Owned(if has_ports { sports } else { vec![] }),
                        // A rule on a dynamic set (`src $banned`) names no source
                        // networks.
                        src_set: (dynamic && src.is_empty()).then_some(Cow::Borrowed("banned")),
                        src: src.into(),
                        dst: dst.into(),
                        dst_set: None,
                        iface: iface.map(Cow::Borrowed),
                        oface: oface.map(Cow::Borrowed),
                        // A type restricts an ICMP rule, and its family must fit the
                        // rule's addresses.
                        // `proto 47` stands for every single other protocol.
                        protocol: (protocols == ProtoSet::OTHER).then_some(47),
                        icmp_type: icmp
                            .filter(|_| protocols == ProtoSet::ICMP)
                            .map(|(v4, v6)| IcmpType { v4, v6 })
                            .filter(|t| family.is_none_or(|f| t.of(f).is_some())),
                        state,
                    }
                };
                let mut matches = matches;
                if limited {
                    // As the parser makes them: a limit counts new connections.
                    matches.state = Some(ConnState::New);
                }
                Rule {
                    action,
                    limit: limited.then_some(Rate::UFW_LIMIT),
                    log: (action == Action::Log).then_some(Log {
                        prefix: None,
                        rate: Rate::LOG_DEFAULT,
                    }),
                    direction,
                    matches,
                    text: Cow::Borrowed("generated"),
                    comment: None,
                    line: 0,
                }
            },
        )
}

fn access() -> impl Strategy<Value = Access> {
    prop_oneof![
        1 => Just(Access::Console),
        4 => (0..SSH_PORTS.len(), prop::option::of(0..V4_SRC.len() + V6_SRC.len()), any::<bool>()).prop_map(|(p, from, eth0)| {
            let from = from.map(|i| net(V4_SRC.iter().chain(V6_SRC.iter()).nth(i).unwrap()));
            Access::Ssh { port: SSH_PORTS[p], from, iface: eth0.then_some(Cow::Borrowed("eth0")) }
        }),
    ]
}

/// The direction and interfaces of witness packets: an incoming packet has no output
/// interface, an outgoing one no input interface, a forwarded one has both.
fn directed() -> Vec<(Direction, Option<&'static str>, Option<&'static str>)> {
    // eth1: an interface only the wildcard `eth+` names.
    let ifaces = [None, Some("eth0"), Some("lo"), Some("eth1")];
    let mut out = Vec::new();
    for i in ifaces {
        out.push((Direction::In, i, None));
        out.push((Direction::Out, None, i));
        for o in ifaces {
            out.push((Direction::Forward, i, o));
        }
    }
    out
}

/// The lower corners of every cell: the witnesses.
fn witnesses() -> Vec<Packet> {
    let mut ports: Vec<u16> = vec![0];
    for p in PORT_EDGES.iter().chain(SSH_PORTS.iter()) {
        ports.extend([*p, p + 1]);
    }
    ports.sort_unstable();
    ports.dedup();
    let corners = |nets: &[&str], zero: &str| {
        let mut out: Vec<IpAddr> = vec![zero.parse().unwrap()];
        for n in nets {
            let n = net(n);
            out.push(n.network());
            let next = match n.broadcast() {
                IpAddr::V4(a) => u32::from(a).checked_add(1).map(|a| IpAddr::V4(a.into())),
                IpAddr::V6(a) => u128::from(a).checked_add(1).map(|a| IpAddr::V6(a.into())),
            };
            out.extend(next);
        }
        out.sort();
        out.dedup();
        out
    };
    let v4_src = corners(&V4_SRC, "0.0.0.0");
    let v6_src = corners(&V6_SRC, "::");
    // Out rules' replies go to the operator's network: destinations meet source pools.
    let v4_dst = corners(&[&V4_DST[..], &V4_SRC[..]].concat(), "0.0.0.0");
    let v6_dst = corners(&[&V6_DST[..], &V6_SRC[..]].concat(), "::");
    let mut pairs = Vec::new();
    for (srcs, dsts) in [(&v4_src, &v4_dst), (&v6_src, &v6_dst)] {
        for s in srcs {
            for d in dsts {
                pairs.push((*s, *d));
            }
        }
    }
    let directed = directed();
    let mut out = Vec::new();
    for &(src, dst) in &pairs {
        for proto in [
            Proto::Tcp,
            Proto::Udp,
            Proto::Icmp,
            Proto::Other(0),
            Proto::Other(47),
            Proto::Other(48),
        ] {
            let port_list: &[u16] = if matches!(proto, Proto::Tcp | Proto::Udp) {
                &ports
            } else {
                &[0]
            };
            // An ICMP packet's type takes the place of its destination port.
            let icmp_types: Vec<u16> = ICMP_WITNESSES.iter().map(|&t| t as u16).collect();
            let dport_list: &[u16] = if proto == Proto::Icmp {
                &icmp_types
            } else {
                port_list
            };
            for &sport in port_list {
                for &dport in dport_list {
                    for &(direction, iface, oface) in &directed {
                        for state in [ConnState::New, ConnState::Established, ConnState::Invalid] {
                            let mut p = match proto {
                                Proto::Tcp => Packet::tcp(src, dport),
                                Proto::Udp => Packet::udp(src, dport),
                                Proto::Icmp => Packet::icmp(src).icmp_type(dport as u8),
                                Proto::Other(n) => Packet::other(n, src),
                            }
                            .sport(sport)
                            .dst(dst);
                            if let Some(i) = iface {
                                p = p.iface(i);
                            }
                            if let Some(o) = oface {
                                p = p.via(o);
                            }
                            p.direction = direction;
                            p.state = state;
                            out.push(p);
                        }
                    }
                }
            }
        }
    }
    out
}

fn in_access_class(access: &Access, p: &Packet) -> bool {
    let Access::Ssh { port, from, iface } = access else {
        return false;
    };
    p.direction == Direction::In
        && p.proto == Proto::Tcp
        && p.dport == *port
        && from.is_none_or(|n| n.contains(&p.src))
        && p.state == fwdsl_core::ConnState::New
        && match iface {
            Some(name) => p.iface.as_deref() == Some(name.as_ref()),
            None => p.iface.as_deref() != Some("lo"),
        }
}

/// This host's replies on the operator's session, out through the interface it comes
/// in on.
fn in_reply_class(access: &Access, p: &Packet) -> bool {
    let Access::Ssh { port, from, iface } = access else {
        return false;
    };
    p.direction == Direction::Out
        && p.proto == Proto::Tcp
        && p.sport == *port
        && from.is_none_or(|n| n.contains(&p.dst))
        && p.state == fwdsl_core::ConnState::Established
        && match iface {
            Some(name) => p.oface.as_deref() == Some(name.as_ref()),
            None => p.oface.as_deref() != Some("lo"),
        }
}

/// The first rule (not a deliberate ban) that decides some packet of a class, and the
/// first later `allow` matching some of them.
fn first_cut(
    rules: &[Rule],
    packets: &[Packet],
    decided: &[Option<usize>],
    class: impl Fn(&Packet) -> bool,
    is_ban: fn(&Rule) -> bool,
) -> Option<Lockout> {
    let class: Vec<usize> = (0..packets.len()).filter(|&k| class(&packets[k])).collect();
    class
        .iter()
        .filter_map(|&k| decided[k])
        .filter(|&j| rules[j].action != Action::Allow && !is_ban(&rules[j]))
        .min()
        .map(|rule| Lockout {
            rule,
            rescue: (rule + 1..rules.len()).find(|&j| {
                rules[j].action == Action::Allow
                    && class.iter().any(|&k| {
                        rules[j].direction == packets[k].direction
                            && rules[j].matches.matches_with(&packets[k], &any_member)
                    })
            }),
        })
}

/// What the analysis must say, by brute force over the witnesses.
fn expected(
    rules: &[Rule],
    access: &Access,
    packets: &[Packet],
) -> (Vec<Reach>, Option<Lockout>, Option<Lockout>, Vec<usize>) {
    // Under every limit, a limited rule takes its packets (what the lockout checks
    // assume); above them, only rules that decide every packet they match do (what
    // hides later rules).
    // A rule on a dynamic set may match any address (the set may hold it); `decide`
    // takes the sets as empty, as the lockout checks do.
    let sees =
        |r: &Rule, p: &Packet| r.direction == p.direction && r.matches.matches_with(p, &any_member);
    let decided: Vec<Option<usize>> = packets
        .iter()
        .map(|p| decide(rules, p).map(|d| d.index))
        .collect();
    let deciding: Vec<Option<usize>> = packets
        .iter()
        .map(|p| rules.iter().position(|r| r.decides() && sees(r, p)))
        .collect();
    let catch_all = |d: Direction| {
        rules
            .iter()
            .position(|r| r.direction == d && r.is_catch_all())
    };
    let reach = (0..rules.len())
        .map(|i| {
            if let Some(c) = catch_all(rules[i].direction).filter(|&c| i > c) {
                return Reach::AfterCatchAll(c);
            }
            let firsts: Vec<Option<usize>> = packets
                .iter()
                .zip(&deciding)
                .filter(|(p, _)| sees(&rules[i], p))
                .map(|(_, d)| *d)
                .collect();
            // Reached by a packet no earlier deciding rule takes.
            if firsts.iter().any(|d| d.is_none_or(|d| d >= i)) {
                return Reach::Reachable;
            }
            let mut by: Vec<usize> = firsts.into_iter().flatten().collect();
            by.sort_unstable();
            by.dedup();
            let differing: Vec<usize> = by
                .iter()
                .copied()
                .filter(|&j| rules[j].action != rules[i].action)
                .collect();
            if differing.is_empty() {
                Reach::Redundant(by)
            } else {
                Reach::Shadowed { by, differing }
            }
        })
        .collect();
    let lockout = first_cut(
        rules,
        packets,
        &decided,
        |p| in_access_class(access, p),
        Rule::names_source,
    );
    let reply = first_cut(
        rules,
        packets,
        &decided,
        |p| in_reply_class(access, p),
        Rule::names_destination,
    );
    // Bans on a dynamic set that some operator connection reaches.
    let dynamic_bans = (0..rules.len())
        .filter(|&j| {
            matches!(rules[j].action, Action::Drop | Action::Reject)
                && rules[j].matches.src_set.is_some()
                && (0..packets.len()).any(|k| {
                    in_access_class(access, &packets[k])
                        && sees(&rules[j], &packets[k])
                        && decided[k].is_none_or(|d| d > j)
                })
        })
        .collect();
    (reach, lockout, reply, dynamic_bans)
}

/// Every address in every dynamic set: what a rule on a set may match.
fn any_member(_: &str, _: IpAddr) -> bool {
    true
}

/// Random policies per run: `FWDSL_EXACTNESS_CASES` for more (each case checks every
/// witness packet, about a million with the directions).
fn cases() -> u32 {
    std::env::var("FWDSL_EXACTNESS_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(128)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn analysis_equals_brute_force(rules in prop::collection::vec(rule(), 1..8), access in access()) {
        let packets = witnesses();
        let analysis = analyze(&rules, &access);
        let (reach, lockout, reply, dynamic_bans) = expected(&rules, &access, &packets);
        prop_assert_eq!(analysis.reach, reach);
        prop_assert_eq!(analysis.lockout, lockout);
        prop_assert_eq!(analysis.reply_lockout, reply);
        prop_assert_eq!(analysis.dynamic_bans, dynamic_bans);
    }

    #[test]
    fn indexed_decisions_equal_first_match(rules in prop::collection::vec(rule(), 1..12)) {
        let decider = fwdsl_core::Decider::new(&rules);
        for packet in witnesses() {
            prop_assert_eq!(decider.decide(&rules, &packet), decide(&rules, &packet), "{:?}", packet);
        }
    }
}

#[test]
fn witnesses_reach_every_cell_of_a_known_case() {
    // A sanity check of the harness itself: one rule reachable only at port 21.
    let rules = [
        Rule {
            action: Action::Allow,
            limit: None,
            log: None,
            direction: Direction::In,
            matches: Matches {
                protocols: ProtoSet::TCP,
                dports: Cow::Owned(vec![PortRange::new(20, 20)]),
                ..Matches::ANY
            },
            text: "a".into(),
            comment: None,
            line: 1,
        },
        Rule {
            action: Action::Drop,
            limit: None,
            log: None,
            direction: Direction::In,
            matches: Matches {
                protocols: ProtoSet::TCP,
                dports: Cow::Owned(vec![PortRange::new(22, 25)]),
                ..Matches::ANY
            },
            text: "b".into(),
            comment: None,
            line: 2,
        },
        Rule {
            action: Action::Drop,
            limit: None,
            log: None,
            direction: Direction::In,
            matches: Matches {
                protocols: ProtoSet::TCP,
                dports: Cow::Owned(vec![PortRange::new(20, 22)]),
                ..Matches::ANY
            },
            text: "c".into(),
            comment: None,
            line: 3,
        },
    ];
    let (reach, ..) = expected(&rules, &Access::Console, &witnesses());
    assert_eq!(reach[2], Reach::Reachable);
    assert_eq!(analyze(&rules, &Access::Console).reach[2], Reach::Reachable);
}

/// Whether `rules` accept `p`, by brute force (first match, `log` rules aside).
fn accepts(rules: &[Rule], p: &Packet) -> bool {
    decide(rules, p).is_some_and(|d| d.action() == Action::Allow)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases() / 2, ..ProptestConfig::default() })]

    #[test]
    fn openings_equal_brute_force(
        new in prop::collection::vec(rule(), 1..6),
        old in prop::collection::vec(rule(), 1..6),
    ) {
        let packets = witnesses();
        let opened: Vec<&Packet> = packets.iter().filter(|p| accepts(&new, p) && !accepts(&old, p)).collect();
        let openings = fwdsl_core::openings(&new, &old);
        prop_assert_eq!(openings.is_empty(), opened.is_empty(), "{:?}", openings);
        for o in &openings {
            // Every witness is a packet the change opened, decided by the named rules.
            prop_assert!(accepts(&new, &o.witness) && !accepts(&old, &o.witness), "{:?}", o);
            prop_assert_eq!(decide(&new, &o.witness).map(|d| d.index), Some(o.rule));
            prop_assert_eq!(decide(&old, &o.witness).map(|d| d.index), o.instead_of);
        }
    }

    #[test]
    fn region_questions_equal_brute_force(rules in prop::collection::vec(rule(), 1..6), query in rule()) {
        let packets = witnesses();
        let asked = |p: &&Packet| p.direction == query.direction && query.matches.matches(p) && p.state == ConnState::New;
        let expected = packets.iter().filter(asked).any(|p| accepts(&rules, p));
        let witness = fwdsl_core::accepted_witness(&rules, query.direction, &query.matches, true);
        prop_assert_eq!(witness.is_some(), expected, "{:?}", witness);
        if let Some(w) = witness {
            prop_assert!(accepts(&rules, &w) && asked(&&w), "{:?}", w);
        }
    }
}

/// An assertion about the packets `part` matches (its action, limit and dynamic set
/// mean nothing in an assertion and are left out).
fn assertion() -> impl Strategy<Value = Assertion> {
    (any::<bool>(), rule()).prop_map(|(open, mut part)| {
        part.limit = None;
        part.matches.src_set = None;
        Assertion {
            expect: if open { Expect::Open } else { Expect::Closed },
            parts: Cow::Owned(vec![part]),
            text: Cow::Borrowed("generated"),
            line: 0,
        }
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases() / 2, ..ProptestConfig::default() })]

    #[test]
    fn assertions_equal_brute_force(rules in prop::collection::vec(rule(), 1..7), asserted in assertion()) {
        let part = &asserted.parts[0];
        let off_loopback = part.matches.iface.is_none() && part.matches.oface.is_none();
        let packets = witnesses();
        let in_region = |p: &&Packet| {
            p.direction == part.direction
                && part.matches.matches(p)
                && p.state == ConnState::New
                && !(off_loopback && (p.iface.as_deref() == Some("lo") || p.oface.as_deref() == Some("lo")))
        };
        let against = |p: &Packet| match asserted.expect {
            Expect::Closed => accepts(&rules, p),
            Expect::Open => !accepts(&rules, p),
        };
        let broken = packets.iter().filter(in_region).any(&against);
        let found = fwdsl_core::violation(&rules, &asserted);
        prop_assert_eq!(found.is_some(), broken, "{:?}", found);
        if let Some(v) = found {
            // The witness is in the region, decided against the assertion by the rule named.
            prop_assert!(in_region(&&v.witness) && against(&v.witness), "{:?}", v);
            let decided = decide(&rules, &v.witness).map(|d| d.index);
            prop_assert_eq!(decided, v.rule);
        }
    }
}
